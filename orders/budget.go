package orders

import (
	"aidmall/audit"
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"aidmall/bizday"
	"aidmall/money"
)

// Branch budgets (issue 6, item 1). A branch's consumption-aid budget is set per year
// (Beijing time). The budget of year Y is used by the branch's union_funds orders placed
// in Y; employee_self_pay and external orders use none. An order that would take the
// used amount past the budget is refused by Place; a branch with no budget for the year
// is not limited. Orders loaded as history (LoadHistory) are never refused, but count.

// MaxBudgetYear and MinBudgetYear bound the years a budget can be set for.
const (
	MinBudgetYear = 2000
	MaxBudgetYear = 2100
)

// BudgetYear is the budget year of an order placed at t: its Beijing calendar year.
func BudgetYear(t time.Time) int { return t.In(bizday.Beijing).Year() }

// BudgetYearSpan returns the instants [from, to) of budget year y (Beijing midnights).
func BudgetYearSpan(y int) (from, to time.Time) {
	return time.Date(y, 1, 1, 0, 0, 0, 0, bizday.Beijing), time.Date(y+1, 1, 1, 0, 0, 0, 0, bizday.Beijing)
}

// BudgetUse is how much of its branch's budget order o uses, as its lines and flags stand:
//
//   - an order not paid from union funds (employee_self_pay, external) uses nothing;
//   - an order cancelled or rejected before anything shipped (DeriveStatus says cancelled or
//     rejected) uses nothing: "less what was cancelled or rejected" is then the whole
//     order. The malls cancel or refuse a whole order only (a cancelled event names no
//     line; a cancel after shipping is refused), so there is no partial cancel of a line
//     to take away;
//   - an order the mall marked cancelled or rejected although some units had shipped
//     (its status then follows the quantities) uses what shipped or was delivered on each
//     line: the undelivered rest will not come;
//   - any other order — pending, at its mall, shipped, delivered — uses its ordered amount
//     (quantity × the unit price it was placed at), so that an order in flight reserves
//     its money;
//   - "less refunds": less each line's refunded amount (Line.RefundedFen, the refunds that
//     moved money; a refund held for review, ATTRIBUTION.md §1.6, is not counted until it
//     applies). A line never uses less than nothing.
func BudgetUse(o *GroupOrder) money.Fen {
	if o.Funding != FundingUnion {
		return 0
	}
	switch DeriveStatus(o) {
	case StatusCancelled, StatusRejected:
		return 0
	}
	stopped := o.Cancelled || o.RejectCode != ""
	var used money.Fen
	for _, l := range o.Lines {
		qty := l.Quantity
		if stopped {
			qty = min(max(l.ShippedQty, l.DeliveredQty), l.Quantity)
		}
		used += max(money.Fen(qty)*l.UnitPrice-l.RefundedFen, 0)
	}
	return used
}

// BudgetUsed sums BudgetUse over os.
func BudgetUsed(os []GroupOrder) money.Fen {
	var used money.Fen
	for i := range os {
		used += BudgetUse(&os[i])
	}
	return used
}

// BudgetFits reports whether an order using add fits a budget of which used is already
// used, and what remains of the budget before it (budget − used; negative when a budget
// was lowered below what was used, or history went past it). A nil budget (none set for
// the year) is not limited: it always fits, remaining 0. An order that uses nothing
// always fits.
func BudgetFits(budget *money.Fen, used, add money.Fen) (remaining money.Fen, fits bool) {
	if budget == nil {
		return 0, true
	}
	remaining = *budget - used
	return remaining, add <= 0 || add <= remaining
}

// BranchBudget is one branch's budget for a year and what is used of it.
type BranchBudget struct {
	BranchCode string `json:"branch_code"`
	BranchName string `json:"branch_name"`
	Year       int    `json:"year"`
	// Budget is nil when no budget is set for the year: the branch is not limited.
	Budget *money.Fen `json:"budget"`
	Used   money.Fen  `json:"used"`
	// Remaining is Budget − Used (negative when a budget was lowered below what was used,
	// or history loaded past it); nil without a budget.
	Remaining *money.Fen `json:"remaining"`
}

func branchBudget(code, name string, year int, budget *money.Fen, used money.Fen) BranchBudget {
	b := BranchBudget{BranchCode: code, BranchName: name, Year: year, Budget: budget, Used: used}
	if budget != nil {
		r := *budget - used
		b.Remaining = &r
	}
	return b
}

func checkBudgetYear(year int) error {
	if year < MinBudgetYear || year > MaxBudgetYear {
		ve := &ValidationError{}
		ve.add("/year", "must be a year from %d to %d", MinBudgetYear, MaxBudgetYear)
		return ve
	}
	return nil
}

// Budgets returns every branch's budget for year, with what its orders use, by branch
// code. aid_office and auditor read them.
func (s *Service) Budgets(ctx context.Context, caller Caller, year int) ([]BranchBudget, error) {
	if !caller.CanReadReports() {
		return nil, Errorf(ErrForbidden, "role %s may not read budgets", caller.Role)
	}
	if err := checkBudgetYear(year); err != nil {
		return nil, err
	}
	branches, err := s.store.Branches(ctx)
	if err != nil {
		return nil, fmt.Errorf("load branches: %w", err)
	}
	budgets, err := s.store.Budgets(ctx, year)
	if err != nil {
		return nil, fmt.Errorf("load budgets: %w", err)
	}
	used, err := s.store.Used(ctx, year)
	if err != nil {
		return nil, fmt.Errorf("load budget use: %w", err)
	}
	out := make([]BranchBudget, 0, len(branches))
	for _, b := range branches {
		var budget *money.Fen
		if v, ok := budgets[b.Code]; ok {
			budget = &v
		}
		out = append(out, branchBudget(b.Code, b.Name, year, budget, used[b.Code]))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].BranchCode < out[j].BranchCode })
	return out, nil
}

