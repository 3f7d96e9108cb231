package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"aidmall/attribution"
	"aidmall/bizday"
)

// Rollups (migrations 00013, 00015): the ledger's sums per household, business year,
// month or day, and slice, kept in the transaction that books the entries, and the net
// units of the events that moved money, kept in the transaction that changes an event's
// state. Reports read them (rollupSource, unitSource) instead of the ledger and the
// events, so a report's time grows with the households and slices in its answer, not
// with ledger entries.

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

// rollupSet is a grouping set of the ledger rollups: the ledger columns its keys k1..
// hold, in order (migration 00013 says which set serves what).
type rollupSet struct {
	name string
	cols []string
}

// rollupSets are the grouping sets migration 00013 kept by every grain, smallest first.
// Since migration 00020 the rollups keep the slice set alone (rollupTables): the others
// are read from the benefit nets; they stay here for that migration's down.
var rollupSets = []rollupSet{
	{"all", nil},
	{"product", []string{"sku", "category", "supplier_code", "county_code"}},
	{"branch", []string{"branch_code"}},
	{"funding", []string{"funding"}},
	{"mall", []string{"mall"}},
	{"slice", []string{"funding", "county_code", "category", "sku", "supplier_code", "branch_code", "mall"}},
}

// unionPart is the part of r's amount bought with union funds (the report's purchased
// amount), sourcePart the part booked from source ("delivered", "refunded"): the sums
// the rollups and the benefit figures keep beside the net.
func (r *ledgerRow) unionPart() int64 {
	if r.Funding == "union_funds" {
		return r.Amount
	}
	return 0
}

func (r *ledgerRow) sourcePart(source string) int64 {
	if r.Source == source {
		return r.Amount
	}
	return 0
}

// ledgerPartsSQL is unionPart and sourcePart summed in SQL over ledger rows (their alias
// prefix p: "" or "l."), as the columns union_fen, delivered_fen and refunded_fen: the
// rebuild and the verification recompute the rollups and nets with it.
func ledgerPartsSQL(p string) string {
	return `SUM(CASE WHEN ` + p + `funding = 'union_funds' THEN ` + p + `amount_fen ELSE 0 END) AS union_fen,
		SUM(CASE WHEN ` + p + `source = 'delivered' THEN ` + p + `amount_fen ELSE 0 END) AS delivered_fen,
		SUM(CASE WHEN ` + p + `source = 'refunded' THEN ` + p + `amount_fen ELSE 0 END) AS refunded_fen`
}

// col returns ledgerRow r's value of ledger column c.
func (r *ledgerRow) col(c string) string {
	switch c {
	case "sku":
		return r.SKU
	case "category":
		return r.Category
	case "supplier_code":
		return r.Supplier
	case "county_code":
		return r.County
	case "branch_code":
		return r.Branch
	case "funding":
		return r.Funding
	case "mall":
		return r.Mall
	}
	panic("sqlstore: no ledger column " + c)
}

// rollupKey is the key of one rollup row.
type rollupKey struct {
	Set, Period string
	K           [7]string
	Household   string
}

func (k rollupKey) compare(o rollupKey) int {
	// Each comparison only when the ones before are equal (cmp.Or would make them all).
	if c := strings.Compare(k.Set, o.Set); c != 0 {
		return c
	}
	if c := strings.Compare(k.Period, o.Period); c != 0 {
		return c
	}
	if c := slices.Compare(k.K[:], o.K[:]); c != 0 {
		return c
	}
	return strings.Compare(k.Household, o.Household)
}

type rollupSums struct{ Amount, Union, Delivered, Refunded int64 }

// rollupTable is one grain of the ledger rollups: its table, period column and the length
// of the period's prefix of a business day (YYYY-MM-DD). Every grain keeps the slice set
// alone (rollupTables).
type rollupTable struct {
	table, period string
	n             int
}

// expr is the grain's period of the ledger's column business_day.
func (t rollupTable) expr() string {
	if t.n == len("2006-01-02") {
		return "business_day"
	}
	return fmt.Sprintf("substr(business_day, 1, %d)", t.n)
}

