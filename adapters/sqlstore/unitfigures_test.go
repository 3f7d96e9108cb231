package sqlstore_test

import (
	"context"
	"fmt"
	"testing"

	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/bizday"
	"aidmall/households"
	"aidmall/reports"
)

// The units of a breakdown of whole years or months by one dimension (or by one and the
// month) are read from the unit figures; they must be those of the unit rollups and the
// catalogue as it stands: after a supplier moves county and a product changes category
// and supplier, after a figure is changed by hand (rollups verify finds it) and rebuilt.
func TestUnitFiguresFollowTheCatalogue(t *testing.T) {
	for _, d := range sqltest.Dialects {
		name, open := d.Name, d.Open
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t, open)
			reportYear(t, f)
			periods := []reports.Period{reports.YearPeriod(2019), reports.YearPeriod(2018),
				{From: bizday.MustParse("2019-03-01"), To: bizday.MustParse("2019-04-30")}, // two whole months
				{From: bizday.MustParse("2018-03-01"), To: bizday.MustParse("2019-12-31")}, // months and a whole year
				{From: bizday.MustParse("2019-03-05"), To: bizday.MustParse("2019-04-06")}, // cut days: the rollups
			}
			agree := func(when string) {
				t.Helper()
				rows, members, err := f.store.LedgerRows(ctx)
				if err != nil {
					t.Fatal(err)
				}
				units, err := f.store.UnitRows(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range periods {
					for _, a := range reports.Dimensions() {
						for _, by := range [][]reports.By{{a}, {a, reports.ByMonth}, {reports.ByMonth, a}} {
							if by[0] == by[len(by)-1] && len(by) == 2 {
								continue
							}
							q := reports.BreakdownQuery{Period: p, By: by}
							got, err := f.store.Breakdown(ctx, q)
							if err != nil {
								t.Fatal(err)
							}
							want := reports.ComputeBreakdown(rows, units, members, nil, q)
							if got.Totals.NetUnits != want.Totals.NetUnits || len(got.Rows) != len(want.Rows) {
								t.Fatalf("%s: %v %v..%v: units %d in %d rows, reference %d in %d rows", when, by, p.From, p.To,
									got.Totals.NetUnits, len(got.Rows), want.Totals.NetUnits, len(want.Rows))
							}
							for i := range got.Rows {
								if g, w := got.Rows[i], want.Rows[i]; fmt.Sprint(g.Keys) != fmt.Sprint(w.Keys) || g.NetUnits != w.NetUnits {
									t.Fatalf("%s: %v %v..%v row %v: units %d, reference %v %d", when, by, p.From, p.To, g.Keys, g.NetUnits, w.Keys, w.NetUnits)
								}
							}
						}
					}
				}
				if diffs, n, err := f.store.VerifyRollups(ctx); err != nil || n != 0 {
					t.Fatalf("%s: rollups verify: %d differ (%v) %+v", when, n, err, diffs)
				}
			}
			agree("as booked")

			// S1 moves county; P1 goes to S2 (another county) as another category.
			if _, err := f.store.UpsertSuppliers(ctx, []households.Supplier{{Code: "S1", Name: "合作社一", USCC: "x", CountyCode: "610631", Kind: households.SupplierCooperative}}); err != nil {
				t.Fatal(err)
			}
			agree("after S1 moved county")
			p1 := households.Product{SKU: "P1", Name: "苹果", Category: households.CategoryWalnut, SupplierCode: "S2",
				Listings: map[string]households.Listing{"ccb": {ItemID: "C1", Price: 6800}, "abc": {ItemID: "A1", Price: 6900}}}
			if _, err := f.store.UpsertProducts(ctx, []households.Product{p1}); err != nil {
				t.Fatal(err)
			}
			agree("after P1 moved supplier and category")

			// A figure changed by hand is found, and made right by the rebuild.
			if _, err := f.store.DB().ExecContext(ctx, `UPDATE unit_figures SET units = units + 1 WHERE dim = 'county_code'`); err != nil {
				t.Fatal(err)
			}
			diffs, n, err := f.store.VerifyRollups(ctx)
			if err != nil || n == 0 || diffs[0].Table != "unit_figures" {
				t.Fatalf("rollups verify after a unit figure was changed: %d differ (%v) %+v", n, err, diffs)
			}
			if err := f.store.RebuildRollups(ctx); err != nil {
				t.Fatal(err)
			}
			agree("after the rebuild")
		})
	}
}
