package sqlstore

import (
	"context"
	"fmt"
	"time"

	"aidmall/orders"
)

// OrderEvents returns the fulfilment events recorded for order orderID (shipments,
// deliveries, refunds, cancellations, acceptance), as the order's timeline: in the order
// they happened (occurred_at, then as recorded), each with its state and why it is held.
// Duplicates were never recorded; parked events appear once their order adopted them.
// It reads; the caller has checked that whoever asks may see the order.
func (s *Store) OrderEvents(ctx context.Context, orderID int64) ([]orders.RecordedEvent, error) {
	var rows []eventRow
	if err := s.db.SelectContext(ctx, &rows, s.db.Rebind(`SELECT id, event_id, mall, out_order_no, mall_order_no, type, line_no,
		quantity, refund_fen, occurred_at, state, held_reason, logistics_no, source
		FROM fulfilment_events WHERE order_id = ? ORDER BY occurred_at, id`), orderID); err != nil {
		return nil, fmt.Errorf("order events: %w", err)
	}
	out := make([]orders.RecordedEvent, len(rows))
	for i, r := range rows {
		out[i] = r.recorded()
		out[i].Event.OccurredAt = r.OccurredAt.UTC()
	}
	return out, nil
}

// OrderSteps returns the steps recorded on order orderID's mall order besides the malls'
// events — dispatch given up, sent again by hand, the two steps of a failover — in the
// order they were recorded. It reads; the caller has checked that whoever asks may see the
// order.
func (s *Store) OrderSteps(ctx context.Context, orderID int64) ([]orders.OrderStep, error) {
	var rows []struct {
		At         time.Time `db:"at"`
		Step       string    `db:"step"`
		Mall       string    `db:"mall"`
		OutOrderNo string    `db:"out_order_no"`
		Detail     string    `db:"detail"`
		Actor      string    `db:"actor"`
	}
	if err := s.db.SelectContext(ctx, &rows, s.db.Rebind(`SELECT at, step, mall, out_order_no, detail, actor
		FROM order_steps WHERE order_id = ? ORDER BY id`), orderID); err != nil {
		return nil, fmt.Errorf("order steps: %w", err)
	}
	out := make([]orders.OrderStep, len(rows))
	for i, r := range rows {
		out[i] = orders.OrderStep{At: r.At.UTC(), Step: r.Step, Mall: orders.Mall(r.Mall), OutOrderNo: orders.OutOrderNo(r.OutOrderNo),
			Detail: r.Detail, Actor: r.Actor}
	}
	return out, nil
}