// rollupTables are the three grains: month (00013), day (00013) and year (00015). Each
// keeps the slice set alone: the ledger's sums by one dimension (or none) per household
// and year or month are the benefit nets' (benefit.go, migration 00019), which the figures
// keep anyway, and the days a report's range cuts out of a month are few, grouped from
// the slice set's rows at report time. The other five sets (rollupSets) were kept by every
// grain until migrations 00018 (days) and 00020 (months, years): 18 rollup rows per
// ledger entry, the day rows two thirds of them, against 3 now.
var rollupTables = [3]rollupTable{
	{"ledger_rollups", "month", 7},
	{"ledger_day_rollups", "business_day", 10},
	{"ledger_year_rollups", "year", 4},
}

// sliceSet is the one grouping set the rollups keep: it holds every ledger column a
// report breaks down by.
var sliceSet = rollupSets[len(rollupSets)-1]

// sliceOnlySQL deletes every set but the slice set from rollup table t (migrations 00018,
// 00020).
func sliceOnlySQL(t rollupTable) string {
	return `DELETE FROM ` + t.table + ` WHERE grp <> '` + sliceSet.name + `'`
}

// unsliceSQL puts back into rollup table t the sets other than the slice set (rollupSets),
// from the ledger, or for the year grain from the month rollups put back before it
// (migrations 00018 and 00020 down).
func unsliceSQL(t rollupTable) []string {
	if t.n == 4 {
		return []string{yearsFromMonthsSQL(`WHERE grp <> '` + sliceSet.name + `'`)}
	}
	var out []string
	for _, set := range rollupSets {
		if set.name != sliceSet.name {
			out = append(out, rollupInsert(t)+rollupSelect(set, t.expr()))
		}
	}
	return out
}

// rollupInsert is the head of an INSERT into rollup table t of its key and sums.
func rollupInsert(t rollupTable) string {
	return `INSERT INTO ` + t.table + ` (` + fmt.Sprintf(rollupKeyCols, t.period) + `, amount_fen, union_fen, delivered_fen, refunded_fen) `
}

// yearsFromMonthsSQL fills the year rollups from the month rollups' rows that where
// selects (a WHERE clause, or ""), as migration 00015 first did.
func yearsFromMonthsSQL(where string) string {
	return rollupInsert(rollupTables[2]) + `SELECT grp, substr(month, 1, 4), k1, k2, k3, k4, k5, k6, k7, household_no,
		SUM(amount_fen), SUM(union_fen), SUM(delivered_fen), SUM(refunded_fen)
		FROM ledger_rollups ` + where + ` GROUP BY grp, substr(month, 1, 4), k1, k2, k3, k4, k5, k6, k7, household_no`
}

const rollupKeyCols = "grp, %s, k1, k2, k3, k4, k5, k6, k7, household_no"

var rollupSumCols = []string{"amount_fen", "union_fen", "delivered_fen", "refunded_fen"}

// addRollups adds rows' sums to every set of every rollup table, one statement per table
// (addSums). Keys go in one order (sorted), so concurrent writers on PostgreSQL take the
// rows' locks in the same order.
func addRollups(ctx context.Context, tx *sqlx.Tx, rows []ledgerRow) error {
	type keySums struct {
		key  rollupKey
		sums rollupSums
	}
	for _, t := range rollupTables {
		// The sums in a list found by its keys' positions (one hash a row), sorted once.
		at := make(map[rollupKey]int, len(rows))
		var list []keySums
		for i := range rows {
			r := &rows[i]
			k := rollupKey{Set: sliceSet.name, Period: r.Day[:t.n], Household: r.HouseholdNo}
			for j, c := range sliceSet.cols {
				k.K[j] = r.col(c)
			}
			x, ok := at[k]
			if !ok {
				x = len(list)
				at[k] = x
				list = append(list, keySums{key: k})
			}
			s := &list[x].sums
			s.Amount += r.Amount
			s.Union += r.unionPart()
			s.Delivered += r.sourcePart("delivered")
			s.Refunded += r.sourcePart("refunded")
		}
		slices.SortFunc(list, func(a, b keySums) int { return a.key.compare(b.key) })
		add := sumRows{Keys: make([][]string, len(list)), Sums: make([][]int64, len(list))}
		for i := range list {
			k, s := &list[i].key, &list[i].sums
			add.Keys[i] = []string{k.Set, k.Period, k.K[0], k.K[1], k.K[2], k.K[3], k.K[4], k.K[5], k.K[6], k.Household}
			add.Sums[i] = []int64{s.Amount, s.Union, s.Delivered, s.Refunded}
		}
		keyCols := strings.Split(fmt.Sprintf(rollupKeyCols, t.period), ", ")
		if err := addSums(ctx, tx, t.table, keyCols, rollupSumCols, add); err != nil {
			return fmt.Errorf("ledger rollups: %w", err)
		}
	}
	return addBenefit(ctx, tx, rows)
}

