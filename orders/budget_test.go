package orders_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/audit"
	"aidmall/money"
	"aidmall/orders"
)

// The budget rule: what one order uses of its branch's budget.
func TestBudgetUse(t *testing.T) {
	t.Parallel()
	line := func(qty int64, price money.Fen, shipped, delivered int64, refunded money.Fen) orders.Line {
		return orders.Line{LineNo: 1, Quantity: qty, UnitPrice: price, ShippedQty: shipped, DeliveredQty: delivered, RefundedFen: refunded}
	}
	order := func(f orders.Funding, ls ...orders.Line) *orders.GroupOrder {
		for i := range ls {
			ls[i].LineNo = i + 1
		}
		return &orders.GroupOrder{Funding: f, Lines: ls}
	}
	with := func(o *orders.GroupOrder, change func(*orders.GroupOrder)) *orders.GroupOrder { change(o); return o }
	for _, c := range []struct {
		name string
		o    *orders.GroupOrder
		want money.Fen
	}{
		{"pending_union_order_reserves_its_amount", order(orders.FundingUnion, line(20, 6800, 0, 0, 0), line(3, 3980, 0, 0, 0)), 20*6800 + 3*3980},
		{"employee_self_pay_uses_none", order(orders.FundingEmployeePays, line(20, 6800, 0, 0, 0)), 0},
		{"external_uses_none", order(orders.FundingExternal, line(20, 6800, 20, 20, 0)), 0},
		{"delivered_uses_its_amount", with(order(orders.FundingUnion, line(20, 6800, 20, 20, 0)), func(o *orders.GroupOrder) { o.Submitted = true }), 136000},
		{"less_refunds", order(orders.FundingUnion, line(20, 6800, 20, 20, 13600), line(5, 1000, 5, 5, 0)), 136000 - 13600 + 5000},
		{"fully_refunded_line_uses_none", order(orders.FundingUnion, line(2, 6800, 2, 2, 13600)), 0},
		{"cancelled_before_shipping_uses_none", with(order(orders.FundingUnion, line(20, 6800, 0, 0, 0)), func(o *orders.GroupOrder) { o.Cancelled = true }), 0},
		{"rejected_uses_none", with(order(orders.FundingUnion, line(20, 6800, 0, 0, 0)), func(o *orders.GroupOrder) { o.RejectCode = "40001" }), 0},
		{"cancelled_after_some_shipped_uses_what_shipped", with(order(orders.FundingUnion, line(20, 6800, 5, 2, 0), line(4, 1000, 0, 0, 0)),
			func(o *orders.GroupOrder) { o.Cancelled = true }), 5 * 6800},
		{"rejected_after_delivery_uses_what_was_delivered_less_refunds", with(order(orders.FundingUnion, line(20, 6800, 0, 3, 6800)),
			func(o *orders.GroupOrder) { o.RejectCode = "x" }), 2 * 6800},
		{"a_cancel_requested_but_not_done_still_reserves", with(order(orders.FundingUnion, line(20, 6800, 0, 0, 0)), func(o *orders.GroupOrder) { o.CancelReq = true }), 136000},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := orders.BudgetUse(c.o); got != c.want {
				t.Fatalf("BudgetUse = %s, want %s", got, c.want)
			}
		})
	}
}

func TestBudgetFits(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name          string
		budget        *money.Fen
		used, add     money.Fen
		wantRemaining money.Fen
		wantFits      bool
	}{
		{"no_budget_is_not_limited", nil, 1 << 40, 1 << 40, 0, true},
		{"fits_below", fen(100000), 40000, 50000, 60000, true},
		{"fits_exactly_to_the_fen", fen(100000), 40000, 60000, 60000, true},
		{"one_fen_over_is_refused", fen(100000), 40000, 60001, 60000, false},
		{"zero_budget_refuses_any_use", fen(0), 0, 1, 0, false},
		{"using_nothing_always_fits", fen(100), 500, 0, -400, true},
		{"overspent_budget_refuses", fen(100), 500, 1, -400, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, ok := orders.BudgetFits(c.budget, c.used, c.add)
			if r != c.wantRemaining || ok != c.wantFits {
				t.Fatalf("BudgetFits = %s, %v; want %s, %v", r, ok, c.wantRemaining, c.wantFits)
			}
		})
	}
}

func TestBudgetYear(t *testing.T) {
	t.Parallel()
	// 2019-12-31T16:30Z is 2020-01-01 00:30 in Beijing.
	if y := orders.BudgetYear(time.Date(2019, 12, 31, 16, 30, 0, 0, time.UTC)); y != 2020 {
		t.Fatalf("budget year %d, want 2020 (Beijing)", y)
	}
	if y := orders.BudgetYear(time.Date(2019, 12, 31, 15, 59, 0, 0, time.UTC)); y != 2019 {
		t.Fatalf("budget year %d, want 2019", y)
	}
}

