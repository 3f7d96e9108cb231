package jobs

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/sony/gobreaker/v2"

	"aidmall/adapters/sqlstore"
	"aidmall/orders"
)

var (
	busy     = &orders.MallError{Mall: mallCCB, Code: "20000", SubCode: "SYSTEM_BUSY", Message: "服务繁忙", Retryable: true}
	timedOut = &orders.MallError{Mall: mallCCB, Message: "no answer", Retryable: true, Err: context.DeadlineExceeded}
)

func TestDispatch_createsOnceAcrossRetries(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		g := newRig(t, db, nil)
		g.ccb.createErr = []error{busy, timedOut, nil}
		o := g.place(t, testOrder("2019-HQ-0001")) // with its dispatch job
		g.start(t)

		ev := g.waitFor(t, "dispatch of the order", finished(DispatchArgs{}.Kind(), o.ID))
		if ev.Job.State != rivertype.JobStateCompleted || ev.Job.Attempt != 3 {
			t.Fatalf("job %s after attempt %d, want completed after 3", ev.Job.State, ev.Job.Attempt)
		}
		creates, _ := g.ccb.recorded()
		if len(creates) != 3 {
			t.Fatalf("create called %d times, want 3", len(creates))
		}
		for i, c := range creates[1:] {
			if !reflect.DeepEqual(c, creates[0]) {
				t.Errorf("retry %d sent other content:\n%+v\nfirst:\n%+v", i+1, c, creates[0])
			}
		}
		if creates[0].OutOrderNo != o.OutOrderNo || creates[0].BuyerName != "总部工会" || creates[0].Total != o.Total() {
			t.Errorf("create sent out_order_no %q, buyer %q, total %d; want the order's %q, the branch's name, %d",
				creates[0].OutOrderNo, creates[0].BuyerName, creates[0].Total, o.OutOrderNo, o.Total())
		}
		if got := g.order(t, o.ID); got.Status != orders.StatusSubmitted || got.MallOrderNo != "M-"+string(o.OutOrderNo) || got.RejectCode != "" {
			t.Errorf("order %s, mall order %q, reject %q; want submitted as the mall's M-%s", got.Status, got.MallOrderNo, got.RejectCode, o.OutOrderNo)
		}
		if got := value(g.r.metrics.calls.WithLabelValues("ccb", "create", "retryable")); got != 2 {
			t.Errorf("retryable calls metric %v, want 2", got)
		}
		if n, err := g.r.Pending(context.Background()); err != nil || n != 0 {
			t.Errorf("Pending = %d, %v; want 0", n, err)
		}
	})
}

// A create whose answer is lost (a timeout) while the mall, which took the order,
// notifies it before the retry: the retry does not create it again, and records it as
// submitted, so it counts as dispatched (the fault harness found such orders counted as
// undispatched for ever).
func TestDispatch_lostAnswerThenNotificationRecordsSubmitted(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		g := newRig(t, db, nil)
		o := g.place(t, testOrder("2019-HQ-0001"))
		g.ccb.createErr = []error{timedOut, nil}
		var once sync.Once
		g.ccb.onCreate = func(req orders.CreateRequest) {
			once.Do(func() { // the mall took the first create and notifies it at once
				g.apply(t, orders.FulfilmentEvent{Mall: mallCCB, EventID: "N0", Type: orders.EventAccepted,
					OutOrderNo: req.OutOrderNo, MallOrderNo: "CCB1", OccurredAt: time.Now(), Source: "notification"})
			})
		}
		g.start(t)
		ev := g.waitFor(t, "dispatch", finished(DispatchArgs{}.Kind(), o.ID))
		if ev.Job.State != rivertype.JobStateCompleted || ev.Job.Attempt != 2 {
			t.Fatalf("job %s after attempt %d, want completed after 2", ev.Job.State, ev.Job.Attempt)
		}
		if creates, _ := g.ccb.recorded(); len(creates) != 1 {
			t.Errorf("create called %d times, want once: the notified order is not sent again", len(creates))
		}
		got := g.order(t, o.ID)
		if !got.Submitted || got.MallOrderNo != "CCB1" || got.Status != orders.StatusAccepted {
			t.Errorf("order submitted %v as %q, %s; want submitted as the notified CCB1, accepted", got.Submitted, got.MallOrderNo, got.Status)
		}
		p, err := g.st.Progress(context.Background())
		if err != nil || p.Orders != 1 || p.Undispatched != 0 {
			t.Errorf("Progress: %d orders, %d undispatched, %v; want 1, 0", p.Orders, p.Undispatched, err)
		}
	})
}

