package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"
)

// A baseline writes the rows a service path writes, read from the database after one run
// of the path rather than written down here: when the path changes (a new table, another
// column), the baseline follows.

// Row is one table row as read: its columns and values.
type Row struct {
	Table string
	Cols  []string
	Vals  []any
}

// Get returns the value of column col, nil when absent.
func (r Row) Get(col string) any {
	if i := slices.Index(r.Cols, col); i >= 0 {
		return r.Vals[i]
	}
	return nil
}

// Snapshot is the highest id of every table that has an integer column id.
type Snapshot map[string]int64

// Tables lists the tables of db's schema (SQLite or PostgreSQL), by name. A partitioned
// table (PostgreSQL's ledger_entries) is listed, its partitions are not: a row read from
// both would be copied twice.
func Tables(ctx context.Context, db *sqlx.DB) ([]string, error) {
	q := `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY c.relname`
	if db.DriverName() == "sqlite" {
		q = `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`
	}
	var ts []string
	if err := db.SelectContext(ctx, &ts, q); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	return ts, nil
}

// TakeSnapshot reads the highest id of every table of db with an id column.
func TakeSnapshot(ctx context.Context, db *sqlx.DB) (Snapshot, error) {
	withID, _, err := tablesByID(ctx, db)
	if err != nil {
		return nil, err
	}
	s := Snapshot{}
	for _, t := range withID {
		var max int64
		if err := db.GetContext(ctx, &max, `SELECT COALESCE(MAX(id), 0) FROM `+t); err != nil {
			return nil, fmt.Errorf("max id of %s: %w", t, err)
		}
		s[t] = max
	}
	return s, nil
}

