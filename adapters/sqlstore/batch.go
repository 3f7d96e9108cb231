package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"

	"aidmall/attribution"
	"aidmall/bizday"
	"aidmall/households"
	"aidmall/money"
	"aidmall/orders"
)

// Batches (orders.ApplyBatch): a statement's events applied a few hundred at a time, in
// one transaction each, with a bounded number of statements per batch rather than a score
// per event: the orders locked and loaded in one query, the events recorded in multi-row
// inserts, what working the orders out reads loaded in one query per table (Prefetch),
// and what it saves written in bulk before the commit (flush).

// batchIn is how many keys one IN list or VALUES list holds.
const batchIn = 500

// batch is what a BatchTx prefetched and what it deferred.
type batch struct {
	on       bool // prefetched: reads below served, saves deferred
	events   map[int64][]orders.RecordedEvent
	supplies map[int64]map[int64]orders.LineSupply
	booked   map[int64][]attribution.Entry
	links    map[string][]households.Linkage
	loaded   map[int64]orders.GroupOrder // each locked order as loaded (SaveOrderState's check)

	lines  []orders.Line
	states []eventState
	saved  []orders.GroupOrder
	ledger []ledgerRow
}

type eventState struct {
	row           int64
	state, reason string
}

var _ orders.BatchTx = (*txn)(nil)

// InBatchTx is InTx with an orders.BatchTx (orders.BatchStore).
func (s *Store) InBatchTx(ctx context.Context, fn func(tx orders.BatchTx) error) error {
	return s.inTxn(ctx, &batch{loaded: map[int64]orders.GroupOrder{}}, func(t *txn) error { return fn(t) })
}