func TestDispatch_requestCarriesTheOrder(t *testing.T) {
	t.Parallel()
	o := &orders.GroupOrder{
		OrderRef: "2019-HQ-0007", BranchCode: "HQ", Funding: orders.FundingUnion, DeliveryMode: orders.DeliveryPerRecipient,
		ShipTo: orders.ShipTo{Name: "王工", Phone: "13800000000", Address: "北京市西城区"},
		Mall:   mallCCB, OutOrderNo: "AM20190312090000000007",
		Lines: []orders.Line{
			{LineNo: 1, SKU: "YC-APL-05", ItemID: "CCB-YC-APL-05", Quantity: 20, UnitPrice: 6800,
				Recipients: []orders.Recipient{{Name: "李四", Phone: "13900000000", Address: "延安市宜川县", Quantity: 20}}},
			{LineNo: 2, SKU: "DB-PPC-01", ItemID: "CCB-DB-PPC-01", Quantity: 5, UnitPrice: 12050},
		},
	}
	req := createRequest(o, "集团总部机关工会", "https://aid.example/webhooks/ccb")
	want := orders.CreateRequest{
		OutOrderNo: o.OutOrderNo, BuyerRef: "2019-HQ-0007", BuyerName: "集团总部机关工会",
		DeliveryMode: orders.DeliveryPerRecipient, ShipTo: o.ShipTo,
		Lines: []orders.CreateLine{
			{LineNo: 1, ItemID: "CCB-YC-APL-05", Quantity: 20, UnitPrice: 6800, Recipients: o.Lines[0].Recipients},
			{LineNo: 2, ItemID: "CCB-DB-PPC-01", Quantity: 5, UnitPrice: 12050},
		},
		// 20 × 68.00 + 5 × 120.50 = 1360.00 + 602.50 yuan
		Total:     196250,
		NotifyURL: "https://aid.example/webhooks/ccb",
	}
	if !reflect.DeepEqual(req, want) {
		t.Errorf("got  %+v\nwant %+v", req, want)
	}
}

