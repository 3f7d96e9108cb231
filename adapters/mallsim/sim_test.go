package mallsim

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/households"
	"aidmall/orders"
)

var malls = []orders.Mall{ccb.Code, abc.Code}

func mallStats(s Stats, m orders.Mall) MallStats {
	if m == ccb.Code {
		return s.CCB
	}
	return s.ABC
}

// The default script: accepted, every line shipped, every line delivered in full; every
// notification verifies with the adapter's Verifier and carries the live order numbers.
func TestCreate_default_script_notifies_every_step_signed(t *testing.T) {
	t.Parallel()
	for _, m := range malls {
		t.Run(string(m), func(t *testing.T) {
			t.Parallel()
			r := newRig(t, Options{}, nil)
			req := r.order(t, m, "AM20190312100000000001", "2019-HQ-0001")
			res, err := r.clients[m].Create(context.Background(), req)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			if res.MallOrderNo == "" {
				t.Fatal("no mall order number")
			}
			r.waitIdle(t)
			got := r.hook.acked(m, string(req.OutOrderNo))
			if want := "accepted shipped#1 shipped#2 delivered#1 delivered#2"; types(got) != want {
				t.Fatalf("events %q, want %q", types(got), want)
			}
			ids := map[string]bool{}
			for _, e := range got {
				if e.MallOrderNo != res.MallOrderNo {
					t.Errorf("event %s names mall order %s, create said %s", e.EventID, e.MallOrderNo, res.MallOrderNo)
				}
				if ids[string(e.EventID)] {
					t.Errorf("event id %s used twice", e.EventID)
				}
				ids[string(e.EventID)] = true
				if e.LineNo > 0 && e.Quantity != req.Lines[e.LineNo-1].Quantity {
					t.Errorf("%s line %d quantity %d, ordered %d", e.Type, e.LineNo, e.Quantity, req.Lines[e.LineNo-1].Quantity)
				}
				if e.Type == orders.EventShipped && m == ccb.Code && e.LogisticsNo == "" {
					t.Errorf("shipped event %s without logistics_no", e.EventID)
				}
				if d := time.Since(e.OccurredAt); d < 0 || d > time.Minute {
					t.Errorf("default-script event %s occurred at %s, want about now", e.EventID, e.OccurredAt)
				}
			}
			st := mallStats(r.sim.Stats(), m)
			if st.Creates != 1 || st.Sent != 5 || st.Acked != 5 || st.Pending != 0 || st.Retried != 0 {
				t.Errorf("stats %+v, want 1 create, 5 sent and acked, none pending or retried", st)
			}
			v, err := r.clients[m].Query(context.Background(), req.OutOrderNo)
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			if v.Status != "DELIVERED" || v.MallOrderNo != res.MallOrderNo || len(v.Lines) != 2 {
				t.Fatalf("query %+v, want DELIVERED with 2 lines", v)
			}
			for i, l := range v.Lines {
				if l.Shipped != req.Lines[i].Quantity || l.Delivered != req.Lines[i].Quantity {
					t.Errorf("line %d shipped %d delivered %d, want %d", l.LineNo, l.Shipped, l.Delivered, req.Lines[i].Quantity)
				}
			}
		})
	}
}

// Per-recipient orders whose recipients add up are taken and fulfilled like bulk ones.
func TestCreate_per_recipient_order_is_fulfilled(t *testing.T) {
	t.Parallel()
	r := newRig(t, Options{}, nil)
	for _, m := range malls {
		req := r.order(t, m, "AM20190312100000000008", "2019-HQ-0008")
		req.DeliveryMode, req.ShipTo = orders.DeliveryPerRecipient, orders.ShipTo{}
		req.Lines[0].Recipients = []orders.Recipient{{Name: "李*", Phone: "139****1111", Address: "西安", Quantity: 4},
			{Name: "赵*", Phone: "136****3333", Address: "榆林", Quantity: 6}}
		req.Lines[1].Recipients = []orders.Recipient{{Name: "张*", Phone: "137****2222", Address: "延安", Quantity: 5}}
		if _, err := r.clients[m].Create(context.Background(), req); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		r.waitIdle(t)
		if got := types(r.hook.acked(m, string(req.OutOrderNo))); got != "accepted shipped#1 shipped#2 delivered#1 delivered#2" {
			t.Errorf("%s: events %q", m, got)
		}
	}
}

