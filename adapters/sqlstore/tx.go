package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"aidmall/attribution"
	"aidmall/bizday"
	"aidmall/households"
	"aidmall/money"
	"aidmall/orders"
)

// InTx runs fn in one transaction (see orders.Store). On PostgreSQL the Tx's locks are
// row locks (SELECT … FOR UPDATE); SQLite's transactions are immediate (the DSN's
// _txlock=immediate, one connection) and hold the database's one write lock throughout.
func (s *Store) InTx(ctx context.Context, fn func(tx orders.Tx) error) error {
	return s.inTxn(ctx, nil, func(t *txn) error { return fn(t) })
}

// inTxn runs fn on a txn of one database transaction (a batch's when b is not nil): what
// fn leaves for the commit (a batch's saves, the late sums) is written before it, and the
// rows written and months booked are counted once it has committed. InTx, InBatchTx and
// InSavepointTx are this with their own Tx interface.
func (s *Store) inTxn(ctx context.Context, b *batch, fn func(t *txn) error) error {
	var t *txn
	if err := s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		t = &txn{s: s, tx: tx, b: b}
		if err := fn(t); err != nil {
			return err
		}
		if err := t.writeJobs(ctx); err != nil {
			return err
		}
		if b != nil {
			if err := t.flush(ctx); err != nil {
				return err
			}
		}
		return t.writeLate(ctx)
	}); err != nil {
		return err
	}
	s.wrote(t.written)
	s.bookedMonths(t.months)
	return nil
}

// rework runs orders.Rework for the suppliers codes in tx (a registry import's: the
// ledger follows the registry in the same transaction), with what it left for last
// written (writeLate).
func (s *Store) rework(ctx context.Context, tx *sqlx.Tx, codes []string) (orders.Changes, error) {
	t := &txn{s: s, tx: tx}
	ch, err := orders.Rework(ctx, t, codes)
	if err != nil {
		return ch, err
	}
	return ch, t.writeLate(ctx)
}

// txn is an orders.Tx over one sqlx transaction: it loads, locks and saves; the use cases
// decide in orders. It is made by InTx, InBatchTx and rework only, each of which writes
// what it left for last (writeLate) before the transaction commits.
type txn struct {
	s       *Store
	tx      *sqlx.Tx
	written int             // events and ledger entries written (Store.wrote)
	months  map[string]bool // business months entries were booked on (Store.bookedMonths)
	b       *batch          // InBatchTx's prefetched reads and deferred saves; nil in InTx
	late    lateSums        // what the transaction adds to the rollups, written last (writeLate)
	keys    [][]any         // Idempotency-Keys taken since DeferKeys, not yet written (savepoint.go)
	// jobs are the orders stored in a shared placement transaction (InSavepointTx) whose
	// dispatch jobs are not yet inserted: they go in together (writeJobs), in one River
	// insert instead of one an order; deferJobs says the transaction defers them.
	jobs      []int64
	deferJobs bool
	// unitFigs are the additions to the unit figures worked out so far (addUnits, in
	// the database, when the events' units move), written in key order last of all
	// (writeLate): every delivery of every mall shares their rows.
	unitFigs map[benefitSlice][2]int64
}

// lateSums is what a transaction adds to the rollups, kept until just before its commit.
// Rollup rows are shared: every delivery of one SKU to one branch in a month adds to one
// units row, every delivery of one supplier to its households' rows, every delivery to
// the benefit figures' whole-ledger row. On PostgreSQL a row added to stays locked until
// the commit, so an addition made where it arises (an event recorded before its order's
// events, lines and linkages are read) would hold the next delivery of the same supplier
// for the whole transaction; written last, the shared rows are held only for the
// additions and the commit. The sums are the same: additions commute.
type lateSums struct {
	ledger []ledgerRow // ledger entries booked, to add to the ledger rollups and benefit figures
	units  []int64     // events recorded or adopted as applied, whose units to add (+1)
}

