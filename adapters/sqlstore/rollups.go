package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"

	"aidmall/attribution"
	"aidmall/bizday"
)

// Rollups (migration 00013): the ledger's sums per household, business month or day, and
// slice, kept in the transaction that books the entries, and the net units of the events
// that moved money, kept in the transaction that changes an event's state. Reports read
// them (rollupSource, unitSource) instead of the ledger and the events, so a report's time
// grows with the households and slices in its answer, not with ledger entries.

// ledgerRow is one ledger entry to insert, with its slice.
type ledgerRow struct {
	LineID, EventRow                                       int64
	HouseholdNo                                            string // "" unattributed
	Day                                                    string
	Amount                                                 int64
	Source                                                 string
	Correction                                             bool
	Funding, County, Category, SKU, Supplier, Branch, Mall string
	Concerns                                               string
	Adjustment                                             bool
}

// rollupKey is the key of one rollup row: its period (month or day) and its household
// and slice.
type rollupKey struct {
	Period, Household, Funding, County, Category, SKU, Supplier, Branch, Mall string
}

func (k rollupKey) compare(o rollupKey) int {
	return cmp.Or(cmp.Compare(k.Period, o.Period), cmp.Compare(k.Household, o.Household), cmp.Compare(k.Funding, o.Funding),
		cmp.Compare(k.County, o.County), cmp.Compare(k.Category, o.Category), cmp.Compare(k.SKU, o.SKU),
		cmp.Compare(k.Supplier, o.Supplier), cmp.Compare(k.Branch, o.Branch), cmp.Compare(k.Mall, o.Mall))
}

type rollupSums struct{ Amount, Delivered, Refunded int64 }

// rollupTables are the two grains: the table and its period column.
var rollupTables = [2]struct{ table, period string }{{"ledger_month_rollups", "month"}, {"ledger_day_rollups", "business_day"}}

// addRollups adds rows' sums to both rollup tables, one multi-row upsert per 500 keys.
// Keys go in one order (sorted), so concurrent writers on PostgreSQL take the rows'
// locks in the same order.
func addRollups(ctx context.Context, tx *sqlx.Tx, rows []ledgerRow) error {
	for grain, t := range rollupTables {
		sums := map[rollupKey]rollupSums{}
		for _, r := range rows {
			k := rollupKey{Period: r.Day, Household: r.HouseholdNo, Funding: r.Funding, County: r.County, Category: r.Category,
				SKU: r.SKU, Supplier: r.Supplier, Branch: r.Branch, Mall: r.Mall}
			if grain == 0 {
				k.Period = r.Day[:7]
			}
			s := sums[k]
			s.Amount += r.Amount
			switch r.Source {
			case "delivered":
				s.Delivered += r.Amount
			case "refunded":
				s.Refunded += r.Amount
			}
			sums[k] = s
		}
		keys := make([]rollupKey, 0, len(sums))
		for k := range sums {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, rollupKey.compare)
		const batch = 500
		for len(keys) > 0 {
			n := min(batch, len(keys))
			var b strings.Builder
			b.WriteString("INSERT INTO " + t.table + " (" + t.period + `, household_no, funding, county_code, category, sku, supplier_code,
				branch_code, mall, amount_fen, delivered_fen, refunded_fen) VALUES `)
			args := make([]any, 0, n*12)
			for i, k := range keys[:n] {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
				s := sums[k]
				args = append(args, k.Period, k.Household, k.Funding, k.County, k.Category, k.SKU, k.Supplier, k.Branch, k.Mall,
					s.Amount, s.Delivered, s.Refunded)
			}
			b.WriteString(" ON CONFLICT (" + t.period + `, household_no, funding, county_code, category, sku, supplier_code, branch_code, mall)
				DO UPDATE SET amount_fen = ` + t.table + `.amount_fen + excluded.amount_fen,
				delivered_fen = ` + t.table + `.delivered_fen + excluded.delivered_fen,
				refunded_fen = ` + t.table + `.refunded_fen + excluded.refunded_fen`)
			if _, err := tx.ExecContext(ctx, tx.Rebind(b.String()), args...); err != nil {
				return fmt.Errorf("ledger rollups: %w", err)
			}
			keys = keys[n:]
		}
	}
	return nil
}

// unitTables are the units rollup's two grains.
var unitTables = [2]struct{ table, period, expr string }{
	{"unit_month_rollups", "month", "substr(e.business_day, 1, 7)"},
	{"unit_day_rollups", "business_day", "e.business_day"},
}

