package jobs

import (
	"context"
	"database/sql"
	"reflect"
	"testing"

	"github.com/riverqueue/river/rivertype"

	"aidmall/orders"
)

func TestCancel_paths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		order         func(o *orders.GroupOrder)
		cancelErr     []error
		wantCalls     int
		wantCancelled []int64
		wantRefusal   string // recorded on the order
	}{
		{
			name:      "mall_accepts_and_its_event_will_cancel",
			cancelErr: []error{nil},
			wantCalls: 1,
		},
		{
			name:          "order_unknown_to_the_mall_is_cancelled_here",
			cancelErr:     []error{&orders.MallError{Mall: orders.MallCCB, Code: "40404", SubCode: "ORDER_NOT_FOUND", NotFound: true}},
			wantCalls:     1,
			wantCancelled: []int64{1},
		},
		{
			name:        "ccb_shipped_refusal_is_recorded_on_the_order",
			cancelErr:   []error{&orders.MallError{Mall: orders.MallCCB, Code: "40010", SubCode: "ORDER_SHIPPED", Message: "已发货", AlreadyShipped: true}},
			wantCalls:   1,
			wantRefusal: "40010 ORDER_SHIPPED 已发货",
		},
		{
			name:        "abc_already_shipped_is_recorded_on_the_order",
			cancelErr:   []error{&orders.MallError{Mall: orders.MallCCB, HTTPStatus: 409, Code: "ALREADY_SHIPPED", AlreadyShipped: true}},
			wantCalls:   1,
			wantRefusal: "ALREADY_SHIPPED ",
		},
		{
			name:      "retryable_failure_is_retried",
			cancelErr: []error{&orders.MallError{Mall: orders.MallCCB, HTTPStatus: 503, Retryable: true}, busy, nil},
			wantCalls: 3,
		},
		{
			name:      "rejected_order_has_nothing_to_cancel",
			order:     func(o *orders.GroupOrder) { o.RejectCode = "40005" },
			wantCalls: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			forEachDB(t, func(t *testing.T, db *sql.DB, dialect string) {
				o := testOrder(1)
				o.Submitted, o.MallOrderNo, o.CancelReq = true, "CCB20190312000123", true
				if tt.order != nil {
					tt.order(o)
				}
				store := newFakeStore(o)
				g := newRig(t, db, dialect, store, nil)
				g.ccb.cancelErr = tt.cancelErr
				g.enqueue(t, func(tx *sql.Tx) error { return g.r.EnqueueCancel(context.Background(), tx, 1, "预算调整") })
				g.start(t)
				ev := g.waitFor(t, "cancel job", finished(CancelArgs{}.Kind(), 1))
				if ev.Job.State != rivertype.JobStateCompleted {
					t.Errorf("job %s, want completed", ev.Job.State)
				}
				creates, cancels := g.ccb.recorded()
				if len(cancels) != tt.wantCalls || len(creates) != 0 {
					t.Fatalf("mall cancel called %d times (create %d), want %d", len(cancels), len(creates), tt.wantCalls)
				}
				for _, c := range cancels {
					if c != "AM20190312090000000001|预算调整" {
						t.Errorf("cancel sent %q, want the order's out_order_no and the reason", c)
					}
				}
				_, _, cancelled, _ := store.snapshot()
				if !reflect.DeepEqual(cancelled, tt.wantCancelled) {
					t.Errorf("cancelled locally %v, want %v", cancelled, tt.wantCancelled)
				}
				if got, _ := store.Order(context.Background(), 1); got.CancelRefusal != tt.wantRefusal || (tt.wantRefusal != "" && got.CancelReq) {
					t.Errorf("refusal %q (cancel still requested: %v), want %q", got.CancelRefusal, got.CancelReq, tt.wantRefusal)
				}
			})
		})
	}
}

func TestCancel_missingOrderCancelsTheJob(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sql.DB, dialect string) {
		g := newRig(t, db, dialect, newFakeStore(), nil)
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
