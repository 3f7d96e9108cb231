package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"

	"aidmall/bizday"
)

// Unit figures (migrations 00022–00023): the net units and the event count of the unit
// rollups per business year and month and per slice of one dimension, so that a breakdown
// of whole years or months by one dimension (or by one and the month) reads one row per
// slice of its answer. The unit rollups key by SKU, funding, branch and mall, and a
// breakdown by county read every one of their rows of the year and joined the catalogue:
// 42,000 rows at N = 100, growing with N (docs/PERFORMANCE.md, "Reports at N = 1 … 1000
// through the API").
//
// The slice of the catalogue's dimensions (county, category, supplier) is the catalogue's
// as it stands, as the unit rollups are read (unitSource joins products and suppliers):
// so the figures are made again from the month rollups when an import changes a product
// or a supplier (rebuildUnitFigures), in the import's transaction. Where the units move
// (addUnits), their additions to the figures are worked out in the database at once and
// kept in the transaction (txn.unitFigs), then written last of all, in key order
// (writeUnitFigures, from txn.writeLate): every mall's deliveries share their rows.

// unitDims are the dimensions the unit figures keep, each with its slice over the columns
// of unitFiguresSelect's u (an event's or a unit rollup's SKU, funding, branch, mall) and
// its product p and supplier s.
var unitDims = []struct{ dim, expr string }{
	{"", "''"}, {"county_code", "s.county_code"}, {"category", "p.category"}, {"sku", "u.sku"},
	{"supplier_code", "p.supplier_code"}, {"branch_code", "u.branch_code"}, {"mall", "u.mall"}, {"funding", "u.funding"},
}

// unitFiguresSelect groups the rows of src (a table expression u with the columns day, a
// business day or month; sku, funding, branch_code, mall, units, events) into the unit
// figures' rows (dim, period, slice, units, events): each row in every dimension of
// unitDims, for its year and its month.
func unitFiguresSelect(src string) string {
	dims := make([]string, len(unitDims))
	slice := make([]string, len(unitDims))
	for i, d := range unitDims {
		dims[i] = "SELECT '" + d.dim + "' AS dim"
		slice[i] = "WHEN '" + d.dim + "' THEN " + d.expr
	}
	return `SELECT d.dim, substr(u.day, 1, g.n) AS period, CASE d.dim ` + strings.Join(slice, " ") + ` END AS slice,
		SUM(u.units) AS units, SUM(u.events) AS events
		FROM ` + src + ` JOIN products p ON p.sku = u.sku JOIN suppliers s ON s.code = p.supplier_code
		CROSS JOIN (SELECT 4 AS n UNION ALL SELECT 7) g CROSS JOIN (` + strings.Join(dims, " UNION ALL ") + `) d
		WHERE u.events <> 0 OR u.units <> 0
		GROUP BY d.dim, substr(u.day, 1, g.n), CASE d.dim ` + strings.Join(slice, " ") + ` END`
}

// unitFiguresUpsert is the INSERT adding unitFiguresSelect(src) to the unit figures, in
// key order: on PostgreSQL every writer then locks the rows it shares with another (the
// whole ledger's, a funding's, …) in one order, and two cannot deadlock.
func unitFiguresUpsert(src string) string {
	return `INSERT INTO unit_figures (dim, period, slice, units, events) ` + unitFiguresSelect(src) + `
		ORDER BY 1, 2, 3
		ON CONFLICT (dim, period, slice) DO UPDATE SET units = unit_figures.units + excluded.units, events = unit_figures.events + excluded.events`
}

// addUnitFigures adds the unit figures' additions of the events of src (a table
// expression u as unitFiguresSelect reads, with args) to t.unitFigs: worked out in the
// database now, while the events' states say what moves (an event's state may change
// later in the transaction), and written by writeUnitFigures at the end.
func (t *txn) addUnitFigures(ctx context.Context, src string, args []any) error {
	rows, err := t.tx.QueryContext(ctx, t.tx.Rebind(unitFiguresSelect(src)), args...)
	if err != nil {
		return fmt.Errorf("unit figures: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k benefitSlice
		var units, events int64
		if err := rows.Scan(&k.Dim, &k.Period, &k.Slice, &units, &events); err != nil {
			return fmt.Errorf("unit figures: %w", err)
		}
		if t.unitFigs == nil {
			t.unitFigs = map[benefitSlice][2]int64{}
		}
		v := t.unitFigs[k]
		t.unitFigs[k] = [2]int64{v[0] + units, v[1] + events}
	}
	return rows.Err()
}

// writeUnitFigures writes t.unitFigs to the unit figures, in key order (dim, period,
// slice: the table's), and empties it.
func (t *txn) writeUnitFigures(ctx context.Context) error {
	if len(t.unitFigs) == 0 {
		return nil
	}
	keys := slices.SortedFunc(maps.Keys(t.unitFigs), func(a, b benefitSlice) int {
		return cmp.Or(cmp.Compare(a.Dim, b.Dim), cmp.Compare(a.Period, b.Period), cmp.Compare(a.Slice, b.Slice))
	})
	add := sumRows{Keys: make([][]string, 0, len(keys)), Sums: make([][]int64, 0, len(keys))}
	for _, k := range keys {
		if v := t.unitFigs[k]; v != [2]int64{} {
			add.Keys = append(add.Keys, []string{k.Dim, k.Period, k.Slice})
			add.Sums = append(add.Sums, v[:])
		}
	}
	t.unitFigs = nil
	if err := addSums(ctx, t.tx, "unit_figures", []string{"dim", "period", "slice"}, []string{"units", "events"}, add); err != nil {
		return fmt.Errorf("unit figures: %w", err)
	}
	return nil
}

// unitFiguresFromMonths is the unit figures made from the unit month rollups (and the
// catalogue), the whole table's worth.
var unitFiguresFromMonths = `(SELECT month AS day, sku, funding, branch_code, mall, units, events FROM unit_month_rollups WHERE events <> 0) u`

// rebuildUnitFiguresSQL makes the unit figures again from the unit month rollups (after
// those are right: RebuildRollups rebuilds them first).
func rebuildUnitFiguresSQL() []string {
	return []string{`DELETE FROM unit_figures`, unitFiguresUpsert(unitFiguresFromMonths)}
}

// rebuildUnitFigures runs rebuildUnitFiguresSQL in tx: when the catalogue changed under
// them (a product's supplier or category, a supplier's county), and as migration 00023.
func rebuildUnitFigures(ctx context.Context, tx interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}) error {
	for _, q := range rebuildUnitFiguresSQL() {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("unit figures: %w", err)
		}
	}
	return nil
}