// chunks calls fn with keys in slices of at most batchIn.
func chunks[T any](keys []T, fn func([]T) error) error {
	for len(keys) > 0 {
		n := min(batchIn, len(keys))
		if err := fn(keys[:n]); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// padIn returns keys for an IN list, padded with the last key to a length of a few
// (8, 16, 32, … up to batchIn), so that a query's text takes few forms and its SQLite
// statement stays compiled (stmtcache.go); a key listed twice changes no IN.
func padIn[K any](keys []K) []K {
	if len(keys) == 0 {
		return keys
	}
	size := 8
	for size < len(keys) {
		size *= 2
	}
	size = min(size, max(batchIn, len(keys)))
	out := slices.Grow(slices.Clone(keys), size-len(keys))
	for len(out) < size {
		out = append(out, keys[len(keys)-1])
	}
	return out
}

// selectIn runs q (with one "IN (?)" for keys, after args) over keys in chunks,
// appending the rows to dest.
func selectIn[R any, K any](ctx context.Context, tx *sqlx.Tx, dest *[]R, q string, keys []K, args ...any) error {
	return chunks(keys, func(ks []K) error {
		query, a, err := sqlx.In(q, append(slices.Clone(args), padIn(ks))...)
		if err != nil {
			return err
		}
		var rows []R
		if err := tx.SelectContext(ctx, &rows, tx.Rebind(query), a...); err != nil {
			return err
		}
		*dest = append(*dest, rows...)
		return nil
	})
}

func (t *txn) LockOrdersByOutOrderNo(ctx context.Context, mall orders.Mall, nos []orders.OutOrderNo) (map[orders.OutOrderNo]*orders.GroupOrder, error) {
	out := map[orders.OutOrderNo]*orders.GroupOrder{}
	if len(nos) == 0 {
		return out, nil
	}
	sorted := slices.Clone(nos)
	slices.Sort(sorted)
	var ids []int64
	if err := selectIn(ctx, t.tx, &ids, `SELECT id FROM group_orders WHERE mall = ? AND out_order_no IN (?) ORDER BY id`+t.s.db.forUpdate(), sorted, mall); err != nil {
		return nil, fmt.Errorf("lock orders: %w", err)
	}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []orderRow
	if err := selectIn(ctx, t.tx, &rows, `SELECT `+orderCols+` FROM group_orders WHERE id IN (?)`, ids); err != nil {
		return nil, fmt.Errorf("load orders: %w", err)
	}
	var lines []lineRow
	if err := selectIn(ctx, t.tx, &lines, `SELECT `+lineCols+` FROM order_lines WHERE order_id IN (?) ORDER BY order_id, line_no`, ids); err != nil {
		return nil, fmt.Errorf("load order lines: %w", err)
	}
	byID := make(map[int64]*orders.GroupOrder, len(rows))
	for _, r := range rows {
		o := r.order()
		byID[o.ID] = o
		out[o.OutOrderNo] = o
	}
	for _, l := range lines {
		if o := byID[l.OrderID]; o != nil {
			o.Lines = append(o.Lines, l.line())
		}
	}
	for id, o := range byID {
		c := *o
		c.Lines = slices.Clone(o.Lines)
		t.b.loaded[id] = c
	}
	return out, nil
}

func (t *txn) Parked(ctx context.Context, mall orders.Mall, nos []orders.OutOrderNo) (map[orders.OutOrderNo]bool, error) {
	var got []orders.OutOrderNo
	if err := selectIn(ctx, t.tx, &got, `SELECT DISTINCT out_order_no FROM fulfilment_events
		WHERE mall = ? AND state = 'parked' AND out_order_no IN (?)`, nos, mall); err != nil {
		return nil, fmt.Errorf("parked events: %w", err)
	}
	out := make(map[orders.OutOrderNo]bool, len(got))
	for _, no := range got {
		out[no] = true
	}
	return out, nil
}

func (t *txn) RecordEvents(ctx context.Context, evs []orders.FulfilmentEvent, orderIDs []int64) ([]int64, error) {
	rows := make([]int64, len(evs))
	type key struct {
		no orders.OutOrderNo
		id orders.MallEventID
	}
	at := make(map[key]int, len(evs))
	var moved []int64 // applied delivered and refunded events (the units rollups)
	now := t.s.utcNow()
	idx := make([]int, len(evs))
	for i := range idx {
		idx[i] = i
	}
	err := chunks(idx, func(is []int) error {
		var b strings.Builder
		b.WriteString(`INSERT INTO fulfilment_events
			(mall, event_id, out_order_no, mall_order_no, type, line_no, quantity, refund_fen, occurred_at, business_day,
			 logistics_no, source, received_at, order_id, state) VALUES `)
		args := make([]any, 0, 15*len(is))
		for j, i := range is {
			ev := evs[i]
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			order := sql.NullInt64{Int64: orderIDs[i], Valid: orderIDs[i] != 0}
			state := orders.EventApplied
			if !order.Valid {
				state = orders.EventParked
			}
			args = append(args, ev.Mall, ev.EventID, ev.OutOrderNo, ev.MallOrderNo, ev.Type, ev.LineNo, ev.Quantity, int64(ev.RefundFen),
				ev.OccurredAt.UTC(), bizday.Of(ev.OccurredAt).String(), ev.LogisticsNo, ev.Source, now, order, state)
			at[key{ev.OutOrderNo, ev.EventID}] = i
		}
		b.WriteString(` ON CONFLICT (mall, out_order_no, event_id) DO NOTHING RETURNING id, out_order_no, event_id`)
		var got []struct {
			ID         int64              `db:"id"`
			OutOrderNo orders.OutOrderNo  `db:"out_order_no"`
			EventID    orders.MallEventID `db:"event_id"`
		}
		if err := t.tx.SelectContext(ctx, &got, t.tx.Rebind(b.String()), args...); err != nil {
			return fmt.Errorf("record events: %w", translate(err))
		}
		for _, g := range got {
			i, ok := at[key{g.OutOrderNo, g.EventID}]
			if !ok {
				return fmt.Errorf("record events: stored an event not asked for (%s %s)", g.OutOrderNo, g.EventID)
			}
			rows[i] = g.ID
			t.written++
			if orderIDs[i] != 0 && (evs[i].Type == orders.EventDelivered || evs[i].Type == orders.EventRefunded) {
				moved = append(moved, g.ID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Recorded applied: their units are added last (lateSums), as a single event's are,
	// the unit figures after the ledger's rollups (writeLate). An event of them held later
	// in the batch takes its units back at the flush, before its state changes (the
	// figures' sum is the same, later).
	t.late.units = append(t.late.units, moved...)
	return rows, nil
}

// addUnitsOf adds sign × the units of the events rows (those of them meeting cond) to
// the units rollups (addUnits), in chunks.
func (t *txn) addUnitsOf(ctx context.Context, rows []int64, cond, sign string) error {
	return chunks(rows, func(rs []int64) error {
		q, args, err := sqlx.In(`e.id IN (?) AND `+cond, rs)
		if err != nil {
			return err
		}
		return addUnits(ctx, t, "e.order_id", nil, q, args, sign, nil)
	})
}

type batchEventRow struct {
	OrderID int64 `db:"order_id"`
	eventRow
}

type batchSupplyRow struct {
	OrderID int64 `db:"order_id"`
	supplyRow
}

type batchBookedRow struct {
	LineID int64 `db:"line_id"`
	bookedRow
}

func (t *txn) Prefetch(ctx context.Context, os []*orders.GroupOrder) error {
	b := t.b
	b.events = make(map[int64][]orders.RecordedEvent, len(os))
	b.supplies = make(map[int64]map[int64]orders.LineSupply, len(os))
	b.booked = map[int64][]attribution.Entry{}
	b.links = map[string][]households.Linkage{}
	ids := make([]int64, 0, len(os))
	var lineIDs []int64
	for _, o := range os {
		ids = append(ids, o.ID)
		b.events[o.ID] = nil
		b.supplies[o.ID] = map[int64]orders.LineSupply{}
		for _, l := range o.Lines {
			lineIDs = append(lineIDs, l.ID)
			b.booked[l.ID] = nil
		}
	}
	var evs []batchEventRow
	if err := selectIn(ctx, t.tx, &evs, `SELECT order_id, id, event_id, mall, out_order_no, mall_order_no, type, line_no,
		quantity, refund_fen, occurred_at, state, held_reason FROM fulfilment_events WHERE order_id IN (?) ORDER BY order_id, id`, ids); err != nil {
		return fmt.Errorf("load events: %w", err)
	}
	for _, r := range evs {
		b.events[r.OrderID] = append(b.events[r.OrderID], r.recorded())
	}
	var sups []batchSupplyRow
	if err := selectIn(ctx, t.tx, &sups, `SELECT l.order_id, l.id AS line_id, l.sku, p.category, p.supplier_code, s.county_code
		FROM order_lines l JOIN products p ON p.sku = l.sku JOIN suppliers s ON s.code = p.supplier_code
		WHERE l.order_id IN (?)`, ids); err != nil {
		return fmt.Errorf("load line supplies: %w", err)
	}
	var suppliers []string
	for _, r := range sups {
		b.supplies[r.OrderID][r.LineID] = r.supply()
		if _, ok := b.links[r.SupplierCode]; !ok {
			b.links[r.SupplierCode] = nil
			suppliers = append(suppliers, r.SupplierCode)
		}
	}
	var booked []batchBookedRow
	if err := selectIn(ctx, t.tx, &booked, `SELECT le.line_id, e.event_id, le.household_no, le.business_day, le.concerns_day,
		le.adjustment, SUM(le.amount_fen) AS amount
		FROM ledger_entries le JOIN fulfilment_events e ON e.id = le.event_row_id
		WHERE le.line_id IN (?) GROUP BY le.line_id, e.event_id, le.household_no, le.business_day, le.concerns_day, le.adjustment`, lineIDs); err != nil {
		return fmt.Errorf("load booked ledger: %w", err)
	}
	for _, r := range booked {
		e, err := r.entry()
		if err != nil {
			return err
		}
		b.booked[r.LineID] = append(b.booked[r.LineID], e)
	}
	slices.Sort(suppliers)
	var links []linkageRow
	if err := selectIn(ctx, t.tx, &links, `SELECT supplier_code, household_no, type, weight_e4, valid_from, valid_to
		FROM linkages WHERE supplier_code IN (?) ORDER BY supplier_code, household_no, type, valid_from`, suppliers); err != nil {
		return fmt.Errorf("linkages: %w", err)
	}
	for _, r := range links {
		l, err := r.linkage()
		if err != nil {
			return err
		}
		b.links[r.SupplierCode] = append(b.links[r.SupplierCode], l)
	}
	b.on = true
	return nil
}

// flush writes what a batch deferred, in bulk: the line quantities, the event states
// (and the units they move), the orders' state and the ledger with its rollups.
func (t *txn) flush(ctx context.Context) error {
	b := t.b
	if !b.on {
		return nil
	}
	b.on = false
	if err := chunks(b.lines, func(ls []orders.Line) error {
		var v strings.Builder
		args := make([]any, 0, 5*len(ls))
		for i, l := range ls {
			if i > 0 {
				v.WriteString(", ")
			}
			v.WriteString("(CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT))")
			args = append(args, l.ID, l.ShippedQty, l.DeliveredQty, int64(l.RefundedFen), l.HeldEvents)
		}
		_, err := t.tx.ExecContext(ctx, t.tx.Rebind(`WITH v (id, shipped, delivered, refunded, held) AS (VALUES `+v.String()+`)
			UPDATE order_lines SET shipped_qty = v.shipped, delivered_qty = v.delivered, refunded_fen = v.refunded, held_events = v.held
			FROM v WHERE order_lines.id = v.id`), args...)
		return err
	}); err != nil {
		return fmt.Errorf("update lines: %w", err)
	}

	// Units move when an event starts or stops moving money (applied ↔ held), as
	// SaveEventState: before the states change.
	var toApplied, fromApplied []int64
	for _, s := range b.states {
		if s.state == string(orders.EventApplied) {
			toApplied = append(toApplied, s.row)
		} else {
			fromApplied = append(fromApplied, s.row)
		}
	}
	if err := t.addUnitsOf(ctx, toApplied, "e.state <> 'applied'", "1"); err != nil {
		return err
	}
	if err := t.addUnitsOf(ctx, fromApplied, "e.state = 'applied'", "-1"); err != nil {
		return err
	}
	if err := chunks(b.states, func(ss []eventState) error {
		var v strings.Builder
		args := make([]any, 0, 3*len(ss))
		for i, s := range ss {
			if i > 0 {
				v.WriteString(", ")
			}
			v.WriteString("(CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS TEXT))")
			args = append(args, s.row, s.state, s.reason)
		}
		_, err := t.tx.ExecContext(ctx, t.tx.Rebind(`WITH v (id, state, reason) AS (VALUES `+v.String()+`)
			UPDATE fulfilment_events SET state = v.state, held_reason = v.reason FROM v WHERE fulfilment_events.id = v.id`), args...)
		return err
	}); err != nil {
		return fmt.Errorf("update event states: %w", err)
	}

	// An order's state as workOut changes it (flags, mall order number, status) in bulk;
	// an order changed otherwise since it was loaded is saved whole.
	var same []orders.GroupOrder
	for _, o := range b.saved {
		if loaded, ok := b.loaded[o.ID]; ok && onlyStateChanged(loaded, o) {
			same = append(same, o)
			continue
		}
		if err := t.saveOrderState(ctx, &o); err != nil {
			return err
		}
	}
	now := t.s.utcNow()
	if err := chunks(same, func(os []orders.GroupOrder) error {
		var v strings.Builder
		args := make([]any, 0, 5*len(os)+1)
		for i, o := range os {
			if i > 0 {
				v.WriteString(", ")
			}
			v.WriteString("(CAST(? AS BIGINT), CAST(? AS BOOLEAN), CAST(? AS BOOLEAN), CAST(? AS TEXT), CAST(? AS TEXT))")
			args = append(args, o.ID, o.Accepted, o.Cancelled, o.MallOrderNo, string(o.Status))
		}
		q := `WITH v (id, accepted, cancelled, mall_order_no, status) AS (VALUES ` + v.String() + `)
			UPDATE group_orders SET accepted = v.accepted, cancelled = v.cancelled, mall_order_no = v.mall_order_no,
			status = v.status, updated_at = ? FROM v WHERE group_orders.id = v.id`
		args = append(args, now) // updated_at's, after the VALUES in the text
		_, err := t.tx.ExecContext(ctx, t.tx.Rebind(q), args...)
		return err
	}); err != nil {
		return fmt.Errorf("update orders: %w", err)
	}
	if err := insertLedgerRows(ctx, t.tx, now, b.ledger); err != nil {
		return err
	}
	t.late.ledger = append(t.late.ledger, b.ledger...) // added to the rollups last (writeLate)
	return nil
}

// onlyStateChanged says whether o differs from loaded at most in what workOut sets.
func onlyStateChanged(loaded, o orders.GroupOrder) bool {
	loaded.Accepted, loaded.Cancelled, loaded.MallOrderNo, loaded.Status = o.Accepted, o.Cancelled, o.MallOrderNo, o.Status
	loaded.Lines, o.Lines = nil, nil
	return reflect.DeepEqual(loaded, o)
}

// recorded is the event row as orders reads it.
func (r eventRow) recorded() orders.RecordedEvent {
	return orders.RecordedEvent{Row: r.ID, State: orders.EventState(r.State), HeldReason: r.HeldReason,
		Event: orders.FulfilmentEvent{Mall: orders.Mall(r.Mall), EventID: r.EventID, Type: orders.EventType(r.Type),
			OutOrderNo: r.OutOrderNo, MallOrderNo: r.MallOrderNo, LineNo: r.LineNo, Quantity: r.Quantity,
			RefundFen: money.Fen(r.RefundFen), OccurredAt: r.OccurredAt, LogisticsNo: r.LogisticsNo, Source: r.Source}}
}

func (r supplyRow) supply() orders.LineSupply {
	return orders.LineSupply{SKU: r.SKU, Category: r.Category, SupplierCode: r.SupplierCode, CountyCode: r.CountyCode}
}

// eventsOf returns the prefetched events of order orderID; ok false when b is nil or did
// not prefetch them.
func (b *batch) eventsOf(orderID int64) ([]orders.RecordedEvent, bool) {
	if b == nil || !b.on {
		return nil, false
	}
	evs, ok := b.events[orderID]
	return evs, ok
}