// rollupSelect is the ledger recomputed as set's rows (of table with period column
// periodExpr over ledger_entries), for rebuilding and verifying.
func rollupSelect(set rollupSet, periodExpr string) string {
	ks := make([]string, 7)
	for i := range ks {
		ks[i] = "''"
		if i < len(set.cols) {
			ks[i] = set.cols[i]
		}
		ks[i] += fmt.Sprintf(" AS k%d", i+1)
	}
	group := append(append([]string{periodExpr}, set.cols...), "COALESCE(household_no, '')")
	return `SELECT '` + set.name + `' AS grp, ` + periodExpr + ` AS period, ` + strings.Join(ks, ", ") + `, COALESCE(household_no, '') AS household_no,
		SUM(amount_fen) AS amount_fen, ` + ledgerPartsSQL("") + `
		FROM ledger_entries GROUP BY ` + strings.Join(group, ", ")
}

// unitTables are the units rollup's two grains, each with its period of a row of
// unitEventRows.
var unitTables = [2]struct{ table, period, expr string }{
	{"unit_month_rollups", "month", "substr(u.day, 1, 7)"},
	{"unit_day_rollups", "business_day", "u.day"},
}

// addUnits adds sign × the net units (and sign × the count) of the delivered and refunded
// events that cond selects (a condition on fulfilment_events e, with condArgs) to the units
// rollups, and works out what they add to the unit figures (kept in t for writeLate:
// unitfigures.go), each event on the line of order orderExpr ("e.order_id", or "?" given
// as the first of orderArgs for events not yet adopted) that has its line number. sign is
// an SQL expression (a literal, or a CASE over e with signArgs).
func addUnits(ctx context.Context, t *txn, orderExpr string, orderArgs []any, cond string, condArgs []any, sign string, signArgs []any) error {
	// The arguments in the order of the statements' placeholders: the sign twice, the
	// order, the condition.
	args := append(append(append([]any{}, signArgs...), signArgs...), orderArgs...)
	args = append(args, condArgs...)
	events := unitEventRows(sign, orderExpr, cond) // the same rows for every grain and for the figures
	for _, g := range unitTables {
		q := `INSERT INTO ` + g.table + ` (` + g.period + `, sku, funding, branch_code, mall, units, events)
			SELECT ` + g.expr + `, u.sku, u.funding, u.branch_code, u.mall, SUM(u.units), SUM(u.events)
			FROM ` + events + `
			GROUP BY ` + g.expr + `, u.sku, u.funding, u.branch_code, u.mall
			ON CONFLICT (` + g.period + `, sku, funding, branch_code, mall)
			DO UPDATE SET units = ` + g.table + `.units + excluded.units, events = ` + g.table + `.events + excluded.events`
		if _, err := t.tx.ExecContext(ctx, t.tx.Rebind(q), args...); err != nil {
			return fmt.Errorf("unit rollups: %w", err)
		}
	}
	return t.addUnitFigures(ctx, events, args)
}

// span is a report's days cut into the whole calendar years it covers (read from the year
// rollups, when the report has no use for months), the whole months outside them (the
// month rollups) and the days before and after those (the day rollups).
type span struct {
	parts []spanPart
}

// spanPart is a range of one grain's periods, both ends included.
type spanPart struct {
	grain    int // 0 year, 1 month, 2 day
	from, to string
}

