package orders

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// What a mall answered to the calls the dispatch and cancel jobs make (商城回执). Each is a
// use case of its own: the order is locked, the answer recorded on it, and its status
// derived again (DeriveStatus), all in one transaction, so an answer racing a fulfilment
// event for the same order is worked out after it or before it, never half.

// MarkSubmitted records that the mall took order id (create succeeded) under
// mallOrderNo; a mall order number already known (from an event) is kept.
func (s *Service) MarkSubmitted(ctx context.Context, id int64, mallOrderNo string) error {
	_, err := s.MarkSubmittedOrder(ctx, id, mallOrderNo)
	return err
}

// MarkSubmittedOrder is MarkSubmitted returning the order as it committed (what the
// dispatch job reads next, without loading it again).
func (s *Service) MarkSubmittedOrder(ctx context.Context, id int64, mallOrderNo string) (*GroupOrder, error) {
	return s.recordAnswerOrder(ctx, id, func(o *GroupOrder) {
		o.Submitted = true
		if o.MallOrderNo == "" {
			o.MallOrderNo = mallOrderNo
		}
	})
}

// MarkRejected records the mall's final refusal me of order id, with its code and
// message as MallError.Refusal words them.
func (s *Service) MarkRejected(ctx context.Context, id int64, me *MallError) error {
	code, message := me.Refusal()
	return s.recordAnswer(ctx, id, func(o *GroupOrder) {
		o.RejectCode, o.RejectMessage = code, message
	})
}

// MarkCancelled records a cancellation that needed no word from the mall (the order
// never reached it).
func (s *Service) MarkCancelled(ctx context.Context, id int64) error {
	return s.recordAnswer(ctx, id, func(o *GroupOrder) { o.Cancelled = true })
}

// CancelRefused records that the mall refused to cancel order id (me; a line had
// shipped): the cancel request is closed and the refusal, code and message as
// MallError.Refusal words them, shown on the order.
func (s *Service) CancelRefused(ctx context.Context, id int64, me *MallError) error {
	code, message := me.Refusal()
	return s.recordAnswer(ctx, id, func(o *GroupOrder) {
		o.CancelReq = false
		o.CancelRefusal = strings.TrimSpace(code + " " + message)
	})
}

// CancelAttempt is what one attempt of the cancel job got (RecordCancelAttempt).
type CancelAttempt struct {
	Attempt int       // the job's attempt, 1 for the first
	At      time.Time // when it ended
	// Err is why the request did not reach the mall ("" when it did: the mall accepted
	// the cancel or answered it).
	Err string
	// GaveUp: no attempt is left (the job's last failed); the cancel request is closed,
	// so that the order goes back to the status its quantities give and the cancel can be
	// asked for again.
	GaveUp bool
}

// RecordCancelAttempt shows on order id how its cancel request is going: the last error
// and attempt while the mall cannot be reached (status stays cancel_requested), cleared
// once an attempt reaches it. An order whose cancel request is already closed (the mall
// cancelled or refused it) is left as it is.
func (s *Service) RecordCancelAttempt(ctx context.Context, id int64, a CancelAttempt) error {
	return s.recordAnswer(ctx, id, func(o *GroupOrder) {
		if !o.CancelReq || o.Cancelled {
			return
		}
		if a.Err == "" {
			o.CancelError, o.CancelAttempt, o.CancelErrorAt = "", 0, nil
			return
		}
		at := a.At.UTC()
		o.CancelError, o.CancelAttempt, o.CancelErrorAt = a.Err, a.Attempt, &at
		if a.GaveUp {
			o.CancelReq = false
			o.CancelError = fmt.Sprintf("gave up after %d attempts: %s", a.Attempt, a.Err)
		}
	})
}

// recordAnswer locks order id, lets change record the mall's answer on it, derives its
// status again and saves it.
func (s *Service) recordAnswer(ctx context.Context, id int64, change func(*GroupOrder)) error {
	_, err := s.recordAnswerOrder(ctx, id, change)
	return err
}