func TestCreate_same_content_is_idempotent_other_content_conflicts(t *testing.T) {
	t.Parallel()
	for _, m := range malls {
		t.Run(string(m), func(t *testing.T) {
			t.Parallel()
			r := newRig(t, Options{}, nil)
			ctx := context.Background()
			req := r.order(t, m, "AM20190312100000000002", "2019-HQ-0002")
			first, err := r.clients[m].Create(ctx, req)
			if err != nil {
				t.Fatalf("first create: %v", err)
			}
			again := req
			again.NotifyURL = r.hook.url(m, "elsewhere") // not part of the content; the first is kept
			second, err := r.clients[m].Create(ctx, again)
			if err != nil {
				t.Fatalf("repeated create: %v", err)
			}
			if second.MallOrderNo != first.MallOrderNo {
				t.Fatalf("repeat gave mall order %s, first %s", second.MallOrderNo, first.MallOrderNo)
			}
			other := r.order(t, m, string(req.OutOrderNo), req.BuyerRef)
			other.Lines = other.Lines[:1]
			other.Total = other.Lines[0].UnitPrice * 10
			_, err = r.clients[m].Create(ctx, other)
			me := mallError(t, err)
			want := map[orders.Mall]string{ccb.Code: "DUPLICATE_OUT_ORDER_NO", abc.Code: "ORDER_CONFLICT"}[m]
			if code(me) != want || me.Retryable {
				t.Fatalf("other content: %v, want final %s", me, want)
			}
			r.waitIdle(t)
			st := mallStats(r.sim.Stats(), m)
			if st.Creates != 1 || st.DuplicateCreates != 1 || st.Conflicts != 1 || st.Sent != 5 {
				t.Errorf("stats %+v, want 1 create, 1 duplicate, 1 conflict, 5 notifications", st)
			}
			for _, d := range r.hook.all() {
				if d.Path != "/webhooks/"+string(m)+"/"+string(req.OutOrderNo) {
					t.Errorf("notification went to %s, want the first notify URL", d.Path)
				}
			}
		})
	}
}

func TestCreate_refusals_are_final_and_create_nothing(t *testing.T) {
	t.Parallel()
	r := newRig(t, Options{}, nil)
	type tc struct {
		name   string
		mall   orders.Mall
		change func(*orders.CreateRequest)
		want   string // CCB sub_code / ABC code
		status int    // ABC HTTP status
	}
	var cases []tc
	for _, m := range malls {
		cases = append(cases,
			tc{"price_differs_from_listing", m, func(q *orders.CreateRequest) {
				q.Lines[0].UnitPrice++
				q.Total += 10
			}, "PRICE_MISMATCH", 422},
			tc{"item_not_listed", m, func(q *orders.CreateRequest) { q.Lines[1].ItemID = "NOPE-1" }, "ITEM_NOT_LISTED", 422},
			tc{"total_is_not_the_sum", m, func(q *orders.CreateRequest) { q.Total++ }, "AMOUNT_MISMATCH", 422},
			tc{"recipients_do_not_add_up_to_the_line", m, func(q *orders.CreateRequest) {
				q.DeliveryMode, q.ShipTo = orders.DeliveryPerRecipient, orders.ShipTo{}
				q.Lines[0].Recipients = []orders.Recipient{{Name: "李*", Phone: "139****1111", Address: "西安", Quantity: 9}}
				q.Lines[1].Recipients = []orders.Recipient{{Name: "张*", Phone: "137****2222", Address: "延安", Quantity: 5}}
			}, map[orders.Mall]string{ccb.Code: "INVALID_PARAMETER", abc.Code: "BAD_REQUEST"}[m], 400},
		)
	}
	// The CCB-only walnut is not listed by ABC.
	cases = append(cases, tc{"abc_does_not_list_a_ccb_item", abc.Code, func(q *orders.CreateRequest) {
		q.Lines[1].ItemID = "CCB-T-WAL"
	}, "ITEM_NOT_LISTED", 422})
	for i, c := range cases {
		t.Run(string(c.mall)+"/"+c.name, func(t *testing.T) {
			no := fmt.Sprintf("AM201903121000000001%02d", i)
			req := r.order(t, c.mall, no, "2019-HQ-0010")
			c.change(&req)
			_, err := r.clients[c.mall].Create(context.Background(), req)
			me := mallError(t, err)
			if code(me) != c.want || me.Retryable {
				t.Fatalf("got %v, want final %s", me, c.want)
			}
			if c.mall == ccb.Code && me.Code != map[string]string{"PRICE_MISMATCH": "40005", "ITEM_NOT_LISTED": "40005",
				"AMOUNT_MISMATCH": "40006", "INVALID_PARAMETER": "40001"}[c.want] {
				t.Errorf("CCB code %s for %s", me.Code, c.want)
			}
			if c.mall == abc.Code && me.HTTPStatus != c.status {
				t.Errorf("ABC status %d, want %d", me.HTTPStatus, c.status)
			}
			_, err = r.clients[c.mall].Query(context.Background(), orders.OutOrderNo(no))
			if me := mallError(t, err); !me.NotFound {
				t.Errorf("refused order is known to the mall: %v", err)
			}
		})
	}
}

