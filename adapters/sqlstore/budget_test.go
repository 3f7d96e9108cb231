package sqlstore_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
	"time"

	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/bizday"
	"aidmall/households"
	"aidmall/money"
	"aidmall/orders"
)

// The budget check sums what a branch's orders use in the database (Tx.BudgetUsed);
// BudgetUse is the rule. Over orders in every state a fulfilment can leave them in
// (cancelled or rejected with or without shipments, partly shipped, delivered, refunded
// in part, in full or beyond a line's amount), the sum is the rule's to the fen, leaves
// out the order asked to, and counts neither other years, other branches nor orders not
// paid from union funds.
func TestBudgetUsedIsBudgetUse(t *testing.T) {
	t.Parallel()
	for _, d := range sqltest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t, d.Open)
			db := f.store.DB()
			placeAt := func(ref, branch string, funding orders.Funding, at time.Time, lines ...orders.PlaceLine) *orders.GroupOrder {
				t.Helper()
				o, err := f.svc.Place(ctx, aidOffice, orders.PlaceRequest{
					OrderRef: ref, BranchCode: branch, Mall: mallCCB, Funding: funding, DeliveryMode: orders.DeliveryBulk,
					ShipTo: orders.ShipTo{Name: "王*", Phone: "13800000000", Address: "北京"}, Lines: lines, PlacedAt: &at,
				})
				if err != nil {
					t.Fatal(err)
				}
				return o
			}
			used := func(except int64) (money.Fen, bool, money.Fen) {
				t.Helper()
				var amount, sum money.Fen
				var ok bool
				if err := f.store.InTx(ctx, func(tx orders.Tx) error {
					var err error
					amount, ok, sum, err = tx.BudgetUsed(ctx, "HQ", 2019, except)
					return err
				}); err != nil {
					t.Fatal(err)
				}
				return amount, ok, sum
			}
			rule := func(except int64) money.Fen {
				t.Helper()
				from, to := orders.BudgetYearSpan(2019)
				placed, err := f.store.OrdersPlaced(ctx, "HQ", orders.FundingUnion, from, to)
				if err != nil {
					t.Fatal(err)
				}
				var sum money.Fen
				for i := range placed {
					if placed[i].ID != except {
						sum += orders.BudgetUse(&placed[i])
					}
				}
				return sum
			}

			// Not counted: the year before (its last half hour, Beijing), another branch,
			// another funding.
			placeAt("Y2018", "HQ", orders.FundingUnion, time.Date(2018, 12, 31, 23, 30, 0, 0, bizday.Beijing), orders.PlaceLine{SKU: "P1", Quantity: 5})
			placeAt("SELF", "HQ", orders.FundingEmployeePays, time.Date(2019, 5, 1, 9, 0, 0, 0, bizday.Beijing), orders.PlaceLine{SKU: "P1", Quantity: 5})
			if _, err := f.store.UpsertBranches(ctx, []households.Branch{{Code: "B2", Name: "二分工会", Company: "二分", Members: 5}}); err != nil {
				t.Fatal(err)
			}
			placeAt("OTHER", "B2", orders.FundingUnion, time.Date(2019, 5, 1, 9, 0, 0, 0, bizday.Beijing), orders.PlaceLine{SKU: "P1", Quantity: 5})

			if _, ok, sum := used(0); ok || sum != 0 {
				t.Fatalf("no budget set: ok %v, used %s; want none", ok, sum)
			}
			// The first instant of 2019 counts; then orders of one to three lines.
			var ids []int64
			ids = append(ids, placeAt("Y2019", "HQ", orders.FundingUnion, time.Date(2019, 1, 1, 0, 0, 0, 0, bizday.Beijing), orders.PlaceLine{SKU: "P1", Quantity: 3}).ID)
			rng := rand.New(rand.NewPCG(10, 3))
			for i := range 60 {
				lines := []orders.PlaceLine{{SKU: "P1", Quantity: 1 + rng.Int64N(20)}}
				for range rng.IntN(3) {
					lines = append(lines, orders.PlaceLine{SKU: "P2", Quantity: 1 + rng.Int64N(20)})
				}
				at := time.Date(2019, time.Month(1+rng.IntN(12)), 1+rng.IntN(28), rng.IntN(24), 0, 0, 0, bizday.Beijing)
				ids = append(ids, placeAt(fmt.Sprintf("R%d", i), "HQ", orders.FundingUnion, at, lines...).ID)
			}
			if _, _, err := f.svc.SetBudget(ctx, aidOffice, "HQ", 2019, 1_000_000); err != nil {
				t.Fatal(err)
			}
			// Every state: the order's flags, and each line's shipped, delivered and
			// refunded amounts, drawn anew in each round.
			for round := range 4 {
				for k, id := range ids {
					cancelled := rng.IntN(4) == 0
					reject := ""
					if rng.IntN(4) == 0 {
						reject = "40005"
					}
					// shape draws a line's shipped and delivered units and refunded fen.
					shape := rng.IntN(6)
					refund := rng.IntN(6)
					switch k {
					case 0: // cancelled before anything shipped, with a refund no event makes
						cancelled, reject, shape, refund = true, "", 0, 2
					case 1: // rejected after part shipped, refunded beyond a line's amount
						cancelled, reject, shape, refund = false, "40005", 3, 0
					case 2: // delivered in full and refunded in part or in full
						cancelled, reject, shape, refund = false, "", 4, 1
					}
					if _, err := db.ExecContext(ctx, db.Rebind(`UPDATE group_orders SET cancelled = ?, reject_code = ? WHERE id = ?`), cancelled, reject, id); err != nil {
						t.Fatal(err)
					}
					var lines []struct {
						ID       int64 `db:"id"`
						Quantity int64 `db:"quantity"`
						Price    int64 `db:"unit_price_fen"`
					}
					if err := db.SelectContext(ctx, &lines, db.Rebind(`SELECT id, quantity, unit_price_fen FROM order_lines WHERE order_id = ?`), id); err != nil {
						t.Fatal(err)
					}
					for _, l := range lines {
						var shipped, delivered, refunded int64
						switch shape {
						case 0, 5: // nothing yet
						case 1: // partly shipped
							shipped = rng.Int64N(l.Quantity + 1)
						case 2: // delivered beyond what shipped was recorded
							delivered = rng.Int64N(l.Quantity + 1)
						case 3: // shipped and delivered, more than ordered at times
							shipped, delivered = 1+rng.Int64N(l.Quantity+2), rng.Int64N(l.Quantity+3)
						case 4: // everything
							shipped, delivered = l.Quantity, l.Quantity
						}
						switch refund {
						case 0: // up to a unit beyond the line's amount
							refunded = rng.Int64N(l.Quantity*l.Price + l.Price + 1)
						case 1: // in part or in full
							refunded = rng.Int64N(l.Quantity*l.Price + 1)
						case 2:
							// No refund event makes this; the sum must follow the rule anyway.
							refunded = -1 - rng.Int64N(l.Price)
						}
						if _, err := db.ExecContext(ctx, db.Rebind(`UPDATE order_lines SET shipped_qty = ?, delivered_qty = ?, refunded_fen = ? WHERE id = ?`),
							shipped, delivered, refunded, l.ID); err != nil {
							t.Fatal(err)
						}
					}
				}
				// The indicators' use of every branch's budget: the same rule, per branch.
				byBranch, err := f.store.Used(ctx, 2019)
				if err != nil {
					t.Fatal(err)
				}
				from, to := orders.BudgetYearSpan(2019)
				all, err := f.store.OrdersPlaced(ctx, "", orders.FundingUnion, from, to)
				if err != nil {
					t.Fatal(err)
				}
				want := map[string]money.Fen{}
				for i := range all {
					want[all[i].BranchCode] += orders.BudgetUse(&all[i])
				}
				if !maps.Equal(byBranch, want) || len(want) != 2 {
					t.Fatalf("round %d: Used %v, BudgetUse over the orders by branch %v", round, byBranch, want)
				}
				for _, except := range []int64{0, ids[round], ids[len(ids)-1-round]} {
					amount, ok, got := used(except)
					if !ok || amount != 1_000_000 {
						t.Fatalf("budget %s, ok %v; want 10000.00", amount, ok)
					}
					if want := rule(except); got != want {
						t.Fatalf("round %d, leaving out order %d: BudgetUsed %s, BudgetUse over the orders %s", round, except, got, want)
					}
				}
			}
		})
	}
}
