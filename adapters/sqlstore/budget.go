package sqlstore

import (
	"context"
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
