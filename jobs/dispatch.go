package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"aidmall/orders"
)

// retryHints carries a mall's Retry-After from Work to NextRetry of the same job: River's
// NextRetry sees the job, not the error, and runs right after Work returns, in the same
// process, on the same worker value.
type retryHints struct{ m sync.Map } // job id → time.Duration

func (h *retryHints) note(jobID int64, err error) {
	if d := retryAfter(err); d > 0 {
		h.m.Store(jobID, d)
	}
}

func (h *retryHints) take(jobID int64) time.Duration {
	if v, ok := h.m.LoadAndDelete(jobID); ok {
		return v.(time.Duration)
	}
	return 0
}

// jobOrder loads the order a job acts on, with a logger naming it. A missing order
// cancels the job (it can never succeed); any other failure is retried.
func (r *Runner) jobOrder(ctx context.Context, what string, id int64, attempt int) (*orders.GroupOrder, *slog.Logger, error) {
	o, err := r.store.Order(ctx, id)
	if errors.Is(err, orders.ErrNotFound) {
		return nil, nil, river.JobCancel(fmt.Errorf("%s: order %d does not exist", what, id))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: load order %d: %w", what, id, err)
	}
	log := r.log.With(slog.Int64("order_id", id), slog.String("mall", string(o.Mall)),
		slog.String("out_order_no", string(o.OutOrderNo)), slog.Int("attempt", attempt))
	return o, log, nil
}

// dispatchWorker places a group order at its mall (ARCHITECTURE.md, Flow of one order,
// step 2). Every attempt sends the same content under the order's out_order_no, and the
// malls are idempotent on it (ccb-mall.md "mall.order.create", abc-mall.md "create"), so
// a retry after a timeout or a crash gets the order the first attempt made.
type dispatchWorker struct {
	river.WorkerDefaults[DispatchArgs]
	r     *Runner
	hints retryHints
}

// Work loads the order and, unless it is already settled, creates it at its mall:
// success → MarkSubmitted; a final refusal → MarkRejected with the mall's code and
// message, and the job completes; anything retryable → an error, so River retries it
// (NextRetry). A cancel asked for before the order reached the mall cancels it locally.
func (w *dispatchWorker) Work(ctx context.Context, job *river.Job[DispatchArgs]) error {
	r := w.r
	id := job.Args.OrderID
	o, log, err := r.jobOrder(ctx, "dispatch", id, job.Attempt)
	if err != nil {
		return err
	}

	// A retry by hand (o.DispatchGiveUps) follows attempts that may have reached the mall.
	firstCall := job.Attempt == 1 && !redispatched(job.JobRow) && o.DispatchGiveUps == 0
	step := orders.DispatchDecision(o, firstCall)
	if step == orders.DispatchCreate {
		// An `auto` order whose mall is failing may move to another mall first (failover.go).
		moved, err := r.failover(ctx, o, log)
		if err != nil {
			return err
		}
		if moved != o {
			o, step = moved, orders.DispatchDecision(moved, firstCall)
			log = log.With(slog.String("now_mall", string(o.Mall)), slog.String("now_out_order_no", string(o.OutOrderNo)))
		}
	}
	switch step {
	case orders.DispatchSettled:
		return nil
	case orders.DispatchCancelHere:
		if err := r.orders.MarkCancelled(ctx, id); err != nil {
			return fmt.Errorf("dispatch: mark order %d cancelled: %w", id, err)
		}
		log.Info("order cancelled before it reached its mall")
		return nil
	case orders.DispatchLeaveToCancel:
		log.Info("cancel requested after earlier attempts; left to the cancel job")
		return nil
	case orders.DispatchRecordAtMall:
		// The mall notified the order before any create's answer was recorded (that answer
		// was lost): it is at its mall, so it is recorded as submitted, not created again.
		mallOrderNo := o.MallOrderNo
		if o, err = r.orders.MarkSubmittedOrder(ctx, id, mallOrderNo); err != nil {
			return fmt.Errorf("dispatch: mark order %d submitted: %w", id, err)
		}
		log.Info("order already at its mall (its notification came first); recorded as submitted", slog.String("mall_order_no", mallOrderNo))
	case orders.DispatchCreate:
		client, ok := r.malls[o.Mall]
		if !ok {
			return fmt.Errorf("dispatch: no client for mall %q", o.Mall)
		}
		// The buyer's name is the one fixed when the order was placed, so that a branch
		// renamed meanwhile cannot change the content of a create being retried.
		buyer := o.BuyerName
		if buyer == "" {
			if buyer, err = r.branchName(ctx, o.BranchCode); err != nil {
				return fmt.Errorf("dispatch: branch %s: %w", o.BranchCode, err)
			}
		}
		req := createRequest(o, buyer, r.notifyURL(o.Mall))
		res, err := r.gate.call(ctx, o.Mall, "create", func() (orders.CreateResult, error) {
			return client.Create(ctx, req)
		})
		if h, ok := held(err); ok {
			return r.snooze(log, h)
		}
		if err != nil {
			return w.failed(ctx, job, o, log, err)
		}
		// The order as committed with the answer (no second read).
		if o, err = r.orders.MarkSubmittedOrder(ctx, id, res.MallOrderNo); err != nil {
			return fmt.Errorf("dispatch: mark order %d submitted: %w", id, err)
		}
		log.Info("order placed at its mall", slog.String("mall_order_no", res.MallOrderNo))
	}
	// The order is at the mall. A cancel asked for while it was on its way may have been
	// answered "not found" by the mall before the create landed: ask again.
	if orders.CancelAgainAtMall(o) {
		if _, err := r.client.Insert(ctx, CancelArgs{OrderID: id, Reason: "cancel requested while the order was being placed"}, nil); err != nil {
			return fmt.Errorf("dispatch: enqueue cancel of order %d: %w", id, err)
		}
		log.Info("cancel requested while placing the order; asking the mall again")
	}
	return nil
}

