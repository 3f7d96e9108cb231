package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"aidmall/households"
	"aidmall/money"
	"aidmall/orders"
)

// Branches returns every union branch, by code.
func (s *Store) Branches(ctx context.Context) ([]households.Branch, error) {
	var rows []branchRow
	if err := s.db.SelectContext(ctx, &rows, `SELECT code, name, company, members FROM branches ORDER BY code`); err != nil {
		return nil, fmt.Errorf("branches: %w", err)
	}
	out := make([]households.Branch, len(rows))
	for i, r := range rows {
		out[i] = r.branch()
	}
	return out, nil
}

// Budgets returns the budgets set for year, by branch code.
func (s *Store) Budgets(ctx context.Context, year int) (map[string]money.Fen, error) {
	var rows []struct {
		Code string `db:"branch_code"`
		Fen  int64  `db:"budget_fen"`
	}
	if err := s.db.SelectContext(ctx, &rows, s.db.Rebind(`SELECT branch_code, budget_fen FROM branch_budgets WHERE year = ?`), year); err != nil {
		return nil, fmt.Errorf("budgets %d: %w", year, err)
	}
	out := make(map[string]money.Fen, len(rows))
	for _, r := range rows {
		out[r.Code] = money.Fen(r.Fen)
	}
	return out, nil
}

// OrdersPlaced returns the orders of branch ("" for every branch) with funding placed in
// [from, to), with their lines, by id.
func (s *Store) OrdersPlaced(ctx context.Context, branch string, funding orders.Funding, from, to time.Time) ([]orders.GroupOrder, error) {
	return s.ordersPlaced(ctx, s.db, branch, funding, from, to)
}

