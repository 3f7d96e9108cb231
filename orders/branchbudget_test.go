package orders_test

import (
	"context"
	"errors"
	"testing"

	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/orders"
)

// A branch's clerk reads what is left of their own branch's budget (the order form shows
// it), the very figure Budgets gives the office; never another branch's.
func TestBranchBudgetIsBudgetsFigureForOwnBranchOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, _ := newTestServiceOn(t, sqltest.SQLite)
	if _, _, err := svc.SetBudget(ctx, office, "HQ", 2019, 300000); err != nil {
		t.Fatal(err)
	}
	r := bulkRequest()
	r.OrderRef = "A"
	if _, err := svc.Place(ctx, hqStaff, r); err != nil {
		t.Fatal(err)
	}
	all, err := svc.Budgets(ctx, office, 2019)
	if err != nil {
		t.Fatal(err)
	}
	own, err := svc.BranchBudget(ctx, hqStaff, "HQ", 2019)
	if err != nil {
		t.Fatal(err)
	}
	if own.Used != all[0].Used || own.Remaining == nil || *own.Remaining != *all[0].Remaining || *own.Remaining != 300000-136000 {
		t.Fatalf("HQ's own budget %+v, Budgets says %+v", own, all[0])
	}
	if _, err := svc.BranchBudget(ctx, s01Staff, "HQ", 2019); !errors.Is(err, orders.ErrForbidden) {
		t.Fatalf("another branch's budget: %v, want forbidden", err)
	}
	if b, err := svc.BranchBudget(ctx, auditor, "S01", 2019); err != nil || b.Budget != nil || b.Remaining != nil {
		t.Fatalf("auditor reads S01 (no budget): %+v, %v", b, err)
	}
	if _, err := svc.BranchBudget(ctx, office, "NOPE", 2019); !errors.Is(err, orders.ErrNotFound) {
		t.Fatalf("unknown branch: %v", err)
	}
}
