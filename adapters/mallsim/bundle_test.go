package mallsim

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/adapters/registryfile"
	"aidmall/households"
	"aidmall/money"
	"aidmall/orders"
)

// readCSV reads a UTF-8 bundle file into maps keyed by the header.
func readCSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, h := range recs[0] {
			row[h] = rec[i]
		}
		out = append(out, row)
	}
	return out
}

// Every order of the real bundle, created through the real adapters with its own lines
// and the bundle's catalogue, receives exactly its statement's events, each verified by
// the adapters' Verifiers.
func TestBundleReplay_every_order_receives_its_statement_events(t *testing.T) {
	t.Parallel()
	dir := "../../examples/yichuan-dingbian-2019"
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("bundle not present: %v", err)
	}
	if testing.Short() {
		t.Skip("replays a year of notifications")
	}
	script, err := LoadScript(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	pf, err := os.Open(filepath.Join(dir, "products.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	file, err := registryfile.CSV(pf)
	if err != nil {
		t.Fatal(err)
	}
	cat, bad, err := households.ParseProducts(file)
	if err != nil || len(bad) > 0 {
		t.Fatalf("products.csv: %v %v", err, bad)
	}
	r := newRig(t, Options{Script: script, Catalogue: cat}, nil)
	reqs := map[string]*orders.CreateRequest{}
	mallOf := map[string]orders.Mall{}
	for _, o := range readCSV(t, filepath.Join(dir, "orders.csv")) {
		m := orders.Mall(o["mall"])
		mallOf[o["order_ref"]] = m
		reqs[o["order_ref"]] = &orders.CreateRequest{
			OutOrderNo: orders.OutOrderNo("AMREPLAY" + strconv.Itoa(len(reqs)+1)), BuyerRef: o["order_ref"], BuyerName: o["branch_code"],
			DeliveryMode: orders.DeliveryMode(o["delivery_mode"]),
			ShipTo:       orders.ShipTo{Name: "王*", Phone: "138****0000", Address: "北京市"},
		}
		reqs[o["order_ref"]].NotifyURL = r.hook.url(m, string(reqs[o["order_ref"]].OutOrderNo))
	}
	for _, l := range readCSV(t, filepath.Join(dir, "order_lines.csv")) {
		req, m := reqs[l["order_ref"]], mallOf[l["order_ref"]]
		var id string
		var price money.Fen
		for _, p := range cat {
			if p.SKU == l["sku"] {
				id, price, _ = p.Listing(string(m))
			}
		}
		no, _ := strconv.Atoi(l["line_no"])
		qty, _ := strconv.ParseInt(l["quantity"], 10, 64)
		req.Lines = append(req.Lines, orders.CreateLine{LineNo: no, ItemID: id, Quantity: qty, UnitPrice: price})
		req.Total += money.Fen(qty) * price
	}
	// Two creators at a time, as a dispatcher might.
	var wg sync.WaitGroup
	refs := make(chan string)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ref := range refs {
				if _, err := r.clients[mallOf[ref]].Create(context.Background(), *reqs[ref]); err != nil {
					t.Errorf("create %s: %v", ref, err)
				}
			}
		}()
	}
	for ref := range reqs {
		refs <- ref
	}
	close(refs)
	wg.Wait()
	r.waitIdle(t)
	total := 0
	for ref, req := range reqs {
		m := mallOf[ref]
		want, _ := script.Events(m, ref)
		got := r.hook.acked(m, string(req.OutOrderNo))
		total += len(got)
		if len(got) != len(want) {
			t.Errorf("%s %s: %d events, statement has %d", m, ref, len(got), len(want))
			continue
		}
		for i := range want {
			if got[i].EventID != want[i].EventID || got[i].Type != want[i].Type || got[i].Quantity != want[i].Quantity ||
				got[i].RefundFen != want[i].RefundFen || !got[i].OccurredAt.Equal(want[i].OccurredAt) {
				t.Errorf("%s %s event %d: got %+v, want %+v", m, ref, i, got[i], want[i])
			}
		}
	}
	if want := script.Len(ccb.Code) + script.Len(abc.Code); total != want {
		t.Errorf("%d events acknowledged, the statements hold %d", total, want)
	}
	st := r.sim.Stats()
	if st.CCB.Retried+st.ABC.Retried != 0 || st.CCB.GaveUp+st.ABC.GaveUp != 0 {
		t.Errorf("stats %+v: retries or give-ups with a webhook that always acknowledges", st)
	}
}