// spanOf cuts from..to into whole years (when years), whole months and days.
func spanOf(from, to bizday.Day, years bool) span {
	fm := from
	if from.String()[8:] != "01" {
		fm = attribution.NextMonth(from)
	}
	lmEnd := to // the last day of the last whole month
	if next := to.AddDays(1); next.String()[8:] != "01" {
		lmEnd = attribution.MonthStart(to).AddDays(-1)
	}
	if lmEnd.Before(fm) {
		return span{parts: []spanPart{{2, from.String(), to.String()}}}
	}
	var sp span
	if from.Before(fm) {
		sp.parts = append(sp.parts, spanPart{2, from.String(), fm.AddDays(-1).String()})
	}
	first, last := fm.Month(), lmEnd.Month() // whole months, YYYY-MM
	fy, ly := first[:4], last[:4]            // whole years within them
	if first[5:] != "01" {
		fy = nextYear(fy)
	}
	if last[5:] != "12" {
		ly = prevYear(ly)
	}
	if !years || fy > ly {
		sp.parts = append(sp.parts, spanPart{1, first, last})
	} else {
		if first < fy+"-01" {
			sp.parts = append(sp.parts, spanPart{1, first, prevYear(fy) + "-12"})
		}
		sp.parts = append(sp.parts, spanPart{0, fy, ly})
		if last > ly+"-12" {
			sp.parts = append(sp.parts, spanPart{1, nextYear(ly) + "-01", last})
		}
	}
	if lmEnd.Before(to) {
		sp.parts = append(sp.parts, spanPart{2, lmEnd.AddDays(1).String(), to.String()})
	}
	return sp
}

// nextYear and prevYear step a YYYY year.
func nextYear(y string) string { return addYears(y, 1) }
func prevYear(y string) string { return addYears(y, -1) }

func addYears(y string, n int) string {
	v, _ := strconv.Atoi(y) // a business day's first four digits
	return fmt.Sprintf("%04d", v+n)
}

// union builds "(SELECT … UNION ALL SELECT …) alias" over the tables of one rollup's
// grains (tables[grain]: table and period column; a span for it has no part of a grain
// whose table is ""): cols are the selected columns (the period column selected as
// business_day first), where an extra condition (may be "").
func (sp span) union(tables [3][2]string, cols, where, alias string) (string, []any) {
	sel := grainSelect{cols, where}
	return sp.unionOf(tables, [3]grainSelect{sel, sel, sel}, alias)
}

// grainSelect is what union selects from one grain's table: columns and a condition
// (may be "").
type grainSelect struct{ cols, where string }

// unionOf is union with each grain's own columns and condition (sel[grain]).
func (sp span) unionOf(tables [3][2]string, sel [3]grainSelect, alias string) (string, []any) {
	var parts []string
	var args []any
	for _, p := range sp.parts {
		t := tables[p.grain]
		cols, where := sel[p.grain].cols, sel[p.grain].where
		if where != "" {
			where = " AND " + where
		}
		parts = append(parts, `SELECT `+t[1]+` AS business_day, `+cols+` FROM `+t[0]+` WHERE `+t[1]+` BETWEEN ? AND ?`+where)
		args = append(args, p.from, p.to)
	}
	return "(" + strings.Join(parts, " UNION ALL ") + ") " + alias, args
}

