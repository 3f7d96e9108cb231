package jobs

import (
	"context"
	"database/sql"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"aidmall/adapters/sqlstore"
	"aidmall/orders"
)

func TestCancel_paths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		createErr     []error // the dispatch before the cancel
		cancelErr     []error
		wantCalls     int
		wantCancelled bool   // cancelled here, without the mall's event
		wantRefusal   string // recorded on the order
	}{
		{
			name:      "mall_accepts_and_its_event_will_cancel",
			cancelErr: []error{nil},
			wantCalls: 1,
		},
		{
			name:          "order_unknown_to_the_mall_is_cancelled_here",
			cancelErr:     []error{&orders.MallError{Mall: mallCCB, Code: "40404", SubCode: "ORDER_NOT_FOUND", NotFound: true}},
			wantCalls:     1,
			wantCancelled: true,
		},
		{
			name:        "ccb_shipped_refusal_is_recorded_on_the_order",
			cancelErr:   []error{&orders.MallError{Mall: mallCCB, Code: "40010", SubCode: "ORDER_SHIPPED", Message: "已发货", AlreadyShipped: true}},
			wantCalls:   1,
			wantRefusal: "40010 ORDER_SHIPPED: 已发货",
		},
		{
			name:        "abc_already_shipped_is_recorded_on_the_order",
			cancelErr:   []error{&orders.MallError{Mall: mallCCB, HTTPStatus: 409, Code: "ALREADY_SHIPPED", AlreadyShipped: true}},
			wantCalls:   1,
			wantRefusal: "ALREADY_SHIPPED",
		},
		{
			name:      "retryable_failure_is_retried",
			cancelErr: []error{&orders.MallError{Mall: mallCCB, HTTPStatus: 503, Retryable: true}, busy, nil},
			wantCalls: 3,
		},
		{
			// The service refuses to cancel a rejected order; a cancel job for one (asked
			// for the moment before the mall's refusal was recorded) leaves it alone.
			name:      "rejected_order_has_nothing_to_cancel",
			createErr: []error{&orders.MallError{Mall: mallCCB, Code: "40005", SubCode: "PRICE_MISMATCH"}},
			wantCalls: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
				ctx := context.Background()
				g := newRig(t, db, nil)
				g.ccb.createErr, g.ccb.cancelErr = tt.createErr, tt.cancelErr
				o := g.place(t, testOrder("2019-HQ-0001"))
				g.start(t)
				g.waitFor(t, "dispatch", finished(DispatchArgs{}.Kind(), o.ID))
				if tt.createErr == nil {
					if got := g.order(t, o.ID); got.Status != orders.StatusSubmitted {
						t.Fatalf("order %s after dispatch, want submitted", got.Status)
					}
					g.cancel(t, o.ID, "预算调整") // the cancel job, in the same transaction
				} else {
					g.enqueue(t, func(tx *sql.Tx) error { return g.r.EnqueueCancel(ctx, tx, o.ID, "预算调整") })
				}
				ev := g.waitFor(t, "cancel job", finished(CancelArgs{}.Kind(), o.ID))
				if ev.Job.State != rivertype.JobStateCompleted {
					t.Errorf("job %s, want completed", ev.Job.State)
				}
				_, cancels := g.ccb.recorded()
				if len(cancels) != tt.wantCalls {
					t.Fatalf("mall cancel called %d times, want %d", len(cancels), tt.wantCalls)
				}
				for _, c := range cancels {
					if c != string(o.OutOrderNo)+"|预算调整" {
						t.Errorf("cancel sent %q, want the order's out_order_no and the reason", c)
					}
				}
				got := g.order(t, o.ID)
				if got.Cancelled != tt.wantCancelled || (got.Status == orders.StatusCancelled) != tt.wantCancelled {
					t.Errorf("order %s, cancelled %v; want cancelled here: %v", got.Status, got.Cancelled, tt.wantCancelled)
				}
				if got.CancelRefusal != tt.wantRefusal || (tt.wantRefusal != "" && got.CancelReq) {
					t.Errorf("refusal %q (cancel still requested: %v), want %q", got.CancelRefusal, got.CancelReq, tt.wantRefusal)
				}
			})
		})
	}
}

func TestCancel_missingOrderCancelsTheJob(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		g := newRig(t, db, nil)
		g.enqueue(t, func(tx *sql.Tx) error { return g.r.EnqueueCancel(context.Background(), tx, 99, "x") })
		g.start(t)
		ev := g.waitFor(t, "cancel job", finished(CancelArgs{}.Kind(), 99))
		if ev.Job.State != rivertype.JobStateCancelled || ev.Job.Attempt != 1 {
			t.Errorf("job %s after %d attempts, want cancelled at once", ev.Job.State, ev.Job.Attempt)
		}
		if _, cancels := g.ccb.recorded(); len(cancels) != 0 {
			t.Errorf("mall called for a missing order: %v", cancels)
		}
	})
}

