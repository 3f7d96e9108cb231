package jobs

import (
	"context"
	"database/sql"
	"testing"

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