func TestDispatch_outcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// before moves the placed order along before the runner starts.
		before      func(t *testing.T, g *rig, o *orders.GroupOrder)
		createErr   []error
		wantCreates int
		wantStatus  orders.Status
		wantMallNo  string // "M-" + out_order_no: the fake mall's answer to the create
		wantReject  string // code|message
	}{
		{
			name:        "final_error_marks_rejected_with_the_malls_code",
			createErr:   []error{&orders.MallError{Mall: mallCCB, Code: "40005", SubCode: "PRICE_MISMATCH", Message: "单价与挂牌价不符"}},
			wantCreates: 1,
			wantStatus:  orders.StatusRejected,
			wantReject:  "40005|PRICE_MISMATCH: 单价与挂牌价不符",
		},
		{
			name:        "conflict_after_a_retry_is_final",
			createErr:   []error{busy, &orders.MallError{Mall: mallCCB, HTTPStatus: 409, Code: "ORDER_CONFLICT", Message: "partnerOrderNo reused"}},
			wantCreates: 2,
			wantStatus:  orders.StatusRejected,
			wantReject:  "ORDER_CONFLICT|partnerOrderNo reused",
		},
		{
			name:        "success_marks_submitted",
			wantCreates: 1,
			wantStatus:  orders.StatusSubmitted,
			wantMallNo:  "M-",
		},
		{
			// The mall notified the order before the job ran (an earlier create whose
			// answer was lost): it is at the mall and is not sent again.
			name: "order_the_mall_notified_is_not_sent_again",
			before: func(t *testing.T, g *rig, o *orders.GroupOrder) {
				g.apply(t, orders.FulfilmentEvent{Mall: mallCCB, EventID: "N0", Type: orders.EventAccepted,
					OutOrderNo: o.OutOrderNo, MallOrderNo: "CCB1", OccurredAt: time.Now(), Source: "notification"})
			},
			wantStatus: orders.StatusAccepted,
			wantMallNo: "CCB1",
		},
		{
			name: "rejected_order_is_not_sent_again",
			before: func(t *testing.T, g *rig, o *orders.GroupOrder) {
				if err := g.svc.MarkRejected(context.Background(), o.ID, &orders.MallError{Mall: mallCCB, Code: "40005", Message: "商品未上架"}); err != nil {
					t.Fatal(err)
				}
			},
			wantStatus: orders.StatusRejected,
			wantReject: "40005|商品未上架",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
				g := newRig(t, db, nil)
				o := g.place(t, testOrder("2019-HQ-0001"))
				if tt.before != nil {
					tt.before(t, g, o)
				}
				g.ccb.createErr = tt.createErr
				g.start(t)
				ev := g.waitFor(t, "dispatch", finished(DispatchArgs{}.Kind(), o.ID))
				if ev.Job.State != rivertype.JobStateCompleted {
					t.Errorf("job %s, want completed", ev.Job.State)
				}
				creates, cancels := g.ccb.recorded()
				if len(creates) != tt.wantCreates || len(cancels) != 0 {
					t.Errorf("create called %d times, cancel %d; want %d, 0", len(creates), len(cancels), tt.wantCreates)
				}
				got := g.order(t, o.ID)
				wantMallNo := tt.wantMallNo
				if wantMallNo == "M-" {
					wantMallNo += string(o.OutOrderNo)
				}
				reject := ""
				if got.RejectCode != "" {
					reject = got.RejectCode + "|" + got.RejectMessage
				}
				if got.Status != tt.wantStatus || got.MallOrderNo != wantMallNo || reject != tt.wantReject || got.Cancelled {
					t.Errorf("order %s, mall order %q, rejected %q, cancelled %v; want %s, %q, %q, not cancelled",
						got.Status, got.MallOrderNo, reject, got.Cancelled, tt.wantStatus, wantMallNo, tt.wantReject)
				}
				// Taken or refused by its mall either way: nothing is left to dispatch (the demo
				// and operators wait on this count).
				if wantSubmitted := wantMallNo != ""; got.Submitted != wantSubmitted {
					t.Errorf("order submitted %v, want %v", got.Submitted, wantSubmitted)
				}
				if p, err := g.st.Progress(context.Background()); err != nil || p.Undispatched != 0 {
					t.Errorf("Progress: %d undispatched, %v; want 0", p.Undispatched, err)
				}
			})
		})
	}
}

func TestDispatch_cancelRequestedBeforeDispatchCancelsLocally(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		g := newRig(t, db, nil)
		o := g.place(t, testOrder("2019-HQ-0001"))
		g.cancel(t, o.ID, "预算调整") // before the runner starts: the mall never had it
		if got := g.order(t, o.ID); !got.CancelReq || got.Cancelled {
			t.Fatalf("after Cancel: requested %v, cancelled %v; want requested only", got.CancelReq, got.Cancelled)
		}
		// The cancel job asks the mall too; a mall that never got the order says so.
		g.ccb.cancelErr = []error{&orders.MallError{Mall: mallCCB, Code: "40404", SubCode: "ORDER_NOT_FOUND", NotFound: true}}
		g.start(t)
		g.waitFor(t, "dispatch", finished(DispatchArgs{}.Kind(), o.ID))
		g.waitFor(t, "cancel", finished(CancelArgs{}.Kind(), o.ID))
		if creates, _ := g.ccb.recorded(); len(creates) != 0 {
			t.Errorf("mall saw %d creates of an order cancelled before dispatch", len(creates))
		}
		if got := g.order(t, o.ID); got.Status != orders.StatusCancelled || got.Submitted || got.MallOrderNo != "" {
			t.Errorf("order %s (submitted %v, mall order %q), want cancelled and never at the mall", got.Status, got.Submitted, got.MallOrderNo)
		}
	})
}

