package sqlstore

import (
	"aidmall/audit"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"aidmall/bizday"
	"aidmall/money"
	"aidmall/orders"
	"aidmall/reports"
)

// eventSliceExpr keys a breakdown over the units rollup (unitSource), as sliceExpr does
// over the ledger.
var eventSliceExpr = map[reports.By]string{
	reports.ByCounty:   "county_code",
	reports.ByCategory: "category",
	reports.BySKU:      "sku",
	reports.BySupplier: "supplier_code",
	reports.ByBranch:   "branch_code",
	reports.ByMall:     "mall",
	reports.ByFunding:  "funding",
	reports.ByMonth:    "substr(business_day, 1, 7)",
}

// Breakdown computes a breakdown of one or two dimensions (reports.BreakdownQuery) in SQL,
// with the same period a year before beside it when q.Compare. Errors wrap
// orders.ErrInvalid for a bad query.
func (s *Store) Breakdown(ctx context.Context, q reports.BreakdownQuery) (reports.Breakdown, error) {
	if err := q.Validate(); err != nil {
		return reports.Breakdown{}, err
	}
	tx, err := s.snapshot(ctx)
	if err != nil {
		return reports.Breakdown{}, fmt.Errorf("breakdown: %w", err)
	}
	defer tx.Rollback()
	cur, err := s.breakdown(ctx, tx, q.Period, q.By)
	if err != nil || !q.Compare {
		return cur, err
	}
	prev, err := s.breakdown(ctx, tx, q.YearBefore(), q.By)
	if err != nil {
		return cur, err
	}
	return reports.Compare(cur, prev), nil
}

func (s *Store) breakdown(ctx context.Context, tx *sqlx.Tx, p reports.Period, by []reports.By) (reports.Breakdown, error) {
	b := reports.Breakdown{Period: p, Timezone: reports.Timezone, By: by, Rows: []reports.BreakdownRow{}}
	rr, err := newReportRange(ctx, tx, p.From, p.To)
	if err != nil {
		return b, err
	}
	if b.Totals.Totals, err = benefitTotals(ctx, tx, rr); err != nil {
		return b, err
	}
	var ucols []string // the columns the units key by, "" for the month (unitSource)
	for _, d := range by {
		c := eventSliceExpr[d]
		if d == reports.ByMonth {
			c = ""
		}
		ucols = append(ucols, c)
	}
	usrc, uargs := unitSource(p.From, p.To, ucols...)
	e1, e2, egroup := eventSliceExpr[by[0]], "''", eventSliceExpr[by[0]]
	if len(by) == 2 {
		e2, egroup = eventSliceExpr[by[1]], e1+", "+eventSliceExpr[by[1]]
	}
	type keyed struct {
		K1 string `db:"k1"`
		K2 string `db:"k2"`
	}
	figures, err := sliceFiguresOf(ctx, tx, rr, by...)
	if err != nil {
		return b, err
	}
	var units []struct {
		keyed
		Units int64 `db:"units"`
	}
	if err := tx.SelectContext(ctx, &units, tx.Rebind(`SELECT `+e1+` AS k1, `+e2+` AS k2, SUM(units) AS units FROM `+usrc+`
		GROUP BY `+egroup), uargs...); err != nil {
		return b, fmt.Errorf("breakdown units: %w", err)
	}
	labels := make([]map[string]string, len(by))
	for i, d := range by {
		if labels[i], err = s.labels(ctx, tx, d); err != nil {
			return b, err
		}
	}
	idx := map[keyed]int{}
	row := func(k keyed) *reports.BreakdownRow {
		i, ok := idx[k]
		if !ok {
			i = len(b.Rows)
			idx[k] = i
			keys := []string{k.K1, k.K2}[:len(by)]
			r := reports.BreakdownRow{Keys: keys, Labels: make([]string, len(by))}
			for j, key := range keys {
				r.Labels[j] = key
				if l := labels[j][key]; l != "" {
					r.Labels[j] = l
				}
			}
			b.Rows = append(b.Rows, r)
		}
		return &b.Rows[i]
	}
	for _, f := range figures {
		r := row(keyed{f.K1, f.K2})
		r.NetAmount, r.Households, r.People = money.Fen(f.Net), f.Households, int(f.People)
	}
	for _, u := range units {
		row(u.keyed).NetUnits = u.Units
		b.Totals.NetUnits += u.Units
	}
	reports.SortRows(b.Rows)
	return b, nil
}