// addUnits adds sign × the net units (and sign × the count) of the delivered and refunded
// events that cond selects (a condition on fulfilment_events e, with condArgs) to the units
// rollups, each event on the line of order orderExpr ("e.order_id", or "?" given as the
// first of orderArgs for events not yet adopted) that has its line number. sign is an SQL
// expression (a literal, or a CASE over e with signArgs).
func addUnits(ctx context.Context, tx *sqlx.Tx, orderExpr string, orderArgs []any, cond string, condArgs []any, sign string, signArgs []any) error {
	for _, t := range unitTables {
		args := append(append(append([]any{}, signArgs...), signArgs...), orderArgs...)
		args = append(args, condArgs...)
		q := `INSERT INTO ` + t.table + ` (` + t.period + `, sku, funding, branch_code, mall, units, events)
			SELECT ` + t.expr + `, l.sku, o.funding, o.branch_code, o.mall,
				SUM((` + sign + `) * CASE WHEN e.type = 'delivered' THEN e.quantity ELSE -e.quantity END), SUM(` + sign + `)
			FROM fulfilment_events e JOIN group_orders o ON o.id = ` + orderExpr + `
			JOIN order_lines l ON l.order_id = o.id AND l.line_no = e.line_no
			WHERE (` + cond + `) AND e.type IN ('delivered', 'refunded')
			GROUP BY ` + t.expr + `, l.sku, o.funding, o.branch_code, o.mall
			ON CONFLICT (` + t.period + `, sku, funding, branch_code, mall)
			DO UPDATE SET units = ` + t.table + `.units + excluded.units, events = ` + t.table + `.events + excluded.events`
		if _, err := tx.ExecContext(ctx, tx.Rebind(q), args...); err != nil {
			return fmt.Errorf("unit rollups: %w", err)
		}
	}
	return nil
}

// span is a report's days cut into the whole months it covers (read from the month
// rollups) and the days before and after them (read from the day rollups).
type span struct {
	months    [2]string // first and last whole month; empty when there is none
	dayRanges [][2]string
}

func spanOf(from, to bizday.Day) span {
	fm := from
	if from.String()[8:] != "01" {
		fm = attribution.NextMonth(from)
	}
	lmEnd := to // the last day of the last whole month
	if next := to.AddDays(1); next.String()[8:] != "01" {
		lmEnd = attribution.MonthStart(to).AddDays(-1)
	}
	if lmEnd.Before(fm) {
		return span{dayRanges: [][2]string{{from.String(), to.String()}}}
	}
	sp := span{months: [2]string{fm.Month(), lmEnd.Month()}}
	if from.Before(fm) {
		sp.dayRanges = append(sp.dayRanges, [2]string{from.String(), fm.AddDays(-1).String()})
	}
	if lmEnd.Before(to) {
		sp.dayRanges = append(sp.dayRanges, [2]string{lmEnd.AddDays(1).String(), to.String()})
	}
	return sp
}

// union builds "(SELECT … UNION ALL SELECT …) alias" over the month and day tables of
// one rollup: cols are the selected columns (the period column selected as business_day
// first), where an extra condition (may be "").
func (sp span) union(monthTable, dayTable, cols, where, alias string) (string, []any) {
	var parts []string
	var args []any
	if where != "" {
		where = " AND " + where
	}
	if sp.months[0] != "" {
		parts = append(parts, `SELECT month AS business_day, `+cols+` FROM `+monthTable+` WHERE month BETWEEN ? AND ?`+where)
		args = append(args, sp.months[0], sp.months[1])
	}
	for _, d := range sp.dayRanges {
		parts = append(parts, `SELECT business_day, `+cols+` FROM `+dayTable+` WHERE business_day BETWEEN ? AND ?`+where)
		args = append(args, d[0], d[1])
	}
	return "(" + strings.Join(parts, " UNION ALL ") + ") " + alias, args
}

// rollupSource is the ledger of from..to as its rollup rows, a table expression with the
// ledger's columns (business_day is the month for rows of whole months: every report
// reads it through substr(business_day, 1, 7) or not at all), household_no NULL for the
// unattributed part, and the sums amount_fen, delivered_fen, refunded_fen.
func rollupSource(from, to bizday.Day, where string) (string, []any) {
	return spanOf(from, to).union("ledger_month_rollups", "ledger_day_rollups", `NULLIF(household_no, '') AS household_no,
		funding, county_code, category, sku, supplier_code, branch_code, mall, amount_fen, delivered_fen, refunded_fen`, where, "le")
}

