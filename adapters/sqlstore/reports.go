package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sort"

	"github.com/jmoiron/sqlx"

	"aidmall/bizday"
	"aidmall/households"
	"aidmall/money"
	"aidmall/orders"
	"aidmall/reports"
)

// sliceExpr is the ledger column (or expression) that keys each breakdown.
var sliceExpr = map[reports.By]string{
	reports.By("county"):   "county_code",
	reports.By("category"): "category",
	reports.By("sku"):      "sku",
	reports.By("supplier"): "supplier_code",
	reports.By("branch"):   "branch_code",
	reports.By("mall"):     "mall",
	reports.By("funding"):  "funding",
	reports.By("month"):    "substr(business_day, 1, 7)",
}

// ledgerColumn is the ledger column a dimension keys by, "" for the month (every rollup
// row has its period).
func ledgerColumn(by reports.By) string {
	if by == reports.ByMonth {
		return ""
	}
	return sliceExpr[by]
}

// Benefit computes the benefit report of ATTRIBUTION.md §3 in SQL over the ledger: per
// slice and in total, households counted once where their net over the slice (or the
// whole period) is > 0, people from their current 家庭人口数. Errors wrap orders.ErrInvalid
// for a bad query.
func (s *Store) Benefit(ctx context.Context, q reports.Query) (reports.Benefit, error) {
	if err := q.Validate(); err != nil {
		return reports.Benefit{}, err
	}
	if _, ok := sliceExpr[q.By]; !ok {
		return reports.Benefit{}, fmt.Errorf("report: no slice %q", q.By)
	}
	tx, err := s.snapshot(ctx)
	if err != nil {
		return reports.Benefit{}, fmt.Errorf("report: %w", err)
	}
	defer tx.Rollback()
	rr, err := newReportRange(ctx, tx, q.From, q.To)
	if err != nil {
		return reports.Benefit{}, err
	}
	b := reports.Benefit{From: q.From, To: q.To, Timezone: "Asia/Shanghai", By: q.By, Rows: []reports.Row{}}

	if b.Totals, err = benefitTotals(ctx, tx, rr); err != nil {
		return b, err
	}
	// Rows: net per slice, and households per slice where their net in it is > 0.
	rows, err := sliceFiguresOf(ctx, tx, rr, q.By)
	if err != nil {
		return b, err
	}
	labels, err := s.labels(ctx, tx, q.By)
	if err != nil {
		return b, err
	}
	for _, r := range rows {
		label := labels[r.K1]
		if label == "" {
			label = r.K1
		}
		b.Rows = append(b.Rows, reports.Row{Key: r.K1, Label: label, NetAmount: money.Fen(r.Net), Households: r.Households, People: int(r.People)})
	}
	sort.Slice(b.Rows, func(i, j int) bool { return b.Rows[i].Key < b.Rows[j].Key })
	return b, nil
}

