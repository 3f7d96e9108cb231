package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"aidmall/attribution"
	"aidmall/bizday"
	"aidmall/money"
	"aidmall/orders"
)

// ApplyEvent records ev and applies it in one transaction (see orders.Store). The order
// row is locked first, so concurrent events of one order are worked out one after the
// other, each seeing the ones committed before it; the unique key (mall, out_order_no,
// event_id) makes a repeated or concurrent copy of the same event a no-op.
//
// Event ids are unique per order rather than per mall: the reference sandbox replays a
// bundle's scripted ids for every order placed with the same order_ref, and a real mall's
// ids, being unique per mall, are unique per order too.
func (s *Store) ApplyEvent(ctx context.Context, ev orders.FulfilmentEvent) (orders.ApplyResult, error) {
	var res orders.ApplyResult
	err := s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		res = orders.ApplyResult{}
		var orderID sql.NullInt64
		err := tx.GetContext(ctx, &orderID, tx.Rebind(`SELECT id FROM group_orders WHERE mall = ? AND out_order_no = ?`+s.db.forUpdate()),
			ev.Mall, ev.OutOrderNo)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("find order %q: %w", ev.OutOrderNo, err)
		}
		state := "applied"
		adopted := int64(0)
		if !orderID.Valid {
			state = "parked"
		} else {
			// Events parked while the order's own transaction was uncommitted (history
			// loaded while a statement is applied) are adopted by the next event of it.
			r, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE fulfilment_events SET order_id = ?, state = 'applied'
				WHERE mall = ? AND out_order_no = ? AND state = 'parked'`), orderID.Int64, ev.Mall, ev.OutOrderNo)
			if err != nil {
				return fmt.Errorf("adopt parked events: %w", err)
			}
			adopted, _ = r.RowsAffected()
		}
		source := ev.Source
		if source == "" {
			source = "notify"
		}
		var rowID int64
		err = tx.GetContext(ctx, &rowID, tx.Rebind(`INSERT INTO fulfilment_events
			(mall, event_id, out_order_no, mall_order_no, type, line_no, quantity, refund_fen, occurred_at, business_day,
			 logistics_no, source, received_at, order_id, state)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (mall, out_order_no, event_id) DO NOTHING RETURNING id`),
			ev.Mall, ev.EventID, ev.OutOrderNo, ev.MallOrderNo, ev.Type, ev.LineNo, ev.Quantity, int64(ev.RefundFen),
			ev.OccurredAt.UTC(), bizday.Of(ev.OccurredAt).String(), ev.LogisticsNo, source, s.utcNow(), orderID, state)
		if errors.Is(err, sql.ErrNoRows) {
			res.Duplicate = true
			if adopted > 0 {
				_, err := s.recompute(ctx, tx, orderID.Int64)
				return err
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("record event %q: %w", ev.EventID, translate(err))
		}
		if !orderID.Valid {
			res.Parked = true
			return nil
		}
		held, err := s.recompute(ctx, tx, orderID.Int64)
		if err != nil {
			return err
		}
		res.Held = held[rowID]
		return nil
	})
	return res, err
}

type eventRow struct {
	ID          int64     `db:"id"`
	EventID     string    `db:"event_id"`
	MallOrderNo string    `db:"mall_order_no"`
	Type        string    `db:"type"`
	LineNo      int       `db:"line_no"`
	Quantity    int64     `db:"quantity"`
	RefundFen   int64     `db:"refund_fen"`
	OccurredAt  time.Time `db:"occurred_at"`
	State       string    `db:"state"`
	HeldReason  string    `db:"held_reason"`
}

type sliceRow struct {
	LineID       int64  `db:"line_id"`
	SKU          string `db:"sku"`
	Category     string `db:"category"`
	SupplierCode string `db:"supplier_code"`
	CountyCode   string `db:"county_code"`
}

type bookedRow struct {
	EventID     string         `db:"event_id"`
	HouseholdNo sql.NullString `db:"household_no"`
	Day         string         `db:"business_day"`
	Amount      int64          `db:"amount"`
}

// recompute works order id out again from the set of its recorded events: flags, line
// quantities, event states, and the ledger of every line (booking the difference from what
// is booked as correcting entries, ATTRIBUTION.md §1.5). It returns the event rows now
// held for review. The caller holds the order's lock.
func (s *Store) recompute(ctx context.Context, tx *sqlx.Tx, id int64) (map[int64]bool, error) {
	o, err := s.loadOrder(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	var evs []eventRow
	if err := tx.SelectContext(ctx, &evs, tx.Rebind(`SELECT id, event_id, mall_order_no, type, line_no, quantity, refund_fen,
		occurred_at, state, held_reason FROM fulfilment_events WHERE order_id = ? ORDER BY id`), id); err != nil {
		return nil, fmt.Errorf("load events: %w", err)
	}
	var slices []sliceRow
	if err := tx.SelectContext(ctx, &slices, tx.Rebind(`SELECT l.id AS line_id, l.sku, p.category, p.supplier_code, s.county_code
		FROM order_lines l JOIN products p ON p.sku = l.sku JOIN suppliers s ON s.code = p.supplier_code
		WHERE l.order_id = ?`), id); err != nil {
		return nil, fmt.Errorf("load line slices: %w", err)
	}
	slice := map[int64]sliceRow{}
	for _, r := range slices {
		slice[r.LineID] = r
	}

	byLine := map[int][]eventRow{}
	accepted, cancelled := false, false
	mallOrderNo := o.MallOrderNo
	for _, e := range evs {
		switch orders.EventType(e.Type) {
		case orders.EventAccepted:
			accepted = true
		case orders.EventCancelled:
			cancelled = true
		default:
			byLine[e.LineNo] = append(byLine[e.LineNo], e)
		}
		if mallOrderNo == "" && e.MallOrderNo != "" {
			mallOrderNo = e.MallOrderNo
		}
	}

	held := map[int64]bool{}
	heldReason := map[int64]string{}
	known := map[int]bool{}
	now := s.utcNow()
	for i := range o.Lines {
		l := &o.Lines[i]
		known[l.LineNo] = true
		sl := slice[l.ID]
		links, err := s.linkagesOf(ctx, tx, sl.SupplierCode)
		if err != nil {
			return nil, err
		}
		var shipped int64
		var money []attribution.Event
		rowOf := map[string]eventRow{}
		for _, e := range byLine[l.LineNo] {
			rowOf[e.EventID] = e
			switch t := orders.EventType(e.Type); t {
			case orders.EventShipped:
				shipped += e.Quantity
			case orders.EventDelivered, orders.EventRefunded:
				money = append(money, attribution.Event{ID: e.EventID, Type: t, OccurredAt: e.OccurredAt,
					Quantity: e.Quantity, RefundFen: moneyFen(e.RefundFen)})
			}
		}
		out := attribution.WorkOut(attribution.Line{Quantity: l.Quantity, UnitPrice: l.UnitPrice, Linkages: links}, money)
		for _, h := range out.Held {
			r := rowOf[h.EventID]
			held[r.ID] = true
			heldReason[r.ID] = h.Reason
		}
		var booked []bookedRow
		if err := tx.SelectContext(ctx, &booked, tx.Rebind(`SELECT e.event_id, le.household_no, le.business_day, SUM(le.amount_fen) AS amount
			FROM ledger_entries le JOIN fulfilment_events e ON e.id = le.event_row_id
			WHERE le.line_id = ? GROUP BY e.event_id, le.household_no, le.business_day`), l.ID); err != nil {
			return nil, fmt.Errorf("load booked ledger: %w", err)
		}
		have := make([]attribution.Entry, 0, len(booked))
		for _, b := range booked {
			d, err := bizday.Parse(b.Day)
			if err != nil {
				return nil, fmt.Errorf("booked ledger day: %w", err)
			}
			have = append(have, attribution.Entry{EventID: b.EventID, HouseholdNo: b.HouseholdNo.String, Day: d, Amount: moneyFen(b.Amount)})
		}
		bookedEvent := map[string]bool{}
		for _, b := range have {
			bookedEvent[b.EventID] = true
		}
		var rows [][]any
		for _, c := range attribution.Corrections(have, out.Entries) {
			r, ok := rowOf[c.EventID]
			if !ok {
				return nil, fmt.Errorf("ledger entry for unknown event %q", c.EventID)
			}
			var hh any
			if c.HouseholdNo != "" {
				hh = c.HouseholdNo
			}
			rows = append(rows, []any{l.ID, r.ID, hh, c.Day.String(), int64(c.Amount), r.Type, bookedEvent[c.EventID], now,
				o.Funding, sl.CountyCode, sl.Category, sl.SKU, sl.SupplierCode, o.BranchCode, o.Mall})
		}
		if err := insertLedger(ctx, tx, rows); err != nil {
			return nil, err
		}
		nHeld := len(out.Held)
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE order_lines SET shipped_qty = ?, delivered_qty = ?, refunded_fen = ?, held_events = ? WHERE id = ?`),
			shipped, out.DeliveredQty, int64(out.RefundedFen), nHeld, l.ID); err != nil {
			return nil, fmt.Errorf("update line: %w", err)
		}
		l.ShippedQty, l.DeliveredQty, l.RefundedFen, l.HeldEvents = shipped, out.DeliveredQty, out.RefundedFen, nHeld
	}
	// Events naming a line the order does not have are held for review.
	for no, es := range byLine {
		if known[no] {
			continue
		}
		for _, e := range es {
			held[e.ID] = true
			heldReason[e.ID] = "unknown_line"
		}
	}
	for _, e := range evs {
		state, reason := "applied", ""
		if held[e.ID] {
			state, reason = "held", heldReason[e.ID]
		}
		if e.State == state && e.HeldReason == reason {
			continue
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE fulfilment_events SET state = ?, held_reason = ? WHERE id = ?`), state, reason, e.ID); err != nil {
			return nil, fmt.Errorf("update event state: %w", err)
		}
	}
	o.Accepted, o.Cancelled, o.MallOrderNo = accepted || o.Accepted, cancelled || o.Cancelled, mallOrderNo
	st := orders.DeriveStatus(o)
	if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE group_orders SET accepted = ?, cancelled = ?, mall_order_no = ?, status = ?, updated_at = ? WHERE id = ?`),
		o.Accepted, o.Cancelled, o.MallOrderNo, st, now, id); err != nil {
		return nil, fmt.Errorf("update order: %w", err)
	}
	return held, nil
}

func moneyFen(v int64) money.Fen { return money.Fen(v) }

// ledgerCols are the columns of one ledger entry, in the order insertLedger takes them.
const ledgerCols = `line_id, event_row_id, household_no, business_day, amount_fen, source, correction, booked_at,
	funding, county_code, category, sku, supplier_code, branch_code, mall`

// insertLedger books rows (each the 15 values of ledgerCols) with one statement per 200
// rows: a delivery split among a few hundred households is one round trip, not hundreds.
func insertLedger(ctx context.Context, tx *sqlx.Tx, rows [][]any) error {
	const batch = 200
	for len(rows) > 0 {
		n := min(batch, len(rows))
		var b strings.Builder
		b.WriteString("INSERT INTO ledger_entries (" + ledgerCols + ") VALUES ")
		args := make([]any, 0, n*15)
		for i, r := range rows[:n] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(" + marks(len(r)) + ")")
			args = append(args, r...)
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(b.String()), args...); err != nil {
			return fmt.Errorf("book ledger entries: %w", err)
		}
		rows = rows[n:]
	}
	return nil
}
