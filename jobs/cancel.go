package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"aidmall/orders"
)

// cancelWorker asks an order's mall to cancel it.
type cancelWorker struct {
	river.WorkerDefaults[CancelArgs]
	r     *Runner
	hints retryHints
}

// Work calls MallClient.Cancel through the mall's breaker and rate limit:
//   - success: done; the mall notifies the cancellation, which the event applies;
//   - the mall does not know the order (it never reached it): MarkCancelled;
//   - refused because a line has shipped (MallError.AlreadyShipped, which the mall's
//     adapter decides from its own codes) or any other final refusal: CancelRefused
//     records the refusal on the order, done; the order goes on as the mall's events say;
//   - held back by the open breaker or the mall's rate limit: the job snoozes (no attempt
//     used) and the order shows why;
//   - retryable: the order shows the error and the attempt (RecordCancelAttempt), and
//     River retries (NextRetry: the backoff, or the mall's Retry-After plus spread); the
//     last attempt closes the cancel request with the error shown.
//
// An order that needs no cancel at its mall (orders.NeedsCancelAtMall: it rejected the
// order) is left alone.
func (w *cancelWorker) Work(ctx context.Context, job *river.Job[CancelArgs]) error {
	r := w.r
	id := job.Args.OrderID
	o, log, err := r.jobOrder(ctx, "cancel", id, job.Attempt)
	if err != nil {
		return err
	}
	if !orders.NeedsCancelAtMall(o) {
		log.Info("cancel of a rejected order: nothing at the mall")
		return nil
	}
	client, ok := r.malls[o.Mall]
	if !ok {
		return fmt.Errorf("cancel: no client for mall %q", o.Mall)
	}
	_, err = r.gate.call(ctx, o.Mall, "cancel", func() (orders.CreateResult, error) {
		return orders.CreateResult{}, client.Cancel(ctx, o.OutOrderNo, job.Args.Reason)
	})
	var me *orders.MallError
	switch {
	case err == nil:
		log.Info("mall accepted the cancel")
		return w.reached(ctx, job, o)
	case errors.As(err, &me) && me.NotFound:
		if err := r.orders.MarkCancelled(ctx, id); err != nil {
			return fmt.Errorf("cancel: mark order %d cancelled: %w", id, err)
		}
		log.Info("mall does not know the order: cancelled here")
		return nil
	case errors.As(err, &me) && !me.Retryable:
		if me.AlreadyShipped {
			log.Warn("mall refused the cancel: a line has shipped", slog.String("code", me.Code))
		} else {
			log.Error("mall refused the cancel", slog.String("error", err.Error()))
		}
		if err := r.orders.CancelRefused(ctx, id, me); err != nil {
			return fmt.Errorf("cancel: record refusal of order %d: %w", id, err)
		}
		return nil
	}
	if h, ok := held(err); ok {
		if rerr := w.record(ctx, job, o, err, false); rerr != nil {
			return rerr
		}
		return r.snooze(log, h)
	}
	w.hints.note(job.ID, err)
	last := job.Attempt >= job.MaxAttempts
	if rerr := w.record(ctx, job, o, err, last); rerr != nil {
		return rerr
	}
	if last {
		log.Error("cancel gave up", slog.String("error", err.Error()))
	} else {
		log.Warn("mall call failed; will retry", slog.String("error", err.Error()))
	}
	return fmt.Errorf("cancel order %d: %w", id, err)
}

// record shows on order o why this attempt of its cancel did not reach the mall.
func (w *cancelWorker) record(ctx context.Context, job *river.Job[CancelArgs], o *orders.GroupOrder, cause error, gaveUp bool) error {
	a := orders.CancelAttempt{Attempt: job.Attempt, At: w.r.now(), Err: cancelErrorText(cause), GaveUp: gaveUp}
	if err := w.r.orders.RecordCancelAttempt(ctx, o.ID, a); err != nil {
		return fmt.Errorf("cancel: record the failed attempt on order %d: %w", o.ID, err)
	}
	return nil
}

// reached clears an error an earlier attempt showed on o, now that the mall answered.
func (w *cancelWorker) reached(ctx context.Context, job *river.Job[CancelArgs], o *orders.GroupOrder) error {
	if o.CancelError == "" {
		return nil
	}
	if err := w.r.orders.RecordCancelAttempt(ctx, o.ID, orders.CancelAttempt{Attempt: job.Attempt, At: w.r.now()}); err != nil {
		return fmt.Errorf("cancel: clear the error of order %d: %w", o.ID, err)
	}
	return nil
}

// cancelErrorText is what the order shows of why a cancel did not reach the mall: the
// error (with the wait the mall asked for, if any), cut to 300 bytes.
func cancelErrorText(err error) string {
	var me *orders.MallError
	var text string
	if h, ok := held(err); ok {
		text = fmt.Sprintf("%v; next try in about %s", h.Err, h.Wait.Round(time.Second))
	} else {
		text = err.Error()
		if errors.As(err, &me) && me.RetryAfter > 0 {
			text += fmt.Sprintf(" (the mall asked to wait %s)", me.RetryAfter)
		}
	}
	if len(text) > 300 {
		cut := 300
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut] + "…"
	}
	return text
}

// NextRetry schedules the next attempt (Backoff: after the mall's Retry-After, capped
// and spread, when it sent one).
func (w *cancelWorker) NextRetry(job *river.Job[CancelArgs]) time.Time {
	return w.r.now().Add(w.r.backoff.Delay(job.Attempt, w.hints.take(job.ID)))
}
