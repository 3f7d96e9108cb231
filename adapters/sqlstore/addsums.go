package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"
)

// sumRows are rows to add to a table of sums: each row's text key (one value per key
// column) and its sums (one per sum column), in the order they are to be written.
type sumRows struct {
	Keys [][]string
	Sums [][]int64
}

// addSumsBatch bounds the rows one statement of addSums carries; on SQLite, whose
// statements take at most 32,766 parameters, addSumsBatchSQLite (a multiple of 64).
const (
	addSumsBatch       = 4000
	addSumsBatchSQLite = 1024
)

// addSums adds rows to table: a row whose key (keyCols) is new is inserted, one whose key
// exists has each of its sumCols increased by the row's. It is how the ledger rollups are
// kept, for any table and key list, with a statement text that depends on the table and
// columns and on a few row counts only:
//
//   - SQLite: a multi-row INSERT padded to one of a few row counts (addSumsSQLite), so
//     that its text is compiled once per connection (stmtcache.go), not at every use.
//     (The rows as one JSON parameter read by json_each bind one value instead of 14 a
//     row, but SQLite prints every row back to JSON and parses it again per column:
//     measured 1.5× slower.)
//   - PostgreSQL: one array parameter per column, read by unnest: one round trip, with
//     one text (pgx prepares it once per connection).
//
// Rows go in their given order (callers sort them, so that concurrent writers on
// PostgreSQL take the rows' locks in the same order).
func addSums(ctx context.Context, tx *sqlx.Tx, table string, keyCols, sumCols []string, rows sumRows) error {
	return addSumsReturning(ctx, tx, table, keyCols, sumCols, rows, nil)
}

// addSumsReturning is addSums calling stored (when not nil) with the key and the first
// sum of every row as stored after the addition (a row may be reported more than once:
// with the same values).
func addSumsReturning(ctx context.Context, tx *sqlx.Tx, table string, keyCols, sumCols []string, rows sumRows, stored func(key []string, sum int64)) error {
	sqlite := tx.DriverName() == "sqlite"
	batch := addSumsBatch
	if sqlite {
		batch = addSumsBatchSQLite
	}
	for start := 0; start < len(rows.Keys); start += batch {
		end := min(start+batch, len(rows.Keys))
		chunk := sumRows{Keys: rows.Keys[start:end], Sums: rows.Sums[start:end]}
		var q string
		var args []any
		if sqlite {
			q, args = addSumsSQLite(table, keyCols, sumCols, chunk)
		} else {
			q, args = addSumsPostgres(table, keyCols, sumCols, chunk)
		}
		if stored == nil {
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("add to %s: %w", table, err)
			}
			continue
		}
		if err := scanStored(ctx, tx, q+" RETURNING "+strings.Join(keyCols, ", ")+", "+sumCols[0], args, len(keyCols), stored); err != nil {
			return fmt.Errorf("add to %s: %w", table, err)
		}
	}
	return nil
}

// scanStored runs q and calls stored with each row it returns: n text keys and a sum.
func scanStored(ctx context.Context, tx *sqlx.Tx, q string, args []any, n int, stored func(key []string, sum int64)) error {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	key := make([]string, n)
	dest := make([]any, n+1)
	for i := range key {
		dest[i] = &key[i]
	}
	var sum int64
	dest[n] = &sum
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		stored(key, sum)
	}
	return rows.Err()
}

// addSumsUpdate is the ON CONFLICT clause adding the new row's sums to the stored row's.
func addSumsUpdate(table string, keyCols, sumCols []string) string {
	set := make([]string, len(sumCols))
	for i, c := range sumCols {
		set[i] = c + " = " + table + "." + c + " + excluded." + c
	}
	return " ON CONFLICT (" + strings.Join(keyCols, ", ") + ") DO UPDATE SET " + strings.Join(set, ", ")
}

// addSumsSQLite is one multi-row INSERT whose row count is rounded up to a size of
// sqliteSumsSize, the missing rows filled with the last row again with sums of 0 (SQLite
// upserts the rows of one INSERT one after the other: a repeated key adds 0).
func addSumsSQLite(table string, keyCols, sumCols []string, rows sumRows) (string, []any) {
	n := len(rows.Keys)
	size := sqliteSumsSize(n)
	width := len(keyCols) + len(sumCols)
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", width), ", ") + ")"
	q := "INSERT INTO " + table + " (" + strings.Join(keyCols, ", ") + ", " + strings.Join(sumCols, ", ") + ") VALUES " +
		strings.TrimSuffix(strings.Repeat(one+", ", size), ", ") + addSumsUpdate(table, keyCols, sumCols)
	args := make([]any, 0, size*width)
	for i := range size {
		r := min(i, n-1)
		for _, v := range rows.Keys[r] {
			args = append(args, v)
		}
		for _, v := range rows.Sums[r] {
			if i >= n {
				v = 0
			}
			args = append(args, v)
		}
	}
	return q, args
}

// sqliteSumsSize is the row count n rows are padded to: a power of two from 8 to 64, then
// a multiple of 64 (so at most 63 rows are added, and a table has 20 texts up to
// addSumsBatchSQLite rows).
func sqliteSumsSize(n int) int {
	if n > 64 {
		return (n + 63) / 64 * 64
	}
	size := 8
	for size < n {
		size *= 2
	}
	return size
}

// addSumsPostgres is one INSERT … SELECT from unnest of one array per column.
func addSumsPostgres(table string, keyCols, sumCols []string, rows sumRows) (string, []any) {
	params := make([]string, 0, len(keyCols)+len(sumCols))
	args := make([]any, 0, len(keyCols)+len(sumCols))
	for j := range keyCols {
		col := make([]string, len(rows.Keys))
		for i, k := range rows.Keys {
			col[i] = k[j]
		}
		params = append(params, "$"+strconv.Itoa(len(params)+1)+"::text[]")
		args = append(args, col)
	}
	for j := range sumCols {
		col := make([]int64, len(rows.Sums))
		for i, s := range rows.Sums {
			col[i] = s[j]
		}
		params = append(params, "$"+strconv.Itoa(len(params)+1)+"::bigint[]")
		args = append(args, col)
	}
	q := "INSERT INTO " + table + " (" + strings.Join(keyCols, ", ") + ", " + strings.Join(sumCols, ", ") + ") SELECT * FROM unnest(" +
		strings.Join(params, ", ") + ")" + addSumsUpdate(table, keyCols, sumCols)
	return q, args
}