// unitJoins selects the events that moved money (applied deliveries and refunds) with
// their line, order, product and supplier; the caller adds the day condition.
const unitJoins = `FROM fulfilment_events e
	JOIN order_lines l ON l.order_id = e.order_id AND l.line_no = e.line_no
	JOIN group_orders o ON o.id = e.order_id
	JOIN products p ON p.sku = l.sku
	JOIN suppliers s ON s.code = p.supplier_code
	WHERE e.state = 'applied' AND e.type IN ('delivered', 'refunded')`

// UnitRows returns every event that moved money as a reports.UnitRow (+quantity for a
// delivery, −quantity for a refund), for the reference computation.
func (s *Store) UnitRows(ctx context.Context) ([]reports.UnitRow, error) {
	var rows []struct {
		Day      string `db:"business_day"`
		Units    int64  `db:"units"`
		Funding  string `db:"funding"`
		County   string `db:"county_code"`
		Category string `db:"category"`
		SKU      string `db:"sku"`
		Supplier string `db:"supplier_code"`
		Branch   string `db:"branch_code"`
		Mall     string `db:"mall"`
	}
	if err := s.db.SelectContext(ctx, &rows, `SELECT e.business_day, CASE WHEN e.type = 'delivered' THEN e.quantity ELSE -e.quantity END AS units,
		o.funding, s.county_code, p.category, l.sku, p.supplier_code, o.branch_code, o.mall `+unitJoins+` AND 1 = 1 ORDER BY e.id`); err != nil {
		return nil, fmt.Errorf("unit rows: %w", err)
	}
	out := make([]reports.UnitRow, 0, len(rows))
	for _, r := range rows {
		d, err := bizday.Parse(r.Day)
		if err != nil {
			return nil, err
		}
		out = append(out, reports.UnitRow{Units: r.Units, LedgerRow: reports.LedgerRow{Day: d, Funding: orders.Funding(r.Funding),
			CountyCode: r.County, Category: r.Category, SKU: r.SKU, SupplierCode: r.Supplier, BranchCode: r.Branch, Mall: orders.Mall(r.Mall)}})
	}
	return out, nil
}

// SupplierSales reports every supplier of the catalogue over p: its breakdown figures, its
// unattributed net, and its households linked on at least one day of p.
func (s *Store) SupplierSales(ctx context.Context, p reports.Period) (reports.SupplierSales, error) {
	out := reports.SupplierSales{Period: p, Timezone: reports.Timezone, Rows: []reports.SupplierRow{}}
	if err := (reports.BreakdownQuery{Period: p, By: []reports.By{reports.BySupplier}}).Validate(); err != nil {
		return out, err
	}
	tx, err := s.snapshot(ctx)
	if err != nil {
		return out, fmt.Errorf("supplier sales: %w", err)
	}
	defer tx.Rollback()
	b, err := s.breakdown(ctx, tx, p, []reports.By{reports.BySupplier})
	if err != nil {
		return out, err
	}
	out.Totals = b.Totals
	var sups []struct {
		Code   string `db:"code"`
		Name   string `db:"name"`
		County string `db:"county_code"`
	}
	if err := tx.SelectContext(ctx, &sups, `SELECT code, name, county_code FROM suppliers ORDER BY code`); err != nil {
		return out, fmt.Errorf("suppliers: %w", err)
	}
	un, err := unattributedBySupplier(ctx, tx, p)
	if err != nil {
		return out, err
	}
	var linked []struct {
		Code string `db:"supplier_code"`
		N    int    `db:"n"`
	}
	// Active on day D when valid_from <= D < valid_to (ATTRIBUTION.md, Terms): on some day
	// of [from, to] when valid_from <= to and (valid_to is empty or valid_to > from).
	if err := tx.SelectContext(ctx, &linked, tx.Rebind(`SELECT supplier_code, COUNT(DISTINCT household_no) AS n FROM linkages
		WHERE valid_from <= ? AND (valid_to = '' OR valid_to > ?) AND (valid_to = '' OR valid_from < valid_to)
		GROUP BY supplier_code`), p.To.String(), p.From.String()); err != nil {
		return out, fmt.Errorf("linked households: %w", err)
	}
	links := map[string]int{}
	for _, l := range linked {
		links[l.Code] = l.N
	}
	figs := map[string]reports.Figures{}
	for _, r := range b.Rows {
		figs[r.Keys[0]] = r.Figures
	}
	seen := map[string]bool{}
	for _, sp := range sups {
		seen[sp.Code] = true
		out.Rows = append(out.Rows, reports.SupplierRow{Supplier: sp.Code, Label: sp.Name, County: sp.County, Figures: figs[sp.Code],
			UnattributedAmount: un[sp.Code].NetAmount, LinkedHouseholds: links[sp.Code]})
	}
	for _, r := range b.Rows { // entries of a supplier no longer in the catalogue
		if !seen[r.Keys[0]] {
			out.Rows = append(out.Rows, reports.SupplierRow{Supplier: r.Keys[0], Label: r.Labels[0], Figures: r.Figures,
				UnattributedAmount: un[r.Keys[0]].NetAmount, LinkedHouseholds: links[r.Keys[0]]})
		}
	}
	return out, nil
}