// recordAnswerOrder is recordAnswer returning the order as saved.
func (s *Service) recordAnswerOrder(ctx context.Context, id int64, change func(*GroupOrder)) (*GroupOrder, error) {
	var saved *GroupOrder
	err := s.store.InTx(ctx, func(tx Tx) error {
		o, err := tx.LockOrder(ctx, id)
		if err != nil {
			return err
		}
		change(o)
		o.Status = DeriveStatus(o)
		if err := tx.SaveOrderState(ctx, o); err != nil {
			return err
		}
		saved = o
		return nil
	})
	if err != nil {
		return nil, err
	}
	return saved, nil
}

// Refusal words a mall's final refusal for the order: the mall's code as given, and its
// message led by the sub code when there is one (CCB "40005" with "PRICE_MISMATCH: …").
// A refusal without a code (an HTTP error without a body) is "HTTP <status>", or
// "REFUSED" when not even that came, so that the order still shows why.
func (e *MallError) Refusal() (code, message string) {
	code, message = e.Code, e.Message
	if e.SubCode != "" && code != "" && e.SubCode != code {
		if message == "" {
			message = e.SubCode
		} else {
			message = e.SubCode + ": " + message
		}
	}
	switch {
	case code != "":
	case e.SubCode != "":
		code = e.SubCode
	case e.HTTPStatus != 0:
		code = fmt.Sprintf("HTTP %d", e.HTTPStatus)
	default:
		code = "REFUSED"
	}
	if message == "" && e.Err != nil {
		message = e.Err.Error()
	}
	return code, message
}

// DispatchStep is what a dispatch attempt does with its order (DispatchDecision).
type DispatchStep int

const (
	// DispatchCreate: call the mall's create (again: the mall is idempotent on the
	// out_order_no).
	DispatchCreate DispatchStep = iota
	// DispatchAtMall: the mall confirmed create (the order is recorded as submitted);
	// nothing to create.
	DispatchAtMall
	// DispatchSettled: the mall rejected the order, or it was cancelled before reaching
	// the mall; nothing to do.
	DispatchSettled
	// DispatchCancelHere: a cancel was asked for before the first attempt called the
	// mall, so nothing can be there: MarkCancelled.
	DispatchCancelHere
	// DispatchLeaveToCancel: a cancel was asked for after an earlier attempt, which may
	// have reached the mall (an answer lost to a timeout): the cancel job, which asks the
	// mall, decides.
	DispatchLeaveToCancel
	// DispatchRecordAtMall: the mall has the order (an event named its mall order, or the
	// mall accepted it) but no create's answer was recorded: it was lost, and the mall's
	// notification came first. Nothing to create; record it as submitted (MarkSubmitted
	// with o.MallOrderNo), so that it counts as dispatched like any order its mall took.
	DispatchRecordAtMall
)

// DispatchDecision says what a dispatch attempt does with o. firstCall reports that no
// earlier attempt of any dispatch job of o can have called the mall (the first attempt of
// a job that maintenance did not insert after an earlier one gave up).
func DispatchDecision(o *GroupOrder, firstCall bool) DispatchStep {
	switch {
	case o.Submitted:
		return DispatchAtMall
	case o.MallOrderNo != "" || o.Accepted:
		return DispatchRecordAtMall
	case o.RejectCode != "" || o.Cancelled:
		return DispatchSettled
	case o.CancelReq && firstCall:
		return DispatchCancelHere
	case o.CancelReq:
		return DispatchLeaveToCancel
	}
	return DispatchCreate
}

// CancelAgainAtMall reports whether o, now at its mall, must be cancelled there again:
// a cancel asked for while it was being placed may have been answered "not found" by
// the mall (and so recorded as cancelled here) before the create landed.
func CancelAgainAtMall(o *GroupOrder) bool {
	return (o.Submitted || o.MallOrderNo != "") && (o.CancelReq || o.Cancelled)
}

// NeedsCancelAtMall reports whether a cancel job must ask o's mall: not when the mall
// rejected o, which then has nothing there to cancel.
func NeedsCancelAtMall(o *GroupOrder) bool {
	return o.RejectCode == ""
}