// unitSource is the units rollup of from..to, with the catalogue's category, supplier and
// county of each SKU (as the events' own query joined them), as a table expression u.
func unitSource(from, to bizday.Day) (string, []any) {
	src, args := spanOf(from, to).union("unit_month_rollups", "unit_day_rollups", `sku, funding, branch_code, mall, units, events`, "events <> 0", "r")
	return `(SELECT r.business_day, r.sku, r.funding, r.branch_code, r.mall, r.units, p.category, p.supplier_code, s.county_code
		FROM ` + src + ` JOIN products p ON p.sku = r.sku JOIN suppliers s ON s.code = p.supplier_code) u`, args
}

// RollupDiff is one rollup row that differs from the ledger's (or events') own sums.
type RollupDiff struct {
	Table string
	Key   string
	Have  string // the rollup's sums, "" when the row is missing
	Want  string // the recomputed sums, "" when no entry has the key
}

// rollupChecks pair each rollup table with the query recomputing it from the ledger or
// the events, both as (key, sums) text.
var rollupChecks = []struct{ table, have, want string }{
	{"ledger_month_rollups",
		`SELECT month || '|' || household_no || '|' || funding || '|' || county_code || '|' || category || '|' || sku || '|' || supplier_code || '|' || branch_code || '|' || mall AS k,
			amount_fen || '/' || delivered_fen || '/' || refunded_fen AS v FROM ledger_month_rollups`,
		`SELECT substr(business_day, 1, 7) || '|' || COALESCE(household_no, '') || '|' || funding || '|' || county_code || '|' || category || '|' || sku || '|' || supplier_code || '|' || branch_code || '|' || mall AS k,
			SUM(amount_fen) || '/' || SUM(CASE WHEN source = 'delivered' THEN amount_fen ELSE 0 END) || '/' || SUM(CASE WHEN source = 'refunded' THEN amount_fen ELSE 0 END) AS v
			FROM ledger_entries GROUP BY substr(business_day, 1, 7), COALESCE(household_no, ''), funding, county_code, category, sku, supplier_code, branch_code, mall`},
	{"ledger_day_rollups",
		`SELECT business_day || '|' || household_no || '|' || funding || '|' || county_code || '|' || category || '|' || sku || '|' || supplier_code || '|' || branch_code || '|' || mall AS k,
			amount_fen || '/' || delivered_fen || '/' || refunded_fen AS v FROM ledger_day_rollups`,
		`SELECT business_day || '|' || COALESCE(household_no, '') || '|' || funding || '|' || county_code || '|' || category || '|' || sku || '|' || supplier_code || '|' || branch_code || '|' || mall AS k,
			SUM(amount_fen) || '/' || SUM(CASE WHEN source = 'delivered' THEN amount_fen ELSE 0 END) || '/' || SUM(CASE WHEN source = 'refunded' THEN amount_fen ELSE 0 END) AS v
			FROM ledger_entries GROUP BY business_day, COALESCE(household_no, ''), funding, county_code, category, sku, supplier_code, branch_code, mall`},
	{"unit_month_rollups",
		`SELECT month || '|' || sku || '|' || funding || '|' || branch_code || '|' || mall AS k, units || '/' || events AS v FROM unit_month_rollups WHERE events <> 0`,
		`SELECT substr(e.business_day, 1, 7) || '|' || l.sku || '|' || o.funding || '|' || o.branch_code || '|' || o.mall AS k,
			SUM(CASE WHEN e.type = 'delivered' THEN e.quantity ELSE -e.quantity END) || '/' || COUNT(*) AS v ` + unitEvents + `
			GROUP BY substr(e.business_day, 1, 7), l.sku, o.funding, o.branch_code, o.mall`},
	{"unit_day_rollups",
		`SELECT business_day || '|' || sku || '|' || funding || '|' || branch_code || '|' || mall AS k, units || '/' || events AS v FROM unit_day_rollups WHERE events <> 0`,
		`SELECT e.business_day || '|' || l.sku || '|' || o.funding || '|' || o.branch_code || '|' || o.mall AS k,
			SUM(CASE WHEN e.type = 'delivered' THEN e.quantity ELSE -e.quantity END) || '/' || COUNT(*) AS v ` + unitEvents + `
			GROUP BY e.business_day, l.sku, o.funding, o.branch_code, o.mall`},
}