func TestDispatch_cancelDuringCreateAsksTheMallToCancel(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		g := newRig(t, db, nil)
		o := g.place(t, testOrder("2019-HQ-0001"))
		// The branch cancels while the create is on its way, and the cancel job asks the
		// mall before the create lands: the mall does not know the order yet, so the order
		// is cancelled here. Only a second ask, after the create, can reach the mall.
		cancelDone, stop := g.r.Subscribe(river.EventKindJobCompleted)
		t.Cleanup(stop)
		g.ccb.cancelErr = []error{&orders.MallError{Mall: mallCCB, Code: "40404", SubCode: "ORDER_NOT_FOUND", NotFound: true}, nil}
		g.ccb.onCreate = func(orders.CreateRequest) {
			if _, err := g.svc.Cancel(context.Background(), aidOffice, o.ID, "预算调整"); err != nil {
				t.Errorf("cancel during create: %v", err)
				return
			}
			timeout := time.After(30 * time.Second)
			for {
				select {
				case ev := <-cancelDone:
					if ev.Job.Kind == (CancelArgs{}).Kind() {
						return
					}
				case <-timeout:
					t.Error("the first cancel job never completed")
					return
				}
			}
		}
		g.start(t)
		g.waitFor(t, "dispatch", finished(DispatchArgs{}.Kind(), o.ID))
		g.waitFor(t, "first cancel job", finished(CancelArgs{}.Kind(), o.ID))
		g.waitFor(t, "second cancel job", finished(CancelArgs{}.Kind(), o.ID))
		var calls []string
		for len(g.ccb.calls) > 0 {
			calls = append(calls, <-g.ccb.calls)
		}
		want := []string{"cancel:" + string(o.OutOrderNo), "create:" + string(o.OutOrderNo), "cancel:" + string(o.OutOrderNo)}
		if !reflect.DeepEqual(calls, want) {
			t.Errorf("mall calls %v, want %v: the placed order asked to be cancelled after it landed", calls, want)
		}
		if _, cancels := g.ccb.recorded(); len(cancels) != 2 || !strings.HasPrefix(cancels[1], string(o.OutOrderNo)+"|") {
			t.Errorf("mall cancels %v", cancels)
		}
		if got := g.order(t, o.ID); !got.Submitted || got.MallOrderNo != "M-"+string(o.OutOrderNo) {
			t.Errorf("order submitted %v as %q, want recorded at the mall", got.Submitted, got.MallOrderNo)
		}
	})
}

// An open breaker stops calling the mall, and the calls it refuses snooze: they use no
// attempt, so the job is not given up however long the breaker stays open.
func TestDispatch_breakerOpensAndStopsCallingTheMall(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		g := newRig(t, db, func(c *Config) {
			c.Breaker = BreakerConfig{Failures: 2, Cooldown: time.Hour}
			c.MaxAttempts = 4
		})
		g.ccb.createErr = []error{busy}
		o := g.place(t, testOrder("2019-HQ-0001"))
		g.start(t)
		ev := g.waitFor(t, "dispatch snoozed", func(ev *river.Event) bool {
			return ev.Kind == river.EventKindJobSnoozed && orderID(ev.Job) == o.ID
		})
		if ev.Job.State != rivertype.JobStateScheduled || ev.Job.Attempt != 2 || ev.Job.ScheduledAt.Before(time.Now().Add(50*time.Minute)) {
			t.Fatalf("snoozed job %s, attempt %d, next at %s; want scheduled after the hour's cool-down with 2 attempts used",
				ev.Job.State, ev.Job.Attempt, ev.Job.ScheduledAt)
		}
		if creates, _ := g.ccb.recorded(); len(creates) != 2 {
			t.Errorf("mall called %d times, want 2: the breaker should refuse the third", len(creates))
		}
		if got := g.r.gate.state(mallCCB); got != gobreaker.StateOpen {
			t.Errorf("breaker %s, want open", got)
		}
		if got := value(g.r.metrics.calls.WithLabelValues("ccb", "create", "breaker_open")); got != 1 {
			t.Errorf("breaker_open metric %v, want 1", got)
		}
		if got := value(g.r.metrics.breakerState.WithLabelValues("ccb")); got != 2 {
			t.Errorf("breaker state gauge %v, want 2 (open)", got)
		}
		if got := value(g.r.metrics.givenUp.WithLabelValues("ccb")); got != 0 {
			t.Errorf("given up metric %v, want 0", got)
		}
		// Waiting, not given up: the order stays pending (never dispatch_failed) while the
		// breaker holds it, however long the mall is down.
		if got := g.order(t, o.ID); got.Status != orders.StatusPending || got.DispatchFailure != nil || got.Submitted || got.RejectCode != "" || got.Cancelled {
			t.Errorf("order %s (failure %v, submitted %v, rejected %q, cancelled %v), want pending: held by the breaker, not given up",
				got.Status, got.DispatchFailure, got.Submitted, got.RejectCode, got.Cancelled)
		}
		// The other mall's breaker is its own.
		if got := g.r.gate.state(mallABC); got != gobreaker.StateClosed {
			t.Errorf("abc breaker %s, want closed", got)
		}
	})
}

