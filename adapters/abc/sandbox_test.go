package abc

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"aidmall/bizday"
	"aidmall/internal/sandboxtest"
	"aidmall/money"
	"aidmall/orders"
)

// abcListings reads the ABC item ids and listed prices (fen) from the bundle's products.csv.
func abcListings(t *testing.T) map[string]money.Fen {
	t.Helper()
	f, err := os.Open(filepath.Join(sandboxtest.BundleDir(), "products.csv"))
	if err != nil {
		t.Skipf("bundle products.csv: %v", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	out := map[string]money.Fen{}
	for _, r := range rows[1:] {
		if id := r[col["abc_item_id"]]; id != "" {
			p, err := strconv.ParseInt(r[col["abc_price_fen"]], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			out[id] = money.Fen(p)
		}
	}
	return out
}

// webhook is the partner's notification endpoint: verify, record (deduplicated by event
// id, as the store would), acknowledge; refuse with AckFailure otherwise.
type webhook struct {
	v        *Verifier
	client   *Client
	mu       sync.Mutex
	events   map[string]orders.FulfilmentEvent
	forged   int
	arrived  chan struct{}
	rejected map[string]int
}

func (h *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	ev, err := h.v.Parse(r.Context(), r.Method, r.RequestURI, r.Header, body)
	var status int
	var hdr http.Header
	var out []byte
	h.mu.Lock()
	switch {
	case errors.Is(err, ErrBadSignature):
		h.forged++
		status, hdr, out = AckFailure(CodeBadSignature, "signature does not verify")
	case err != nil:
		h.rejected[err.Error()]++
		status, hdr, out = AckFailure(CodeBadRequest, err.Error())
	default:
		if _, seen := h.events[string(ev.EventID)]; !seen {
			h.events[string(ev.EventID)] = ev
			select {
			case h.arrived <- struct{}{}:
			default:
			}
		}
		status, hdr, out = h.client.Ack(r.RequestURI)
	}
	h.mu.Unlock()
	for k, vs := range hdr {
		w.Header()[k] = vs
	}
	w.WriteHeader(status)
	w.Write(out)
}

// Against the reference sandbox, with every notification first sent with a forged
// signature and every delivery duplicated: create (201, then 200), a price mismatch,
// fulfilment notified and acknowledged, query, a refused cancel, and the day's statement.
func TestSandbox(t *testing.T) {
	sb := sandboxtest.Start(t, "--ccb-addr=", "--ship-after", "50ms", "--deliver-after", "100ms",
		"--bad-sign-rate", "1", "--dup-rate", "1", "--quiet")
	priv, pub, err := LoadKeys(sb.ABCPartnerPrivateKey, sb.ABCMallPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{BaseURL: sb.ABCURL, AppID: sb.ABCAppID, PartnerKey: priv, MallKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(sb.ABCAppID, pub, newMemNonces(time.Now), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	hook := &webhook{v: v, client: c, events: map[string]orders.FulfilmentEvent{},
		arrived: make(chan struct{}, 1), rejected: map[string]int{}}
	srv := httptest.NewServer(hook)
	t.Cleanup(srv.Close)

	listed := abcListings(t)
	req := orders.CreateRequest{
		OutOrderNo: orders.OutOrderNo(fmt.Sprintf("AMTEST%d", time.Now().UnixNano())), BuyerRef: "TEST-ABC-ADAPTER", BuyerName: "测试工会",
		DeliveryMode: orders.DeliveryBulk, ShipTo: orders.ShipTo{Name: "王*", Phone: "138****0000", Address: "西安市"},
		Lines: []orders.CreateLine{
			{LineNo: 1, ItemID: "ABC-770031", Quantity: 4, UnitPrice: listed["ABC-770031"]},
			{LineNo: 2, ItemID: "ABC-770032", Quantity: 2, UnitPrice: listed["ABC-770032"]},
		},
		NotifyURL: srv.URL + "/webhooks/abc?tenant=test",
	}
	if req.Lines[0].UnitPrice == 0 || req.Lines[1].UnitPrice == 0 {
		t.Skip("bundle no longer lists ABC-770031 and ABC-770032")
	}
	req.Total = money.Fen(req.Lines[0].Quantity)*req.Lines[0].UnitPrice + money.Fen(req.Lines[1].Quantity)*req.Lines[1].UnitPrice
	ctx := context.Background()

	cheap := req
	cheap.OutOrderNo += "P"
	cheap.Lines = []orders.CreateLine{req.Lines[0]}
	cheap.Lines[0].UnitPrice--
	cheap.Total = money.Fen(cheap.Lines[0].Quantity) * cheap.Lines[0].UnitPrice
	if me := mallError(t, second(c.Create(ctx, cheap))); me.HTTPStatus != 422 || me.Code != "PRICE_MISMATCH" || me.Retryable {
		t.Errorf("price below listing: %+v", me)
	}

	first, err := c.Create(ctx, req)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	again, err := c.Create(ctx, req)
	if err != nil || again.MallOrderNo != first.MallOrderNo {
		t.Fatalf("idempotent create: %+v, %v (first %+v)", again, err, first)
	}

	// accepted, 2 × shipped, 2 × delivered
	deadline := time.After(60 * time.Second)
	for {
		hook.mu.Lock()
		n := len(hook.events)
		hook.mu.Unlock()
		if n >= 5 {
			break
		}
		select {
		case <-hook.arrived:
		case <-deadline:
			t.Fatalf("after 60 s, %d of 5 events; state %v", n, sb.State(t, sb.ABCURL)["counters"])
		}
	}
	hook.mu.Lock()
	byType := map[orders.EventType]int64{}
	for _, ev := range hook.events {
		if ev.OutOrderNo != req.OutOrderNo || ev.MallOrderNo != first.MallOrderNo || ev.Source != "notify" {
			t.Errorf("event for another order: %+v", ev)
		}
		byType[ev.Type] += ev.Quantity
	}
	forged, rejected := hook.forged, hook.rejected
	hook.mu.Unlock()
	if byType[orders.EventDelivered] != 6 || byType[orders.EventShipped] != 6 {
		t.Errorf("quantities by type = %v, want 6 shipped and 6 delivered", byType)
	}
	if forged == 0 {
		t.Error("no forged notification was refused (sandbox runs with --bad-sign-rate 1)")
	}
	if len(rejected) != 0 {
		t.Errorf("genuine notifications refused: %v", rejected)
	}
	if ctr, _ := sb.State(t, sb.ABCURL)["counters"].(map[string]any); ctr["bad_sign_acked"] != float64(0) {
		t.Errorf("sandbox counters: %v", ctr)
	}

	view, err := c.Query(ctx, req.OutOrderNo)
	if err != nil {
		t.Fatal(err)
	}
	if view.MallOrderNo != first.MallOrderNo || view.Status != "DELIVERED" || len(view.Lines) != 2 || view.Lines[0].Delivered != 4 {
		t.Errorf("query = %+v", view)
	}
	if me := mallError(t, c.Cancel(ctx, req.OutOrderNo, "too late")); me.Code != "ALREADY_SHIPPED" || me.Retryable {
		t.Errorf("cancel after delivery: %+v", me)
	}
	if me := mallError(t, second(c.Query(ctx, req.OutOrderNo+"X"))); !me.NotFound {
		t.Errorf("query unknown: %+v", me)
	}

	events, bad, err := c.Statement(ctx, bizday.Of(time.Now()))
	if err != nil || len(bad) != 0 {
		t.Fatalf("statement: %v %v", bad, err)
	}
	inStatement := 0
	hook.mu.Lock()
	defer hook.mu.Unlock()
	for _, ev := range events {
		if _, ok := hook.events[string(ev.EventID)]; ok && ev.OutOrderNo == req.OutOrderNo {
			inStatement++
		}
	}
	if inStatement != 5 {
		t.Errorf("statement holds %d of the 5 notified events (of %d)", inStatement, len(events))
	}
}

// Against the sandbox with injected faults (503, 429 with Retry-After, answers held past
// the client's timeout after the mall has acted): every failure is Retryable, and retrying
// the same create until it succeeds leaves exactly one order at the mall.
func TestSandbox_faults_are_retryable_and_create_stays_once(t *testing.T) {
	sb := sandboxtest.Start(t, "--ccb-addr=", "--fail-rate", "0.3", "--throttle-rate", "0.2",
		"--slow", "500ms", "--slow-rate", "0.4", "--seed", "11", "--quiet")
	priv, pub, err := LoadKeys(sb.ABCPartnerPrivateKey, sb.ABCMallPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{BaseURL: sb.ABCURL, AppID: sb.ABCAppID, PartnerKey: priv, MallKey: pub,
		HTTP: &http.Client{Timeout: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	listed := abcListings(t)
	price := listed["ABC-770031"]
	if price == 0 {
		t.Skip("bundle no longer lists ABC-770031")
	}
	req := orders.CreateRequest{
		OutOrderNo: orders.OutOrderNo(fmt.Sprintf("AMFAULT%d", time.Now().UnixNano())), BuyerRef: "TEST-ABC-FAULTS", BuyerName: "测试工会",
		DeliveryMode: orders.DeliveryBulk, ShipTo: orders.ShipTo{Name: "王*", Phone: "138****0000", Address: "西安市"},
		Lines: []orders.CreateLine{{LineNo: 1, ItemID: "ABC-770031", Quantity: 3, UnitPrice: price}},
		Total: 3 * price, NotifyURL: "http://127.0.0.1:9/webhooks/abc",
	}
	kinds := map[string]int{}
	var res orders.CreateResult
	for attempt := 1; ; attempt++ {
		if attempt > 40 {
			t.Fatalf("no success in 40 attempts: %v", kinds)
		}
		res, err = c.Create(context.Background(), req)
		if err == nil {
			break
		}
		me := mallError(t, err)
		if !me.Retryable {
			t.Fatalf("attempt %d: final error under injected faults: %+v", attempt, me)
		}
		kinds[fmt.Sprintf("%d %s", me.HTTPStatus, me.Code)]++
		if me.HTTPStatus == http.StatusTooManyRequests && me.RetryAfter != time.Second {
			t.Errorf("429 Retry-After read as %v, the sandbox sends 1 s", me.RetryAfter)
		}
		time.Sleep(min(me.RetryAfter, time.Second)) // honour Retry-After
	}
	t.Logf("faults before success: %v", kinds)
	st := sb.State(t, sb.ABCURL)
	found := 0
	for _, o := range st["orders"].([]any) {
		o := o.(map[string]any)
		if o["out_order_no"] == string(req.OutOrderNo) {
			found++
			if o["mall_order_no"] != res.MallOrderNo {
				t.Errorf("mall has %v, client got %s", o["mall_order_no"], res.MallOrderNo)
			}
		}
	}
	if found != 1 {
		t.Errorf("%d orders at the mall for %s", found, req.OutOrderNo)
	}
}