// tablesByID splits the tables of db (Tables) into those whose id is an integer and the
// others.
func tablesByID(ctx context.Context, db *sqlx.DB) (withID, without []string, err error) {
	ts, err := Tables(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	ids, err := intIDTables(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	for _, t := range ts {
		if slices.Contains(ids, t) {
			withID = append(withID, t)
		} else {
			without = append(without, t)
		}
	}
	return withID, without, nil
}

// intIDTables lists the tables of db whose id is an integer (a text id, as of sessions,
// has no order to follow).
func intIDTables(ctx context.Context, db *sqlx.DB) ([]string, error) {
	q := `SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema()
		AND column_name = 'id' AND data_type IN ('bigint', 'integer', 'smallint')`
	if db.DriverName() == "sqlite" {
		q = `SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) c
			WHERE m.type = 'table' AND c.name = 'id' AND upper(c.type) LIKE '%INT%'`
	}
	var withID []string
	if err := db.SelectContext(ctx, &withID, q); err != nil {
		return nil, fmt.Errorf("tables with an integer id: %w", err)
	}
	return withID, nil
}

// Contents are the rows of tables that have no integer id (rows found by their values, as
// a rollup's, which a path adds to in place), as read.
type Contents map[string][]Row

// TakeContents reads every row of the tables of db that have no integer id and that
// keep (is nil for all of them).
func TakeContents(ctx context.Context, db *sqlx.DB, keep func(table string) bool) (Contents, error) {
	_, without, err := tablesByID(ctx, db)
	if err != nil {
		return nil, err
	}
	c := Contents{}
	for _, t := range without {
		if keep != nil && !keep(t) {
			continue
		}
		if c[t], err = SelectRows(ctx, db, t, `TRUE`); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// ChangedRows returns the rows of before's tables, as read now, that were added or changed
// since before, table by table by name.
func ChangedRows(ctx context.Context, db *sqlx.DB, before Contents) ([]Row, error) {
	ts := make([]string, 0, len(before))
	for t := range before {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	var out []Row
	for _, t := range ts {
		had := map[string]bool{}
		for _, r := range before[t] {
			had[fmt.Sprint(r.Vals...)] = true
		}
		now, err := SelectRows(ctx, db, t, `TRUE`)
		if err != nil {
			return nil, err
		}
		for _, r := range now {
			if !had[fmt.Sprint(r.Vals...)] {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// NewRows returns the rows added since before to the tables it covers, table by table
// in the order of first (tables named there first, in that order; then the others by
// name), each table's rows by id.
func NewRows(ctx context.Context, db *sqlx.DB, before Snapshot, first ...string) ([]Row, error) {
	ts := make([]string, 0, len(before))
	for t := range before {
		ts = append(ts, t)
	}
	slices.SortFunc(ts, func(a, b string) int {
		ia, ib := slices.Index(first, a), slices.Index(first, b)
		switch {
		case ia >= 0 && ib >= 0:
			return ia - ib
		case ia >= 0:
			return -1
		case ib >= 0:
			return 1
		}
		return strings.Compare(a, b)
	})
	var out []Row
	for _, t := range ts {
		rs, err := SelectRows(ctx, db, t, db.Rebind(`id > ? ORDER BY id`), before[t])
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	return out, nil
}

// SelectRows reads the rows of table matching where (SQL after WHERE, with args).
func SelectRows(ctx context.Context, db *sqlx.DB, table, where string, args ...any) ([]Row, error) {
	rows, err := db.QueryxContext(ctx, `SELECT * FROM `+table+` WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []Row
	for rows.Next() {
		vals, err := rows.SliceScan()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", table, err)
		}
		out = append(out, Row{Table: table, Cols: cols, Vals: vals})
	}
	return out, rows.Err()
}

// Rewrite gives the value to insert for column col of a copied row of table; v is the
// value read. It is how a copy gets fresh unique values (a new reference, a new key) and
// points at the copies of the rows it referred to.
type Rewrite func(table, col string, v any) any

// Refs names the columns that refer to another table's id (order_id → group_orders): a
// copy refers to the copy of the row when that row was copied before it.
type Refs map[string]string

// Insert inserts the rows (without their id column: the database gives a new one) in tx,
// with every value passed through rewrite and refs, and returns the new ids by table and
// old id.
//
// Consecutive rows of a table no column refers to (refs) go in one multi-row INSERT, as
// a path that books many rows at once does (the ledger): the baseline is the rows' cost,
// not that of a round trip each.
func Insert(ctx context.Context, tx *sqlx.Tx, rows []Row, rewrite Rewrite, refs Refs) (map[string]map[int64]int64, error) {
	ids := map[string]map[int64]int64{}
	referred := map[string]bool{}
	for _, t := range refs {
		referred[t] = true
	}
	// value is v rewritten, then pointed at the copy of the row it refers to, if copied.
	value := func(table, col string, v any) any {
		v = rewrite(table, col, v)
		if t, ok := refs[col]; ok {
			if o, ok := toInt64(v); ok {
				if n, ok := ids[t][o]; ok {
					return n
				}
			}
		}
		return v
	}
	for len(rows) > 0 {
		n := 1
		if !referred[rows[0].Table] {
			for n < len(rows) && n < 200 && rows[n].Table == rows[0].Table {
				n++
			}
		}
		if n > 1 {
			if err := insertMany(ctx, tx, rows[:n], value); err != nil {
				return nil, err
			}
			rows = rows[n:]
			continue
		}
		r := rows[0]
		rows = rows[1:]
		var cols []string
		var args []any
		var old int64
		hasID := false
		for i, c := range r.Cols {
			if c == "id" {
				old, hasID = toInt64(r.Vals[i])
				continue
			}
			cols = append(cols, c)
			args = append(args, value(r.Table, c, r.Vals[i]))
		}
		q := `INSERT INTO ` + r.Table + ` (` + strings.Join(cols, ", ") + `) VALUES (` +
			strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + `)`
		if !hasID {
			if _, err := tx.ExecContext(ctx, tx.Rebind(q), args...); err != nil {
				return nil, fmt.Errorf("copy a row of %s: %w", r.Table, err)
			}
			continue
		}
		var id int64
		if err := tx.QueryRowxContext(ctx, tx.Rebind(q+` RETURNING id`), args...).Scan(&id); err != nil {
			return nil, fmt.Errorf("copy a row of %s: %w", r.Table, err)
		}
		if ids[r.Table] == nil {
			ids[r.Table] = map[int64]int64{}
		}
		ids[r.Table][old] = id
	}
	return ids, nil
}

func toInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int32:
		return int64(n), true
	case int:
		return int64(n), true
	}
	return 0, false
}

// Suffix appends tag to a string or a []byte (kept a []byte: a key may be binary); other
// values, NULL among them, are returned as they are.
func Suffix(v any, tag string) any {
	switch s := v.(type) {
	case string:
		return s + tag
	case []byte:
		return append(slices.Clip(s), tag...)
	}
	return v
}

// insertMany inserts rows, all of one table, without their ids, in one statement.
func insertMany(ctx context.Context, tx *sqlx.Tx, rows []Row, rewrite Rewrite) error {
	var cols []string
	for _, c := range rows[0].Cols {
		if c != "id" {
			cols = append(cols, c)
		}
	}
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	var b strings.Builder
	b.WriteString("INSERT INTO " + rows[0].Table + " (" + strings.Join(cols, ", ") + ") VALUES ")
	args := make([]any, 0, len(rows)*len(cols))
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(one)
		for j, c := range r.Cols {
			if c != "id" {
				args = append(args, rewrite(r.Table, c, r.Vals[j]))
			}
		}
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(b.String()), args...); err != nil {
		return fmt.Errorf("copy %d rows of %s: %w", len(rows), rows[0].Table, err)
	}
	return nil
}
