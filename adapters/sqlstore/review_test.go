package sqlstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/attribution"
	"aidmall/audit"
	"aidmall/orders"
	"aidmall/review"
)

// reviewWorld is a store with one of every kind of review item, made through the real
// use cases, and the review queue over it two days later.
type reviewWorld struct {
	st     *sqlstore.Store
	svc    *orders.Service
	queue  *review.Service
	office orders.Caller
	order  *orders.GroupOrder // a submitted order whose refund is held
	clock  *time.Time
}

func newReviewWorld(t *testing.T, db *sqlstore.DB) *reviewWorld {
	t.Helper()
	start := time.Date(2019, 3, 1, 2, 0, 0, 0, time.UTC)
	w := &reviewWorld{clock: &start, office: orders.Caller{KeyID: 9, Name: "office", Role: orders.RoleAidOffice}}
	now := func() time.Time { return *w.clock }
	w.st = sqltest.Store(t, db, sqltest.WithClock(now))
	fx := sqltest.Seed(t, w.st)
	var err error
	if w.svc, err = orders.NewService(w.st, connected(mallCCB, mallABC), now); err != nil {
		t.Fatal(err)
	}
	if w.queue, err = review.NewService(w.st, w.svc, 0, now); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	place := func(ref string) *orders.GroupOrder {
		o, err := w.svc.Place(ctx, w.office, orders.PlaceRequest{OrderRef: ref, BranchCode: fx.Branch, Mall: "ccb", Funding: orders.FundingUnion,
			DeliveryMode: orders.DeliveryBulk, ShipTo: orders.ShipTo{Name: "王小明", Phone: "13912345678", Address: "总部"},
			Lines: []orders.PlaceLine{{SKU: "P1", Quantity: 2}}})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	w.order = place("HELD")
	if err := w.svc.MarkSubmitted(ctx, w.order.ID, "M1"); err != nil {
		t.Fatal(err)
	}
	w.apply(t, orders.FulfilmentEvent{Mall: "ccb", EventID: "R1", Type: orders.EventRefunded, OutOrderNo: w.order.OutOrderNo,
		LineNo: 1, Quantity: 1, RefundFen: 6800, OccurredAt: start.Add(time.Hour)})
	rejected := place("REJ")
	if err := w.svc.MarkRejected(ctx, rejected.ID, &orders.MallError{Mall: "ccb", Code: "40001", Message: "item off shelf"}); err != nil {
		t.Fatal(err)
	}
	place("STRANDED") // pending, never submitted
	w.apply(t, orders.FulfilmentEvent{Mall: "ccb", EventID: "P1", Type: orders.EventAccepted, OutOrderNo: "AMNOSUCHORDER", OccurredAt: start})
	if err := w.st.KeepUnreadable(ctx, "ccb", []byte(`{"notify_id":"x","qty":"lots"}`), "quantity: not a number"); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *reviewWorld) apply(t *testing.T, ev orders.FulfilmentEvent) orders.ApplyResult {
	t.Helper()
	res, err := w.svc.Apply(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func kinds(items []review.Item) string {
	var ks []string
	for _, it := range items {
		ks = append(ks, string(it.Kind)+" "+it.ID)
	}
	return strings.Join(ks, ", ")
}

func TestReviewQueueShowsWhatWaits(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		w := newReviewWorld(t, db)
		ctx := context.Background()
		items, err := w.queue.List(ctx, w.office)
		if err != nil {
			t.Fatal(err)
		}
		// Minutes later: the parked event and the stranded order have not waited 24 h yet.
		if got := kinds(items); got != "held_event event:1, rejected_order order:2, unreadable unreadable:1" {
			t.Fatalf("fresh queue: %s", got)
		}
		held := items[0]
		if held.Reason != attribution.ReasonRefundExceedsDelivered || !strings.Contains(held.Rule, "§1.6") || held.OrderID != w.order.ID {
			t.Errorf("held item: %+v", held)
		}
		if items[1].Reason != "40001 item off shelf" || items[2].Body != "" {
			t.Errorf("rejected %+v / unreadable listed with its body %q", items[1], items[2].Body)
		}
		*w.clock = w.clock.Add(25 * time.Hour)
		items, err = w.queue.List(ctx, w.office)
		if err != nil {
			t.Fatal(err)
		}
		if got := kinds(items); !strings.Contains(got, "parked_event event:2") || !strings.Contains(got, "stranded_order order:3") || len(items) != 5 {
			t.Fatalf("a day later: %s", got)
		}
		if _, err := w.queue.List(ctx, orders.Caller{Role: orders.RoleAuditor}); !errors.Is(err, orders.ErrForbidden) {
			t.Errorf("auditor read the queue: %v", err)
		}
		un, err := w.queue.Get(ctx, w.office, "unreadable:1")
		if err != nil || !strings.Contains(un.Body, "lots") {
			t.Errorf("show unreadable: %+v %v", un, err)
		}
	})
}

func TestReviewResolveIsAuditedAndDoesNotBlockTheRules(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		w := newReviewWorld(t, db)
		ctx := context.Background()
		if _, err := w.queue.Resolve(ctx, w.office, "event:1", review.Dismissed, " "); !errors.Is(err, orders.ErrInvalid) {
			t.Fatalf("resolved without a note: %v", err)
		}
		if _, err := w.queue.Resolve(ctx, w.office, "event:1", review.Reread, "try"); !errors.Is(err, orders.ErrInvalid) {
			t.Fatalf("re-read a held event: %v", err)
		}
		it, err := w.queue.Resolve(ctx, w.office, "event:1", review.Dismissed, "refund came before its delivery; will apply")
		if err != nil || it.Resolved == nil || it.Resolved.Outcome != review.Dismissed {
			t.Fatalf("dismiss: %+v %v", it, err)
		}
		if _, err := w.queue.Resolve(ctx, w.office, "event:1", review.Dismissed, "again"); !errors.Is(err, orders.ErrConflict) {
			t.Fatalf("resolved twice: %v", err)
		}
		if _, err := w.queue.Resolve(ctx, w.office, "unreadable:1", review.Dismissed, "mall resent it"); err != nil {
			t.Fatal(err)
		}
		items, _ := w.queue.List(ctx, w.office)
		if got := kinds(items); got != "rejected_order order:2" {
			t.Fatalf("after resolving: %s", got)
		}
		// The delivery arrives, occurring before the refund: the dismissed refund now
		// applies by itself.
		w.apply(t, orders.FulfilmentEvent{Mall: "ccb", EventID: "D1", Type: orders.EventDelivered, OutOrderNo: w.order.OutOrderNo,
			LineNo: 1, Quantity: 2, OccurredAt: w.clock.Add(-time.Hour)})
		o, err := w.st.Order(ctx, w.order.ID)
		if err != nil || o.Lines[0].RefundedFen != 6800 || o.Lines[0].HeldEvents != 0 {
			t.Fatalf("held refund did not apply by itself: %+v %v", o.Lines[0], err)
		}
		es, _, err := w.st.AuditEntries(ctx, audit.Filter{Action: audit.ActionReviewResolve})
		if err != nil || len(es) != 2 || es[0].Object != "review:event:1" || es[0].Actor.Name != "key:9:office" ||
			!strings.Contains(string(es[0].After), "will apply") {
			t.Fatalf("resolutions audited: %+v %v", es, err)
		}
		if _, err := w.st.VerifyAudit(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestReviewRereadGivesAParkedEventToItsOrder(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		w := newReviewWorld(t, db)
		ctx := context.Background()
		*w.clock = w.clock.Add(25 * time.Hour)
		if _, err := w.queue.Resolve(ctx, w.office, "event:2", review.Reread, "order loaded?"); !errors.Is(err, orders.ErrNotAllowed) {
			t.Fatalf("re-read with no order: %v", err)
		}
		// An order with that number is stored behind the use cases' back (as a restored
		// backup would): re-reading gives it the parked event.
		if _, err := db.ExecContext(ctx, `UPDATE group_orders SET out_order_no = 'AMNOSUCHORDER', submitted = TRUE WHERE id = 3`); err != nil {
			t.Fatal(err)
		}
		it, err := w.queue.Resolve(ctx, w.office, "event:2", review.Reread, "order 3 restored")
		if err != nil || it.Resolved == nil || it.Resolved.Outcome != review.Reread || it.Kind != "applied_event" {
			t.Fatalf("re-read: %+v %v", it, err)
		}
		o, err := w.st.Order(ctx, 3)
		if err != nil || o.Status != orders.StatusAccepted {
			t.Fatalf("order after re-read: %+v %v", o, err)
		}
	})
}
