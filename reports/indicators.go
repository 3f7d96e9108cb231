package reports

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"time"

	"aidmall/money"
	"aidmall/orders"
)

// Target is the group's target for a year of the responsibility letter (定点帮扶责任书):
// the purchased (购买) and helped-to-sell (帮助销售) amounts, set by the aid office.
type Target struct {
	Year             int       `json:"year"`
	PurchasedAmount  money.Fen `json:"purchased_amount"`
	HelpedSellAmount money.Fen `json:"helped_sell_amount"`
	SetBy            string    `json:"set_by"`
	SetAt            time.Time `json:"set_at"`
}

// Validate checks the year and that neither amount is negative; fields by pointer.
func (t Target) Validate() error {
	var fields []orders.FieldError
	if t.Year < 1000 || t.Year > 9999 {
		fields = append(fields, orders.FieldError{Pointer: "/year", Detail: "a year YYYY"})
	}
	if t.PurchasedAmount < 0 {
		fields = append(fields, orders.FieldError{Pointer: "/purchased_amount", Detail: "must not be negative"})
	}
	if t.HelpedSellAmount < 0 {
		fields = append(fields, orders.FieldError{Pointer: "/helped_sell_amount", Detail: "must not be negative"})
	}
	if len(fields) > 0 {
		return &orders.ValidationError{Fields: fields}
	}
	return nil
}

// BudgetSource gives each branch's budget for a year and what its orders have used of it
// (the budget rule's "used": union_funds orders placed in the year, ordered amount less
// cancelled or rejected orders less refunds). A branch absent from Budgets has no budget.
type BudgetSource interface {
	Budgets(ctx context.Context, year int) (map[string]money.Fen, error)
	Used(ctx context.Context, year int) (map[string]money.Fen, error)
}

// IndicatorSource is what the indicators are read from: the benefit report and a
// breakdown (ledger), the branches' names, and the year's target.
type IndicatorSource interface {
	Benefit(ctx context.Context, q Query) (Benefit, error)
	Breakdown(ctx context.Context, q BreakdownQuery) (Breakdown, error)
	BranchNames(ctx context.Context) (map[string]string, error)
	// Target returns the year's target; ok false when none is set.
	Target(ctx context.Context, year int) (t Target, ok bool, err error)
}

// IndicatorRow is one branch's (or the group's) consumption-aid indicators for a year.
// Budget is null when the branch has no budget for the year (BudgetNote says so); then
// UsedPercent is null too. UsedPercent is used / budget × 100 with two decimals.
type IndicatorRow struct {
	Branch           string     `json:"branch"`
	Label            string     `json:"label"`
	PurchasedAmount  money.Fen  `json:"purchased_amount"`
	HelpedSellAmount money.Fen  `json:"helped_sell_amount"`
	Households       int        `json:"households"`
	People           int        `json:"people"`
	Budget           *money.Fen `json:"budget"`
	BudgetNote       string     `json:"budget_note,omitempty"`
	Used             money.Fen  `json:"used"`
	UsedPercent      *string    `json:"used_percent"`
}

// TargetProgress is the year's target with the percentage reached of each amount.
type TargetProgress struct {
	Target
	PurchasedPercent  *string `json:"purchased_percent"`
	HelpedSellPercent *string `json:"helped_sell_percent"`
}

// Indicators are the responsibility letter's consumption-aid indicators for a year: per
// branch (every branch with entries, a budget or use in the year, by code) and for the
// group, whose households and people count each household once over the whole year
// (§3.2), never the sum of the branches'. Target is null when none is set.
type Indicators struct {
	Year     int             `json:"year"`
	Period                   // the year, Beijing
	Timezone string          `json:"timezone"`
	Group    IndicatorRow    `json:"group"`
	Branches []IndicatorRow  `json:"branches"`
	Target   *TargetProgress `json:"target"`
}

// NoBudget is what a report says of a branch without a budget for the year.
const NoBudget = "no budget"