// Cancel twice: the second request finds the first open and queues nothing; the order
// shows cancel_requested from the first.
func TestCancel_twiceQueuesOneJob(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		g := newRig(t, db, nil)
		o := g.place(t, testOrder("2019-HQ-0001"))
		g.start(t)
		g.waitFor(t, "dispatch", finished(DispatchArgs{}.Kind(), o.ID))
		if err := g.r.Stop(ctx); err != nil { // nothing runs the cancel jobs while they are counted
			t.Fatal(err)
		}
		first, err := g.svc.Cancel(ctx, aidOffice, o.ID, "预算调整")
		if err != nil {
			t.Fatal(err)
		}
		second, err := g.svc.Cancel(ctx, aidOffice, o.ID, "再次取消")
		if err != nil {
			t.Fatal(err)
		}
		if first.Status != orders.StatusCancelRequested || second.Status != orders.StatusCancelRequested {
			t.Errorf("statuses %s then %s, want cancel_requested both times", first.Status, second.Status)
		}
		res, err := g.r.client.JobList(ctx, river.NewJobListParams().Kinds(CancelArgs{}.Kind()).States(
			rivertype.JobStateAvailable, rivertype.JobStateScheduled, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateRetryable))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Jobs) != 1 {
			t.Fatalf("%d cancel jobs queued after two cancels, want 1", len(res.Jobs))
		}
	})
}

// A cancel while the mall cannot be reached: the order shows cancel_requested with the
// last error and attempt, the job keeps trying, and once the mall is back the cancel
// reaches it, the error goes, and the mall's cancelled event makes the order cancelled.
func TestCancel_mallDownShowsTheErrorAndRetries(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		g := newRig(t, db, func(c *Config) {
			c.Breaker = BreakerConfig{Failures: 1000}
			c.Backoff = Backoff{Base: 50 * time.Millisecond, Cap: 100 * time.Millisecond}
		})
		var down atomic.Bool
		down.Store(true)
		unreachable := &orders.MallError{Mall: mallCCB, Message: "mall.order.cancel: no answer", Retryable: true, Err: context.DeadlineExceeded}
		g.ccb.answer = func(op string, _ orders.OutOrderNo) error {
			if op == "cancel" && down.Load() {
				return unreachable
			}
			return nil
		}
		o := g.place(t, testOrder("2019-HQ-0001"))
		g.start(t)
		g.waitFor(t, "dispatch", finished(DispatchArgs{}.Kind(), o.ID))
		g.cancel(t, o.ID, "预算调整")
		g.waitFor(t, "a failed cancel attempt", func(ev *river.Event) bool {
			return ev.Kind == river.EventKindJobFailed && ev.Job.Kind == (CancelArgs{}).Kind() && ev.Job.Attempt >= 2
		})
		got := g.order(t, o.ID)
		if got.Status != orders.StatusCancelRequested || !strings.Contains(got.CancelError, "no answer") ||
			got.CancelAttempt < 1 || got.CancelErrorAt == nil {
			t.Fatalf("order while the mall is down: %s, error %q at attempt %d (%v); want cancel_requested with the error shown",
				got.Status, got.CancelError, got.CancelAttempt, got.CancelErrorAt)
		}
		down.Store(false)
		ev := g.waitFor(t, "cancel job", finished(CancelArgs{}.Kind(), o.ID))
		if ev.Job.State != rivertype.JobStateCompleted {
			t.Fatalf("cancel job %s, want completed once the mall is back", ev.Job.State)
		}
		if got := g.order(t, o.ID); got.Status != orders.StatusCancelRequested || got.CancelError != "" || got.CancelAttempt != 0 {
			t.Errorf("order after the mall took the cancel: %s, error %q (attempt %d); want cancel_requested, no error", got.Status, got.CancelError, got.CancelAttempt)
		}
		_, cancels := g.ccb.recorded()
		g.apply(t, orders.FulfilmentEvent{Mall: mallCCB, EventID: "EV-CANCEL-1", OutOrderNo: o.OutOrderNo,
			Type: orders.EventCancelled, OccurredAt: time.Now()})
		if got := g.order(t, o.ID); got.Status != orders.StatusCancelled {
			t.Errorf("order after the mall's cancelled event: %s, want cancelled", got.Status)
		}
		t.Logf("mall asked to cancel %d times", len(cancels))
	})
}

// The last attempt gives up: the cancel request closes with the error shown, the order is
// back to the status its quantities give, and it may be cancelled again.
func TestCancel_givingUpClosesTheRequest(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		g := newRig(t, db, func(c *Config) {
			c.MaxAttempts = 2
			c.Breaker = BreakerConfig{Failures: 1000}
		})
		g.ccb.cancelErr = []error{busy}
		o := g.place(t, testOrder("2019-HQ-0001"))
		g.start(t)
		g.waitFor(t, "dispatch", finished(DispatchArgs{}.Kind(), o.ID))
		g.cancel(t, o.ID, "预算调整")
		ev := g.waitFor(t, "cancel job", finished(CancelArgs{}.Kind(), o.ID))
		if ev.Job.State != rivertype.JobStateDiscarded {
			t.Fatalf("cancel job %s, want discarded after 2 attempts", ev.Job.State)
		}
		got := g.order(t, o.ID)
		if got.Status != orders.StatusSubmitted || got.CancelReq || !strings.Contains(got.CancelError, "gave up after 2 attempts") {
			t.Fatalf("order %s (requested %v), error %q; want submitted again with the give-up shown", got.Status, got.CancelReq, got.CancelError)
		}
		again, err := g.svc.Cancel(context.Background(), aidOffice, o.ID, "再试一次")
		if err != nil || again.Status != orders.StatusCancelRequested || again.CancelError != "" {
			t.Fatalf("cancel again: %v, %+v; want cancel_requested with the old error cleared", err, again)
		}
	})
}