// SetBudget sets branch's budget for year to amount (aid_office only; setting the same
// amount again changes nothing) and returns the budget as it now stands and the amount it
// replaced (nil when the year had none). Orders placed before are not re-checked: a
// budget lowered below what is used leaves a negative remainder and refuses further
// union_funds orders.
func (s *Service) SetBudget(ctx context.Context, caller Caller, branch string, year int, amount money.Fen) (BranchBudget, *money.Fen, error) {
	if !caller.CanSetBudgets() {
		return BranchBudget{}, nil, Errorf(ErrForbidden, "only aid_office sets budgets")
	}
	ve := &ValidationError{}
	if err := checkBudgetYear(year); err != nil {
		ve = err.(*ValidationError)
	}
	if amount < 0 {
		ve.add("/amount", "must not be negative")
	}
	if len(ve.Fields) > 0 {
		return BranchBudget{}, nil, ve
	}
	var (
		out    BranchBudget
		before *money.Fen
	)
	err := s.store.InTx(ctx, func(tx Tx) error {
		b, err := tx.LockBranch(ctx, branch)
		if errors.Is(err, ErrNotFound) {
			return &Error{Kind: ErrNotFound, Message: fmt.Sprintf("branch %q not found", branch), Err: err}
		}
		if err != nil {
			return fmt.Errorf("lock branch: %w", err)
		}
		if old, ok, err := tx.Budget(ctx, branch, year); err != nil {
			return fmt.Errorf("load budget: %w", err)
		} else if ok {
			before = &old
		}
		if before == nil || *before != amount {
			if err := tx.SetBudget(ctx, branch, year, amount); err != nil {
				return fmt.Errorf("set budget: %w", err)
			}
			var was any // null: no budget for the year before
			if before != nil {
				was = map[string]string{"amount": before.String()}
			}
			e, err := audit.New(caller.Actor(), audit.ActionBudgetSet, fmt.Sprintf("budget:%s/%d", branch, year),
				was, map[string]string{"amount": amount.String()})
			if err != nil {
				return fmt.Errorf("audit: %w", err)
			}
			if err := tx.Audit(ctx, e); err != nil {
				return err
			}
		}
		from, to := BudgetYearSpan(year)
		placed, err := tx.OrdersPlaced(ctx, branch, FundingUnion, from, to)
		if err != nil {
			return fmt.Errorf("load orders: %w", err)
		}
		out = branchBudget(b.Code, b.Name, year, &amount, BudgetUsed(placed))
		return nil
	})
	if err != nil {
		return BranchBudget{}, nil, err
	}
	return out, before, nil
}

// checkBudget refuses o, using add of its branch's budget, inside the transaction that
// inserted it and after its branch was locked, when it would take the branch's used
// amount for its year past the budget. o itself (already inserted) is not counted twice.
func checkBudget(ctx context.Context, tx Tx, o *GroupOrder, add money.Fen) error {
	if add <= 0 {
		return nil
	}
	year := BudgetYear(o.PlacedAt)
	amount, ok, used, err := tx.BudgetUsed(ctx, o.BranchCode, year, o.ID)
	if err != nil {
		return fmt.Errorf("load budget: %w", err)
	}
	if !ok {
		return nil
	}
	remaining, fits := BudgetFits(&amount, used, add)
	if fits {
		return nil
	}
	ve := &ValidationError{}
	ve.add("/lines", "the order's %s yuan exceeds branch %s's remaining %d budget: %s yuan remaining (budget %s, used %s)",
		add, o.BranchCode, year, max(remaining, 0), amount, used)
	return ve
}

// BranchBudget returns branch's budget for year with what its orders use, as Budgets
// reports it: the aid office and auditors read any branch's, branch staff their own
// branch's only (the order form shows what is left). ErrForbidden otherwise; ErrNotFound
// for an unknown branch.
func (s *Service) BranchBudget(ctx context.Context, caller Caller, branch string, year int) (BranchBudget, error) {
	ownBranch := caller.Role == RoleBranchStaff && caller.BranchCode != "" && caller.BranchCode == branch
	if !caller.CanReadReports() && !ownBranch {
		return BranchBudget{}, Errorf(ErrForbidden, "role %s may not read branch %s's budget", caller.Role, branch)
	}
	if err := checkBudgetYear(year); err != nil {
		return BranchBudget{}, err
	}
	b, err := s.store.Branch(ctx, branch)
	if errors.Is(err, ErrNotFound) {
		return BranchBudget{}, &Error{Kind: ErrNotFound, Message: fmt.Sprintf("branch %q not found", branch), Err: err}
	}
	if err != nil {
		return BranchBudget{}, fmt.Errorf("load branch: %w", err)
	}
	budgets, err := s.store.Budgets(ctx, year)
	if err != nil {
		return BranchBudget{}, fmt.Errorf("load budgets: %w", err)
	}
	var budget *money.Fen
	if v, ok := budgets[branch]; ok {
		budget = &v
	}
	from, to := BudgetYearSpan(year)
	placed, err := s.store.OrdersPlaced(ctx, branch, FundingUnion, from, to)
	if err != nil {
		return BranchBudget{}, fmt.Errorf("load orders: %w", err)
	}
	return branchBudget(b.Code, b.Name, year, budget, BudgetUsed(placed)), nil
}
