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
		{name: "final refusal", answer: func(svc *orders.Service, id int64) error {
			return svc.MarkRejected(ctx, id, &orders.MallError{Code: "40005", Message: "price"})
		},
			want: orders.StatusRejected},
		{name: "a refusal that came after the goods did not undo them", delivered: true,
			answer: func(svc *orders.Service, id int64) error {
				return svc.MarkRejected(ctx, id, &orders.MallError{Code: "40005", Message: "price"})
			},
			want: orders.StatusDelivered, wantMallNo: "FROM-EVENT"},
		{name: "cancelled before it reached the mall", answer: func(svc *orders.Service, id int64) error { return svc.MarkCancelled(ctx, id) },
			want: orders.StatusCancelled},
		{name: "cancel refused", delivered: true,
			answer: func(svc *orders.Service, id int64) error {
				return svc.CancelRefused(ctx, id, &orders.MallError{HTTPStatus: 409, Code: "ALREADY_SHIPPED", Message: "line 1 shipped"})
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

// A mall's final refusal is worded once, the same on a rejected order and on a refused
// cancel.
func TestMallErrorRefusal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		err       *orders.MallError
		code, msg string
	}{
		{"ccb_code_with_sub_code", &orders.MallError{Code: "40005", SubCode: "ITEM_NOT_LISTED", Message: "商品未上架"}, "40005", "ITEM_NOT_LISTED: 商品未上架"},
		{"abc_code_as_given", &orders.MallError{HTTPStatus: 422, Code: "PRICE_MISMATCH", Message: "unitPriceFen differs"}, "PRICE_MISMATCH", "unitPriceFen differs"},
		{"sub_code_alone_becomes_the_message", &orders.MallError{Code: "40006", SubCode: "AMOUNT_MISMATCH"}, "40006", "AMOUNT_MISMATCH"},
		{"sub_code_without_code_is_the_code", &orders.MallError{SubCode: "ORDER_SHIPPED", Message: "已发货"}, "ORDER_SHIPPED", "已发货"},
		{"bare_http_refusal_still_rejects", &orders.MallError{HTTPStatus: 400}, "HTTP 400", ""},
		{"no_code_at_all_still_rejects", &orders.MallError{Err: errors.New("bad signature")}, "REFUSED", "bad signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, msg := tt.err.Refusal()
			if code != tt.code || msg != tt.msg {
				t.Errorf("Refusal = %q, %q; want %q, %q", code, msg, tt.code, tt.msg)
			}
		})
	}
	t.Run("rejection_and_cancel_refusal_read_alike", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		me := &orders.MallError{Code: "40010", SubCode: "ORDER_SHIPPED", Message: "已发货"}
		svc, st := newTestService(t)
		a, err := svc.Place(ctx, hqStaff, bulkRequest())
		if err != nil {
			t.Fatal(err)
		}
		req := bulkRequest()
		req.OrderRef += "-2"
		b, err := svc.Place(ctx, hqStaff, req)
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.MarkRejected(ctx, a.ID, me); err != nil {
			t.Fatal(err)
		}
		if err := svc.CancelRefused(ctx, b.ID, me); err != nil {
			t.Fatal(err)
		}
		ra, _ := st.Order(ctx, a.ID)
		rb, _ := st.Order(ctx, b.ID)
		if ra.RejectCode+" "+ra.RejectMessage != rb.CancelRefusal || rb.CancelRefusal != "40010 ORDER_SHIPPED: 已发货" {
			t.Errorf("rejected %q %q, cancel refused %q: want one wording", ra.RejectCode, ra.RejectMessage, rb.CancelRefusal)
		}
	})
}

// What a dispatch attempt and a cancel job do with an order is decided here, from the
// order alone.
func TestDispatchDecision(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		o           orders.GroupOrder
		firstCall   bool
		want        orders.DispatchStep
		cancelAgain bool
	}{
		{"fresh_order_is_created", orders.GroupOrder{}, true, orders.DispatchCreate, false},
		{"retry_of_a_fresh_order_is_created_again", orders.GroupOrder{}, false, orders.DispatchCreate, false},
		{"confirmed_by_the_mall", orders.GroupOrder{Submitted: true}, true, orders.DispatchAtMall, false},
		{"named_by_a_mall_event_is_recorded_as_submitted", orders.GroupOrder{MallOrderNo: "CCB1"}, false, orders.DispatchRecordAtMall, false},
		{"named_by_a_mall_event_before_any_answer_is_recorded_as_submitted", orders.GroupOrder{MallOrderNo: "CCB1"}, true, orders.DispatchRecordAtMall, false},
		{"accepted_by_the_mall_is_recorded_as_submitted", orders.GroupOrder{Accepted: true}, false, orders.DispatchRecordAtMall, false},
		{"confirmed_and_named_is_at_the_mall", orders.GroupOrder{Submitted: true, MallOrderNo: "CCB1", Accepted: true}, false, orders.DispatchAtMall, false},
		{"rejected_is_settled", orders.GroupOrder{RejectCode: "40005"}, false, orders.DispatchSettled, false},
		{"cancelled_before_the_mall_is_settled", orders.GroupOrder{Cancelled: true}, true, orders.DispatchSettled, false},
		{"cancel_before_the_first_call_cancels_here", orders.GroupOrder{CancelReq: true}, true, orders.DispatchCancelHere, false},
		{"cancel_after_an_earlier_call_is_the_cancel_jobs", orders.GroupOrder{CancelReq: true}, false, orders.DispatchLeaveToCancel, false},
		{"at_the_mall_with_a_cancel_asked_cancels_again", orders.GroupOrder{Submitted: true, CancelReq: true}, false, orders.DispatchAtMall, true},
		{"at_the_mall_though_cancelled_here_cancels_again", orders.GroupOrder{MallOrderNo: "CCB1", Cancelled: true}, false, orders.DispatchRecordAtMall, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := orders.DispatchDecision(&tt.o, tt.firstCall); got != tt.want {
				t.Errorf("DispatchDecision = %d, want %d", got, tt.want)
			}
			if got := orders.CancelAgainAtMall(&tt.o); got != tt.cancelAgain {
				t.Errorf("CancelAgainAtMall = %v, want %v", got, tt.cancelAgain)
			}
		})
	}
}

func TestNeedsCancelAtMall(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		o    orders.GroupOrder
		want bool
	}{
		{"submitted", orders.GroupOrder{Submitted: true}, true},
		{"pending", orders.GroupOrder{}, true},
		{"rejected_has_nothing_there", orders.GroupOrder{RejectCode: "40005"}, false},
	} {
		if got := orders.NeedsCancelAtMall(&tt.o); got != tt.want {
			t.Errorf("%s: NeedsCancelAtMall = %v, want %v", tt.name, got, tt.want)
		}
	}
}