func TestCancel_before_shipping_is_notified_once(t *testing.T) {
	t.Parallel()
	for _, m := range malls {
		t.Run(string(m), func(t *testing.T) {
			t.Parallel()
			// A long gap holds the script after "accepted": nothing ships before the cancel.
			r := newRig(t, Options{ReplayGap: time.Hour}, nil)
			ctx := context.Background()
			req := r.order(t, m, "AM20190312100000000003", "2019-HQ-0003")
			if _, err := r.clients[m].Create(ctx, req); err != nil {
				t.Fatal(err)
			}
			r.hook.waitAcked(t, m, string(req.OutOrderNo), 1)
			if r.sim.Idle() {
				t.Fatal("Idle while the script still has steps")
			}
			if err := r.clients[m].Cancel(ctx, req.OutOrderNo, "预算调整"); err != nil {
				t.Fatalf("Cancel: %v", err)
			}
			r.waitIdle(t) // the cancel ends the script: no waiting out the hour
			if err := r.clients[m].Cancel(ctx, req.OutOrderNo, "again"); err != nil {
				t.Fatalf("second Cancel: %v", err)
			}
			r.waitIdle(t)
			if got := types(r.hook.acked(m, string(req.OutOrderNo))); got != "accepted cancelled" {
				t.Fatalf("events %q, want %q", got, "accepted cancelled")
			}
			v, err := r.clients[m].Query(ctx, req.OutOrderNo)
			if err != nil || v.Status != "CANCELLED" {
				t.Fatalf("query %+v %v, want CANCELLED", v, err)
			}
			if st := mallStats(r.sim.Stats(), m); st.Cancels != 1 || st.Sent != 2 {
				t.Errorf("stats %+v, want 1 cancel and 2 notifications", st)
			}
		})
	}
}

func TestCancel_after_shipping_is_refused(t *testing.T) {
	t.Parallel()
	for _, m := range malls {
		t.Run(string(m), func(t *testing.T) {
			t.Parallel()
			r := newRig(t, Options{}, nil)
			ctx := context.Background()
			req := r.order(t, m, "AM20190312100000000004", "2019-HQ-0004")
			if _, err := r.clients[m].Create(ctx, req); err != nil {
				t.Fatal(err)
			}
			r.waitIdle(t)
			me := mallError(t, r.clients[m].Cancel(ctx, req.OutOrderNo, "too late"))
			want := map[orders.Mall]string{ccb.Code: "ORDER_SHIPPED", abc.Code: "ALREADY_SHIPPED"}[m]
			if code(me) != want || me.Retryable {
				t.Fatalf("got %v, want final %s", me, want)
			}
			me = mallError(t, r.clients[m].Cancel(ctx, "AM20190312109999999999", "unknown"))
			if !me.NotFound {
				t.Fatalf("cancel of an unknown order: %v, want not found", me)
			}
			r.waitIdle(t)
			if got := types(r.hook.acked(m, string(req.OutOrderNo))); got != "accepted shipped#1 shipped#2 delivered#1 delivered#2" {
				t.Errorf("events after a refused cancel: %q", got)
			}
		})
	}
}