func (s *Store) ordersPlaced(ctx context.Context, q sqlx.QueryerContext, branch string, funding orders.Funding, from, to time.Time) ([]orders.GroupOrder, error) {
	where := `funding = ? AND placed_at >= ? AND placed_at < ?`
	args := []any{funding, from.UTC(), to.UTC()}
	if branch != "" {
		where += ` AND branch_code = ?`
		args = append(args, branch)
	}
	var rows []orderRow
	if err := sqlx.SelectContext(ctx, q, &rows, s.db.Rebind(`SELECT `+orderCols+` FROM group_orders WHERE `+where+` ORDER BY id`), args...); err != nil {
		return nil, fmt.Errorf("orders placed: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	var lines []lineRow
	if err := sqlx.SelectContext(ctx, q, &lines, s.db.Rebind(`SELECT `+lineCols+` FROM order_lines
		WHERE order_id IN (SELECT id FROM group_orders WHERE `+where+`) ORDER BY order_id, line_no`), args...); err != nil {
		return nil, fmt.Errorf("orders placed, lines: %w", err)
	}
	out := make([]orders.GroupOrder, len(rows))
	byID := make(map[int64]int, len(rows))
	for i, r := range rows {
		out[i] = *r.order()
		byID[r.ID] = i
	}
	for _, l := range lines {
		if i, ok := byID[l.OrderID]; ok {
			out[i].Lines = append(out[i].Lines, l.line())
		}
	}
	return out, nil
}

func (t *txn) OrdersPlaced(ctx context.Context, branch string, funding orders.Funding, from, to time.Time) ([]orders.GroupOrder, error) {
	return t.s.ordersPlaced(ctx, t.tx, branch, funding, from, to)
}

func (t *txn) Budget(ctx context.Context, branch string, year int) (money.Fen, bool, error) {
	var fen int64
	err := t.tx.GetContext(ctx, &fen, t.tx.Rebind(`SELECT budget_fen FROM branch_budgets WHERE branch_code = ? AND year = ?`), branch, year)
	if isNoRows(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("budget %s %d: %w", branch, year, err)
	}
	return money.Fen(fen), true, nil
}

func (t *txn) SetBudget(ctx context.Context, branch string, year int, amount money.Fen) error {
	var c households.Counts
	return t.s.upsert(ctx, t.tx, "branch_budgets", []string{"branch_code", "year"}, []any{branch, year},
		[]string{"budget_fen"}, []any{int64(amount)}, &c)
}

// budgetUseOfOrder is orders.BudgetUse of the order o (group_orders) over its lines l
// (order_lines), as SQL over one GROUP BY o.id, o.cancelled, o.reject_code:
//
//   - stopped (the mall cancelled or rejected it) with nothing shipped or delivered:
//     DeriveStatus says cancelled or rejected, and it uses nothing;
//   - otherwise each line uses its units (when stopped: what shipped or was delivered,
//     at most the line's quantity) × its unit price, less what was refunded of it, never
//     less than nothing.
//
// TestBudgetUsedIsBudgetUse holds it to orders.BudgetUse over orders in every state.
const budgetUseOfOrder = `CASE WHEN (o.cancelled OR o.reject_code <> '')
		AND SUM(` + shippedCapped + `) = 0 AND SUM(CASE WHEN l.delivered_qty < l.quantity THEN l.delivered_qty ELSE l.quantity END) = 0
	THEN 0
	ELSE SUM(CASE WHEN ` + lineUse + ` > 0 THEN ` + lineUse + ` ELSE 0 END) END`

// shippedCapped is min(max(shipped, delivered), quantity) of line l.
const shippedCapped = `CASE WHEN (CASE WHEN l.shipped_qty > l.delivered_qty THEN l.shipped_qty ELSE l.delivered_qty END) < l.quantity
	THEN (CASE WHEN l.shipped_qty > l.delivered_qty THEN l.shipped_qty ELSE l.delivered_qty END) ELSE l.quantity END`

// lineUse is line l's units (stopped: shippedCapped) × unit price − refunded.
const lineUse = `((CASE WHEN (o.cancelled OR o.reject_code <> '') THEN ` + shippedCapped + ` ELSE l.quantity END) * l.unit_price_fen - l.refunded_fen)`

// BudgetUsed returns branch's budget for year and what its union_funds orders of the year
// use but order except, in one statement (see orders.Tx): the used sum is taken only
// when a budget is set, over the branch's orders of the year (group_orders_branch) and
// their lines.
func (t *txn) BudgetUsed(ctx context.Context, branch string, year int, except int64) (money.Fen, bool, money.Fen, error) {
	return t.s.budgetUsed(ctx, t.tx, branch, year, except)
}

func (s *Store) budgetUsed(ctx context.Context, q sqlx.QueryerContext, branch string, year int, except int64) (money.Fen, bool, money.Fen, error) {
	from, to := orders.BudgetYearSpan(year)
	var r struct {
		Budget sql.NullInt64 `db:"budget_fen"`
		Used   int64         `db:"used"`
	}
	err := sqlx.GetContext(ctx, q, &r, s.db.Rebind(`SELECT bb.budget_fen,
		CASE WHEN bb.budget_fen IS NULL THEN 0 ELSE (
			SELECT CAST(COALESCE(SUM(u), 0) AS BIGINT) FROM (
				SELECT `+budgetUseOfOrder+` AS u
				FROM group_orders o JOIN order_lines l ON l.order_id = o.id
				WHERE o.branch_code = ? AND o.funding = ? AND o.placed_at >= ? AND o.placed_at < ? AND o.id <> ?
				GROUP BY o.id, o.cancelled, o.reject_code) used_by_order
		) END AS used
		FROM (SELECT 1 AS one) one LEFT JOIN branch_budgets bb ON bb.branch_code = ? AND bb.year = ?`),
		branch, orders.FundingUnion, from.UTC(), to.UTC(), except, branch, year)
	if err != nil {
		return 0, false, 0, fmt.Errorf("budget %s %d: %w", branch, year, err)
	}
	if !r.Budget.Valid {
		return 0, false, 0, nil
	}
	return money.Fen(r.Budget.Int64), true, money.Fen(r.Used), nil
}
