package jobs

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"aidmall/adapters/sqlstore"
	"aidmall/audit"
	"aidmall/orders"
	"aidmall/review"
)

// Giving up visibly and failing over (docs/MALLS.md, "Giving up and failover"), on both
// databases: the production store and service, River, fake malls.

// appleOrder is an order of apples only (P1: 68.00 at CCB, 69.00 at ABC), for mall m.
func appleOrder(ref string, m orders.Mall) orders.PlaceRequest {
	req := testOrder(ref)
	req.Mall = m
	req.Lines = []orders.PlaceLine{{SKU: "P1", Quantity: 20}}
	return req
}

// steps reads order id's timeline steps.
func (g *rig) steps(t *testing.T, id int64) []orders.OrderStep {
	t.Helper()
	s, err := g.st.OrderSteps(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func stepKinds(s []orders.OrderStep) string {
	var k []string
	for _, x := range s {
		k = append(k, x.Step)
	}
	return strings.Join(k, ",")
}

// auditActions reads the audit log's actions on order id.
func (g *rig) auditActions(t *testing.T, id int64) string {
	t.Helper()
	es, _, err := g.st.AuditEntries(context.Background(), audit.Filter{Object: orders.AuditObject(id)})
	if err != nil {
		t.Fatal(err)
	}
	var a []string
	for _, e := range es {
		a = append(a, e.Action)
	}
	return strings.Join(a, ",")
}

// dispatchJobs counts order id's dispatch jobs: all of them, and those still live (not
// discarded, cancelled or completed).
func (g *rig) dispatchJobs(t *testing.T, id int64) (live, all int) {
	t.Helper()
	res, err := g.r.client.JobList(context.Background(), river.NewJobListParams().Kinds(DispatchArgs{}.Kind()).First(1000))
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range res.Jobs {
		if orderID(j) != id {
			continue
		}
		all++
		switch j.State {
		case rivertype.JobStateDiscarded, rivertype.JobStateCancelled, rivertype.JobStateCompleted:
		default:
			live++
		}
	}
	return live, all
}

func TestGiveUp_visibleThenRetriedOnceByHand(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		g := newRig(t, db, func(c *Config) {
			c.MaxAttempts = 3
			c.FailoverAfter = -1
		})
		if err := registerDispatchFailed(g.reg, g.st, g.r.malls); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		g.ccb.mu.Lock()
		g.ccb.createErr = []error{busy}
		g.ccb.mu.Unlock()
		o := g.place(t, testOrder("2019-HQ-0001"))
		g.start(t)
		if ev := g.waitFor(t, "dispatch discarded", finished(DispatchArgs{}.Kind(), o.ID)); ev.Job.State != rivertype.JobStateDiscarded {
			t.Fatalf("job %s, want discarded after its last attempt", ev.Job.State)
		}

		// The order says so, with why.
		got := g.order(t, o.ID)
		f := got.DispatchFailure
		if got.Status != orders.StatusDispatchFailed || f == nil {
			t.Fatalf("order %s, failure %+v: want dispatch_failed with its reason", got.Status, f)
		}
		if f.MallCode != mallCCB || f.Attempts != 3 || !strings.Contains(f.MallMessage, "20000 SYSTEM_BUSY: 服务繁忙") || f.Reason == "" || f.At.IsZero() {
			t.Errorf("failure %+v: want ccb, 3 attempts, the mall's 20000 SYSTEM_BUSY and a reason", f)
		}
		// In the filter of the order list.
		list, _, err := g.svc.List(ctx, aidOffice, orders.ListFilter{Status: orders.StatusDispatchFailed})
		if err != nil || len(list) != 1 || list[0].ID != o.ID || list[0].DispatchFailure == nil {
			t.Errorf("?status=dispatch_failed lists %d orders (%v), want this one with its failure", len(list), err)
		}
		// In the review queue, at once.
		q, err := review.NewService(g.st, nil, time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		items, err := q.List(ctx, aidOffice)
		if err != nil {
			t.Fatal(err)
		}
		var item *review.Item
		for i := range items {
			if items[i].Kind == review.KindDispatchFailed {
				item = &items[i]
			}
		}
		if item == nil || item.ID != "dispatch_failed:"+itoa(o.ID)+":1" || item.OrderID != o.ID || item.Attempts != 3 ||
			!strings.Contains(item.Reason, "SYSTEM_BUSY") {
			t.Fatalf("review items %+v: want the give-up of order %d", items, o.ID)
		}
		if one, err := q.Get(ctx, aidOffice, item.ID); err != nil || one.Kind != review.KindDispatchFailed {
			t.Errorf("review item %s: %+v %v", item.ID, one, err)
		}
		// In metrics, on the timeline and in the audit log.
		if n, err := g.st.DispatchFailedByMall(ctx); err != nil || n[mallCCB] != 1 {
			t.Errorf("dispatch failed by mall %v %v, want ccb 1", n, err)
		}
		if got := gathered(t, g, "aidmall_orders_dispatch_failed", "ccb"); got != 1 {
			t.Errorf("aidmall_orders_dispatch_failed{mall=ccb} %v, want 1", got)
		}
		if got := stepKinds(g.steps(t, o.ID)); got != orders.StepDispatchFailed {
			t.Errorf("timeline steps %q", got)
		}
		// Maintenance leaves it to a person: it is not a stranded (pending) order.
		if ids, err := g.st.StrandedOrders(ctx, time.Now().Add(time.Hour), 500); err != nil || len(ids) != 0 {
			t.Errorf("stranded orders %v %v: maintenance would retry what a person is meant to see", ids, err)
		}

		// Two retries by hand, at once: one succeeds, the other finds the order pending.
		g.ccb.mu.Lock()
		g.ccb.createErr = nil
		g.ccb.mu.Unlock()
		office := orders.Caller{KeyID: 1, Name: "扶贫办", Role: orders.RoleAidOffice}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Go(func() { _, errs[i] = g.svc.RetryDispatch(ctx, office, o.ID) })
		}
		wg.Wait()
		ok, refused := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, orders.ErrNotAllowed):
				refused++
			default:
				t.Fatalf("retry: %v", err)
			}
		}
		if ok != 1 || refused != 1 {
			t.Fatalf("retries: %d sent, %d refused; want 1 and 1", ok, refused)
		}
		if ev := g.waitFor(t, "retried dispatch", finished(DispatchArgs{}.Kind(), o.ID)); ev.Job.State != rivertype.JobStateCompleted {
			t.Fatalf("retried job %s, want completed", ev.Job.State)
		}
		got = g.order(t, o.ID)
		if got.Status != orders.StatusSubmitted || got.DispatchFailure != nil || got.MallOrderNo != "M-"+string(o.OutOrderNo) {
			t.Errorf("after the retry: %s, failure %+v, mall order %q", got.Status, got.DispatchFailure, got.MallOrderNo)
		}
		// The mall saw one order: every create under the same out_order_no, same content.
		creates, _ := g.ccb.recorded()
		if len(creates) != 4 {
			t.Errorf("%d creates, want 3 failed and 1 retried", len(creates))
		}
		for _, c := range creates {
			if c.OutOrderNo != o.OutOrderNo || c.Total != creates[0].Total || c.BuyerRef != creates[0].BuyerRef {
				t.Errorf("create %+v differs from the first: the mall would see another order", c)
			}
		}
		if live, all := g.dispatchJobs(t, o.ID); live != 0 || all != 2 {
			t.Errorf("dispatch jobs: %d live of %d, want the discarded one and one retry", live, all)
		}
		if got := stepKinds(g.steps(t, o.ID)); got != orders.StepDispatchFailed+","+orders.StepDispatchRetried {
			t.Errorf("timeline steps %q", got)
		}
		if got := g.auditActions(t, o.ID); got != "order.place,order.dispatch_failed,order.retry_dispatch" {
			t.Errorf("audit %q", got)
		}
		if items, _ := q.List(ctx, aidOffice); len(items) != 0 {
			t.Errorf("review items after the retry: %+v", items)
		}
		// A retry of an order not in dispatch_failed is refused; branch staff may not retry.
		if _, err := g.svc.RetryDispatch(ctx, office, o.ID); !errors.Is(err, orders.ErrNotAllowed) {
			t.Errorf("retry of a submitted order: %v, want ErrNotAllowed", err)
		}
		if _, err := g.svc.RetryDispatch(ctx, orders.Caller{KeyID: 2, Role: orders.RoleBranchStaff, BranchCode: "HQ"}, o.ID); !errors.Is(err, orders.ErrForbidden) {
			t.Errorf("retry by branch staff: %v, want ErrForbidden", err)
		}
	})
}

