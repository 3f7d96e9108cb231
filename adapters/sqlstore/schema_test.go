package sqlstore_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
)

// schema is a migrated database's tables, as far as the two dialects must agree.
type schema map[string]*tableShape

type tableShape struct {
	columns map[string]string // name → "kind null" or "kind not null"
	primary string            // primary key columns, "a,b"
	unique  []string          // unique keys other than the primary key, sorted
	indexes []string          // other indexes as "name(a,b)", sorted
}

// typeKinds maps each declared column type of either dialect to the kind the Go code
// reads and writes: a column must be of the same kind on both.
var typeKinds = map[string]string{
	"integer": "int", "bigint": "int", "smallint": "int",
	"text": "text", "character varying": "text",
	"blob": "bytes", "bytea": "bytes",
	"timestamp": "time", "timestamp without time zone": "time", "timestamp with time zone": "time",
	"boolean": "bool",
}

func kindOf(t *testing.T, table, col, declared string) string {
	k, ok := typeKinds[strings.ToLower(declared)]
	if !ok {
		t.Errorf("%s.%s: column type %q is not known to the schema test (add it to typeKinds)", table, col, declared)
		return declared
	}
	return k
}

func nullability(notNull bool) string {
	if notNull {
		return "not null"
	}
	return "null"
}

// sqliteSchema reads the schema of a migrated SQLite database from sqlite_master and its
// pragmas.
func sqliteSchema(t *testing.T, db *sqlstore.DB) schema {
	t.Helper()
	ctx := context.Background()
	var tables []string
	if err := db.SelectContext(ctx, &tables, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`); err != nil {
		t.Fatal(err)
	}
	out := schema{}
	for _, tbl := range tables {
		shape := &tableShape{columns: map[string]string{}}
		out[tbl] = shape
		var pk []struct {
			n   int
			col string
		}
		rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT name, type, "notnull", pk FROM pragma_table_info('%s')`, tbl))
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var name, typ string
			var notNull bool
			var pkPos int
			if err := rows.Scan(&name, &typ, &notNull, &pkPos); err != nil {
				t.Fatal(err)
			}
			// A primary key column is NOT NULL on PostgreSQL; SQLite enforces it for
			// INTEGER PRIMARY KEY and, for others, aidmall never writes a NULL key.
			shape.columns[name] = kindOf(t, tbl, name, typ) + " " + nullability(notNull || pkPos > 0)
			if pkPos > 0 {
				pk = append(pk, struct {
					n   int
					col string
				}{pkPos, name})
			}
		}
		rows.Close()
		slices.SortFunc(pk, func(a, b struct {
			n   int
			col string
		}) int {
			return a.n - b.n
		})
		var pkCols []string
		for _, p := range pk {
			pkCols = append(pkCols, p.col)
		}
		shape.primary = strings.Join(pkCols, ",")

		type index struct {
			Name   string `db:"name"`
			Unique bool   `db:"unique"`
			Origin string `db:"origin"`
		}
		var idx []index
		if err := db.SelectContext(ctx, &idx, fmt.Sprintf(`SELECT name, "unique", origin FROM pragma_index_list('%s')`, tbl)); err != nil {
			t.Fatal(err)
		}
		for _, ix := range idx {
			var cols []string
			if err := db.SelectContext(ctx, &cols, fmt.Sprintf(`SELECT name FROM pragma_index_info('%s') ORDER BY seqno`, ix.Name)); err != nil {
				t.Fatal(err)
			}
			joined := strings.Join(cols, ",")
			switch {
			case ix.Origin == "pk":
				shape.primary = joined
			case ix.Unique:
				shape.unique = append(shape.unique, joined)
			default:
				shape.indexes = append(shape.indexes, ix.Name+"("+joined+")")
			}
		}
		slices.Sort(shape.unique)
		slices.Sort(shape.indexes)
	}
	return out
}

