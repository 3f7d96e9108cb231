package bench_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/internal/bench"
)

// A baseline copies the rows a path wrote: the copies get fresh unique values from the
// rewrite, and a copied child row points at the copy of its parent, whether it went in
// alone or in a multi-row INSERT.
func TestInsertCopiesRowsAndTheirReferences(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "rows.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`CREATE TABLE parents (id INTEGER PRIMARY KEY, ref TEXT NOT NULL UNIQUE)`,
		`CREATE TABLE children (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parents (id), n INTEGER NOT NULL)`,
		`INSERT INTO parents (ref) VALUES ('P1')`,
		`INSERT INTO children (parent_id, n) VALUES (1, 10), (1, 20), (1, 30)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	before := bench.Snapshot{"parents": 0, "children": 0}
	rows, err := bench.NewRows(ctx, db.DB, before, "parents", "children")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || rows[0].Table != "parents" {
		t.Fatalf("read %d rows, parents first; want 4: %+v", len(rows), rows)
	}
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := bench.Insert(ctx, tx, rows, func(table, col string, v any) any {
		if col == "ref" {
			return bench.Suffix(v, "~copy")
		}
		return v
	}, bench.Refs{"parent_id": "parents"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	newParent := ids["parents"][1]
	if newParent == 0 || newParent == 1 {
		t.Fatalf("the parent's copy has id %d", newParent)
	}
	var got []struct {
		Ref string `db:"ref"`
		N   int    `db:"n"`
	}
	if err := db.SelectContext(ctx, &got, `SELECT p.ref, c.n FROM children c JOIN parents p ON p.id = c.parent_id WHERE p.id = ? ORDER BY c.n`, newParent); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Ref != "P1~copy" || got[0].N != 10 || got[2].N != 30 {
		t.Fatalf("the copied children under the copied parent are %+v; want n 10, 20, 30 under P1~copy", got)
	}
}

// On PostgreSQL a partitioned table's rows are read once, under the table: the rows one
// delivery wrote to ledger_entries are not copied a second time as its partition's.
func TestRowsOfReadsAPartitionedTableOnce(t *testing.T) {
	ctx := context.Background()
	db := sqltest.Postgres(t)
	for _, q := range []string{
		`CREATE TABLE parts (id BIGSERIAL, day TEXT NOT NULL) PARTITION BY RANGE (day)`,
		`CREATE TABLE parts_2019 PARTITION OF parts FOR VALUES FROM ('2019-01-01') TO ('2020-01-01')`,
		`CREATE TABLE parts_default PARTITION OF parts DEFAULT`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := bench.RowsOf(ctx, db.DB, func() error {
		_, err := db.ExecContext(ctx, `INSERT INTO parts (day) VALUES ('2019-06-01'), ('2021-01-01')`)
		return err
	}, "parts")
	if err != nil {
		t.Fatal(err)
	}
	if got := bench.Count(rows); got != "2 parts" {
		t.Fatalf("the insert of two rows read back as %q; want 2 parts", got)
	}
}

// The rows of a table without an id (a rollup) that a path wrote are those added or
// changed since the contents were taken; untouched rows and tables with an id are not.
func TestChangedRowsAreTheAddedAndChangedRowsOfTablesWithoutID(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "rows.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(qs ...string) {
		t.Helper()
		for _, q := range qs {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
	}
	exec(`CREATE TABLE sums_rollups (k TEXT PRIMARY KEY, n INTEGER NOT NULL)`,
		`CREATE TABLE other_rollups (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)`,
		`CREATE TABLE notes (k TEXT PRIMARY KEY)`,
		`INSERT INTO sums_rollups VALUES ('a', 1), ('b', 2), ('c', 3)`)
	before, err := bench.TakeContents(ctx, db.DB, bench.SumTable)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := before["sums_rollups"]; !ok || len(before) != 1 {
		t.Fatalf("contents of %d tables; want sums_rollups alone (other_rollups has an id, notes another name)", len(before))
	}
	exec(`UPDATE sums_rollups SET n = n + 10 WHERE k = 'b'`, `INSERT INTO sums_rollups VALUES ('d', 4)`,
		`INSERT INTO other_rollups (n) VALUES (1)`, `INSERT INTO notes VALUES ('x')`)
	rows, err := bench.ChangedRows(ctx, db.DB, before)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprint(r.Table, " ", r.Get("k"), " ", r.Get("n")))
	}
	slices.Sort(got)
	if want := []string{"sums_rollups b 12", "sums_rollups d 4"}; !slices.Equal(got, want) {
		t.Fatalf("changed rows %q; want %q", got, want)
	}
}