// unitEvents are the events that moved money on a line their order has.
const unitEvents = `FROM fulfilment_events e JOIN order_lines l ON l.order_id = e.order_id AND l.line_no = e.line_no
	JOIN group_orders o ON o.id = e.order_id WHERE e.state = 'applied' AND e.type IN ('delivered', 'refunded')`

// VerifyRollups recomputes every rollup from the ledger and the events, in one snapshot,
// and returns the rows that differ (none when the rollups are right).
func (s *Store) VerifyRollups(ctx context.Context) ([]RollupDiff, error) {
	tx, err := s.snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify rollups: %w", err)
	}
	defer tx.Rollback()
	var out []RollupDiff
	for _, c := range rollupChecks {
		read := func(q string) (map[string]string, error) {
			var rows []struct {
				K string `db:"k"`
				V string `db:"v"`
			}
			if err := tx.SelectContext(ctx, &rows, q); err != nil {
				return nil, fmt.Errorf("verify %s: %w", c.table, err)
			}
			m := make(map[string]string, len(rows))
			for _, r := range rows {
				m[r.K] = r.V
			}
			return m, nil
		}
		have, err := read(c.have)
		if err != nil {
			return nil, err
		}
		want, err := read(c.want)
		if err != nil {
			return nil, err
		}
		for k, w := range want {
			if have[k] != w {
				out = append(out, RollupDiff{Table: c.table, Key: k, Have: have[k], Want: w})
			}
		}
		for k, h := range have {
			if _, ok := want[k]; !ok {
				out = append(out, RollupDiff{Table: c.table, Key: k, Have: h})
			}
		}
	}
	slices.SortFunc(out, func(a, b RollupDiff) int { return cmp.Or(cmp.Compare(a.Table, b.Table), cmp.Compare(a.Key, b.Key)) })
	return out, nil
}

// RebuildRollups recomputes every rollup from the ledger and the events in one
// transaction (under the closed periods' lock, as a ledger writer), for a database whose
// rollups were changed by hand or restored apart from the ledger.
func (s *Store) RebuildRollups(ctx context.Context) error {
	return s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		if s.db.Dialect == Postgres {
			if _, err := tx.ExecContext(ctx, `SELECT id FROM ledger_period_lock WHERE id = 1 FOR UPDATE`); err != nil {
				return fmt.Errorf("rebuild rollups: %w", err)
			}
		}
		for _, q := range rebuildRollups {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("rebuild rollups: %w", err)
			}
		}
		return nil
	})
}

var rebuildRollups = []string{
	`DELETE FROM ledger_month_rollups`, `DELETE FROM ledger_day_rollups`, `DELETE FROM unit_month_rollups`, `DELETE FROM unit_day_rollups`,
	`INSERT INTO ledger_month_rollups SELECT substr(business_day, 1, 7), COALESCE(household_no, ''), funding, county_code, category,
		sku, supplier_code, branch_code, mall, SUM(amount_fen),
		SUM(CASE WHEN source = 'delivered' THEN amount_fen ELSE 0 END), SUM(CASE WHEN source = 'refunded' THEN amount_fen ELSE 0 END)
		FROM ledger_entries GROUP BY substr(business_day, 1, 7), COALESCE(household_no, ''), funding, county_code, category, sku,
		supplier_code, branch_code, mall`,
	`INSERT INTO ledger_day_rollups SELECT business_day, COALESCE(household_no, ''), funding, county_code, category,
		sku, supplier_code, branch_code, mall, SUM(amount_fen),
		SUM(CASE WHEN source = 'delivered' THEN amount_fen ELSE 0 END), SUM(CASE WHEN source = 'refunded' THEN amount_fen ELSE 0 END)
		FROM ledger_entries GROUP BY business_day, COALESCE(household_no, ''), funding, county_code, category, sku,
		supplier_code, branch_code, mall`,
	`INSERT INTO unit_month_rollups SELECT substr(e.business_day, 1, 7), l.sku, o.funding, o.branch_code, o.mall,
		SUM(CASE WHEN e.type = 'delivered' THEN e.quantity ELSE -e.quantity END), COUNT(*) ` + unitEvents + `
		GROUP BY substr(e.business_day, 1, 7), l.sku, o.funding, o.branch_code, o.mall`,
	`INSERT INTO unit_day_rollups SELECT e.business_day, l.sku, o.funding, o.branch_code, o.mall,
		SUM(CASE WHEN e.type = 'delivered' THEN e.quantity ELSE -e.quantity END), COUNT(*) ` + unitEvents + `
		GROUP BY e.business_day, l.sku, o.funding, o.branch_code, o.mall`,
}