// Percent returns part / whole × 100 rounded half up to two decimals ("12.35"), nil when
// whole is 0 or less.
func Percent(part, whole money.Fen) *string {
	if whole <= 0 {
		return nil
	}
	r := new(big.Rat).SetFrac(big.NewInt(int64(part)*100), big.NewInt(int64(whole)))
	s := r.FloatString(2) // rounds half away from zero
	return &s
}

// YearIndicators computes the indicators of year y (ATTRIBUTION.md §3.4: purchased =
// net of union_funds orders, helped-to-sell = net of employee_self_pay and external).
func YearIndicators(ctx context.Context, src IndicatorSource, budgets BudgetSource, y int) (Indicators, error) {
	p := YearPeriod(y)
	out := Indicators{Year: y, Period: p, Timezone: Timezone, Branches: []IndicatorRow{}}
	benefit, err := src.Benefit(ctx, Query{From: p.From, To: p.To, By: ByBranch})
	if err != nil {
		return out, err
	}
	amounts, err := src.Breakdown(ctx, BreakdownQuery{Period: p, By: []By{ByBranch, ByFunding}})
	if err != nil {
		return out, err
	}
	names, err := src.BranchNames(ctx)
	if err != nil {
		return out, err
	}
	bs, err := budgets.Budgets(ctx, y)
	if err != nil {
		return out, fmt.Errorf("budgets: %w", err)
	}
	used, err := budgets.Used(ctx, y)
	if err != nil {
		return out, fmt.Errorf("budget used: %w", err)
	}
	rows := map[string]*IndicatorRow{}
	get := func(code string) *IndicatorRow {
		r, ok := rows[code]
		if !ok {
			r = &IndicatorRow{Branch: code, Label: code}
			if n, ok := names[code]; ok {
				r.Label = n
			}
			rows[code] = r
		}
		return r
	}
	for _, r := range benefit.Rows {
		row := get(r.Key)
		row.Households, row.People = r.Households, r.People
	}
	for _, r := range amounts.Rows {
		row := get(r.Keys[0])
		switch orders.Funding(r.Keys[1]) {
		case orders.FundingUnion:
			row.PurchasedAmount += r.NetAmount
		case orders.FundingEmployeePays, orders.FundingExternal:
			row.HelpedSellAmount += r.NetAmount
		}
	}
	for code := range bs {
		get(code)
	}
	for code := range used {
		get(code)
	}
	g := &out.Group
	g.Branch, g.Label = "", "集团合计"
	g.Households, g.People = benefit.Totals.Households, benefit.Totals.People
	g.PurchasedAmount, g.HelpedSellAmount = benefit.Totals.PurchasedAmount, benefit.Totals.HelpedSellAmount
	var groupBudget money.Fen
	allBudgeted := len(rows) > 0
	for code, r := range rows {
		r.Used = used[code]
		g.Used += r.Used
		if b, ok := bs[code]; ok {
			r.Budget = &b
			r.UsedPercent = Percent(r.Used, b)
			groupBudget += b
		} else {
			r.BudgetNote = NoBudget
			allBudgeted = false
		}
		out.Branches = append(out.Branches, *r)
	}
	slices.SortFunc(out.Branches, func(a, b IndicatorRow) int {
		if a.Branch < b.Branch {
			return -1
		} else if a.Branch > b.Branch {
			return 1
		}
		return 0
	})
	// The group's budget is the sum of the branches' when every one has a budget; a
	// branch without one is not limited, and neither is the group.
	if allBudgeted {
		g.Budget = &groupBudget
		g.UsedPercent = Percent(g.Used, groupBudget)
	} else {
		g.BudgetNote = NoBudget
	}
	t, ok, err := src.Target(ctx, y)
	if err != nil {
		return out, fmt.Errorf("target: %w", err)
	}
	if ok {
		out.Target = &TargetProgress{Target: t,
			PurchasedPercent:  Percent(g.PurchasedAmount, t.PurchasedAmount),
			HelpedSellPercent: Percent(g.HelpedSellAmount, t.HelpedSellAmount)}
	}
	return out, nil
}
