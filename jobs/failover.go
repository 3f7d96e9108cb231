package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/sony/gobreaker/v2"

	"aidmall/orders"
)

// Failover for `auto` (orders/failover.go decides; docs/MALLS.md, "Giving up and
// failover"). The dispatch job, before it calls an `auto` order's mall again, asks
// orders.Service.FailoverTarget whether the order should move, giving it the health of
// every mall from their circuit breakers. When it should, the job asks the first mall for
// the order (query) and only on its word that it holds no live order under that
// out_order_no (not found, or cancelled) does orders.Service.MoveToMall move it; the same
// attempt then creates it at the second mall. The failover runs inside the order's one
// live dispatch job (DispatchArgs is unique per order), so no create of the same order at
// the first mall can run while it is asked.

// queryTimeout bounds the first mall's query.
const queryTimeout = 30 * time.Second

// health returns each mall's health from its breaker: failing while the breaker is open or
// half-open, or while its last calls failed (consecutive failures since the last success).
func (g *gate) health() map[orders.Mall]orders.MallHealth {
	out := make(map[orders.Mall]orders.MallHealth, len(g.breakers))
	for m, cb := range g.breakers {
		out[m] = orders.MallHealth{Failing: cb.State() != gobreaker.StateClosed || cb.Counts().ConsecutiveFailures > 0}
	}
	return out
}

// failover moves order o to another mall when it should and may (see above). It returns
// o itself when nothing was done, otherwise the order as it now stands (moved, or found
// at its first mall after all and recorded as submitted): the caller decides again.
func (r *Runner) failover(ctx context.Context, o *orders.GroupOrder, log *slog.Logger) (*orders.GroupOrder, error) {
	if !o.AutoRouted || r.failoverAfter < 0 {
		return o, nil // a named mall's order never moves: no need to read listings
	}
	id := o.ID
	to, why, err := r.orders.FailoverTarget(ctx, o, r.gate.health(), r.now(), r.failoverAfter)
	if err != nil {
		return nil, fmt.Errorf("dispatch: failover of order %d: %w", id, err)
	}
	if to == "" {
		log.Debug("order stays at its mall", slog.String("why", why))
		return o, nil
	}
	from := o.Mall
	client, ok := r.malls[from]
	if !ok {
		return o, nil
	}
	// Ask the first mall, outside its breaker: an open breaker is why we are here, and one
	// read per order about to move must not wait for it (nor count towards its health).
	qctx, cancel := context.WithTimeout(ctx, queryTimeout)
	view, qerr := client.Query(qctx, o.OutOrderNo)
	cancel()
	r.metrics.calls.WithLabelValues(string(from), "query", outcome(qerr)).Inc()
	first := orders.FirstMallAnswer{At: r.now()}
	var me *orders.MallError
	switch {
	case errors.As(qerr, &me) && me.NotFound:
		// Confirmed absent: the first mall never created it.
	case qerr != nil:
		// The first mall cannot be reached to confirm: the order does NOT move. A create
		// sent by an earlier attempt may have landed there unseen; moving now could leave
		// one group order bought at two malls, which no bank or auditor can accept. The
		// job retries, and asks again next time.
		log.Warn("failover waits: the first mall cannot confirm it does not hold the order",
			slog.String("to", string(to)), slog.String("error", qerr.Error()))
		return o, nil
	case strings.EqualFold(view.Status, "CANCELLED"):
		// Both specs' word for an order cancelled at the mall.
		first.Cancelled, first.Status = true, view.Status
	default:
		// The first mall has the order, live: it reached its mall after all.
		if err := r.orders.MarkSubmitted(ctx, id, view.MallOrderNo); err != nil {
			return nil, fmt.Errorf("dispatch: mark order %d submitted: %w", id, err)
		}
		log.Info("failover not needed: the first mall holds the order", slog.String("mall_order_no", view.MallOrderNo))
		return r.reload(ctx, id)
	}
	moved, why, err := r.orders.MoveToMall(ctx, id, from, to, first)
	if err != nil {
		return nil, fmt.Errorf("dispatch: move order %d to %s: %w", id, to, err)
	}
	if moved == nil {
		log.Info("order not moved", slog.String("to", string(to)), slog.String("why", why))
		return r.reload(ctx, id)
	}
	r.metrics.failovers.WithLabelValues(string(from), string(to)).Inc()
	log.Warn("order moved to another mall", slog.String("from", string(from)), slog.String("to", string(to)),
		slog.String("new_out_order_no", string(moved.OutOrderNo)))
	return r.reload(ctx, id)
}

func (r *Runner) reload(ctx context.Context, id int64) (*orders.GroupOrder, error) {
	o, err := r.store.Order(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("dispatch: reload order %d: %w", id, err)
	}
	return o, nil
}
