package ccb_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"aidmall/adapters/ccb"
	"aidmall/bizday"
	"aidmall/internal/sandboxtest"
	"aidmall/orders"
)

// TestAgainstReferenceSandbox runs the adapter against shared/mallsandbox: a create with
// the bundle's listed price, an idempotent repeat, a price mismatch, the default script's
// notifications verified with the sandbox's mall key and acknowledged, query, a refused
// cancel, and the day's GB18030 statement.
func TestAgainstReferenceSandbox(t *testing.T) {
	t.Parallel()
	sb := sandboxtest.Start(t, "--ship-after", "50ms", "--deliver-after", "100ms", "--quiet")
	priv, pub, err := ccb.LoadKeys(sb.CCBPartnerPrivateKey, sb.CCBMallPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ccb.New(ccb.Config{BaseURL: sb.CCBURL, AppID: sb.CCBAppID, PartnerKey: priv, MallKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	v, err := ccb.NewVerifier(sb.CCBAppID, pub)
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var got []orders.FulfilmentEvent
	delivered := make(chan struct{}, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ev, err := v.Parse(body)
		if err != nil {
			t.Errorf("sandbox notification refused: %v\n%s", err, body)
			status, ct, b := ccb.AckFailure()
			w.Header().Set("Content-Type", ct)
			w.WriteHeader(status)
			w.Write(b)
			return
		}
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
		if ev.Type == orders.EventDelivered {
			select {
			case delivered <- struct{}{}:
			default:
			}
		}
		status, ct, b := ccb.AckSuccess()
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(status)
		w.Write(b)
	}))
	t.Cleanup(hook.Close)

	ctx := context.Background()
	req := orders.CreateRequest{
		OutOrderNo: orders.NewOutOrderNo(time.Now()), BuyerRef: "SANDBOX-TEST-1", BuyerName: "集团总部机关工会",
		DeliveryMode: orders.DeliveryBulk,
		ShipTo:       orders.ShipTo{Name: "王*", Phone: "138****0000", Address: "北京市西城区"},
		// products.csv: CCB-YC-APL-05 listed at 68.00 yuan.
		Lines:     []orders.CreateLine{{LineNo: 1, ItemID: "CCB-YC-APL-05", Quantity: 20, UnitPrice: 6800}},
		Total:     136000,
		NotifyURL: hook.URL + "/webhooks/ccb",
	}
	res, err := c.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Create(ctx, req)
	if err != nil || again.MallOrderNo != res.MallOrderNo {
		t.Fatalf("repeat create = %+v, %v; first %+v", again, err, res)
	}

	wrong := req
	wrong.OutOrderNo = orders.NewOutOrderNo(time.Now())
	wrong.Lines = []orders.CreateLine{{LineNo: 1, ItemID: "CCB-YC-APL-05", Quantity: 20, UnitPrice: 6900}}
	wrong.Total = 138000
	_, err = c.Create(ctx, wrong)
	var me *orders.MallError
	if !errors.As(err, &me) || me.Code != "40005" || me.Retryable {
		t.Fatalf("price mismatch = %v, want final 40005", err)
	}

	select {
	case <-delivered:
	case <-time.After(30 * time.Second):
		t.Fatal("no delivery notification within 30 s")
	}
	mu.Lock()
	types := map[orders.EventType]bool{}
	for _, e := range got {
		types[e.Type] = true
		if e.OutOrderNo != req.OutOrderNo || e.MallOrderNo != res.MallOrderNo {
			t.Errorf("notification for another order: %+v", e)
		}
	}
	mu.Unlock()
	for _, want := range []orders.EventType{orders.EventAccepted, orders.EventShipped, orders.EventDelivered} {
		if !types[want] {
			t.Errorf("no %s notification (got %v)", want, types)
		}
	}

	view, err := c.Query(ctx, req.OutOrderNo)
	if err != nil {
		t.Fatal(err)
	}
	if len(view.Lines) != 1 || view.Lines[0].Delivered != 20 || view.Status != "DELIVERED" {
		t.Errorf("query = %+v", view)
	}
	if _, err := c.Query(ctx, "AM0000000000000000404"); !errors.Is(err, orders.ErrNotFound) {
		t.Errorf("query of unknown order: %v", err)
	}
	err = c.Cancel(ctx, req.OutOrderNo, "test")
	if !errors.As(err, &me) || me.Code != "40010" || me.Retryable {
		t.Errorf("cancel after shipping = %v, want final 40010", err)
	}

	days := map[bizday.Day]bool{}
	mu.Lock()
	for _, e := range got {
		days[bizday.Of(e.OccurredAt)] = true // statements are per business day of occurrence
	}
	mu.Unlock()
	inStatement := 0
	for day := range days {
		evs, bad, err := c.Statement(ctx, day)
		if err != nil || len(bad) != 0 {
			t.Fatalf("statement %s: %v, bad rows %v", day, err, bad)
		}
		for _, e := range evs {
			if e.OutOrderNo == req.OutOrderNo {
				inStatement++
			}
		}
	}
	if inStatement < 3 {
		t.Errorf("statement lists %d events of the order, want at least accepted, shipped, delivered", inStatement)
	}
}

// TestAgainstReferenceSandboxWithFaults runs one order through the sandbox while it fails
// 40% of calls with 20000, sends half the notifications first with a corrupted signature
// and duplicates some: retrying exactly the errors marked Retryable must get the order
// created once, every forged notification must be refused (the sandbox counts any it sees
// acknowledged), and the genuine ones acknowledged.
func TestAgainstReferenceSandboxWithFaults(t *testing.T) {
	t.Parallel()
	sb := sandboxtest.Start(t, "--abc-addr=", "--fail-rate", "0.4", "--bad-sign-rate", "0.5", "--dup-rate", "0.5",
		"--ship-after", "50ms", "--deliver-after", "100ms", "--quiet")
	priv, pub, err := ccb.LoadKeys(sb.CCBPartnerPrivateKey, sb.CCBMallPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ccb.New(ccb.Config{BaseURL: sb.CCBURL, AppID: sb.CCBAppID, PartnerKey: priv, MallKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	v, err := ccb.NewVerifier(sb.CCBAppID, pub)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	ids := map[orders.MallEventID]orders.EventType{}
	refused := 0
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ev, err := v.Parse(body)
		status, ct, b := ccb.AckSuccess()
		mu.Lock()
		if err != nil {
			if !errors.Is(err, ccb.ErrBadSignature) {
				t.Errorf("notification refused for another reason than its signature: %v", err)
			}
			refused++
			status, ct, b = ccb.AckFailure()
		} else {
			ids[ev.EventID] = ev.Type
		}
		mu.Unlock()
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(status)
		w.Write(b)
	}))
	t.Cleanup(hook.Close)

	req := orders.CreateRequest{
		OutOrderNo: orders.NewOutOrderNo(time.Now()), BuyerRef: "SANDBOX-FAULTS-1", BuyerName: "集团总部机关工会",
		DeliveryMode: orders.DeliveryBulk,
		ShipTo:       orders.ShipTo{Name: "王*", Phone: "138****0000", Address: "北京市西城区"},
		Lines:        []orders.CreateLine{{LineNo: 1, ItemID: "CCB-YC-APL-05", Quantity: 2, UnitPrice: 6800}},
		Total:        13600,
		NotifyURL:    hook.URL + "/webhooks/ccb",
	}
	var res orders.CreateResult
	for try := 1; ; try++ {
		res, err = c.Create(context.Background(), req)
		var me *orders.MallError
		if err == nil {
			break
		}
		if !errors.As(err, &me) || !me.Retryable || try == 40 {
			t.Fatalf("create, try %d: %v", try, err)
		}
	}

	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := len(ids)
		mu.Unlock()
		if n == 3 { // accepted, shipped, delivered of the one line
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s, %d of 3 events; counters %v", n, sb.State(t, sb.CCBURL)["counters"])
		}
		time.Sleep(50 * time.Millisecond)
	}
	st := sb.State(t, sb.CCBURL)
	ctr, _ := st["counters"].(map[string]any)
	if ctr["bad_sign_acked"] != float64(0) {
		t.Errorf("the sandbox saw a forged notification acknowledged: counters %v", ctr)
	}
	mu.Lock()
	if sent, _ := ctr["bad_sign_sent"].(float64); sent > 0 && refused == 0 {
		t.Errorf("%v forged notifications sent, none refused", sent)
	}
	mu.Unlock()
	for _, o := range st["orders"].([]any) {
		o := o.(map[string]any)
		if o["out_order_no"] == string(req.OutOrderNo) && (o["mall_order_no"] != res.MallOrderNo || o["conflicting_creates"] != float64(0)) {
			t.Errorf("sandbox order = %v, created as %s", o, res.MallOrderNo)
		}
	}
}
