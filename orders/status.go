package orders

// Status is an order's state. It is derived from what is known of the order — whether the
// mall took it, whether it was cancelled, and its lines' quantities — never stored as a
// transition, so a late or repeated event can never move an order backwards.
type Status string

const (
	StatusPending            Status = "pending"             // stored, not yet taken by the mall
	StatusRejected           Status = "rejected"            // the mall refused it with a final error
	StatusSubmitted          Status = "submitted"           // the mall took it (create succeeded)
	StatusAccepted           Status = "accepted"            // the mall confirmed it (accepted event)
	StatusPartiallyShipped   Status = "partially_shipped"   // some units shipped
	StatusShipped            Status = "shipped"             // every unit shipped
	StatusPartiallyDelivered Status = "partially_delivered" // some units delivered
	StatusDelivered          Status = "delivered"           // every unit delivered
	StatusRefunded           Status = "refunded"            // everything delivered was refunded in full
	StatusCancelled          Status = "cancelled"           // cancelled before shipping
	// StatusCancelRequested: a cancel was asked for and the mall has neither confirmed
	// nor refused it yet (取消处理中).
	StatusCancelRequested Status = "cancel_requested"
	// StatusDispatchFailed: the dispatch job ran out of attempts before the order reached
	// its mall (GroupOrder.DispatchFailure); it waits for a person (RetryDispatch or Cancel).
	StatusDispatchFailed Status = "dispatch_failed"
)

// DeriveStatus works out o's status from its flags and line quantities (not from
// o.Status). What the mall reports it has done wins: once any unit has shipped or been
// delivered, the status follows the quantities, even if the order was marked cancelled or
// rejected here (a cancel or a create that timed out after the mall had acted).
// Otherwise: cancelled, rejected, cancel_requested (a cancel asked for and not yet
// answered: a refusal clears it and the order is back to what it was; it wins over a
// dispatch that gave up, since the person has decided), accepted, submitted,
// dispatch_failed, pending.
func DeriveStatus(o *GroupOrder) Status {
	var ordered, shipped, delivered int64
	var deliveredFen, refundedFen int64
	for _, l := range o.Lines {
		ordered += l.Quantity
		shipped += min(max(l.ShippedQty, l.DeliveredQty), l.Quantity)
		delivered += min(l.DeliveredQty, l.Quantity)
		deliveredFen += int64(l.DeliveredQty) * int64(l.UnitPrice)
		refundedFen += int64(l.RefundedFen)
	}
	switch {
	case ordered > 0 && delivered >= ordered && refundedFen > 0 && refundedFen >= deliveredFen:
		// Every unit delivered and all of it refunded. A partial delivery refunded in full
		// stays partially_delivered: the rest may still come.
		return StatusRefunded
	case ordered > 0 && delivered >= ordered:
		return StatusDelivered
	case delivered > 0:
		return StatusPartiallyDelivered
	case ordered > 0 && shipped >= ordered:
		return StatusShipped
	case shipped > 0:
		return StatusPartiallyShipped
	case o.Cancelled:
		return StatusCancelled
	case o.RejectCode != "":
		return StatusRejected
	case o.CancelReq:
		return StatusCancelRequested
	case o.Accepted:
		return StatusAccepted
	case o.Submitted || o.MallOrderNo != "":
		return StatusSubmitted
	case o.DispatchFailure != nil:
		return StatusDispatchFailed
	}
	return StatusPending
}

// Final reports whether no further fulfilment is expected for an order in status s.
func (s Status) Final() bool {
	return s == StatusRejected || s == StatusCancelled || s == StatusDelivered || s == StatusRefunded
}

// Cancellable reports whether an order in status s may still be cancelled: it has not
// shipped, been refused or been cancelled yet (an order whose dispatch gave up may be
// cancelled instead of retried).
func (s Status) Cancellable() bool {
	return s == StatusPending || s == StatusSubmitted || s == StatusAccepted || s == StatusDispatchFailed
}