func TestGate_finalRefusalsDoNotOpenTheBreaker(t *testing.T) {
	t.Parallel()
	m, _ := newMetrics(nil)
	mall := newFakeMall(mallCCB)
	g := newGate(Malls{mallCCB: mall}, BreakerConfig{Failures: 2, Cooldown: time.Hour}, Backoff{}, nil, time.Now, discardLog(), m)
	refused := &orders.MallError{Mall: mallCCB, Code: "40006", SubCode: "AMOUNT_MISMATCH"}
	calls := 0
	for range 5 {
		_, err := g.call(context.Background(), mallCCB, "create", func() (orders.CreateResult, error) { calls++; return orders.CreateResult{}, refused })
		if !errors.Is(err, refused) {
			t.Fatalf("err %v, want the mall's refusal", err)
		}
	}
	if calls != 5 || g.state(mallCCB) != gobreaker.StateClosed {
		t.Errorf("%d calls, breaker %s; want 5 calls through a closed breaker", calls, g.state(mallCCB))
	}
	// Interruptions of our own (shutdown) say nothing about the mall either.
	for range 5 {
		_, _ = g.call(context.Background(), mallCCB, "create", func() (orders.CreateResult, error) { return orders.CreateResult{}, context.Canceled })
	}
	if g.state(mallCCB) != gobreaker.StateClosed {
		t.Error("breaker opened on cancelled calls")
	}
	_, err := g.call(context.Background(), mallABC, "create", func() (orders.CreateResult, error) { return orders.CreateResult{}, nil })
	if err == nil {
		t.Error("call to a mall without a client succeeded")
	}
}

func TestPlace_orderAndItsJobCommitTogether(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		g := newRig(t, db, nil)
		ctx := context.Background()
		o := g.place(t, testOrder("2019-HQ-0001"))
		// A second order with the same order_ref is refused in the same transaction that
		// would have inserted its job: no job for it.
		if _, err := g.svc.Place(ctx, aidOffice, testOrder("2019-HQ-0001")); !errors.Is(err, orders.ErrConflict) {
			t.Fatalf("second place of the same order_ref: %v, want ErrConflict", err)
		}
		if n, err := g.r.Pending(ctx); err != nil || n != 1 {
			t.Fatalf("Pending = %d, %v; want 1: the placed order's job only", n, err)
		}
		g.start(t)
		g.waitFor(t, "dispatch", finished(DispatchArgs{}.Kind(), o.ID))
		if creates, _ := g.ccb.recorded(); len(creates) != 1 || creates[0].OutOrderNo != o.OutOrderNo {
			t.Errorf("mall saw %+v, want the one placed order", creates)
		}
	})
}