// Unattributed reports the suppliers with unattributed entries (no household) in p.
func (s *Store) Unattributed(ctx context.Context, p reports.Period) (reports.Unattributed, error) {
	out := reports.Unattributed{Period: p, Timezone: reports.Timezone, Rows: []reports.UnattributedRow{}}
	if err := (reports.BreakdownQuery{Period: p, By: []reports.By{reports.BySupplier}}).Validate(); err != nil {
		return out, err
	}
	tx, err := s.snapshot(ctx)
	if err != nil {
		return out, fmt.Errorf("unattributed: %w", err)
	}
	defer tx.Rollback()
	un, err := unattributedBySupplier(ctx, tx, p)
	if err != nil {
		return out, err
	}
	labels, err := s.labels(ctx, tx, reports.BySupplier)
	if err != nil {
		return out, err
	}
	for _, r := range un {
		if l := labels[r.Supplier]; l != "" {
			r.Label = l
		}
		out.Total += r.NetAmount
		out.Rows = append(out.Rows, r)
	}
	reports.SortUnattributed(out.Rows)
	return out, nil
}

func unattributedBySupplier(ctx context.Context, tx *sqlx.Tx, p reports.Period) (map[string]reports.UnattributedRow, error) {
	src, args := rollupSource(p.From, p.To, "household_no = ''", "supplier_code", "county_code")
	var rows []struct {
		Supplier  string `db:"supplier_code"`
		County    string `db:"county_code"`
		Delivered int64  `db:"delivered"`
		Refunded  int64  `db:"refunded"`
		Net       int64  `db:"net"`
	}
	if err := tx.SelectContext(ctx, &rows, tx.Rebind(`SELECT supplier_code, MIN(county_code) AS county_code,
		COALESCE(SUM(delivered_fen), 0) AS delivered,
		COALESCE(-SUM(refunded_fen), 0) AS refunded,
		SUM(amount_fen) AS net
		FROM `+src+` GROUP BY supplier_code`), args...); err != nil {
		return nil, fmt.Errorf("unattributed by supplier: %w", err)
	}
	out := map[string]reports.UnattributedRow{}
	for _, r := range rows {
		out[r.Supplier] = reports.UnattributedRow{Supplier: r.Supplier, Label: r.Supplier, County: r.County,
			DeliveredAmount: money.Fen(r.Delivered), RefundedAmount: money.Fen(r.Refunded), NetAmount: money.Fen(r.Net)}
	}
	return out, nil
}