// postgresSchema reads the schema of a migrated PostgreSQL database from
// information_schema and pg_index.
func postgresSchema(t *testing.T, db *sqlstore.DB) schema {
	t.Helper()
	ctx := context.Background()
	out := schema{}
	var cols []struct {
		Table    string `db:"table_name"`
		Column   string `db:"column_name"`
		Type     string `db:"data_type"`
		Nullable string `db:"is_nullable"`
	}
	if err := db.SelectContext(ctx, &cols, `SELECT c.table_name, c.column_name, c.data_type, c.is_nullable
		FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
		WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
		AND NOT EXISTS (SELECT 1 FROM pg_class p WHERE p.relname = c.table_name AND p.relnamespace = current_schema()::regnamespace
			AND p.relispartition)`); err != nil { // the ledger's monthly partitions are the ledger
		t.Fatal(err)
	}
	for _, c := range cols {
		shape := out[c.Table]
		if shape == nil {
			shape = &tableShape{columns: map[string]string{}}
			out[c.Table] = shape
		}
		shape.columns[c.Column] = kindOf(t, c.Table, c.Column, c.Type) + " " + nullability(c.Nullable == "NO")
	}
	var idx []struct {
		Table   string `db:"table_name"`
		Name    string `db:"index_name"`
		Primary bool   `db:"is_primary"`
		Unique  bool   `db:"is_unique"`
		Columns string `db:"columns"`
	}
	if err := db.SelectContext(ctx, &idx, `SELECT t.relname AS table_name, i.relname AS index_name,
			x.indisprimary AS is_primary, x.indisunique AS is_unique,
			(SELECT string_agg(a.attname, ',' ORDER BY k.n)
			   FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
			   JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum) AS columns
		FROM pg_index x
		JOIN pg_class i ON i.oid = x.indexrelid
		JOIN pg_class t ON t.oid = x.indrelid
		WHERE t.relnamespace = current_schema()::regnamespace`); err != nil {
		t.Fatal(err)
	}
	for _, ix := range idx {
		shape := out[ix.Table]
		if shape == nil {
			continue
		}
		switch {
		case ix.Primary:
			shape.primary = ix.Columns
		case ix.Unique:
			shape.unique = append(shape.unique, ix.Columns)
		default:
			shape.indexes = append(shape.indexes, ix.Name+"("+ix.Columns+")")
		}
	}
	for _, shape := range out {
		slices.Sort(shape.unique)
		slices.Sort(shape.indexes)
	}
	return out
}

// TestMigrationsDefineTheSameSchema: after every migration, SQLite and PostgreSQL hold the
// same tables with the same columns (of the same kind and nullability), primary keys,
// unique keys and indexes, whatever migrations exist.
func TestMigrationsDefineTheSameSchema(t *testing.T) {
	t.Parallel()
	pg := postgresSchema(t, sqltest.Postgres(t))
	lite := sqliteSchema(t, sqltest.SQLite(t))
	if len(lite) < 2 {
		t.Fatalf("the SQLite schema has %d tables: the migrations did not run", len(lite))
	}
	// goose's own bookkeeping table is goose's to define, per dialect.
	delete(lite, "goose_db_version")
	delete(pg, "goose_db_version")
	tables := slices.Sorted(maps.Keys(lite))
	for _, name := range slices.Sorted(maps.Keys(pg)) {
		if _, ok := lite[name]; !ok {
			t.Errorf("table %s is on PostgreSQL only", name)
		}
	}
	for _, name := range tables {
		l, p := lite[name], pg[name]
		if p == nil {
			t.Errorf("table %s is on SQLite only", name)
			continue
		}
		for _, col := range slices.Sorted(maps.Keys(l.columns)) {
			switch pc, ok := p.columns[col]; {
			case !ok:
				t.Errorf("%s.%s is on SQLite only", name, col)
			case pc != l.columns[col]:
				t.Errorf("%s.%s is %s on SQLite, %s on PostgreSQL", name, col, l.columns[col], pc)
			}
		}
		for _, col := range slices.Sorted(maps.Keys(p.columns)) {
			if _, ok := l.columns[col]; !ok {
				t.Errorf("%s.%s is on PostgreSQL only", name, col)
			}
		}
		// PostgreSQL's ledger is partitioned by business day (migration 00014): its key
		// must hold the partition key.
		if l.primary != p.primary && !(name == "ledger_entries" && l.primary == "id" && p.primary == "id,business_day") {
			t.Errorf("%s: primary key (%s) on SQLite, (%s) on PostgreSQL", name, l.primary, p.primary)
		}
		if !slices.Equal(l.unique, p.unique) {
			t.Errorf("%s: unique keys %v on SQLite, %v on PostgreSQL", name, l.unique, p.unique)
		}
		if !slices.Equal(l.indexes, p.indexes) {
			t.Errorf("%s: indexes %v on SQLite, %v on PostgreSQL", name, l.indexes, p.indexes)
		}
	}
}

// TestUniqueKeysAreKnown: every unique or primary key the migrations define (but a
// generated id) is in the table by which a violation becomes a domain error, so that no
// conflict reaches a client as an unexplained failure.
func TestUniqueKeysAreKnown(t *testing.T) {
	t.Parallel()
	for name, read := range map[string]func(t *testing.T) schema{
		"sqlite":   func(t *testing.T) schema { return sqliteSchema(t, sqltest.SQLite(t)) },
		"postgres": func(t *testing.T) schema { return postgresSchema(t, sqltest.Postgres(t)) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := read(t)
			for _, table := range slices.Sorted(maps.Keys(s)) {
				if table == "goose_db_version" {
					continue // goose's own bookkeeping: aidmall never writes it
				}
				keys := append([]string{s[table].primary}, s[table].unique...)
				for _, k := range keys {
					if k == "" {
						continue
					}
					if _, ok := sqlstore.KnownUniqueKey(table, strings.Split(k, ",")); !ok {
						t.Errorf("unique key %s(%s) is not in sqlstore's uniqueKeys", table, k)
					}
				}
			}
		})
	}
}