// budgetDetail returns the detail of the /lines field of a budget refusal, "" if err is not one.
func budgetDetail(err error) string {
	var ve *orders.ValidationError
	if !errors.As(err, &ve) {
		return ""
	}
	for _, f := range ve.Fields {
		if f.Pointer == "/lines" {
			return f.Detail
		}
	}
	return ""
}

// Place refuses, in the transaction with the branch locked, an order that would take the
// branch's used amount past its budget for the year; on SQLite and PostgreSQL.
func TestPlaceKeepsToTheBudget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, d := range sqltest.Dialects {
		open := d.Open
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			// bulkRequest is 20 boxes at 68.00 = 1360.00 yuan.
			req := func(ref string, qty int64, f orders.Funding) orders.PlaceRequest {
				r := bulkRequest()
				r.OrderRef, r.Lines[0].Quantity, r.Funding = ref, qty, f
				return r
			}
			t.Run("refused_past_the_budget_with_the_remainder", func(t *testing.T) {
				svc, st := newTestServiceOn(t, open)
				if _, _, err := svc.SetBudget(ctx, office, "HQ", 2019, 300000); err != nil { // 3000.00
					t.Fatal(err)
				}
				a, err := svc.Place(ctx, hqStaff, req("A", 20, orders.FundingUnion)) // 1360.00
				if err != nil {
					t.Fatal(err)
				}
				_, err = svc.Place(ctx, hqStaff, req("B", 25, orders.FundingUnion)) // 1700.00 > 1640.00 left
				if !errors.Is(err, orders.ErrInvalid) || !strings.Contains(budgetDetail(err), "1640.00 yuan remaining") {
					t.Fatalf("over budget: %v, want 422 at /lines naming 1640.00 remaining", err)
				}
				if got := st.committedDispatch(t); len(got) != 1 || got[0] != a.ID {
					t.Fatalf("dispatch jobs %v: a refused order must never reach a mall", got)
				}
				if n, _ := st.counts(); n != 1 {
					t.Fatalf("%d orders stored, want 1", n)
				}
				// Other funding uses no budget.
				if _, err := svc.Place(ctx, hqStaff, req("C", 100, orders.FundingEmployeePays)); err != nil {
					t.Fatalf("employee_self_pay refused: %v", err)
				}
				if _, err := svc.Place(ctx, hqStaff, req("D", 100, orders.FundingExternal)); err != nil {
					t.Fatalf("external refused: %v", err)
				}
				// Exactly what remains fits: 1640.00 = 24 boxes (1632.00) and no more.
				if _, err := svc.Place(ctx, hqStaff, req("E", 24, orders.FundingUnion)); err != nil {
					t.Fatalf("an order that fits: %v", err)
				}
				if _, err := svc.Place(ctx, hqStaff, req("F", 1, orders.FundingUnion)); budgetDetail(err) == "" {
					t.Fatalf("one box past the budget: %v, want refused", err)
				}
				// Cancelling an order gives its amount back.
				if _, err := svc.Cancel(ctx, hqStaff, a.ID, "budget"); err != nil {
					t.Fatal(err)
				}
				if err := svc.MarkCancelled(ctx, a.ID); err != nil {
					t.Fatal(err)
				}
				if _, err := svc.Place(ctx, hqStaff, req("F", 20, orders.FundingUnion)); err != nil {
					t.Fatalf("after a cancel freed 1360.00: %v", err)
				}
				bs, err := svc.Budgets(ctx, office, 2019)
				if err != nil {
					t.Fatal(err)
				}
				hq := bs[0]
				if hq.BranchCode != "HQ" || hq.Budget == nil || *hq.Budget != 300000 || hq.Used != (24+20)*6800 || *hq.Remaining != 300000-(44*6800) {
					t.Fatalf("HQ 2019: %+v", hq)
				}
				if s01 := bs[1]; s01.BranchCode != "S01" || s01.Budget != nil || s01.Remaining != nil || s01.Used != 0 {
					t.Fatalf("S01 2019: %+v, want no budget", s01)
				}
			})
			t.Run("refunds_give_budget_back", func(t *testing.T) {
				svc, _ := newTestServiceOn(t, open)
				if _, _, err := svc.SetBudget(ctx, office, "HQ", 2019, 136000); err != nil {
					t.Fatal(err)
				}
				o, err := svc.Place(ctx, hqStaff, req("A", 20, orders.FundingUnion))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := svc.Place(ctx, hqStaff, req("B", 1, orders.FundingUnion)); budgetDetail(err) == "" {
					t.Fatalf("past a spent budget: %v", err)
				}
				at := testNow.Add(time.Hour)
				for _, e := range []orders.FulfilmentEvent{
					{Mall: o.Mall, EventID: "D", Type: orders.EventDelivered, OutOrderNo: o.OutOrderNo, LineNo: 1, Quantity: 20, OccurredAt: at},
					{Mall: o.Mall, EventID: "R", Type: orders.EventRefunded, OutOrderNo: o.OutOrderNo, LineNo: 1, Quantity: 2, RefundFen: 13600, OccurredAt: at},
				} {
					if _, err := svc.Apply(ctx, e); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := svc.Place(ctx, hqStaff, req("B", 2, orders.FundingUnion)); err != nil {
					t.Fatalf("after a refund of 136.00: %v", err)
				}
				if _, err := svc.Place(ctx, hqStaff, req("C", 1, orders.FundingUnion)); budgetDetail(err) == "" {
					t.Fatalf("past the budget again: %v", err)
				}
			})
			t.Run("no_budget_for_the_year_is_not_limited_and_years_are_beijing", func(t *testing.T) {
				svc, _ := newTestServiceOn(t, open)
				if _, _, err := svc.SetBudget(ctx, office, "HQ", 2018, 0); err != nil {
					t.Fatal(err)
				}
				if _, err := svc.Place(ctx, hqStaff, req("A", 1000, orders.FundingUnion)); err != nil {
					t.Fatalf("2019 has no budget: %v", err)
				}
				// 2018-12-31 23:30 in Beijing is in 2018, whose budget is 0.
				r := req("B", 1, orders.FundingUnion)
				at := time.Date(2018, 12, 31, 15, 30, 0, 0, time.UTC)
				r.PlacedAt = &at
				if _, err := svc.Place(ctx, office, r); budgetDetail(err) == "" {
					t.Fatalf("an order placed in Beijing's 2018 against a zero budget: %v", err)
				}
			})
			t.Run("history_is_never_refused_but_counts", func(t *testing.T) {
				svc, _ := newTestServiceOn(t, open)
				h := historyOrder() // 2018: 150 × 68.00 = 10200.00
				if _, _, err := svc.SetBudget(ctx, office, "HQ", 2018, 500000); err != nil {
					t.Fatal(err)
				}
				if _, created, err := svc.LoadHistory(ctx, office, h); err != nil || !created {
					t.Fatalf("history past the budget: %v", err)
				}
				bs, err := svc.Budgets(ctx, office, 2018)
				if err != nil {
					t.Fatal(err)
				}
				if bs[0].Used != 1020000 || *bs[0].Remaining != -520000 {
					t.Fatalf("HQ 2018 %+v: history counts", bs[0])
				}
				r := req("B", 1, orders.FundingUnion)
				at := time.Date(2018, 12, 21, 10, 0, 0, 0, time.UTC)
				r.PlacedAt = &at
				if _, err := svc.Place(ctx, office, r); budgetDetail(err) == "" || !strings.Contains(budgetDetail(err), " 0.00 yuan remaining") {
					t.Fatalf("an order after history overspent the budget: %v", err)
				}
			})
			t.Run("concurrent_orders_of_two_branches_and_self_pay_keep_each_budget_and_the_audit_chain", func(t *testing.T) {
				// The branch lock is taken late and only for union_funds orders; the audit
				// head last. Orders of two budgeted branches and self-paid ones race.
				svc, st := newTestServiceOn(t, open)
				const fit = 3 // orders of 1360.00 each budget takes
				for _, b := range []string{"HQ", "S01"} {
					if _, _, err := svc.SetBudget(ctx, office, b, 2019, fit*136000+135999); err != nil {
						t.Fatal(err)
					}
				}
				var (
					wg       sync.WaitGroup
					mu       sync.Mutex
					accepted = map[string]int{}
					others   []error
				)
				for i := range 24 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						r := req(fmt.Sprintf("M%02d", i), 20, orders.FundingUnion)
						r.BranchCode = []string{"HQ", "S01"}[i%2]
						if i%3 == 0 {
							r.Funding = orders.FundingEmployeePays
						}
						_, err := svc.Place(ctx, office, r)
						mu.Lock()
						defer mu.Unlock()
						switch {
						case err == nil:
							accepted[r.BranchCode+"/"+string(r.Funding)]++
						case budgetDetail(err) == "":
							others = append(others, err)
						}
					}()
				}
				wg.Wait()
				if len(others) > 0 {
					t.Fatalf("errors other than the budget's: %v", others)
				}
				// 12 orders per branch, 4 of them self-paid (never refused), 8 union of which 3 fit.
				want := map[string]int{"HQ/union_funds": fit, "S01/union_funds": fit, "HQ/employee_self_pay": 4, "S01/employee_self_pay": 4}
				if fmt.Sprint(accepted) != fmt.Sprint(want) {
					t.Fatalf("accepted %v, want %v", accepted, want)
				}
				bs, err := svc.Budgets(ctx, office, 2019)
				if err != nil {
					t.Fatal(err)
				}
				for _, b := range bs {
					if b.Budget != nil && *b.Remaining < 0 {
						t.Errorf("branch %s overspent: %+v", b.BranchCode, b)
					}
				}
				n, err := st.VerifyAudit(ctx)
				if err != nil || n != 2+2*fit+8 {
					t.Fatalf("audit chain: %d entries checked, %v; want %d intact", n, err, 2+2*fit+8)
				}
			})
			t.Run("concurrent_orders_for_the_last_of_a_budget_accept_exactly_those_that_fit", func(t *testing.T) {
				svc, st := newTestServiceOn(t, open)
				const n, fit = 12, 5
				if _, _, err := svc.SetBudget(ctx, office, "HQ", 2019, fit*136000+135999); err != nil {
					t.Fatal(err)
				}
				var (
					wg       sync.WaitGroup
					mu       sync.Mutex
					accepted []int64
					refused  int
					others   []error
				)
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						o, err := svc.Place(ctx, hqStaff, req(fmt.Sprintf("R%02d", i), 20, orders.FundingUnion))
						mu.Lock()
						defer mu.Unlock()
						switch {
						case err == nil:
							accepted = append(accepted, o.ID)
						case budgetDetail(err) != "":
							refused++
						default:
							others = append(others, err)
						}
					}()
				}
				wg.Wait()
				if len(others) > 0 {
					t.Fatalf("errors other than the budget's: %v", others)
				}
				if len(accepted) != fit || refused != n-fit {
					t.Fatalf("%d accepted, %d refused; want %d and %d", len(accepted), refused, fit, n-fit)
				}
				if d := st.committedDispatch(t); len(d) != fit {
					t.Fatalf("%d dispatch jobs, want %d", len(d), fit)
				}
				bs, err := svc.Budgets(ctx, office, 2019)
				if err != nil {
					t.Fatal(err)
				}
				if bs[0].Used != fit*136000 || *bs[0].Remaining != 135999 {
					t.Fatalf("HQ after the race: %+v", bs[0])
				}
			})
			t.Run("only_the_aid_office_sets_budgets", func(t *testing.T) {
				svc, _ := newTestServiceOn(t, open)
				if _, _, err := svc.SetBudget(ctx, hqStaff, "HQ", 2019, 1); !errors.Is(err, orders.ErrForbidden) {
					t.Fatalf("branch staff set a budget: %v", err)
				}
				if _, _, err := svc.SetBudget(ctx, auditor, "HQ", 2019, 1); !errors.Is(err, orders.ErrForbidden) {
					t.Fatalf("auditor set a budget: %v", err)
				}
				if _, err := svc.Budgets(ctx, hqStaff, 2019); !errors.Is(err, orders.ErrForbidden) {
					t.Fatalf("branch staff read budgets: %v", err)
				}
				if _, _, err := svc.SetBudget(ctx, office, "NOPE", 2019, 1); !errors.Is(err, orders.ErrNotFound) {
					t.Fatalf("unknown branch: %v", err)
				}
				if _, _, err := svc.SetBudget(ctx, office, "HQ", 2019, -1); !errors.Is(err, orders.ErrInvalid) {
					t.Fatalf("negative budget: %v", err)
				}
				b, before, err := svc.SetBudget(ctx, office, "HQ", 2019, 100)
				if err != nil || before != nil || *b.Budget != 100 {
					t.Fatalf("first set: %+v %v %v", b, before, err)
				}
				if _, before, err = svc.SetBudget(ctx, office, "HQ", 2019, 200); err != nil || before == nil || *before != 100 {
					t.Fatalf("second set: before %v %v", before, err)
				}
			})
		})
	}
}

// Setting a budget is recorded in the audit log with what it was and what it became; the
// same amount again changes nothing and records nothing.
func TestSetBudgetIsAudited(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, st := newTestService(t)
	for _, amount := range []money.Fen{300000, 300000, 450000} {
		if _, _, err := svc.SetBudget(ctx, office, "HQ", 2019, amount); err != nil {
			t.Fatal(err)
		}
	}
	es, _, err := st.AuditEntries(ctx, audit.Filter{Action: audit.ActionBudgetSet})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 {
		t.Fatalf("%d budget.set entries, want 2 (the repeat changes nothing)", len(es))
	}
	if es[0].Object != "budget:HQ/2019" || len(es[0].Before) != 0 && string(es[0].Before) != "null" || !strings.Contains(string(es[0].After), `"3000.00"`) ||
		!strings.Contains(string(es[1].Before), `"3000.00"`) || !strings.Contains(string(es[1].After), `"4500.00"`) {
		t.Errorf("entries %+v", es)
	}
	if es[1].Actor.Role != string(orders.RoleAidOffice) {
		t.Errorf("actor %+v, want the aid office", es[1].Actor)
	}
}
