package imports_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/examples"
	"aidmall/households"
	"aidmall/imports"
	"aidmall/internal/gen"
	"aidmall/money"
	"aidmall/orders"
)

// office is the caller that loads order history.
var office = orders.Caller{Name: "bench", Role: orders.RoleAidOffice}

// BenchmarkHistoryImport loads a generated order history (aidmall gen; orders from
// AIDMALL_BENCH_ORDERS, default 2,380; 238 orders and 448 lines a copy) into a fresh
// database holding its branches, suppliers and products, and reports orders/s and the
// peak RSS of the import (VmHWM); in the same run, on a second fresh database, the bare
// LoadHistory of the same orders already parsed (the store's share), and the ratio.
//
//	AIDMALL_BENCH_ORDERS=100000 go test ./imports -run '^$' -bench HistoryImport -benchtime 1x
func BenchmarkHistoryImport(b *testing.B) {
	n := 2380
	if v, err := strconv.Atoi(os.Getenv("AIDMALL_BENCH_ORDERS")); err == nil && v > 0 {
		n = v
	}
	dir := b.TempDir()
	if err := gen.Write(examples.YichuanDingbian2019(), dir, gen.Options{Scale: (n + 237) / 238}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, d := range sqltest.Dialects {
		b.Run(d.Name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				service := func() *orders.Service {
					db := d.Open(b)
					st := sqltest.Store(b, db)
					reg := sqltest.Registry(b, st, func() time.Time { return time.Date(2020, 6, 1, 0, 0, 0, 0, time.UTC) })
					for _, k := range []households.Kind{households.KindBranches, households.KindSuppliers, households.KindProducts} {
						f, err := os.Open(filepath.Join(dir, string(k)+".csv"))
						if err != nil {
							b.Fatal(err)
						}
						if _, err := reg.Import(ctx, k, string(k)+".csv", f, false); err != nil {
							b.Fatal(err)
						}
						f.Close()
					}
					svc, err := orders.NewService(st, []orders.MallInfo{{Code: "ccb"}, {Code: "abc"}}, nil)
					if err != nil {
						b.Fatal(err)
					}
					return svc
				}
				svc := service()
				of, err := os.Open(filepath.Join(dir, imports.OrdersFile))
				if err != nil {
					b.Fatal(err)
				}
				lf, err := os.Open(filepath.Join(dir, imports.LinesFile))
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // VmHWM from here
				b.StartTimer()
				start := time.Now()
				rep, err := imports.History(ctx, svc, office, of, lf)
				took := time.Since(start)
				b.StopTimer()
				peak := vmHWM()
				of.Close()
				lf.Close()
				if err != nil || rep.Created == 0 {
					b.Fatalf("%v %+v", err, rep)
				}
				// The bare baseline: the same orders, parsed beforehand, loaded one by one.
				hs := parsedHistory(b, dir)
				svc = service()
				bareStart := time.Now()
				for _, h := range hs {
					if _, _, err := svc.LoadHistory(ctx, office, h); err != nil {
						b.Fatalf("bare LoadHistory %s: %v", h.OrderRef, err)
					}
				}
				bare := float64(len(hs)) / time.Since(bareStart).Seconds()
				rate := float64(rep.Rows) / took.Seconds()
				b.ReportMetric(rate, "orders/s")
				b.ReportMetric(bare, "bare-orders/s")
				b.ReportMetric(rate/bare, "ratio")
				b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
				b.Logf("%s: %d orders (%d loaded, %d errors) in %v: %.0f orders/s; bare LoadHistory %.0f orders/s (ratio %.2f); peak RSS of the import %d MiB",
					d.Name, rep.Rows, rep.Created, len(rep.Errors), took.Round(time.Millisecond), rate, bare, rate/bare, peak>>20)
				b.StartTimer()
			}
		})
	}
}

// parsedHistory reads a bundle's order history whole, as the bare baseline's input.
func parsedHistory(b *testing.B, dir string) []orders.HistoryOrder {
	read := func(name string) []map[string]string {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		rs, err := imports.ReadCSV(f, name)
		if err != nil {
			b.Fatal(err)
		}
		return rs
	}
	lines := map[string][]orders.HistoryLine{}
	for _, l := range read(imports.LinesFile) {
		no, _ := strconv.Atoi(l["line_no"])
		q, _ := strconv.ParseInt(l["quantity"], 10, 64)
		p, err := money.ParseYuan(l["unit_price"])
		if err != nil {
			continue
		}
		lines[l["order_ref"]] = append(lines[l["order_ref"]], orders.HistoryLine{LineNo: no, SKU: l["sku"], Quantity: q, UnitPrice: p})
	}
	var out []orders.HistoryOrder
	for _, o := range read(imports.OrdersFile) {
		placed, err := time.Parse(time.RFC3339, o["placed_at"])
		if err != nil {
			continue
		}
		out = append(out, orders.HistoryOrder{OrderRef: o["order_ref"], BranchCode: o["branch_code"], Mall: orders.Mall(o["mall"]),
			Funding: orders.Funding(o["funding"]), DeliveryMode: orders.DeliveryMode(o["delivery_mode"]), PlacedAt: placed,
			OutOrderNo: orders.OutOrderNo(o["out_order_no"]), MallOrderNo: o["mall_order_no"], Lines: lines[o["order_ref"]]})
	}
	return out
}

// vmHWM is the process's peak resident set size in bytes, 0 where unknown.
func vmHWM() int64 {
	s, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(s), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
