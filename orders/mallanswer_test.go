package orders_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"aidmall/orders"
)

// The mall's answers to create and cancel are recorded through the service: each derives
// the order's status again, and what the mall reported it has done wins over them.
func TestMallAnswers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	deliver := func(t *testing.T, svc *orders.Service, o *orders.GroupOrder, id string) {
		t.Helper()
		if _, err := svc.Apply(ctx, orders.FulfilmentEvent{Mall: o.Mall, EventID: orders.MallEventID(id), Type: orders.EventDelivered,
			OutOrderNo: o.OutOrderNo, MallOrderNo: "FROM-EVENT", LineNo: 1, Quantity: 10,
			OccurredAt: testNow.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name       string
		answer     func(svc *orders.Service, id int64) error
		delivered  bool // the mall had delivered before its answer was recorded
		want       orders.Status
		wantMallNo string
		wantRefuse string
	}{
		{name: "create taken", answer: func(svc *orders.Service, id int64) error { return svc.MarkSubmitted(ctx, id, "CCB9") },
			want: orders.StatusSubmitted, wantMallNo: "CCB9"},
		{name: "create taken after an event named the mall order", delivered: true,
			answer: func(svc *orders.Service, id int64) error { return svc.MarkSubmitted(ctx, id, "CCB9") },
			want:   orders.StatusDelivered, wantMallNo: "FROM-EVENT"},
		{name: "final refusal", answer: func(svc *orders.Service, id int64) error { return svc.MarkRejected(ctx, id, "40005", "price") },
			want: orders.StatusRejected},
		{name: "a refusal that came after the goods did not undo them", delivered: true,
			answer: func(svc *orders.Service, id int64) error { return svc.MarkRejected(ctx, id, "40005", "price") },
			want:   orders.StatusDelivered, wantMallNo: "FROM-EVENT"},
		{name: "cancelled before it reached the mall", answer: func(svc *orders.Service, id int64) error { return svc.MarkCancelled(ctx, id) },
			want: orders.StatusCancelled},
		{name: "cancel refused", delivered: true,
			answer: func(svc *orders.Service, id int64) error {
				return svc.CancelRefused(ctx, id, "ALREADY_SHIPPED", "line 1 shipped")
			},
			want: orders.StatusDelivered, wantMallNo: "FROM-EVENT", wantRefuse: "ALREADY_SHIPPED line 1 shipped"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc, st := newTestService(t)
			req := bulkRequest()
			req.Lines[0].Quantity = 10
			o, err := svc.Place(ctx, hqStaff, req)
			if err != nil {
				t.Fatal(err)
			}
			if tc.delivered {
				deliver(t, svc, o, "D1")
			}
			if err := tc.answer(svc, o.ID); err != nil {
				t.Fatal(err)
			}
			got, err := st.Order(ctx, o.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tc.want || got.MallOrderNo != tc.wantMallNo || got.CancelRefusal != tc.wantRefuse {
				t.Fatalf("status %s, mall order %q, refusal %q; want %s, %q, %q",
					got.Status, got.MallOrderNo, got.CancelRefusal, tc.want, tc.wantMallNo, tc.wantRefuse)
			}
		})
	}
	t.Run("unknown order", func(t *testing.T) {
		t.Parallel()
		svc, _ := newTestService(t)
		if err := svc.MarkSubmitted(ctx, 999, "X"); !errors.Is(err, orders.ErrNotFound) {
			t.Fatalf("got %v, want ErrNotFound", err)
		}
	})
}