// rollupSource is the ledger of from..to as sums per household and the ledger columns
// cols, a table expression le with the ledger's column names: business_day (the month for
// rows of whole months, the year for rows of whole years: every report reads it through
// substr(business_day, 1, 7) or not at all), household_no (NULL for the unattributed
// part), the columns cols, and the sums amount_fen, union_fen, delivered_fen,
// refunded_fen. where is a further condition on household_no ("" for none). A column ""
// in cols is the month: a report that keys by it reads no year rows.
//
// Whole years and months by at most one column are the benefit nets of that dimension
// (benefitDims: every ledger column a report keys by, or none); cut days, and whole
// periods by two columns or more, are the slice set's rollup rows (rollupTables). A row is
// then a household's sums in a finer slice than the report's; every report groups what it
// reads, so they add up to the same sums.
func rollupSource(from, to bizday.Day, where string, cols ...string) (string, []any) {
	var dims []string
	for _, c := range cols {
		if c != "" {
			dims = append(dims, c)
		}
	}
	and := ""
	if where != "" {
		and = " AND " + where
	}
	// selected is household_no, the keys and the four sums, the amount from amount.
	selected := func(keys []string, amount string) string {
		return strings.Join(append(append([]string{"NULLIF(household_no, '') AS household_no"}, keys...),
			amount+" AS amount_fen", "union_fen", "delivered_fen", "refunded_fen"), ", ")
	}
	var keys []string
	for _, c := range dims {
		keys = append(keys, fmt.Sprintf("k%d AS %s", slices.Index(sliceSet.cols, c)+1, c))
	}
	fromSlice := grainSelect{selected(keys, "amount_fen"), "grp = '" + sliceSet.name + "'" + and}
	ledgerGrains := [3][2]string{{"ledger_year_rollups", "year"}, {"ledger_rollups", "month"}, {"ledger_day_rollups", "business_day"}}
	years := !slices.Contains(cols, "")
	if len(dims) > 1 {
		return spanOf(from, to, years).unionOf(ledgerGrains, [3]grainSelect{fromSlice, fromSlice, fromSlice}, "le")
	}
	dim := "" // the whole ledger's nets
	if len(dims) == 1 {
		dim = dims[0]
	}
	keys = nil
	if dim != "" {
		keys = []string{"slice AS " + dim}
	}
	netCols := selected(keys, "net_fen")
	fromNets := func(n int) grainSelect {
		// One table holds both grains: the length of the period tells a year's rows from
		// a month's (a range of months may span a year's key: '2018-12' < '2019' < '2020-01').
		return grainSelect{netCols, fmt.Sprintf("dim = '%s' AND length(period) = %d", dim, n) + and}
	}
	nets := [2]string{"benefit_nets", "period"}
	return spanOf(from, to, years).unionOf([3][2]string{nets, nets, ledgerGrains[2]}, [3]grainSelect{fromNets(4), fromNets(7), fromSlice}, "le")
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
func rollupChecks() []struct{ table, have, want string } {
	var out []struct{ table, have, want string }
	keyText := func(period string) string {
		return "grp || '|' || " + period + " || '|' || k1 || '|' || k2 || '|' || k3 || '|' || k4 || '|' || k5 || '|' || k6 || '|' || k7 || '|' || household_no"
	}
	sums := "amount_fen || '/' || union_fen || '/' || delivered_fen || '/' || refunded_fen"
	for _, t := range rollupTables {
		out = append(out, struct{ table, have, want string }{t.table,
			`SELECT ` + keyText(t.period) + ` AS k, ` + sums + ` AS v FROM ` + t.table,
			`SELECT ` + keyText("period") + ` AS k, ` + sums + ` AS v FROM (` + rollupSelect(sliceSet, t.expr()) + `) r`})
	}
	out = append(out, benefitChecks()...)
	return append(out, []struct{ table, have, want string }{
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
		unitFiguresCheck(),
	}...)
}

// unitEvents are the events that moved money on a line their order has.
const unitEvents = `FROM fulfilment_events e JOIN order_lines l ON l.order_id = e.order_id AND l.line_no = e.line_no
	JOIN group_orders o ON o.id = e.order_id WHERE e.state = 'applied' AND e.type IN ('delivered', 'refunded')`

// verifyKeep is how many differing rows VerifyRollups returns per table (it counts all).
const verifyKeep = 1000

// VerifyRollups recomputes every rollup from the ledger and the events, in one snapshot,
// and returns the rows that differ (none when the rollups are right): the first
// verifyKeep of each table by key, and how many differ in all. The database compares
// (each table and its recomputation, grouped by key), so the verification's memory does
// not grow with the ledger: only the rows returned are held.
func (s *Store) VerifyRollups(ctx context.Context) ([]RollupDiff, int, error) {
	opts, _ := s.readTx(ctx)
	tx, err := s.db.BeginTxx(ctx, opts) // the primary's, never a replica's
	if err != nil {
		return nil, 0, fmt.Errorf("verify rollups: %w", err)
	}
	defer tx.Rollback()
	var out []RollupDiff
	total := 0
	for _, c := range rollupChecks() {
		var rows []struct {
			K    string `db:"k"`
			Have string `db:"have"`
			Want string `db:"want"`
			N    int    `db:"n"`
		}
		// One pass over both, grouped by key (a sort the database may spill to disk;
		// SQLite would join the two unindexed subqueries row by row).
		if err := tx.SelectContext(ctx, &rows, `SELECT k, COALESCE(have, '') AS have, COALESCE(want, '') AS want, COUNT(*) OVER () AS n
			FROM (SELECT k, MAX(CASE WHEN src = 'h' THEN v END) AS have, MAX(CASE WHEN src = 'w' THEN v END) AS want
				FROM (SELECT 'h' AS src, k, v FROM (`+c.have+`) h UNION ALL SELECT 'w' AS src, k, v FROM (`+c.want+`) w) u
				GROUP BY k) d
			WHERE have IS DISTINCT FROM want
			ORDER BY k LIMIT `+strconv.Itoa(verifyKeep)); err != nil {
			return nil, 0, fmt.Errorf("verify %s: %w", c.table, err)
		}
		for _, r := range rows {
			out = append(out, RollupDiff{Table: c.table, Key: r.K, Have: r.Have, Want: r.Want})
		}
		if len(rows) > 0 {
			total += rows[0].N
		}
	}
	slices.SortFunc(out, func(a, b RollupDiff) int { return cmp.Or(cmp.Compare(a.Table, b.Table), cmp.Compare(a.Key, b.Key)) })
	return out, total, nil
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
		for _, q := range rebuildRollupsSQL() {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("rebuild rollups: %w", err)
			}
		}
		return nil
	})
}

