package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
)

// The raw baselines shared by `aidmall bench` and the Go benchmarks (cmd/aidmall,
// adapters/sqlstore): each benchmark measures its path and, in the same run, one of
// these over the same rows, and reports the ratio.

// RowsOf runs do once and returns the rows it added to the tables with an integer id
// (NewRows, tables named in first first), without River's own tables (its bookkeeping
// moves on its own; an applied delivery writes no job).
func RowsOf(ctx context.Context, db *sqlx.DB, do func() error, first ...string) ([]Row, error) {
	snap, err := TakeSnapshot(ctx, db)
	if err != nil {
		return nil, err
	}
	if err := do(); err != nil {
		return nil, err
	}
	rows, err := NewRows(ctx, db, snap, first...)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(rows, func(r Row) bool { return strings.HasPrefix(r.Table, "river_") }), nil
}

// Count is how many rows of each table rows holds, as "1 fulfilment_events, 50
// ledger_entries", by table name.
func Count(rows []Row) string {
	n := map[string]int{}
	for _, r := range rows {
		n[r.Table]++
	}
	names := make([]string, 0, len(n))
	for t, c := range n {
		names = append(names, fmt.Sprintf("%d %s", c, t))
	}
	slices.SortFunc(names, func(a, b string) int {
		return strings.Compare(a[strings.IndexByte(a, ' '):], b[strings.IndexByte(b, ' '):])
	})
	return strings.Join(names, ", ")
}

// DeliveryTarget is the order (and its line) a delivery's copies are booked on: one the
// measured run does not deliver to, so that the copies never count against it.
type DeliveryTarget struct {
	OrderID     int64
	LineID      int64
	OutOrderNo  string
	MallOrderNo string
}

// DeliveryCopy inserts the rows one applied delivery wrote (RowsOf: its event, its
// ledger entries; with ChangedRows, its rollup rows too) again in one transaction, with a
// fresh event id (and rollup key) starting with tagPrefix and a count, booked on the order
// and line of to, and makes the two updates the path makes (the line's and the order's
// state).
func DeliveryCopy(db *sqlx.DB, rows []Row, to DeliveryTarget, tagPrefix string) Op {
	return DeliveryCopies(db, rows, to, tagPrefix, 1)
}

// DeliveryCopies is DeliveryCopy with k deliveries' rows (and updates) in each
// transaction: the bare work of a transaction that applies k deliveries together (group
// commit); an operation is k deliveries.
func DeliveryCopies(db *sqlx.DB, rows []Row, to DeliveryTarget, tagPrefix string, k int) Op {
	var n atomic.Int64
	return func(ctx context.Context, _ int) error {
		tx, err := db.BeginTxx(ctx, nil)
		if err != nil {
			return err
		}
		for range k {
			if err = deliveryCopy(ctx, tx, rows, to, fmt.Sprintf("%s%d", tagPrefix, n.Add(1))); err != nil {
				_ = tx.Rollback()
				return err
			}
		}
		return tx.Commit()
	}
}

// deliveryCopy inserts one copy of rows tagged tag in tx, with the two updates.
func deliveryCopy(ctx context.Context, tx *sqlx.Tx, rows []Row, to DeliveryTarget, tag string) error {
	_, err := Insert(ctx, tx, rows, func(table, col string, v any) any {
		// A rollup row's copy gets a key of its own (the rollups have no other
		// constraint on these columns).
		if key := RollupCopyKey(table); key != "" && col == key {
			if s, ok := v.(string); ok {
				return tag + s
			}
			return v
		}
		switch col {
		case "event_id":
			return Suffix(v, tag)
		case "order_id":
			return to.OrderID
		case "line_id":
			return to.LineID
		case "out_order_no":
			return to.OutOrderNo
		case "mall_order_no":
			return to.MallOrderNo
		}
		return v
	}, Refs{"event_row_id": "fulfilment_events"})
	if err == nil {
		_, err = tx.ExecContext(ctx, tx.Rebind(`UPDATE order_lines SET shipped_qty = shipped_qty, delivered_qty = delivered_qty,
				refunded_fen = refunded_fen, held_events = held_events WHERE id = ?`), to.LineID)
	}
	if err == nil {
		_, err = tx.ExecContext(ctx, tx.Rebind(`UPDATE group_orders SET status = status, updated_at = ? WHERE id = ?`), time.Now().UTC(), to.OrderID)
	}
	return err
}

// BenefitColumns is the ledger_entries expression a benefit report by by (county,
// month, supplier, or two of them joined by a comma) groups on, "" for another by.
func BenefitColumns(by string) string {
	var cols []string
	for p := range strings.SplitSeq(by, ",") {
		switch p {
		case "county":
			cols = append(cols, "county_code")
		case "month":
			cols = append(cols, "substr(business_day, 1, 7)")
		case "supplier":
			cols = append(cols, "supplier_code")
		default:
			return ""
		}
	}
	return strings.Join(cols, ", ")
}

// GroupBy is the bare GROUP BY a benefit report by by (BenefitColumns) stands for: net
// fen and distinct households of the ledger entries booked from from to to (business
// days, inclusive), read to the last row. Finding no row is an error (a baseline over
// nothing measures nothing).
func GroupBy(db *sqlx.DB, by, from, to string) (Op, error) {
	cols := BenefitColumns(by)
	if cols == "" {
		return nil, fmt.Errorf("bench: no bare GROUP BY for a report by %q", by)
	}
	q := db.Rebind(`SELECT ` + cols + `, SUM(amount_fen) AS net, COUNT(DISTINCT household_no) AS households
		FROM ledger_entries WHERE business_day >= ? AND business_day <= ? GROUP BY ` + cols)
	return func(ctx context.Context, _ int) error {
		rows, err := db.QueryContext(ctx, q, from, to)
		if err != nil {
			return err
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if n == 0 {
			return errors.New("the bare GROUP BY found no rows")
		}
		return nil
	}, nil
}

// Times runs op n times (i = 0…n-1) from clients goroutines and returns the operations
// per second: the baseline of a Go benchmark, run after its timed loop over the same
// count, for at most ten minutes. The first error stops it.
func Times(ctx context.Context, clients, n int, op Op) (float64, error) {
	r, err := Closed(ctx, clients, 10*time.Minute, n, op)
	if err != nil {
		return 0, err
	}
	if r.N != n {
		return 0, fmt.Errorf("bench: %d of %d baseline operations ran", r.N, n)
	}
	return r.Rate(), nil
}

// RollupCopyKey is the first key column of rollup table (the rollups have no other
// constraint on it), whose value a bare copy of a row starts with its tag (~bare…, after
// every stored key: the copies are appended, the cheapest place for a new row); "" for
// another table.
func RollupCopyKey(table string) string {
	switch {
	case !SumTable(table):
		return ""
	case strings.HasPrefix(table, "benefit_"), table == "unit_figures":
		return "dim"
	case table == "unit_month_rollups":
		return "month"
	case strings.HasPrefix(table, "unit_"):
		return "business_day"
	}
	return "grp"
}

// SumTable reports whether table is one of the sums a delivery adds to in its
// transaction: the ledger and units rollups (…_rollups) and the benefit figures
// (benefit_nets, benefit_figures) and the unit figures (unit_figures).
func SumTable(table string) bool {
	return strings.HasSuffix(table, "_rollups") || strings.HasPrefix(table, "benefit_") || table == "unit_figures"
}