// gathered reads metric name{mall=label} from the rig's registry.
func gathered(t *testing.T, g *rig, name, mall string) float64 {
	t.Helper()
	mfs, err := g.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "mall" && l.GetValue() == mall {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{mall=%q}", name, mall)
	return 0
}

func TestFailover_autoOrderMovesOnlyAfterTheFirstMallConfirms(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		g := newRig(t, db, func(c *Config) {
			c.MaxAttempts = 5
			c.FailoverAfter = time.Millisecond
		})
		g.ccb.mu.Lock()
		g.ccb.createErr = []error{busy}
		g.ccb.mu.Unlock()
		// When ABC is called, CCB must already have been asked.
		var askedBeforeCreate []string
		g.abc.onCreate = func(orders.CreateRequest) { askedBeforeCreate = g.ccb.asked() }
		o := g.place(t, appleOrder("2019-HQ-0002", orders.MallAuto))
		if o.Mall != mallCCB || !o.AutoRouted {
			t.Fatalf("placed at %s (auto %v), want ccb: the cheaper", o.Mall, o.AutoRouted)
		}
		g.start(t)
		if ev := g.waitFor(t, "dispatch", finished(DispatchArgs{}.Kind(), o.ID)); ev.Job.State != rivertype.JobStateCompleted {
			t.Fatalf("job %s, want completed at the other mall", ev.Job.State)
		}
		got := g.order(t, o.ID)
		if got.Mall != mallABC || got.Status != orders.StatusSubmitted || got.OutOrderNo == o.OutOrderNo {
			t.Fatalf("order at %s (%s) as %s, want submitted at abc under a new out_order_no", got.Mall, got.Status, got.OutOrderNo)
		}
		if len(askedBeforeCreate) == 0 || askedBeforeCreate[0] != string(o.OutOrderNo) {
			t.Errorf("ccb asked %v before abc's create, want the first out_order_no", askedBeforeCreate)
		}
		// One order across both malls: CCB never took it (it only ever failed), ABC once.
		ccbCreates, _ := g.ccb.recorded()
		for _, c := range ccbCreates {
			if c.OutOrderNo != o.OutOrderNo {
				t.Errorf("ccb got a create of %s", c.OutOrderNo)
			}
		}
		abcCreates, _ := g.abc.recorded()
		if len(abcCreates) != 1 || abcCreates[0].OutOrderNo != got.OutOrderNo || abcCreates[0].Lines[0].ItemID != "A1" ||
			abcCreates[0].Lines[0].UnitPrice != 6900 || abcCreates[0].Total != 20*6900 {
			t.Fatalf("abc creates %+v, want one at ABC's listing (A1, 69.00)", abcCreates)
		}
		if got.Lines[0].UnitPrice != 6900 || got.Total() != 20*6900 {
			t.Errorf("order re-priced at %s, total %s; want ABC's 69.00", got.Lines[0].UnitPrice, got.Total())
		}
		// Both steps on the timeline, in order, each naming its mall and number.
		steps := g.steps(t, o.ID)
		if stepKinds(steps) != orders.StepFailoverAbsent+","+orders.StepFailoverMoved ||
			steps[0].Mall != mallCCB || steps[0].OutOrderNo != o.OutOrderNo || steps[1].Mall != mallABC || steps[1].OutOrderNo != got.OutOrderNo ||
			!strings.Contains(steps[1].Detail, string(o.OutOrderNo)) {
			t.Errorf("timeline steps %+v", steps)
		}
		if got := g.auditActions(t, o.ID); got != "order.place,order.failover" {
			t.Errorf("audit %q", got)
		}
		if got := value(g.r.metrics.failovers.WithLabelValues("ccb", "abc")); got != 1 {
			t.Errorf("aidmall_failovers_total{from=ccb,to=abc} %v, want 1", got)
		}
		// An event CCB might still send under the old number finds no order there.
		if _, err := g.st.OrderByOutOrderNo(context.Background(), o.OutOrderNo); !errors.Is(err, orders.ErrNotFound) {
			t.Errorf("old out_order_no still names an order: %v", err)
		}
	})
}

