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
		OutOrderNo: orders.NewOutOrderNo(time.Now(), 1), BuyerRef: "SANDBOX-TEST-1", BuyerName: "集团总部机关工会",
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
	wrong.OutOrderNo = orders.NewOutOrderNo(time.Now(), 2)
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
