package orders

import (
	"testing"

	"aidmall/money"
)

// line is a 10-unit line at 68.00 yuan with the given fulfilment.
func line(shipped, delivered int64, refunded money.Fen) Line {
	return Line{LineNo: 1, SKU: "YC-APL-5KG-DZ", Quantity: 10, UnitPrice: 6800,
		ShippedQty: shipped, DeliveredQty: delivered, RefundedFen: refunded}
}

func TestDeriveStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		order GroupOrder
		want  Status
	}{
		{"new_order_is_pending", GroupOrder{Lines: []Line{line(0, 0, 0)}}, StatusPending},
		{"stored_status_is_ignored", GroupOrder{Status: StatusDelivered, Lines: []Line{line(0, 0, 0)}}, StatusPending},
		{"create_confirmed_is_submitted", GroupOrder{Submitted: true, Lines: []Line{line(0, 0, 0)}}, StatusSubmitted},
		{"mall_order_no_alone_is_submitted", GroupOrder{MallOrderNo: "CCB20191120000001", Lines: []Line{line(0, 0, 0)}}, StatusSubmitted},
		{"accepted_event_is_accepted", GroupOrder{Submitted: true, Accepted: true, Lines: []Line{line(0, 0, 0)}}, StatusAccepted},
		{"some_units_shipped_is_partially_shipped", GroupOrder{Accepted: true, Lines: []Line{line(4, 0, 0)}}, StatusPartiallyShipped},
		{"one_of_two_lines_shipped_is_partially_shipped", GroupOrder{Accepted: true, Lines: []Line{line(10, 0, 0), line(0, 0, 0)}}, StatusPartiallyShipped},
		{"every_unit_shipped_is_shipped", GroupOrder{Accepted: true, Lines: []Line{line(10, 0, 0), line(10, 0, 0)}}, StatusShipped},
		{"over_reported_shipping_on_one_line_does_not_cover_another", GroupOrder{Lines: []Line{
			line(15, 0, 0),
			{LineNo: 2, SKU: "YC-PEP-250G-ZS", Quantity: 5, UnitPrice: 3990},
		}}, StatusPartiallyShipped},
		{"some_units_delivered_is_partially_delivered", GroupOrder{Lines: []Line{line(10, 3, 0)}}, StatusPartiallyDelivered},
		{"delivery_without_shipped_event_counts_as_shipped", GroupOrder{Lines: []Line{line(0, 10, 0)}}, StatusDelivered},
		{"every_unit_delivered_is_delivered", GroupOrder{Lines: []Line{line(10, 10, 0), line(10, 10, 0)}}, StatusDelivered},
		{"partial_refund_stays_delivered", GroupOrder{Lines: []Line{line(10, 10, 6800)}}, StatusDelivered},
		{"full_refund_of_delivered_is_refunded", GroupOrder{Lines: []Line{line(10, 10, 68000)}}, StatusRefunded},
		{"full_refund_of_partial_delivery_stays_partially_delivered", GroupOrder{Lines: []Line{line(10, 4, 27200)}}, StatusPartiallyDelivered},
		{"refund_without_delivery_is_not_refunded", GroupOrder{Accepted: true, Lines: []Line{line(10, 0, 68000)}}, StatusShipped},
		{"refunded_beats_delivered", GroupOrder{Accepted: true, Submitted: true, Lines: []Line{line(10, 10, 68000)}}, StatusRefunded},
		{"mall_progress_beats_a_local_rejection", GroupOrder{RejectCode: "40004", Accepted: true, Lines: []Line{line(10, 10, 0)}}, StatusDelivered},
		{"rejected_beats_accepted", GroupOrder{RejectCode: "40005", Accepted: true, Lines: []Line{line(0, 0, 0)}}, StatusRejected},
		{"rejected_beats_submitted", GroupOrder{RejectCode: "PRICE_MISMATCH", Submitted: true, Lines: []Line{line(0, 0, 0)}}, StatusRejected},
		{"cancelled_beats_rejected", GroupOrder{Cancelled: true, RejectCode: "40005", Lines: []Line{line(0, 0, 0)}}, StatusCancelled},
		{"mall_progress_beats_a_local_cancel", GroupOrder{Cancelled: true, Accepted: true, Lines: []Line{line(10, 10, 68000)}}, StatusRefunded},
		{"cancelled_beats_accepted", GroupOrder{Cancelled: true, Accepted: true, Submitted: true, Lines: []Line{line(0, 0, 0)}}, StatusCancelled},
		{"cancel_asked_of_a_pending_order_is_cancel_requested", GroupOrder{CancelReq: true, Lines: []Line{line(0, 0, 0)}}, StatusCancelRequested},
		{"cancel_asked_beats_accepted", GroupOrder{CancelReq: true, Submitted: true, Accepted: true, Lines: []Line{line(0, 0, 0)}}, StatusCancelRequested},
		{"cancel_confirmed_is_cancelled", GroupOrder{CancelReq: true, Cancelled: true, Submitted: true, Lines: []Line{line(0, 0, 0)}}, StatusCancelled},
		{"rejected_while_a_cancel_was_asked_is_rejected", GroupOrder{CancelReq: true, RejectCode: "40005", Lines: []Line{line(0, 0, 0)}}, StatusRejected},
		{"shipping_beats_a_cancel_asked", GroupOrder{CancelReq: true, Accepted: true, Lines: []Line{line(4, 0, 0)}}, StatusPartiallyShipped},
		{"cancel_refused_is_back_to_accepted", GroupOrder{CancelRefusal: "40010 ORDER_SHIPPED", Accepted: true, Lines: []Line{line(0, 0, 0)}}, StatusAccepted},
		{"dispatch_gave_up_is_dispatch_failed", GroupOrder{DispatchFailure: &DispatchFailure{Attempts: 25}, Lines: []Line{line(0, 0, 0)}}, StatusDispatchFailed},
		{"reaching_the_mall_beats_a_give_up", GroupOrder{DispatchFailure: &DispatchFailure{Attempts: 25}, MallOrderNo: "CCB1", Lines: []Line{line(0, 0, 0)}}, StatusSubmitted},
		{"mall_progress_beats_a_give_up", GroupOrder{DispatchFailure: &DispatchFailure{Attempts: 25}, Lines: []Line{line(10, 0, 0)}}, StatusShipped},
		{"cancelled_beats_a_give_up", GroupOrder{DispatchFailure: &DispatchFailure{Attempts: 25}, Cancelled: true, Lines: []Line{line(0, 0, 0)}}, StatusCancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := tc.order
			if got := DeriveStatus(&o); got != tc.want {
				t.Fatalf("DeriveStatus = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestStatusFinal(t *testing.T) {
	t.Parallel()
	final := map[Status]bool{
		StatusPending: false, StatusSubmitted: false, StatusAccepted: false,
		StatusPartiallyShipped: false, StatusShipped: false, StatusPartiallyDelivered: false,
		StatusRejected: true, StatusCancelled: true, StatusDelivered: true, StatusRefunded: true,
		StatusCancelRequested: false,
	}
	for s, want := range final {
		if got := s.Final(); got != want {
			t.Errorf("%s.Final() = %v, want %v", s, got, want)
		}
	}
}