func TestFailover_notMovedWhenNamedOrUnconfirmed(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		g := newRig(t, db, func(c *Config) {
			c.MaxAttempts = 3
			c.FailoverAfter = time.Millisecond
			// Both orders' 6 failures must not open the breaker: its refusals would snooze
			// (no attempt used, breaker_test) and the orders would never be given up here.
			c.Breaker = BreakerConfig{Failures: 100}
		})
		g.ccb.mu.Lock()
		g.ccb.createErr = []error{busy}
		// CCB cannot be reached to confirm (its query times out).
		g.ccb.queryErr = []error{&orders.MallError{Mall: mallCCB, Retryable: true, Err: context.DeadlineExceeded}}
		g.ccb.mu.Unlock()
		named := g.place(t, appleOrder("2019-HQ-0003", mallCCB))
		auto := g.place(t, appleOrder("2019-HQ-0004", orders.MallAuto))
		g.start(t)
		for _, o := range []*orders.GroupOrder{named, auto} {
			g.waitFor(t, "dispatch given up", finished(DispatchArgs{}.Kind(), o.ID))
			got := g.order(t, o.ID)
			if got.Mall != mallCCB || got.OutOrderNo != o.OutOrderNo || got.Status != orders.StatusDispatchFailed {
				t.Errorf("order %s at %s as %s (%s), want left at ccb, given up", o.OrderRef, got.Mall, got.OutOrderNo, got.Status)
			}
			if s := stepKinds(g.steps(t, o.ID)); s != orders.StepDispatchFailed {
				t.Errorf("order %s steps %q, want only the give-up", o.OrderRef, s)
			}
		}
		if creates, _ := g.abc.recorded(); len(creates) != 0 {
			t.Errorf("abc got %d creates, want none", len(creates))
		}
		asked := g.ccb.asked()
		if len(asked) == 0 {
			t.Error("ccb never asked about the auto order")
		}
		for _, a := range asked {
			if a != string(auto.OutOrderNo) {
				t.Errorf("ccb asked about %s: a named-mall order is never considered for a move", a)
			}
		}
		if got := value(g.r.metrics.failovers.WithLabelValues("ccb", "abc")); got != 0 {
			t.Errorf("failovers %v, want 0", got)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