func rebuildRollupsSQL() []string {
	out := []string{`DELETE FROM unit_month_rollups`, `DELETE FROM unit_day_rollups`}
	for _, t := range rollupTables {
		out = append(out, `DELETE FROM `+t.table)
		if t.n == 4 { // the year's from the months', rebuilt just before
			out = append(out, yearsFromMonthsSQL(""))
			continue
		}
		out = append(out, rollupInsert(t)+rollupSelect(sliceSet, t.expr()))
	}
	out = append(out, rebuildBenefitSQL()...)
	out = append(out,
		`INSERT INTO unit_month_rollups SELECT substr(e.business_day, 1, 7), l.sku, o.funding, o.branch_code, o.mall,
		SUM(CASE WHEN e.type = 'delivered' THEN e.quantity ELSE -e.quantity END), COUNT(*) `+unitEvents+`
		GROUP BY substr(e.business_day, 1, 7), l.sku, o.funding, o.branch_code, o.mall`,
		`INSERT INTO unit_day_rollups SELECT e.business_day, l.sku, o.funding, o.branch_code, o.mall,
		SUM(CASE WHEN e.type = 'delivered' THEN e.quantity ELSE -e.quantity END), COUNT(*) `+unitEvents+`
		GROUP BY e.business_day, l.sku, o.funding, o.branch_code, o.mall`)
	return append(out, rebuildUnitFiguresSQL()...) // from the month rollups just made
}

// Statistics. A bulk load (a year's statement or history applied offline) grows the
// events, the ledger and the rollups from nothing; on PostgreSQL without autovacuum the
// planner then has no statistics and can pick a scan of every event for each event
// applied. So the store runs ANALYZE on the tables the apply path reads (in the
// background, one at a time) once it has written analyzeEvery ledger entries or events,
// and again each time it has written as many since the last ANALYZE as before it
// (20k, 40k, 80k, …): the statistics never lag the rows this process wrote by more than
// half, and a bulk load of millions of rows runs a handful of ANALYZEs rather than one
// per 20k rows (each one samples the same 30k rows per table however large the table, and
// took 10 s on a loaded machine at N = 10: docs/PERFORMANCE.md, "A year offline at
// scale"). Analyze is there for an import to call when it ends.

const analyzeEvery = 20000

// analyzeTables are the tables the apply path and the reports read.
var analyzeTables = []string{"fulfilment_events", "group_orders", "order_lines", "ledger_entries", "ledger_rollups",
	"ledger_day_rollups", "ledger_year_rollups", "unit_month_rollups", "unit_day_rollups", "linkages", "benefit_nets", "benefit_figures", "unit_figures"}

// Analyze refreshes the planner's statistics of the apply path's and the reports' tables.
func (s *Store) Analyze(ctx context.Context) error {
	q := "ANALYZE " + strings.Join(analyzeTables, ", ")
	if s.db.Dialect == SQLite {
		q = "ANALYZE"
	}
	if _, err := s.db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return nil
}

// analyzeAfter is how many rows written since the last ANALYZE start the next, when
// before were written before it.
func analyzeAfter(before int64) int64 { return max(analyzeEvery, before) }

// wrote counts n rows written by a committed transaction and starts an ANALYZE once
// max(analyzeEvery, the rows written before the last one) have been written since it.
func (s *Store) wrote(n int) {
	if n == 0 {
		return
	}
	since := s.written.Add(int64(n))
	if since < analyzeAfter(s.analyzed.Load()) || !s.analyzing.CompareAndSwap(false, true) {
		return
	}
	s.analyzed.Add(s.written.Swap(0))
	go func() {
		defer s.analyzing.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		_ = s.Analyze(ctx) // statistics only: a failure leaves the old ones
	}()
}