// unitEventRows is the units of the delivered and refunded events that cond selects, each
// on the line of order orderExpr, times sign, as a table expression u as unitFiguresSelect
// reads (addUnits' and the verification's one query of them).
func unitEventRows(sign, orderExpr, cond string) string {
	return `(SELECT e.business_day AS day, l.sku, o.funding, o.branch_code, o.mall,
			(` + sign + `) * CASE WHEN e.type = 'delivered' THEN e.quantity ELSE -e.quantity END AS units, (` + sign + `) AS events
		FROM fulfilment_events e JOIN group_orders o ON o.id = ` + orderExpr + `
		JOIN order_lines l ON l.order_id = o.id AND l.line_no = e.line_no
		WHERE (` + cond + `) AND e.type IN ('delivered', 'refunded')) u`
}

// unitFiguresCheck pairs the unit figures with their recomputation from the events and the
// catalogue (VerifyRollups).
func unitFiguresCheck() struct{ table, have, want string } {
	key, sums := "dim || '|' || period || '|' || slice", "units || '/' || events"
	events := unitEventRows("1", "e.order_id", "e.state = 'applied'")
	return struct{ table, have, want string }{"unit_figures",
		`SELECT ` + key + ` AS k, ` + sums + ` AS v FROM unit_figures WHERE events <> 0`,
		`SELECT ` + key + ` AS k, ` + sums + ` AS v FROM (` + unitFiguresSelect(events) + `) f WHERE events <> 0`}
}

// unitSource is the units of from..to as a table expression u: business_day (a day, or
// the month or year of a row of whole months or years: a report reads it through
// substr(business_day, 1, 7) or not at all), units, and the columns cols a report keys by
// (a column "" is the month: then no row is a whole year's).
//
// Whole years and months by at most one column are the unit figures of that dimension;
// cut days, and whole periods by two columns, are the unit rollups with the catalogue's
// category, supplier and county of each SKU. A report groups what it reads, so the rows of
// both add up to the same sums.
func unitSource(from, to bizday.Day, cols ...string) (string, []any) {
	var dims []string
	for _, c := range cols {
		if c != "" {
			dims = append(dims, c)
		}
	}
	withCatalogue := func(table string) string {
		return `(SELECT r.*, p.category, p.supplier_code, s.county_code FROM ` + table + ` r
			JOIN products p ON p.sku = r.sku JOIN suppliers s ON s.code = p.supplier_code) ` + table
	}
	all := grainSelect{`sku, funding, branch_code, mall, units, category, supplier_code, county_code`, "events <> 0"}
	days := [2]string{withCatalogue("unit_day_rollups"), "business_day"}
	if len(dims) > 1 {
		return spanOf(from, to, false).unionOf([3][2]string{{}, {withCatalogue("unit_month_rollups"), "month"}, days},
			[3]grainSelect{{}, all, all}, "u")
	}
	dim, sel := "", "units"
	if len(dims) == 1 {
		dim = dims[0]
		sel = "slice AS " + dim + ", units"
	}
	fromFigures := func(n int) grainSelect {
		// One table holds both grains: the length of the period tells a year's rows from a
		// month's (a range of months may span a year's key: '2018-12' < '2019' < '2020-01').
		return grainSelect{sel, fmt.Sprintf("dim = '%s' AND length(period) = %d AND events <> 0", dim, n)}
	}
	daySel := "units"
	if dim != "" {
		daySel = dim + ", units"
	}
	figures := [2]string{"unit_figures", "period"}
	return spanOf(from, to, !slices.Contains(cols, "")).unionOf([3][2]string{figures, figures, days},
		[3]grainSelect{fromFigures(4), fromFigures(7), {daySel, "events <> 0"}}, "u")
}