// snapshot begins a read-only transaction that sees one snapshot for every query, so that
// a report's totals and rows agree while events are applied.
func (s *Store) snapshot(ctx context.Context) (*sqlx.Tx, error) {
	var opts *sql.TxOptions
	if s.db.Dialect == Postgres {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	return s.rdb.BeginTxx(ctx, opts)
}

// benefitTotals are the totals of ATTRIBUTION.md §3 over the business days from..to: money
// by funding and source, households over the whole period at once, people from members
// (membersTable: as registered when the period was closed, §5.3, or now).
func benefitTotals(ctx context.Context, tx *sqlx.Tx, rr reportRange) (reports.Totals, error) {
	if rr.figures != "" {
		return figuresTotals(ctx, tx, rr.figures)
	}
	src, args := rollupSource(rr.from, rr.to, "")
	var t struct {
		Purchased    int64 `db:"purchased"`
		Helped       int64 `db:"helped"`
		Unattributed int64 `db:"unattributed"`
		Delivered    int64 `db:"delivered"`
		Refunded     int64 `db:"refunded"`
		Households   int   `db:"households"`
		People       int64 `db:"people"`
	}
	// One pass: the sums per household (the unattributed part as household NULL), then the
	// money over them all and the households whose net over the period is > 0.
	err := tx.GetContext(ctx, &t, tx.Rebind(`SELECT
		COALESCE(SUM(x.union_fen), 0) AS purchased,
		COALESCE(SUM(x.net) - SUM(x.union_fen), 0) AS helped,
		COALESCE(SUM(CASE WHEN x.household_no IS NULL THEN x.net ELSE 0 END), 0) AS unattributed,
		COALESCE(SUM(x.delivered_fen), 0) AS delivered,
		COALESCE(-SUM(x.refunded_fen), 0) AS refunded,
		COUNT(h.household_no) AS households, COALESCE(SUM(h.members), 0) AS people
		FROM (SELECT household_no, SUM(amount_fen) AS net, SUM(union_fen) AS union_fen, SUM(delivered_fen) AS delivered_fen,
			SUM(refunded_fen) AS refunded_fen FROM `+src+` GROUP BY household_no) x
		LEFT JOIN `+rr.members+` h ON h.household_no = x.household_no AND x.net > 0`), args...)
	if err != nil {
		return reports.Totals{}, fmt.Errorf("report totals: %w", err)
	}
	return totalsOf(t.Purchased, t.Helped, t.Unattributed, t.Delivered, t.Refunded, t.Households, t.People), nil
}

// totalsOf are the totals with these sums in fen (refunded as a positive amount).
func totalsOf(purchased, helped, unattributed, delivered, refunded int64, households int, people int64) reports.Totals {
	return reports.Totals{
		PurchasedAmount: money.Fen(purchased), HelpedSellAmount: money.Fen(helped),
		UnattributedAmount: money.Fen(unattributed), DeliveredAmount: money.Fen(delivered),
		RefundedAmount: money.Fen(refunded), Households: households, People: int(people),
	}
}

// sliceFiguresOf are the figures of each slice of from..to by the dimensions by (one, or
// a pair), people from members: from the benefit figures when they answer the report
// (figuresPeriod, figuresRows), from the rollups otherwise.
func sliceFiguresOf(ctx context.Context, tx *sqlx.Tx, rr reportRange, by ...reports.By) ([]sliceFigures, error) {
	if rr.figures != "" {
		rows, ok, err := figuresRows(ctx, tx, rr.figures, by...)
		if err != nil || ok {
			return rows, err
		}
	}
	cols := make([]string, len(by))
	keys := make([]string, len(by))
	for i, d := range by {
		cols[i], keys[i] = ledgerColumn(d), sliceExpr[d]
	}
	src, args := rollupSource(rr.from, rr.to, "", cols...)
	var rows []sliceFigures
	if err := tx.SelectContext(ctx, &rows, tx.Rebind(sliceFiguresSQL(src, rr.members, keys...)), args...); err != nil {
		return nil, fmt.Errorf("report rows: %w", err)
	}
	return rows, nil
}

// sliceFigures are one slice's net, and its households whose net in it is > 0 and their
// people.
type sliceFigures struct {
	K1         string `db:"k1"`
	K2         string `db:"k2"`
	Net        int64  `db:"net"`
	Households int    `db:"households"`
	People     int64  `db:"people"`
}

// sliceFiguresSQL selects sliceFigures per slice keyed by the expressions keys (one or
// two, over the rollup source src) in one pass: the net per slice and household (the
// unattributed part as household NULL), then per slice the sum of the nets and the
// households (with members, the people) whose net is > 0. With one key, k2 is the empty string.
func sliceFiguresSQL(src, members string, keys ...string) string {
	inner, group, outer := keys[0]+" AS k1", keys[0], "x.k1"
	k2 := "'' AS k2"
	if len(keys) == 2 {
		inner, group, outer, k2 = inner+", "+keys[1]+" AS k2", group+", "+keys[1], outer+", x.k2", "x.k2"
	}
	return `SELECT x.k1, ` + k2 + `, SUM(x.net) AS net, COUNT(h.household_no) AS households, COALESCE(SUM(h.members), 0) AS people
		FROM (SELECT ` + inner + `, household_no, SUM(amount_fen) AS net FROM ` + src + ` GROUP BY ` + group + `, household_no) x
		LEFT JOIN ` + members + ` h ON h.household_no = x.household_no AND x.net > 0
		GROUP BY ` + outer
}

// fixedLabels are the display names of the breakdowns whose keys are codes of the service.
// A mall's key is its code here; its display name is its driver's (package malls), set by
// the caller.
var fixedLabels = map[reports.By]map[string]string{
	"category": {"apple": "苹果", "peppercorn": "花椒", "walnut": "核桃"},
	"funding":  {"union_funds": "工会经费（购买）", "employee_self_pay": "职工自费（帮助销售）", "external": "外部（帮助销售）"},
}

// labels returns the display names of a breakdown's keys.
func (s *Store) labels(ctx context.Context, q sqlx.QueryerContext, by reports.By) (map[string]string, error) {
	out := map[string]string{}
	var query string
	switch by {
	case reports.By("sku"):
		query = `SELECT sku AS k, name AS v FROM products`
	case reports.By("supplier"):
		query = `SELECT code AS k, name AS v FROM suppliers`
	case reports.By("branch"):
		query = `SELECT code AS k, name AS v FROM branches`
	case reports.By("county"):
		for code, name := range households.CountyNames {
			out[code] = name
		}
		return out, nil
	default:
		for k, v := range fixedLabels[by] {
			out[k] = v
		}
		return out, nil
	}
	var rows []struct {
		K string `db:"k"`
		V string `db:"v"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, query); err != nil {
		return nil, fmt.Errorf("report labels: %w", err)
	}
	for _, r := range rows {
		out[r.K] = r.V
	}
	return out, nil
}

// LedgerRows returns every ledger entry with its slice attributes, for the reference
// computation (reports.Compute) and exports.
func (s *Store) LedgerRows(ctx context.Context) ([]reports.LedgerRow, map[households.HouseholdNo]int, error) {
	var rows []struct {
		HouseholdNo  *households.HouseholdNo `db:"household_no"`
		Day          string                  `db:"business_day"`
		Amount       int64                   `db:"amount_fen"`
		Source       string                  `db:"source"`
		Funding      string                  `db:"funding"`
		CountyCode   string                  `db:"county_code"`
		Category     string                  `db:"category"`
		SKU          string                  `db:"sku"`
		SupplierCode string                  `db:"supplier_code"`
		BranchCode   string                  `db:"branch_code"`
		Mall         string                  `db:"mall"`
	}
	if err := s.db.SelectContext(ctx, &rows, `SELECT household_no, business_day, amount_fen, source, funding, county_code, category, sku,
		supplier_code, branch_code, mall FROM ledger_entries ORDER BY id`); err != nil {
		return nil, nil, fmt.Errorf("ledger rows: %w", err)
	}
	out := make([]reports.LedgerRow, 0, len(rows))
	for _, r := range rows {
		d, err := bizday.Parse(r.Day)
		if err != nil {
			return nil, nil, err
		}
		lr := reports.LedgerRow{Day: d, Amount: money.Fen(r.Amount), Source: orders.EventType(r.Source), Funding: orders.Funding(r.Funding),
			CountyCode: r.CountyCode, Category: r.Category, SKU: r.SKU, SupplierCode: r.SupplierCode, BranchCode: r.BranchCode, Mall: orders.Mall(r.Mall)}
		if r.HouseholdNo != nil {
			lr.HouseholdNo = *r.HouseholdNo
		}
		out = append(out, lr)
	}
	var ms []struct {
		No      households.HouseholdNo `db:"household_no"`
		Members int                    `db:"members"`
	}
	if err := s.db.SelectContext(ctx, &ms, `SELECT household_no, members FROM households`); err != nil {
		return nil, nil, fmt.Errorf("household members: %w", err)
	}
	members := make(map[households.HouseholdNo]int, len(ms))
	for _, m := range ms {
		members[m.No] = m.Members
	}
	return out, members, nil
}
