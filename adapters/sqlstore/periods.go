package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"aidmall/attribution"
	"aidmall/bizday"
	"aidmall/households"
	"aidmall/money"
	"aidmall/orders"
)

// Closed periods (ATTRIBUTION.md §5): the store loads and saves; orders and attribution
// decide (orders.Service.ClosePeriod, ReopenPeriod; attribution.Closed.Place).

type periodRow struct {
	ID           int64      `db:"id"`
	Period       string     `db:"period"`
	ClosedAt     time.Time  `db:"closed_at"`
	ClosedBy     string     `db:"closed_by"`
	Reason       string     `db:"reason"`
	ReopenedAt   *time.Time `db:"reopened_at"`
	ReopenedBy   string     `db:"reopened_by"`
	ReopenReason string     `db:"reopen_reason"`
}

func (r periodRow) record() (orders.PeriodRecord, error) {
	p, err := attribution.ParsePeriod(r.Period)
	if err != nil {
		return orders.PeriodRecord{}, fmt.Errorf("closed period %d: %w", r.ID, err)
	}
	return orders.PeriodRecord{ClosedPeriod: attribution.ClosedPeriod{ID: r.ID, Period: p, ClosedAt: r.ClosedAt.UTC(),
		ClosedBy: r.ClosedBy, Reason: r.Reason}, ReopenedAt: r.ReopenedAt, ReopenedBy: r.ReopenedBy, ReopenReason: r.ReopenReason}, nil
}

const periodCols = `id, period, closed_at, closed_by, reason, reopened_at, reopened_by, reopen_reason`

