package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/bizday"
	"aidmall/money"
	"aidmall/orders"
	"aidmall/reports"
)

// placeOn places an order of branch HQ on a Beijing day with a funding.
func (f *fixture) placeOn(t testing.TB, ref, day string, funding orders.Funding, mall orders.Mall, lines ...orders.PlaceLine) *orders.GroupOrder {
	t.Helper()
	at := bizday.MustParse(day).Start().Add(10 * time.Hour)
	o, err := f.svc.Place(context.Background(), aidOffice, orders.PlaceRequest{
		OrderRef: ref, BranchCode: "HQ", Mall: mall, Funding: funding, DeliveryMode: orders.DeliveryBulk,
		ShipTo: orders.ShipTo{Name: "王*", Phone: "13800000000", Address: "北京"}, Lines: lines, PlacedAt: &at,
	})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// reportYear is a small year with the seed registry: S1 (P1) has three households of
// 3, 4 and 5 people; S2 (P2) none.
//
//	o1 HQ union 2019-03-01 ccb P1×10 (680.00): delivered 03-05, 68.00 refunded (1 unit) 04-06
//	o2 HQ self-pay 2019-04-02 abc P1×7 (483.00): delivered 04-07
//	o3 HQ union 2018-03-10 ccb P2×3 (150.00): delivered 2018-03-12 (unattributed)
//	o4 HQ union 2019-05-01 ccb P2×2 (100.00): cancelled 05-02
//	o5 HQ union 2019-06-01 ccb P1×1 (68.00): nothing yet
func reportYear(t *testing.T, f *fixture) {
	t.Helper()
	o1 := f.placeOn(t, "O1", "2019-03-01", orders.FundingUnion, mallCCB, orders.PlaceLine{SKU: "P1", Quantity: 10})
	o2 := f.placeOn(t, "O2", "2019-04-02", orders.FundingEmployeePays, mallABC, orders.PlaceLine{SKU: "P1", Quantity: 7})
	o3 := f.placeOn(t, "O3", "2018-03-10", orders.FundingUnion, mallCCB, orders.PlaceLine{SKU: "P2", Quantity: 3})
	o4 := f.placeOn(t, "O4", "2019-05-01", orders.FundingUnion, mallCCB, orders.PlaceLine{SKU: "P2", Quantity: 2})
	f.placeOn(t, "O5", "2019-06-01", orders.FundingUnion, mallCCB, orders.PlaceLine{SKU: "P1", Quantity: 1})
	for _, e := range []orders.FulfilmentEvent{
		ev(o1, "a", orders.EventDelivered, 1, 10, 0, "2019-03-05 10:00"),
		ev(o1, "b", orders.EventRefunded, 1, 1, 6800, "2019-04-06 10:00"),
		ev(o2, "c", orders.EventDelivered, 1, 7, 0, "2019-04-07 23:59"),
		ev(o3, "d", orders.EventDelivered, 1, 3, 0, "2018-03-12 10:00"),
		ev(o4, "e", orders.EventCancelled, 0, 0, 0, "2019-05-02 10:00"),
	} {
		if _, err := f.svc.Apply(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReportSet(t *testing.T) {
	for _, d := range sqltest.Dialects {
		name, open := d.Name, d.Open
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t, open)
			reportYear(t, f)
			year := reports.YearPeriod(2019)

			t.Run("breakdowns_agree_with_the_reference_computation", func(t *testing.T) {
				rows, members, err := f.store.LedgerRows(ctx)
				if err != nil {
					t.Fatal(err)
				}
				units, err := f.store.UnitRows(ctx)
				if err != nil {
					t.Fatal(err)
				}
				dims := reports.Dimensions()
				for _, p := range []reports.Period{year, reports.YearPeriod(2018), {From: bizday.MustParse("2019-04-01"), To: bizday.MustParse("2019-04-30")}} {
					for _, a := range dims {
						for _, b := range append([]reports.By{""}, dims...) {
							by := []reports.By{a}
							if b != "" {
								if b == a {
									continue
								}
								by = append(by, b)
							}
							q := reports.BreakdownQuery{Period: p, By: by}
							got, err := f.store.Breakdown(ctx, q)
							if err != nil {
								t.Fatal(err)
							}
							want := reports.ComputeBreakdown(rows, units, members, nil, q)
							if fmt.Sprint(got.Totals) != fmt.Sprint(want.Totals) || len(got.Rows) != len(want.Rows) {
								t.Fatalf("%v %v: SQL %+v, reference %+v", by, p, got, want)
							}
							for i := range got.Rows {
								g, w := got.Rows[i], want.Rows[i]
								if fmt.Sprint(g.Keys) != fmt.Sprint(w.Keys) || g.Figures != w.Figures {
									t.Fatalf("%v %v row %d: SQL %+v, reference %+v", by, p, i, g, w)
								}
							}
						}
					}
				}
			})

			t.Run("county_by_month_has_net_units_beside_amounts", func(t *testing.T) {
				got, err := f.store.Breakdown(ctx, reports.BreakdownQuery{Period: year, By: []reports.By{reports.ByCounty, reports.ByMonth}})
				if err != nil {
					t.Fatal(err)
				}
				want := map[string]reports.Figures{
					"610630/2019-03": {Households: 3, People: 12, NetAmount: 68000, NetUnits: 10},
					"610630/2019-04": {Households: 3, People: 12, NetAmount: 48300 - 6800, NetUnits: 7 - 1},
				}
				if len(got.Rows) != len(want) {
					t.Fatalf("rows %+v, want %v", got.Rows, want)
				}
				for _, r := range got.Rows {
					k := r.Keys[0] + "/" + r.Keys[1]
					if r.Figures != want[k] || r.Labels[0] != "宜川县" {
						t.Fatalf("row %s: %+v, want %+v labelled 宜川县", k, r, want[k])
					}
				}
				if got.Totals.NetUnits != 16 || got.Totals.Households != 3 || got.Totals.PurchasedAmount != 61200 || got.Totals.HelpedSellAmount != 48300 {
					t.Fatalf("totals %+v", got.Totals)
				}
			})

			t.Run("comparison_puts_the_year_before_beside_each_row", func(t *testing.T) {
				got, err := f.store.Breakdown(ctx, reports.BreakdownQuery{Period: year, By: []reports.By{reports.ByCategory, reports.ByMonth}, Compare: true})
				if err != nil {
					t.Fatal(err)
				}
				if got.Previous == nil || got.Previous.From.String() != "2018-01-01" || got.Previous.Totals.NetUnits != 3 {
					t.Fatalf("previous %+v", got.Previous)
				}
				var walnut *reports.BreakdownRow
				for i, r := range got.Rows {
					if r.Previous == nil {
						t.Fatalf("row %v has no previous figures", r.Keys)
					}
					if r.Keys[0] == "walnut" {
						walnut = &got.Rows[i]
					}
				}
				// 2018-03's walnuts sit beside 2019-03, where nothing was sold.
				if walnut == nil || walnut.Keys[1] != "2019-03" || walnut.NetAmount != 0 || walnut.Previous.NetAmount != 15000 || walnut.Previous.NetUnits != 3 || walnut.Previous.Households != 0 {
					t.Fatalf("walnut row %+v", walnut)
				}
			})

			t.Run("indicators_per_branch_and_group_with_budget_and_targets", func(t *testing.T) {
				if _, _, err := f.svc.SetBudget(ctx, aidOffice, "HQ", 2019, 100000); err != nil { // 1000.00 for 2019
					t.Fatal(err)
				}
				x, err := f.store.Indicators(ctx, 2019)
				if err != nil {
					t.Fatal(err)
				}
				if x.Target != nil || len(x.Branches) != 1 {
					t.Fatalf("indicators %+v: want no target and one branch", x)
				}
				hq := x.Branches[0]
				// used: o1 680.00 − 68.00 refunded + o5 68.00; o4 cancelled, o2 self-paid, o3 of 2018.
				if hq.Branch != "HQ" || hq.Label != "总部工会" || hq.PurchasedAmount != 61200 || hq.HelpedSellAmount != 48300 ||
					hq.Households != 3 || hq.People != 12 || hq.Budget == nil || *hq.Budget != 100000 || hq.Used != 68000 ||
					hq.UsedPercent == nil || *hq.UsedPercent != "68.00" {
					t.Fatalf("HQ %+v", hq)
				}
				if x.Group.PurchasedAmount != 61200 || x.Group.HelpedSellAmount != 48300 || x.Group.Households != 3 || x.Group.Used != 68000 {
					t.Fatalf("group %+v", x.Group)
				}
				at := time.Date(2020, 1, 5, 1, 2, 3, 0, time.UTC)
				if _, had, err := f.store.SetTarget(ctx, reports.Target{Year: 2019, PurchasedAmount: 100000, HelpedSellAmount: 1, SetBy: "office", SetAt: at}); err != nil || had {
					t.Fatalf("first target: had %v, %v", had, err)
				}
				before, had, err := f.store.SetTarget(ctx, reports.Target{Year: 2019, PurchasedAmount: 100000, HelpedSellAmount: 96600, SetBy: "office", SetAt: at})
				if err != nil || !had || before.HelpedSellAmount != 1 {
					t.Fatalf("second target: before %+v had %v, %v", before, had, err)
				}
				x, err = f.store.Indicators(ctx, 2019)
				if err != nil {
					t.Fatal(err)
				}
				if x.Target == nil || *x.Target.PurchasedPercent != "61.20" || *x.Target.HelpedSellPercent != "50.00" || !x.Target.SetAt.Equal(at) {
					t.Fatalf("target %+v", x.Target)
				}
				if _, _, err := f.store.SetTarget(ctx, reports.Target{Year: 2019, PurchasedAmount: -1}); !errors.Is(err, orders.ErrInvalid) {
					t.Fatalf("negative target: %v", err)
				}
				other, err := f.store.Indicators(ctx, 2018)
				if err != nil || other.Target != nil || other.Branches[0].Used != 15000 || other.Branches[0].PurchasedAmount != 15000 {
					t.Fatalf("2018: %+v, %v", other, err)
				}
			})

			t.Run("branch_spending_by_month", func(t *testing.T) {
				got, err := f.store.Spending(ctx, year)
				if err != nil {
					t.Fatal(err)
				}
				want := []string{
					"HQ 2019-03 680.00 680.00 0.00 0.00",
					"HQ 2019-04 483.00 483.00 68.00 0.00",
					"HQ 2019-05 100.00 0.00 0.00 100.00",
					"HQ 2019-06 68.00 0.00 0.00 0.00",
				}
				var have []string
				for _, r := range got.Rows {
					have = append(have, fmt.Sprintf("%s %s %s %s %s %s", r.Branch, r.Month, r.Placed, r.Delivered, r.Refunded, r.Cancelled))
				}
				if fmt.Sprint(have) != fmt.Sprint(want) || got.Totals.Placed != 68000+48300+10000+6800 {
					t.Fatalf("spending\n%v\nwant\n%v", have, want)
				}
			})

			t.Run("supplier_sales_and_unattributed", func(t *testing.T) {
				s, err := f.store.SupplierSales(ctx, year)
				if err != nil {
					t.Fatal(err)
				}
				if len(s.Rows) != 2 || s.Rows[0].Supplier != "S1" || s.Rows[0].NetAmount != 109500 || s.Rows[0].NetUnits != 16 ||
					s.Rows[0].LinkedHouseholds != 3 || s.Rows[0].Households != 3 || s.Rows[1].NetAmount != 0 || s.Rows[1].LinkedHouseholds != 0 {
					t.Fatalf("supplier sales %+v", s.Rows)
				}
				u, err := f.store.Unattributed(ctx, reports.YearPeriod(2018))
				if err != nil {
					t.Fatal(err)
				}
				if len(u.Rows) != 1 || u.Rows[0].Supplier != "S2" || u.Rows[0].NetAmount != 15000 || u.Total != 15000 || u.Rows[0].Label != "合作社二" {
					t.Fatalf("unattributed %+v", u)
				}
				u, err = f.store.Unattributed(ctx, year)
				if err != nil || len(u.Rows) != 0 || u.Total != money.Fen(0) {
					t.Fatalf("2019 unattributed %+v %v", u, err)
				}
			})
		})
	}
}