// Spending reports each branch's money by business month over p: ordered amounts of the
// orders placed (Beijing month of placed_at) and of those of them cancelled or rejected,
// and the ledger's deliveries and refunds of its orders by business day.
func (s *Store) Spending(ctx context.Context, p reports.Period) (reports.Spending, error) {
	out := reports.Spending{Period: p, Timezone: reports.Timezone, Rows: []reports.SpendingRow{}}
	if err := (reports.BreakdownQuery{Period: p, By: []reports.By{reports.ByBranch}}).Validate(); err != nil {
		return out, err
	}
	tx, err := s.snapshot(ctx)
	if err != nil {
		return out, fmt.Errorf("spending: %w", err)
	}
	defer tx.Rollback()
	type key struct{ branch, month string }
	rows := map[key]*reports.SpendingRow{}
	get := func(k key) *reports.SpendingRow {
		r, ok := rows[k]
		if !ok {
			r = &reports.SpendingRow{Branch: k.branch, Label: k.branch, Month: k.month}
			rows[k] = r
		}
		return r
	}
	var placed []struct {
		Branch   string    `db:"branch_code"`
		PlacedAt time.Time `db:"placed_at"`
		Total    int64     `db:"total_fen"`
		Status   string    `db:"status"`
	}
	if err := tx.SelectContext(ctx, &placed, tx.Rebind(`SELECT branch_code, placed_at, total_fen, status FROM group_orders
		WHERE placed_at >= ? AND placed_at < ?`), p.From.Start().UTC(), p.To.AddDays(1).Start().UTC()); err != nil {
		return out, fmt.Errorf("spending orders: %w", err)
	}
	for _, o := range placed {
		r := get(key{o.Branch, bizday.Of(o.PlacedAt).Month()})
		r.Placed += money.Fen(o.Total)
		if o.Status == string(orders.StatusCancelled) || o.Status == string(orders.StatusRejected) {
			r.Cancelled += money.Fen(o.Total)
		}
	}
	var ledger []struct {
		Branch    string `db:"branch_code"`
		Month     string `db:"month"`
		Delivered int64  `db:"delivered"`
		Refunded  int64  `db:"refunded"`
	}
	src, args := rollupSource(p.From, p.To, "", "branch_code", "") // by month: no year rollups
	if err := tx.SelectContext(ctx, &ledger, tx.Rebind(`SELECT branch_code, substr(business_day, 1, 7) AS month,
		COALESCE(SUM(delivered_fen), 0) AS delivered,
		COALESCE(-SUM(refunded_fen), 0) AS refunded
		FROM `+src+` GROUP BY branch_code, substr(business_day, 1, 7)`), args...); err != nil {
		return out, fmt.Errorf("spending ledger: %w", err)
	}
	for _, l := range ledger {
		r := get(key{l.Branch, l.Month})
		r.Delivered += money.Fen(l.Delivered)
		r.Refunded += money.Fen(l.Refunded)
	}
	labels, err := s.labels(ctx, tx, reports.ByBranch)
	if err != nil {
		return out, err
	}
	for _, r := range rows {
		if l := labels[r.Branch]; l != "" {
			r.Label = l
		}
		out.Totals.Placed += r.Placed
		out.Totals.Delivered += r.Delivered
		out.Totals.Refunded += r.Refunded
		out.Totals.Cancelled += r.Cancelled
		out.Rows = append(out.Rows, *r)
	}
	reports.SortSpending(out.Rows)
	return out, nil
}

// BranchNames returns every branch's name by code.
func (s *Store) BranchNames(ctx context.Context) (map[string]string, error) {
	return s.labels(ctx, s.db, reports.ByBranch)
}

