package orders

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"aidmall/audit"
)

// Giving up visibly (docs/MALLS.md, "Giving up and failover"). When an order's dispatch job
// runs out of attempts before the order reached its mall, the order is not left pending
// with a log line: MarkDispatchFailed records why, and its status becomes dispatch_failed
// — in the review queue, the order list's filter, metrics and the order page — until the
// aid office sends it again by hand (RetryDispatch) or cancels it. Nothing retries it
// silently: the maintenance job's "stranded orders" are pending ones only.

// DispatchFailure is why an order's dispatch gave up: the last failure, in the mall's own
// words when the mall answered.
type DispatchFailure struct {
	// Reason says in a sentence what kept the order from its mall.
	Reason string `json:"reason"`
	// MallCode is the mall the order was for when it gave up.
	MallCode Mall `json:"mall_code"`
	// MallMessage is the mall's last answer (its code and message), or the failure to
	// reach it.
	MallMessage string `json:"mall_message"`
	// Attempts is how many times the dispatch job ran.
	Attempts int `json:"attempts"`
	// At is when it gave up.
	At time.Time `json:"at"`
}

// DispatchFailureOf words the last failure err of a dispatch that gave up after attempts
// at mall m.
func DispatchFailureOf(m Mall, err error, attempts int, at time.Time) DispatchFailure {
	f := DispatchFailure{MallCode: m, Attempts: attempts, At: at.UTC()}
	var me *MallError
	switch {
	case errors.As(err, &me) && me.HTTPStatus == 0 && me.Code == "":
		f.Reason = fmt.Sprintf("%s could not be reached in %d attempts", m, attempts)
		f.MallMessage = strings.TrimPrefix(me.Error(), string(me.Mall)+" mall: ")
	case errors.As(err, &me):
		code, message := me.Refusal()
		f.Reason = fmt.Sprintf("%s kept answering with a failure to try again later, %d attempts", m, attempts)
		f.MallMessage = strings.TrimSpace(code + " " + message)
	case err != nil:
		f.Reason = fmt.Sprintf("%s was not called or did not answer in %d attempts", m, attempts)
		f.MallMessage = err.Error()
	default:
		f.Reason = fmt.Sprintf("dispatch to %s gave up after %d attempts", m, attempts)
	}
	return f
}

// Kinds of OrderStep: what was done to an order's mall order besides the mall's own
// events, shown on its timeline.
const (
	StepDispatchFailed  = "dispatch_failed"  // the dispatch job gave up (MarkDispatchFailed)
	StepDispatchRetried = "dispatch_retried" // sent again by hand (RetryDispatch)
	// StepFailoverAbsent: the first mall confirmed (query: not found) that it never
	// created the order, before the order moved.
	StepFailoverAbsent = "failover_confirmed_absent"
	// StepFailoverCancelled: the first mall reports the order cancelled there, before the
	// order moved.
	StepFailoverCancelled = "failover_cancelled_at_first"
	// StepFailoverMoved: the order moved to the second mall under a new out_order_no.
	StepFailoverMoved = "failover_moved"
)

// OrderStep is one step of an order's timeline that is not a mall's event.
type OrderStep struct {
	At         time.Time  `json:"at"`
	Step       string     `json:"step"`
	Mall       Mall       `json:"mall"`
	OutOrderNo OutOrderNo `json:"out_order_no"`
	Detail     string     `json:"detail"`
	Actor      string     `json:"actor"`
}

// MarkDispatchFailed records that order id's dispatch gave up with f, unless the order
// has reached its mall or was settled meanwhile (an event or a cancel won the race): then
// it changes nothing and reports false. The order's status becomes dispatch_failed; the
// step is on its timeline and in the audit log, by the system.
func (s *Service) MarkDispatchFailed(ctx context.Context, id int64, f DispatchFailure) (bool, error) {
	marked := false
	err := s.store.InTx(ctx, func(tx Tx) error {
		o, err := tx.LockOrder(ctx, id)
		if err != nil {
			return err
		}
		if DispatchDecision(o, false) != DispatchCreate {
			return nil
		}
		before := *o
		o.DispatchFailure = &f
		o.DispatchGiveUps++
		o.Status = DeriveStatus(o)
		if err := tx.SaveOrderState(ctx, o); err != nil {
			return err
		}
		detail := f.Reason
		if f.MallMessage != "" {
			detail += ": " + f.MallMessage
		}
		if err := tx.RecordStep(ctx, id, OrderStep{At: f.At, Step: StepDispatchFailed, Mall: o.Mall, OutOrderNo: o.OutOrderNo,
			Detail: detail, Actor: audit.System.Name}); err != nil {
			return err
		}
		e, err := auditChange(Caller{Name: audit.System.Name, Role: Role(audit.System.Role)}, audit.ActionOrderDispatchFailed, id, &before, o)
		if err != nil {
			return err
		}
		marked = true
		return tx.Audit(ctx, e)
	})
	return marked, err
}

// CanRetryDispatch reports whether c may send an order whose dispatch gave up again: the
// aid office.
func (c Caller) CanRetryDispatch() bool { return c.Role == RoleAidOffice }

// RetryDispatch sends order id, whose dispatch gave up (status dispatch_failed), to its
// mall again: it clears the failure (kept on the timeline), enqueues one dispatch job and
// records the step and the audit entry, in one transaction. The job sends the same
// content under the same out_order_no, on which the malls are idempotent, so a create
// that had landed after all returns the existing order. Only the aid office retries;
// an order in any other state is ErrNotAllowed — a second retry finds it pending with its
// job, so two retries give one job.
func (s *Service) RetryDispatch(ctx context.Context, caller Caller, id int64) (*GroupOrder, error) {
	if !caller.CanRetryDispatch() {
		return nil, Errorf(ErrForbidden, "role %s may not retry a dispatch", caller.Role)
	}
	var out *GroupOrder
	err := s.store.InTx(ctx, func(tx Tx) error {
		o, err := tx.LockOrder(ctx, id)
		if err != nil {
			return orderNotFound(id, err)
		}
		if o.Status != StatusDispatchFailed {
			return Errorf(ErrNotAllowed, "order %d is %s, not dispatch_failed: only an order whose dispatch gave up is sent again by hand", id, o.Status)
		}
		before := *o
		f := o.DispatchFailure
		o.DispatchFailure = nil
		o.Status = DeriveStatus(o)
		if err := tx.SaveOrderState(ctx, o); err != nil {
			return err
		}
		if err := tx.EnqueueDispatch(ctx, id); err != nil {
			return err
		}
		detail := "sent again by hand"
		if f != nil {
			detail = fmt.Sprintf("sent again by hand after %d attempts (%s)", f.Attempts, f.Reason)
		}
		if err := tx.RecordStep(ctx, id, OrderStep{At: s.now().UTC(), Step: StepDispatchRetried, Mall: o.Mall, OutOrderNo: o.OutOrderNo,
			Detail: detail, Actor: caller.Actor().Name}); err != nil {
			return err
		}
		e, err := auditChange(caller, audit.ActionOrderRetryDispatch, id, &before, o)
		if err != nil {
			return err
		}
		out = o
		return tx.Audit(ctx, e)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
