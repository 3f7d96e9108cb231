package main

import (
	"bytes"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"aidmall/adapters/sqlstore"
)

// A command that reads a database (here users list) refuses a --db that holds no aidmall
// database, saying what is there, and leaves it as it was: an empty file stays empty (no
// write-ahead log made), another kind of file keeps its bytes, and another program's
// database (SQLite or PostgreSQL) gets no migration table.
func TestCommandsLeaveWhatIsNoDatabaseAlone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	unchanged := func(p string, want []byte) {
		t.Helper()
		if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s changed: %d bytes, %v", p, len(got), err)
		}
		if _, err := os.Stat(p + "-wal"); err == nil {
			t.Errorf("%s was given a write-ahead log", p)
		}
	}
	empty := write("empty.db", nil)
	if _, err := cli(t, empty, dir, "users", "list"); err == nil || !strings.Contains(err.Error(), "is an empty file, not a database") {
		t.Errorf("an empty file: %v", err)
	}
	unchanged(empty, nil)
	text := []byte("household_no,name\n")
	notes := write("notes.db", text)
	if _, err := cli(t, notes, dir, "users", "list"); err == nil || !strings.Contains(err.Error(), "is not a SQLite database") {
		t.Errorf("a text file: %v", err)
	}
	unchanged(notes, text)

	other := filepath.Join(dir, "other.db")
	odb, err := sql.Open("sqlite", other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := odb.Exec(`CREATE TABLE kept (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	_ = odb.Close()
	before, err := os.ReadFile(other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli(t, other, dir, "users", "list"); !errors.Is(err, sqlstore.ErrNoSchema) {
		t.Errorf("another program's SQLite database: %v, want %v", err, sqlstore.ErrNoSchema)
	}
	unchanged(other, before) // not even switched to WAL (its header)
	if odb, err = sql.Open("sqlite", other); err != nil {
		t.Fatal(err)
	}
	defer odb.Close()
	var n int
	if err := odb.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'goose_db_version'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("another program's SQLite database got a migration table (%d, %v)", n, err)
	}

	base := os.Getenv("AIDMALL_TEST_POSTGRES")
	if base == "" {
		t.Log("AIDMALL_TEST_POSTGRES not set: the PostgreSQL case is skipped")
		return
	}
	pg := scratchPostgres(t, base)
	if _, err := cli(t, pg, dir, "users", "list"); !errors.Is(err, sqlstore.ErrNoSchema) {
		t.Errorf("an empty PostgreSQL database: %v, want %v", err, sqlstore.ErrNoSchema)
	}
	pdb, err := sql.Open("pgx", pg)
	if err != nil {
		t.Fatal(err)
	}
	defer pdb.Close()
	if err := pdb.QueryRow(`SELECT COUNT(*) FROM pg_class WHERE relname = 'goose_db_version'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("an empty PostgreSQL database got a migration table (%d, %v)", n, err)
	}
}