// Target returns year's target (ok false when none is set).
func (s *Store) Target(ctx context.Context, year int) (reports.Target, bool, error) {
	var r struct {
		Year      int       `db:"year"`
		Purchased int64     `db:"purchased_fen"`
		Helped    int64     `db:"helped_sell_fen"`
		SetBy     string    `db:"set_by"`
		SetAt     time.Time `db:"set_at"`
	}
	err := s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT year, purchased_fen, helped_sell_fen, set_by, set_at FROM targets WHERE year = ?`), year)
	if errors.Is(err, sql.ErrNoRows) {
		return reports.Target{}, false, nil
	}
	if err != nil {
		return reports.Target{}, false, fmt.Errorf("target %d: %w", year, err)
	}
	return reports.Target{Year: r.Year, PurchasedAmount: money.Fen(r.Purchased), HelpedSellAmount: money.Fen(r.Helped),
		SetBy: r.SetBy, SetAt: r.SetAt.UTC()}, true, nil
}

// SetTarget stores t (replacing the year's target) and returns the one it replaced (ok
// false when there was none), in one transaction. Errors wrap orders.ErrInvalid for a bad
// target.
func (s *Store) SetTarget(ctx context.Context, t reports.Target) (before reports.Target, had bool, err error) {
	if err := t.Validate(); err != nil {
		return reports.Target{}, false, err
	}
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		var r struct {
			Purchased int64     `db:"purchased_fen"`
			Helped    int64     `db:"helped_sell_fen"`
			SetBy     string    `db:"set_by"`
			SetAt     time.Time `db:"set_at"`
		}
		lock := ""
		if s.db.Dialect == Postgres {
			lock = " FOR UPDATE"
		}
		switch gerr := tx.GetContext(ctx, &r, tx.Rebind(`SELECT purchased_fen, helped_sell_fen, set_by, set_at FROM targets WHERE year = ?`+lock), t.Year); {
		case errors.Is(gerr, sql.ErrNoRows):
		case gerr != nil:
			return gerr
		default:
			had = true
			before = reports.Target{Year: t.Year, PurchasedAmount: money.Fen(r.Purchased), HelpedSellAmount: money.Fen(r.Helped), SetBy: r.SetBy, SetAt: r.SetAt.UTC()}
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO targets (year, purchased_fen, helped_sell_fen, set_by, set_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (year) DO UPDATE SET purchased_fen = excluded.purchased_fen, helped_sell_fen = excluded.helped_sell_fen,
			set_by = excluded.set_by, set_at = excluded.set_at`), t.Year, int64(t.PurchasedAmount), int64(t.HelpedSellAmount), t.SetBy, t.SetAt.UTC()); err != nil {
			return err
		}
		var was any // null: no target before
		if had {
			was = map[string]string{"purchased": money.Fen(r.Purchased).String(), "helped_sell": money.Fen(r.Helped).String()}
		}
		e, err := audit.New(audit.ActorFrom(ctx), audit.ActionTargetSet, "target:"+strconv.Itoa(t.Year), was,
			map[string]string{"purchased": t.PurchasedAmount.String(), "helped_sell": t.HelpedSellAmount.String()})
		if err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, e)
	})
	if err != nil {
		return reports.Target{}, false, fmt.Errorf("set target %d: %w", t.Year, translate(err))
	}
	return before, had, nil
}

// Used is reports.BudgetSource's use of each branch's budget in year (Beijing), by the one
// rule Place refuses by (orders.BudgetUse over the branch's union_funds orders placed in
// the year, as budgetUseOfOrder sums it in SQL), so the report and the refusal at placing
// never differ; one row per branch comes back, not every order of the year.
// TestBudgetUsedIsBudgetUse holds it to orders.BudgetUse. Budgets (budget.go) is the
// other half of reports.BudgetSource.
func (s *Store) Used(ctx context.Context, year int) (map[string]money.Fen, error) {
	from, to := orders.BudgetYearSpan(year)
	var rows []struct {
		Branch string `db:"branch_code"`
		Used   int64  `db:"used"`
	}
	if err := s.db.SelectContext(ctx, &rows, s.db.Rebind(`SELECT branch_code, CAST(SUM(u) AS BIGINT) AS used FROM (
			SELECT o.branch_code, `+budgetUseOfOrder+` AS u
			FROM group_orders o JOIN order_lines l ON l.order_id = o.id
			WHERE o.funding = ? AND o.placed_at >= ? AND o.placed_at < ?
			GROUP BY o.id, o.branch_code, o.cancelled, o.reject_code) used_by_order
		GROUP BY branch_code`), orders.FundingUnion, from.UTC(), to.UTC()); err != nil {
		return nil, fmt.Errorf("budget used: %w", err)
	}
	out := make(map[string]money.Fen, len(rows))
	for _, r := range rows {
		out[r.Branch] = money.Fen(r.Used)
	}
	return out, nil
}

// Indicators computes the responsibility-letter indicators of year (reports.YearIndicators)
// over this store, with its budgets.
func (s *Store) Indicators(ctx context.Context, year int) (reports.Indicators, error) {
	return reports.YearIndicators(ctx, s, s, year)
}