// failed handles a create that did not succeed.
func (w *dispatchWorker) failed(ctx context.Context, job *river.Job[DispatchArgs], o *orders.GroupOrder, log *slog.Logger, err error) error {
	var me *orders.MallError
	if errors.As(err, &me) && !me.Retryable {
		if err := w.r.orders.MarkRejected(ctx, o.ID, me); err != nil {
			return fmt.Errorf("dispatch: mark order %d rejected: %w", o.ID, err)
		}
		log.Warn("mall refused the order", slog.String("error", me.Error()))
		return nil
	}
	w.hints.note(job.ID, err)
	if job.Attempt >= job.MaxAttempts {
		// Give up visibly: the order becomes dispatch_failed, with why, for a person to retry
		// or cancel (orders.Service.MarkDispatchFailed). The job is still discarded (the
		// error below): a discarded job does not block the dispatch job of a retry.
		w.r.metrics.givenUp.WithLabelValues(string(o.Mall)).Inc()
		f := orders.DispatchFailureOf(o.Mall, err, job.Attempt, w.r.now())
		if _, merr := w.r.orders.MarkDispatchFailed(ctx, o.ID, f); merr != nil {
			// Not recorded: the order stays pending and maintenance dispatches it again.
			log.Error("dispatch gave up and could not record it", slog.String("error", err.Error()), slog.String("record_error", merr.Error()))
		} else {
			log.Error("dispatch gave up: the order is dispatch_failed until a person retries or cancels it", slog.String("error", err.Error()))
		}
	} else {
		log.Warn("mall call failed; will retry", slog.String("error", err.Error()))
	}
	return fmt.Errorf("dispatch order %d: %w", o.ID, err)
}

// NextRetry schedules the next attempt (Backoff: after the mall's Retry-After, capped
// and spread, when it sent one).
func (w *dispatchWorker) NextRetry(job *river.Job[DispatchArgs]) time.Time {
	return w.r.now().Add(w.r.backoff.Delay(job.Attempt, w.hints.take(job.ID)))
}

// createRequest is the mall order for o: out_order_no, buyer_ref = order_ref, buyer_name
// = the branch's name, the lines with item ids and prices, their total, and the notify URL.
func createRequest(o *orders.GroupOrder, buyerName, notifyURL string) orders.CreateRequest {
	req := orders.CreateRequest{
		OutOrderNo:   o.OutOrderNo,
		BuyerRef:     o.OrderRef,
		BuyerName:    buyerName,
		DeliveryMode: o.DeliveryMode,
		ShipTo:       o.ShipTo,
		Total:        o.Total(),
		NotifyURL:    notifyURL,
	}
	for _, l := range o.Lines {
		req.Lines = append(req.Lines, orders.CreateLine{
			LineNo: l.LineNo, ItemID: l.ItemID, Quantity: l.Quantity, UnitPrice: l.UnitPrice,
			Recipients: l.Recipients,
		})
	}
	return req
}