func TestEnqueue_rolledBackTransactionLeavesNoJob(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		g := newRig(t, db, nil)
		ctx := context.Background()
		o1 := g.placeWithoutJob(t, testOrder("2019-HQ-0001"), time.Now())
		o2 := g.placeWithoutJob(t, testOrder("2019-HQ-0002"), time.Now())
		tx, err := g.sql.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.r.EnqueueDispatch(ctx, tx, o1.ID); err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		g.enqueue(t, func(tx *sql.Tx) error { return g.r.EnqueueDispatch(ctx, tx, o2.ID) })
		g.start(t)
		g.waitFor(t, "dispatch of order 2", finished(DispatchArgs{}.Kind(), o2.ID))
		creates, _ := g.ccb.recorded()
		if len(creates) != 1 || creates[0].OutOrderNo != o2.OutOrderNo {
			t.Errorf("mall saw %d creates (%+v); want only order 2's", len(creates), creates)
		}
		if n, err := g.r.Pending(ctx); err != nil || n != 0 {
			t.Errorf("Pending = %d, %v; want 0: the rolled-back job must not exist", n, err)
		}
	})
}

func TestEnqueueDispatch_oneJobPerOrder(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		g := newRig(t, db, nil)
		ctx := context.Background()
		o1 := g.place(t, testOrder("2019-HQ-0001")) // its job inserted by Place
		o2 := g.placeWithoutJob(t, testOrder("2019-HQ-0002"), time.Now())
		g.enqueue(t, func(tx *sql.Tx) error { return g.r.EnqueueDispatch(ctx, tx, o1.ID) })
		g.enqueue(t, func(tx *sql.Tx) error {
			return errors.Join(g.r.EnqueueDispatch(ctx, tx, o1.ID), g.r.EnqueueDispatch(ctx, tx, o2.ID))
		})
		if n, err := g.r.Pending(ctx); err != nil || n != 2 {
			t.Errorf("Pending = %d, %v; want 2 (one per order)", n, err)
		}
		if err := g.r.EnqueueDispatch(ctx, nil, o1.ID); err == nil {
			t.Error("EnqueueDispatch without a transaction accepted")
		}
	})
}

// The orders of one shared placement transaction get their jobs in one insert: each order
// one job, an order whose job is live already none more, and each job is worked.
func TestEnqueueDispatch_manyOrdersAtOnce(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		g := newRig(t, db, nil)
		ctx := context.Background()
		o1 := g.place(t, testOrder("2019-HQ-0001")) // its job inserted by Place
		o2 := g.placeWithoutJob(t, testOrder("2019-HQ-0002"), time.Now())
		o3 := g.placeWithoutJob(t, testOrder("2019-HQ-0003"), time.Now())
		g.enqueue(t, func(tx *sql.Tx) error { return g.r.EnqueueDispatch(ctx, tx, o1.ID, o2.ID, o3.ID) })
		if n, err := g.r.Pending(ctx); err != nil || n != 3 {
			t.Errorf("Pending = %d, %v; want 3 (one per order, order 1's not twice)", n, err)
		}
		g.start(t)
		for _, o := range []*orders.GroupOrder{o1, o2, o3} {
			g.waitFor(t, "dispatch of "+o.OrderRef, finished(DispatchArgs{}.Kind(), o.ID))
		}
		creates, _ := g.ccb.recorded()
		if len(creates) != 3 {
			t.Errorf("mall saw %d creates, want 3 (one per order)", len(creates))
		}
	})
}

func TestNextRetry_honoursRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2019, 3, 12, 9, 0, 0, 0, time.UTC)
	r := &Runner{now: func() time.Time { return now }, backoff: Backoff{Base: time.Second, Cap: 5 * time.Minute}.withDefaults()}
	w := &dispatchWorker{r: r}
	job := &river.Job[DispatchArgs]{JobRow: &rivertype.JobRow{ID: 42, Attempt: 1}}
	w.hints.note(42, &orders.MallError{Mall: mallABC, HTTPStatus: 429, Retryable: true, RetryAfter: 30 * time.Second})
	if got := w.NextRetry(job).Sub(now); got < 30*time.Second || got >= 40*time.Second {
		t.Errorf("first retry after %s, want the mall's 30s plus up to 10s of spread (backoff ceiling is 1s)", got)
	}
	if got := w.NextRetry(job).Sub(now); got < 0 || got > time.Second {
		t.Errorf("hint reused: next retry after %s, want within the 1s backoff", got)
	}
}