// writeLate writes t.late: the units first, then the ledger rollups and the benefit
// figures, then the unit figures (t.unitFigs), in key order: the figures' rows (the whole
// ledger's, a funding's, a county's) are shared by every delivery of every mall, so on
// PostgreSQL they are locked last, for the shortest time, and in one order by every
// writer (two statements imported at once, one a mall, waited on the unit figures' rows
// for the other's whole ledger write when they came first, and deadlocked when some were
// written before the benefit figures and some after).
func (t *txn) writeLate(ctx context.Context) error {
	if err := t.addUnitsOf(ctx, t.late.units, "1 = 1", "1"); err != nil {
		return err
	}
	if len(t.late.ledger) > 0 {
		if err := addRollups(ctx, t.tx, t.late.ledger); err != nil {
			return err
		}
	}
	return t.writeUnitFigures(ctx)
}

// batching says whether t serves reads from a batch's prefetch and defers its saves.
func (t *txn) batching() bool { return t.b != nil && t.b.on }

var _ orders.Tx = (*txn)(nil)

// LockBranch takes the branch row FOR NO KEY UPDATE on PostgreSQL, not FOR UPDATE: an
// order inserted for the branch earlier in a transaction holds FOR KEY SHARE on the row
// (its foreign key), which FOR UPDATE would wait for, and two such transactions locking
// late (orders.Service.Place) would deadlock. NO KEY UPDATE still excludes every other
// LockBranch, so the budget rule's check-then-insert stays one at a time per branch.
func (t *txn) LockBranch(ctx context.Context, code string) (households.Branch, error) {
	var r branchRow
	lock := ""
	if t.s.db.Dialect == Postgres {
		lock = " FOR NO KEY UPDATE"
	}
	err := t.tx.GetContext(ctx, &r, t.tx.Rebind(`SELECT code, name, company, members FROM branches WHERE code = ?`+lock), code)
	if err != nil {
		return households.Branch{}, fmt.Errorf("branch %q: %w", code, translate(err))
	}
	return r.branch(), nil
}

func (t *txn) LockOrder(ctx context.Context, id int64) (*orders.GroupOrder, error) {
	return t.s.lockOrder(ctx, t.tx, id)
}

func (t *txn) LockOrderByOutOrderNo(ctx context.Context, mall orders.Mall, outOrderNo orders.OutOrderNo) (*orders.GroupOrder, error) {
	var id int64
	err := t.tx.GetContext(ctx, &id, t.tx.Rebind(`SELECT id FROM group_orders WHERE mall = ? AND out_order_no = ?`+t.s.db.forUpdate()),
		mall, outOrderNo)
	if err != nil {
		return nil, fmt.Errorf("order %q: %w", outOrderNo, translate(err))
	}
	return t.s.loadOrder(ctx, t.tx, id)
}

func (t *txn) OrdersOfSuppliers(ctx context.Context, suppliers []string) ([]int64, error) {
	q, args, err := sqlx.In(`SELECT DISTINCT l.order_id FROM order_lines l JOIN products p ON p.sku = l.sku
		WHERE p.supplier_code IN (?) ORDER BY l.order_id`, suppliers)
	if err != nil {
		return nil, err
	}
	var ids []int64
	if err := t.tx.SelectContext(ctx, &ids, t.tx.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("orders of suppliers: %w", err)
	}
	return ids, nil
}

