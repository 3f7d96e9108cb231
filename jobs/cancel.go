package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"aidmall/orders"
)

// cancelWorker asks an order's mall to cancel it.
type cancelWorker struct {
	river.WorkerDefaults[CancelArgs]
	r     *Runner
	hints retryHints
}

// Work calls MallClient.Cancel through the mall's breaker:
//   - success: done; the mall notifies the cancellation, which the event applies;
//   - the mall does not know the order (it never reached it): MarkCancelled;
//   - refused because a line has shipped (MallError.AlreadyShipped, which the mall's
//     adapter decides from its own codes) or any other final refusal: CancelRefused
//     records the refusal on the order, done; the order goes on as the mall's events say;
//   - retryable (or an open breaker): an error, so River retries (NextRetry).
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
	_, err = r.gate.call(o.Mall, "cancel", func() (orders.CreateResult, error) {
		return orders.CreateResult{}, client.Cancel(ctx, o.OutOrderNo, job.Args.Reason)
	})
	var me *orders.MallError
	switch {
	case err == nil:
		log.Info("mall accepted the cancel")
		return nil
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
	w.hints.note(job.ID, err)
	if job.Attempt >= job.MaxAttempts {
		log.Error("cancel gave up", slog.String("error", err.Error()))
	} else {
		log.Warn("mall call failed; will retry", slog.String("error", err.Error()))
	}
	return fmt.Errorf("cancel order %d: %w", id, err)
}

// NextRetry schedules the next attempt (Backoff, honouring the mall's Retry-After).
func (w *cancelWorker) NextRetry(job *river.Job[CancelArgs]) time.Time {
	return w.r.now().Add(w.r.backoff.Delay(job.Attempt, w.hints.take(job.ID)))
}