// closedPeriods reads the periods closed now, by their days.
func closedPeriods(ctx context.Context, q sqlx.QueryerContext) (attribution.Closed, error) {
	var rows []periodRow
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT `+periodCols+` FROM closed_periods WHERE reopened_at IS NULL ORDER BY first_day`); err != nil {
		return nil, fmt.Errorf("closed periods: %w", err)
	}
	out := make(attribution.Closed, 0, len(rows))
	for _, r := range rows {
		rec, err := r.record()
		if err != nil {
			return nil, err
		}
		out = append(out, rec.ClosedPeriod)
	}
	return out, nil
}

func (t *txn) lockPeriods(ctx context.Context, mode string) (attribution.Closed, error) {
	if t.s.db.Dialect == Postgres {
		var id int64
		if err := t.tx.GetContext(ctx, &id, `SELECT id FROM ledger_period_lock WHERE id = 1 FOR `+mode); err != nil {
			return nil, fmt.Errorf("lock closed periods: %w", err)
		}
	}
	return closedPeriods(ctx, t.tx)
}

func (t *txn) ClosedPeriods(ctx context.Context) (attribution.Closed, error) {
	return t.lockPeriods(ctx, "SHARE")
}

func (t *txn) LockPeriods(ctx context.Context) (attribution.Closed, error) {
	return t.lockPeriods(ctx, "UPDATE")
}

func (t *txn) FirstLedgerDay(ctx context.Context) (bizday.Day, error) {
	var first *string
	if err := t.tx.GetContext(ctx, &first, `SELECT MIN(business_day) FROM ledger_entries`); err != nil {
		return bizday.Day{}, fmt.Errorf("first ledger day: %w", err)
	}
	if first == nil {
		return bizday.Day{}, nil
	}
	return bizday.Parse(*first)
}

func (t *txn) ClosePeriod(ctx context.Context, p attribution.ClosedPeriod) (int64, error) {
	var id int64
	err := t.tx.GetContext(ctx, &id, t.tx.Rebind(`INSERT INTO closed_periods (period, first_day, last_day, closed_at, closed_by, reason)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`), p.Name, p.First.String(), p.Last.String(), p.ClosedAt.UTC(), p.ClosedBy, p.Reason)
	if err != nil {
		return 0, fmt.Errorf("close period %s: %w", p.Name, translate(err))
	}
	if _, err := t.tx.ExecContext(ctx, t.tx.Rebind(`INSERT INTO closed_period_members (period_id, household_no, members)
		SELECT ?, household_no, members FROM households`), id); err != nil {
		return 0, fmt.Errorf("member counts of period %s: %w", p.Name, translate(err))
	}
	return id, nil
}

func (t *txn) ReopenPeriod(ctx context.Context, id int64, by, reason string) error {
	if _, err := t.tx.ExecContext(ctx, t.tx.Rebind(`UPDATE closed_periods SET reopened_at = ?, reopened_by = ?, reopen_reason = ?
		WHERE id = ? AND reopened_at IS NULL`), t.s.utcNow(), by, reason, id); err != nil {
		return fmt.Errorf("reopen period: %w", err)
	}
	return nil
}

func (t *txn) Adjustments(ctx context.Context, p attribution.Period) ([]orders.BookedAdjustment, error) {
	var rows []struct {
		OrderID     int64                   `db:"order_id"`
		LineID      int64                   `db:"line_id"`
		EventRow    int64                   `db:"event_row_id"`
		HouseholdNo *households.HouseholdNo `db:"household_no"`
		Day         string                  `db:"business_day"`
		Concerns    string                  `db:"concerns_day"`
		Source      string                  `db:"source"`
		Amount      int64                   `db:"amount"`
	}
	if err := t.tx.SelectContext(ctx, &rows, t.tx.Rebind(`SELECT l.order_id, le.line_id, le.event_row_id, le.household_no,
		le.business_day, le.concerns_day, le.source, SUM(le.amount_fen) AS amount
		FROM ledger_entries le JOIN order_lines l ON l.id = le.line_id
		WHERE le.adjustment AND le.concerns_day BETWEEN ? AND ? AND le.business_day > ?
		GROUP BY l.order_id, le.line_id, le.event_row_id, le.household_no, le.business_day, le.concerns_day, le.source
		ORDER BY l.order_id, le.line_id, le.event_row_id, le.business_day`), p.First.String(), p.Last.String(), p.Last.String()); err != nil {
		return nil, fmt.Errorf("adjustments of %s: %w", p.Name, err)
	}
	out := make([]orders.BookedAdjustment, 0, len(rows))
	for _, r := range rows {
		if r.Amount == 0 {
			continue
		}
		day, err := bizday.Parse(r.Day)
		if err != nil {
			return nil, err
		}
		concerns, err := bizday.Parse(r.Concerns)
		if err != nil {
			return nil, err
		}
		e := orders.LedgerEntry{LineID: r.LineID, EventRow: r.EventRow, Day: day, Concerns: concerns, Adjustment: true,
			Amount: money.Fen(r.Amount), Source: orders.EventType(r.Source)}
		if r.HouseholdNo != nil {
			e.HouseholdNo = *r.HouseholdNo
		}
		out = append(out, orders.BookedAdjustment{OrderID: r.OrderID, LedgerEntry: e})
	}
	return out, nil
}

// Periods returns every period ever closed, reopened ones too, latest closing first.
func (s *Store) Periods(ctx context.Context) ([]orders.PeriodRecord, error) {
	var rows []periodRow
	if err := s.db.SelectContext(ctx, &rows, `SELECT `+periodCols+` FROM closed_periods ORDER BY id DESC`); err != nil {
		return nil, fmt.Errorf("closed periods: %w", err)
	}
	out := make([]orders.PeriodRecord, 0, len(rows))
	for _, r := range rows {
		rec, err := r.record()
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// ClosedNow returns the periods closed now, by their days.
func (s *Store) ClosedNow(ctx context.Context) (attribution.Closed, error) {
	return closedPeriods(ctx, s.db)
}

// membersTable is the table of member counts (household_no, members) a report of from..to
// takes (ATTRIBUTION.md §3.3, §5.3): as registered when the period was closed when from..to
// lies wholly inside closed periods (attribution.Closed.Snapshot decides which), the
// current registry otherwise. q reads in the report's own snapshot.
func membersTable(ctx context.Context, q sqlx.QueryerContext, from, to bizday.Day) (string, error) {
	closed, err := closedPeriods(ctx, q)
	if err != nil {
		return "", err
	}
	if p, ok := closed.Snapshot(from, to); ok {
		return `(SELECT household_no, members FROM closed_period_members WHERE period_id = ` + strconv.FormatInt(p.ID, 10) + `)`, nil
	}
	return `households`, nil
}