func (t *txn) InsertOrder(ctx context.Context, o *orders.GroupOrder) error {
	tx := t.tx
	now := t.s.utcNow()
	o.CreatedAt = now
	const insertOrder = `INSERT INTO group_orders
		(order_ref, branch_code, buyer_name, funding, delivery_mode, ship_to_name, ship_to_phone, ship_to_address,
		 placed_at, created_at, updated_at, mall, out_order_no, mall_order_no, submitted, status, total_fen, auto_routed)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	args := []any{o.OrderRef, o.BranchCode, o.BuyerName, o.Funding, o.DeliveryMode, o.ShipTo.Name, o.ShipTo.Phone, o.ShipTo.Address,
		o.PlacedAt.UTC(), now, now, o.Mall, o.OutOrderNo, o.MallOrderNo, o.Submitted, o.Status, int64(o.Total()), o.AutoRouted}
	refused := func(err error) error {
		err = translate(err)
		switch violatedKey(err) {
		case keyOrderOutOrderNo:
			return fmt.Errorf("insert order %s: %w: %w", o.OutOrderNo, orders.ErrOutOrderNoTaken, err)
		case keyOrderRef:
			return fmt.Errorf("insert order %q: %w: %w", o.OrderRef, orders.ErrOrderRefTaken, err)
		}
		return fmt.Errorf("insert order %q: %w", o.OrderRef, err)
	}
	// The lines as one multi-row INSERT (one statement however many), their ids read back
	// by line_no: RETURNING's row order is not promised. The order's id is ? until known.
	var lines strings.Builder
	lineArgs := make([]any, 0, 7*len(o.Lines))
	byNo := make(map[int]*orders.Line, len(o.Lines))
	if len(o.Lines) > 0 {
		lines.WriteString(`INSERT INTO order_lines (order_id, line_no, sku, item_id, quantity, unit_price_fen, recipients) VALUES `)
		for i := range o.Lines {
			l := &o.Lines[i]
			rec := ""
			if len(l.Recipients) > 0 {
				b, _ := json.Marshal(l.Recipients)
				rec = string(b)
			}
			if i > 0 {
				lines.WriteString(", ")
			}
			lines.WriteString("(%[1]s, ?, ?, ?, ?, ?, ?)")
			lineArgs = append(lineArgs, l.LineNo, l.SKU, l.ItemID, l.Quantity, int64(l.UnitPrice), rec)
			byNo[l.LineNo] = l
		}
		lines.WriteString(" RETURNING id, line_no, order_id")
	}
	var ids []struct {
		ID      int64 `db:"id"`
		LineNo  int   `db:"line_no"`
		OrderID int64 `db:"order_id"`
	}
	if t.s.db.Dialect == Postgres && len(o.Lines) > 0 {
		// One round trip for the order and its lines: the order's insert is a
		// data-modifying WITH whose id every line takes (both run or neither; a taken
		// order_ref or out_order_no fails the statement as it fails the order's insert).
		q := `WITH o AS (` + insertOrder + `) ` + fmt.Sprintf(lines.String(), "(SELECT id FROM o)")
		if err := tx.SelectContext(ctx, &ids, tx.Rebind(q), append(args, lineArgs...)...); err != nil {
			return refused(err)
		}
		if len(ids) > 0 {
			o.ID = ids[0].OrderID
		}
	} else {
		if err := tx.QueryRowxContext(ctx, tx.Rebind(insertOrder), args...).Scan(&o.ID); err != nil {
			return refused(err)
		}
		if len(o.Lines) > 0 {
			all := make([]any, 0, len(lineArgs)+len(o.Lines))
			for i := 0; i < len(lineArgs); i += 6 {
				all = append(append(all, o.ID), lineArgs[i:i+6]...)
			}
			if err := tx.SelectContext(ctx, &ids, tx.Rebind(fmt.Sprintf(lines.String(), "?")), all...); err != nil {
				return fmt.Errorf("insert lines: %w", translate(err))
			}
		}
	}
	for _, r := range ids {
		if l := byNo[r.LineNo]; l != nil && r.OrderID == o.ID {
			l.ID = r.ID
		}
	}
	if len(ids) != len(o.Lines) || len(byNo) != len(o.Lines) || (len(o.Lines) > 0 && o.ID == 0) {
		return fmt.Errorf("insert lines: %d lines stored of %d", len(ids), len(o.Lines))
	}
	if !o.Submitted {
		if t.deferJobs {
			t.jobs = append(t.jobs, o.ID)
			return nil
		}
		if err := t.s.enq.EnqueueDispatch(ctx, tx.Tx, o.ID); err != nil {
			return fmt.Errorf("enqueue dispatch: %w", err)
		}
	}
	return nil
}

// writeJobs inserts the dispatch jobs deferred so far (jobs), in one insert.
func (t *txn) writeJobs(ctx context.Context) error {
	if len(t.jobs) == 0 {
		return nil
	}
	ids := t.jobs
	t.jobs = nil
	if err := t.s.enq.EnqueueDispatch(ctx, t.tx.Tx, ids...); err != nil {
		return fmt.Errorf("enqueue dispatch: %w", err)
	}
	return nil
}

func (t *txn) RequestCancel(ctx context.Context, id int64, reason string) error {
	if _, err := t.tx.ExecContext(ctx, t.tx.Rebind(`UPDATE group_orders SET cancel_requested = TRUE, cancel_refusal = '', updated_at = ? WHERE id = ?`),
		t.s.utcNow(), id); err != nil {
		return fmt.Errorf("request cancel: %w", err)
	}
	return t.s.enq.EnqueueCancel(ctx, t.tx.Tx, id, reason)
}

func (t *txn) SaveOrderState(ctx context.Context, o *orders.GroupOrder) error {
	if t.batching() {
		c := *o
		t.b.saved = append(t.b.saved, c)
		return nil
	}
	return t.saveOrderState(ctx, o)
}

func (t *txn) saveOrderState(ctx context.Context, o *orders.GroupOrder) error {
	var failedAt *time.Time
	var f orders.DispatchFailure
	if o.DispatchFailure != nil {
		f = *o.DispatchFailure
		at := f.At.UTC()
		failedAt = &at
	}
	if _, err := t.tx.ExecContext(ctx, t.tx.Rebind(`UPDATE group_orders SET submitted = ?, accepted = ?, cancelled = ?,
		cancel_requested = ?, cancel_refusal = ?, reject_code = ?, reject_message = ?, mall_order_no = ?, status = ?,
		cancel_error = ?, cancel_attempt = ?, cancel_error_at = ?,
		dispatch_failed_at = ?, dispatch_failure_reason = ?, dispatch_failure_mall_code = ?, dispatch_failure_mall_message = ?,
		dispatch_attempts = ?, dispatch_give_ups = ?, updated_at = ? WHERE id = ?`),
		o.Submitted, o.Accepted, o.Cancelled, o.CancelReq, o.CancelRefusal, o.RejectCode, o.RejectMessage,
		o.MallOrderNo, o.Status, o.CancelError, o.CancelAttempt, utcOrNil(o.CancelErrorAt),
		failedAt, f.Reason, string(f.MallCode), f.MallMessage, f.Attempts, o.DispatchGiveUps,
		t.s.utcNow(), o.ID); err != nil {
		return fmt.Errorf("update order: %w", err)
	}
	return nil
}

func (t *txn) EnqueueDispatch(ctx context.Context, id int64) error {
	if err := t.s.enq.EnqueueDispatch(ctx, t.tx.Tx, id); err != nil {
		return fmt.Errorf("enqueue dispatch: %w", err)
	}
	return nil
}

func (t *txn) MoveOrder(ctx context.Context, o *orders.GroupOrder) error {
	if _, err := t.tx.ExecContext(ctx, t.tx.Rebind(`UPDATE group_orders SET mall = ?, out_order_no = ?, total_fen = ?, updated_at = ? WHERE id = ?`),
		o.Mall, o.OutOrderNo, int64(o.Total()), t.s.utcNow(), o.ID); err != nil {
		err = translate(err)
		if violatedKey(err) == keyOrderOutOrderNo {
			return fmt.Errorf("move order %d: %w: %w", o.ID, orders.ErrOutOrderNoTaken, err)
		}
		return fmt.Errorf("move order %d: %w", o.ID, err)
	}
	for _, l := range o.Lines {
		if _, err := t.tx.ExecContext(ctx, t.tx.Rebind(`UPDATE order_lines SET item_id = ?, unit_price_fen = ? WHERE id = ?`),
			l.ItemID, int64(l.UnitPrice), l.ID); err != nil {
			return fmt.Errorf("move order %d line %d: %w", o.ID, l.LineNo, err)
		}
	}
	return nil
}

func (t *txn) RecordStep(ctx context.Context, id int64, st orders.OrderStep) error {
	if _, err := t.tx.ExecContext(ctx, t.tx.Rebind(`INSERT INTO order_steps (order_id, at, step, mall, out_order_no, detail, actor)
		VALUES (?, ?, ?, ?, ?, ?, ?)`), id, st.At.UTC(), st.Step, string(st.Mall), string(st.OutOrderNo), st.Detail, st.Actor); err != nil {
		return fmt.Errorf("record step %s of order %d: %w", st.Step, id, err)
	}
	return nil
}

func (t *txn) SaveLine(ctx context.Context, l orders.Line) error {
	if t.batching() {
		t.b.lines = append(t.b.lines, l)
		return nil
	}
	if _, err := t.tx.ExecContext(ctx, t.tx.Rebind(`UPDATE order_lines SET shipped_qty = ?, delivered_qty = ?, refunded_fen = ?, held_events = ? WHERE id = ?`),
		l.ShippedQty, l.DeliveredQty, int64(l.RefundedFen), l.HeldEvents, l.ID); err != nil {
		return fmt.Errorf("update line: %w", err)
	}
	return nil
}

func (t *txn) RecordEvent(ctx context.Context, ev orders.FulfilmentEvent, orderID int64) (int64, bool, error) {
	state := orders.EventApplied
	order := sql.NullInt64{Int64: orderID, Valid: orderID != 0}
	if !order.Valid {
		state = orders.EventParked
	}
	var row int64
	err := t.tx.GetContext(ctx, &row, t.tx.Rebind(`INSERT INTO fulfilment_events
		(mall, event_id, out_order_no, mall_order_no, type, line_no, quantity, refund_fen, occurred_at, business_day,
		 logistics_no, source, received_at, order_id, state)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (mall, out_order_no, event_id) DO NOTHING RETURNING id`),
		ev.Mall, ev.EventID, ev.OutOrderNo, ev.MallOrderNo, ev.Type, ev.LineNo, ev.Quantity, int64(ev.RefundFen),
		ev.OccurredAt.UTC(), bizday.Of(ev.OccurredAt).String(), ev.LogisticsNo, ev.Source, t.s.utcNow(), order, state)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, true, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("record event %q: %w", ev.EventID, translate(err))
	}
	t.written++
	if state == orders.EventApplied && (ev.Type == orders.EventDelivered || ev.Type == orders.EventRefunded) {
		t.late.units = append(t.late.units, row) // added last (lateSums)
	}
	return row, false, nil
}

func (t *txn) RecordedEvents(ctx context.Context, mall orders.Mall, keys []orders.EventKey) (map[orders.EventKey]orders.FulfilmentEvent, error) {
	want := make(map[orders.EventKey]bool, len(keys))
	nos := make([]orders.OutOrderNo, 0, len(keys))
	for _, k := range keys {
		if !want[k] {
			want[k] = true
			nos = append(nos, k.OutOrderNo)
		}
	}
	slices.Sort(nos)
	nos = slices.Compact(nos)
	var rows []eventRow
	if err := selectIn(ctx, t.tx, &rows, `SELECT id, event_id, mall, out_order_no, mall_order_no, type, line_no, quantity, refund_fen,
		occurred_at, logistics_no, state FROM fulfilment_events WHERE mall = ? AND out_order_no IN (?)`, nos, mall); err != nil {
		return nil, fmt.Errorf("recorded events: %w", err)
	}
	out := make(map[orders.EventKey]orders.FulfilmentEvent, len(keys))
	for _, r := range rows {
		if ev := r.recorded().Event; want[ev.Key()] {
			out[ev.Key()] = ev
		}
	}
	return out, nil
}

func (t *txn) AdoptParked(ctx context.Context, orderID int64, mall orders.Mall, outOrderNo orders.OutOrderNo) (int, error) {
	// Adopt first, then add the units of the rows adopted: an apply whose order has no
	// parked event (nearly every one) runs one statement, not three.
	var ids []int64
	if err := t.tx.SelectContext(ctx, &ids, t.tx.Rebind(`UPDATE fulfilment_events SET order_id = ?, state = 'applied'
		WHERE mall = ? AND out_order_no = ? AND state = 'parked' RETURNING id`), orderID, mall, outOrderNo); err != nil {
		return 0, fmt.Errorf("adopt parked events: %w", err)
	}
	t.late.units = append(t.late.units, ids...) // added last (lateSums)
	return len(ids), nil
}

type eventRow struct {
	ID          int64              `db:"id"`
	EventID     orders.MallEventID `db:"event_id"`
	Mall        string             `db:"mall"`
	OutOrderNo  orders.OutOrderNo  `db:"out_order_no"`
	MallOrderNo string             `db:"mall_order_no"`
	Type        string             `db:"type"`
	LineNo      int                `db:"line_no"`
	Quantity    int64              `db:"quantity"`
	RefundFen   int64              `db:"refund_fen"`
	OccurredAt  time.Time          `db:"occurred_at"`
	State       string             `db:"state"`
	HeldReason  string             `db:"held_reason"`
	LogisticsNo string             `db:"logistics_no"` // selected by the readers that show or compare it
	Source      string             `db:"source"`
}

func (t *txn) Events(ctx context.Context, orderID int64) ([]orders.RecordedEvent, error) {
	if evs, ok := t.b.eventsOf(orderID); ok {
		return evs, nil
	}
	var rows []eventRow
	if err := t.tx.SelectContext(ctx, &rows, t.tx.Rebind(`SELECT id, event_id, mall, out_order_no, mall_order_no, type, line_no,
		quantity, refund_fen, occurred_at, state, held_reason FROM fulfilment_events WHERE order_id = ? ORDER BY id`), orderID); err != nil {
		return nil, fmt.Errorf("load events: %w", err)
	}
	out := make([]orders.RecordedEvent, len(rows))
	for i, r := range rows {
		out[i] = r.recorded()
	}
	return out, nil
}

func (t *txn) SaveEventState(ctx context.Context, row int64, state orders.EventState, reason string) error {
	if t.batching() {
		t.b.states = append(t.b.states, eventState{row: row, state: string(state), reason: reason})
		return nil
	}
	// Units move when the event starts or stops moving money (applied ↔ held).
	if err := addUnits(ctx, t, "e.order_id", nil, "e.id = ? AND e.state <> ? AND (e.state = 'applied' OR ? = 'applied')",
		[]any{row, state, state}, "CASE WHEN ? = 'applied' THEN 1 ELSE -1 END", []any{state}); err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(ctx, t.tx.Rebind(`UPDATE fulfilment_events SET state = ?, held_reason = ? WHERE id = ?`), state, reason, row); err != nil {
		return fmt.Errorf("update event state: %w", err)
	}
	return nil
}

type supplyRow struct {
	LineID       int64  `db:"line_id"`
	SKU          string `db:"sku"`
	Category     string `db:"category"`
	SupplierCode string `db:"supplier_code"`
	CountyCode   string `db:"county_code"`
}

func (t *txn) Supplies(ctx context.Context, orderID int64) (map[int64]orders.LineSupply, error) {
	if t.batching() {
		if s, ok := t.b.supplies[orderID]; ok {
			return s, nil
		}
	}
	var rows []supplyRow
	if err := t.tx.SelectContext(ctx, &rows, t.tx.Rebind(`SELECT l.id AS line_id, l.sku, p.category, p.supplier_code, s.county_code
		FROM order_lines l JOIN products p ON p.sku = l.sku JOIN suppliers s ON s.code = p.supplier_code
		WHERE l.order_id = ?`), orderID); err != nil {
		return nil, fmt.Errorf("load line supplies: %w", err)
	}
	out := make(map[int64]orders.LineSupply, len(rows))
	for _, r := range rows {
		out[r.LineID] = r.supply()
	}
	return out, nil
}

func (t *txn) Linkages(ctx context.Context, supplier string) ([]households.Linkage, error) {
	if t.batching() {
		if ls, ok := t.b.links[supplier]; ok {
			return ls, nil
		}
	}
	return t.s.linkagesOf(ctx, t.tx, supplier)
}

type bookedRow struct {
	EventID     string                  `db:"event_id"` // attribution.Entry.EventID: the mall event id as text
	HouseholdNo *households.HouseholdNo `db:"household_no"`
	Day         string                  `db:"business_day"`
	Concerns    string                  `db:"concerns_day"`
	Adjustment  bool                    `db:"adjustment"`
	Amount      int64                   `db:"amount"`
}

func (t *txn) Booked(ctx context.Context, lineID int64) ([]attribution.Entry, error) {
	if t.batching() {
		if es, ok := t.b.booked[lineID]; ok {
			return es, nil
		}
	}
	var booked []bookedRow
	if err := t.tx.SelectContext(ctx, &booked, t.tx.Rebind(`SELECT e.event_id, le.household_no, le.business_day, le.concerns_day,
		le.adjustment, SUM(le.amount_fen) AS amount
		FROM ledger_entries le JOIN fulfilment_events e ON e.id = le.event_row_id
		WHERE le.line_id = ? GROUP BY e.event_id, le.household_no, le.business_day, le.concerns_day, le.adjustment`), lineID); err != nil {
		return nil, fmt.Errorf("load booked ledger: %w", err)
	}
	out := make([]attribution.Entry, 0, len(booked))
	for _, b := range booked {
		e, err := b.entry()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// entry is the booked row as attribution reads it.
func (b bookedRow) entry() (attribution.Entry, error) {
	d, err := bizday.Parse(b.Day)
	if err != nil {
		return attribution.Entry{}, fmt.Errorf("booked ledger day: %w", err)
	}
	e := attribution.Entry{EventID: b.EventID, Day: d, Amount: money.Fen(b.Amount), Adjustment: b.Adjustment}
	if b.Concerns != "" {
		if e.Concerns, err = bizday.Parse(b.Concerns); err != nil {
			return attribution.Entry{}, fmt.Errorf("booked ledger day concerned: %w", err)
		}
	}
	if b.HouseholdNo != nil {
		e.HouseholdNo = *b.HouseholdNo
	}
	return e, nil
}

func (t *txn) BookLedger(ctx context.Context, o *orders.GroupOrder, es []orders.LedgerEntry) error {
	rows := make([]ledgerRow, 0, len(es))
	for _, e := range es {
		concerns := ""
		if !e.Concerns.IsZero() {
			concerns = e.Concerns.String()
		}
		rows = append(rows, ledgerRow{LineID: e.LineID, EventRow: e.EventRow, HouseholdNo: string(e.HouseholdNo), Day: e.Day.String(),
			Amount: int64(e.Amount), Source: string(e.Source), Correction: e.Correction, Funding: string(o.Funding),
			County: e.Supply.CountyCode, Category: e.Supply.Category, SKU: e.Supply.SKU, Supplier: e.Supply.SupplierCode,
			Branch: o.BranchCode, Mall: string(o.Mall), Concerns: concerns, Adjustment: e.Adjustment})
	}
	t.written += len(rows)
	for _, r := range rows {
		if t.months == nil {
			t.months = map[string]bool{}
		}
		t.months[r.Day[:7]] = true
	}
	if t.batching() {
		t.b.ledger = append(t.b.ledger, rows...)
		return nil
	}
	if err := insertLedgerRows(ctx, t.tx, t.s.utcNow(), rows); err != nil {
		return err
	}
	t.late.ledger = append(t.late.ledger, rows...) // added to the rollups last (lateSums)
	return nil
}

// ledgerCols are the columns of one ledger entry, in the order insertLedger writes them.
const ledgerCols = `line_id, event_row_id, household_no, business_day, amount_fen, source, correction, booked_at,
	funding, county_code, category, sku, supplier_code, branch_code, mall, concerns_day, adjustment`

// insertLedgerRows books rows with one statement per 500 rows (a delivery split among a
// few hundred households is one round trip, not hundreds). It is the one writer of
// ledger_entries; its callers (BookLedger, a batch's flush) add rows to txn.late, whose
// writeLate adds them to the rollups before the transaction commits.
func insertLedgerRows(ctx context.Context, tx *sqlx.Tx, now time.Time, rows []ledgerRow) error {
	if len(rows) == 0 {
		return nil
	}
	const batch = 500
	for rest := rows; len(rest) > 0; {
		n := min(batch, len(rest))
		var b strings.Builder
		b.WriteString("INSERT INTO ledger_entries (" + ledgerCols + ") VALUES ")
		args := make([]any, 0, n*17)
		for i, r := range rest[:n] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			var hh any
			if r.HouseholdNo != "" {
				hh = r.HouseholdNo
			}
			args = append(args, r.LineID, r.EventRow, hh, r.Day, r.Amount, r.Source, r.Correction, now,
				r.Funding, r.County, r.Category, r.SKU, r.Supplier, r.Branch, r.Mall, r.Concerns, r.Adjustment)
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(b.String()), args...); err != nil {
			return fmt.Errorf("book ledger entries: %w", err)
		}
		rest = rest[n:]
	}
	return nil
}

// utcOrNil is *t in UTC, or nil (NULL).
func utcOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}