// A notification that is not acknowledged is sent again with the same id, one order's
// notifications stay in order, and any answer but the spec's exact one is a failure.
func TestNotification_not_acked_is_retried_in_order(t *testing.T) {
	t.Parallel()
	wrongCCB := []string{"500", "SUCCESS", "success\n"}
	wrongABC := []string{"500", "code0001", "forged"}
	refuse := func(m orders.Mall, _ orders.FulfilmentEvent, n int) string {
		if n > 3 {
			return ""
		}
		if m == ccb.Code {
			return wrongCCB[n-1]
		}
		return wrongABC[n-1]
	}
	for _, m := range malls {
		t.Run(string(m), func(t *testing.T) {
			t.Parallel()
			r := newRig(t, Options{}, refuse)
			req := r.order(t, m, "AM20190312100000000005", "2019-HQ-0005")
			if _, err := r.clients[m].Create(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			r.waitIdle(t)
			all := r.hook.all()
			if len(all) != 20 {
				t.Fatalf("%d deliveries, want 5 events × 4 tries", len(all))
			}
			// One at a time, in order: the 4 tries of an event come before the next event.
			for i, d := range all {
				first := all[i/4*4].Event
				if d.Event.EventID != first.EventID {
					t.Fatalf("delivery %d is %s while %s was still being retried", i, d.Event.EventID, first.EventID)
				}
				if m == abc.Code && d.Attempt != i%4+1 {
					t.Errorf("delivery %d of %s has attempt %d, want %d", i, d.Event.EventID, d.Attempt, i%4+1)
				}
			}
			if got := types(r.hook.acked(m, string(req.OutOrderNo))); got != "accepted shipped#1 shipped#2 delivered#1 delivered#2" {
				t.Errorf("acknowledged %q", got)
			}
			st := mallStats(r.sim.Stats(), m)
			if st.Sent != 5 || st.Acked != 5 || st.Retried != 15 || st.GaveUp != 0 || st.Pending != 0 {
				t.Errorf("stats %+v, want 5 sent, 5 acked, 15 retried", st)
			}
		})
	}
}

// After the spec's last try (CCB 8, ABC 12) the mall gives up and moves on.
func TestNotification_never_acked_is_given_up_after_the_schedule(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		mall  orders.Mall
		tries int
	}{{ccb.Code, 8}, {abc.Code, 12}} {
		t.Run(string(c.mall), func(t *testing.T) {
			t.Parallel()
			r := newRig(t, Options{TimeScale: 2_000_000}, func(orders.Mall, orders.FulfilmentEvent, int) string { return "500" })
			req := r.order(t, c.mall, "AM20190312100000000006", "2019-HQ-0006")
			if _, err := r.clients[c.mall].Create(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			r.waitIdle(t)
			tries := map[string]int{}
			for _, d := range r.hook.all() {
				tries[string(d.Event.EventID)]++
			}
			if len(tries) != 5 {
				t.Fatalf("%d events delivered, want 5 (the script goes on after a give-up)", len(tries))
			}
			for id, n := range tries {
				if n != c.tries {
					t.Errorf("event %s tried %d times, want %d", id, n, c.tries)
				}
			}
			st := mallStats(r.sim.Stats(), c.mall)
			if st.GaveUp != 5 || st.Acked != 0 || st.Pending != 0 || st.Retried != 5*(c.tries-1) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestClose_stops_pending_work_without_leaks(t *testing.T) {
	t.Parallel()
	r := newRig(t, Options{ReplayGap: time.Hour}, nil)
	req := r.order(t, abc.Code, "AM20190312100000000007", "2019-HQ-0007")
	if _, err := r.clients[abc.Code].Create(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	r.hook.waitAcked(t, abc.Code, string(req.OutOrderNo), 1)
	done := make(chan error, 1)
	go func() { done <- r.sim.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return while a script waited out its replay gap")
	}
	if err := r.sim.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestClose_does_not_wait_on_a_connection_never_used: a client's transport may dial a
// connection and keep it unused; Close closes it at once rather than waiting the 5 s an
// http.Server gives a new connection before it counts it idle (the demo's exit waited so).
func TestClose_does_not_wait_on_a_connection_never_used(t *testing.T) {
	t.Parallel()
	r := newRig(t, Options{}, nil)
	var conns []net.Conn
	for _, base := range []string{r.sim.CCBURL(), r.sim.ABCURL()} {
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	// Close only once the servers have taken the connections (a CCB request answered
	// on a connection of its own proves its server's accept loop ran past them).
	if resp, err := http.Get(r.sim.CCBURL() + "/statements/2019-02-30"); err == nil {
		resp.Body.Close()
	}
	http.DefaultClient.CloseIdleConnections()
	closed := make(chan error, 1)
	go func() { closed <- r.sim.Close() }()
	defer func() {
		if err := <-closed; err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	for i, c := range conns {
		// The server closes it: the read ends with EOF well before the 5 s a server
		// shut down gracefully would have waited (the deadline says it did not).
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, err := c.Read(make([]byte, 1))
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("connection %d still open 3 s after Close began", i)
		}
	}
}

func TestStart_rejects_missing_keys_and_conflicting_listings(t *testing.T) {
	t.Parallel()
	k := keys(t)
	cases := []struct {
		name string
		opt  Options
	}{
		{"nil_keys", Options{}},
		{"missing_abc_key", Options{Keys: &Keys{CCBMall: k.CCBMall, CCBPartner: k.CCBPartner, ABCMall: k.ABCMall}}},
		{"one_item_two_prices", Options{Keys: k, Catalogue: append(append([]households.Product(nil), testCatalogue...),
			households.Product{SKU: "T-APL-2", Listings: map[string]households.Listing{"ccb": {ItemID: "CCB-T-APL", Price: 6900}}})}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, err := Start(context.Background(), c.opt)
			if err == nil {
				s.Close()
				t.Fatal("Start succeeded")
			}
		})
	}
}

func TestStatement_bad_day_is_400(t *testing.T) {
	t.Parallel()
	r := newRig(t, Options{}, nil)
	for _, base := range []string{r.sim.CCBURL(), r.sim.ABCURL()} {
		resp, err := http.Get(base + "/statements/2019-02-30")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", base, resp.StatusCode)
		}
	}
	http.DefaultClient.CloseIdleConnections()
}
