package orders

import (
	"context"
	"strings"
)

// What a mall answered to the calls the dispatch and cancel jobs make (商城回执). Each is a
// use case of its own: the order is locked, the answer recorded on it, and its status
// derived again (DeriveStatus), all in one transaction, so an answer racing a fulfilment
// event for the same order is worked out after it or before it, never half.

// MarkSubmitted records that the mall took order id (create succeeded) under
// mallOrderNo; a mall order number already known (from an event) is kept.
func (s *Service) MarkSubmitted(ctx context.Context, id int64, mallOrderNo string) error {
	return s.recordAnswer(ctx, id, func(o *GroupOrder) {
		o.Submitted = true
		if o.MallOrderNo == "" {
			o.MallOrderNo = mallOrderNo
		}
	})
}

// MarkRejected records the mall's final refusal of order id, with its code and message
// as the mall gave them.
func (s *Service) MarkRejected(ctx context.Context, id int64, code, message string) error {
	return s.recordAnswer(ctx, id, func(o *GroupOrder) {
		o.RejectCode, o.RejectMessage = code, message
	})
}

// MarkCancelled records a cancellation that needed no word from the mall (the order
// never reached it).
func (s *Service) MarkCancelled(ctx context.Context, id int64) error {
	return s.recordAnswer(ctx, id, func(o *GroupOrder) { o.Cancelled = true })
}

// CancelRefused records that the mall refused to cancel order id (a line had shipped):
// the cancel request is closed and the refusal, code and message, shown on the order.
func (s *Service) CancelRefused(ctx context.Context, id int64, code, message string) error {
	return s.recordAnswer(ctx, id, func(o *GroupOrder) {
		o.CancelReq = false
		o.CancelRefusal = strings.TrimSpace(code + " " + message)
	})
}

// recordAnswer locks order id, lets change record the mall's answer on it, derives its
// status again and saves it.
func (s *Service) recordAnswer(ctx context.Context, id int64, change func(*GroupOrder)) error {
	return s.store.InTx(ctx, func(tx Tx) error {
		o, err := tx.LockOrder(ctx, id)
		if err != nil {
			return err
		}
		change(o)
		o.Status = DeriveStatus(o)
		return tx.SaveOrderState(ctx, o)
	})
}
