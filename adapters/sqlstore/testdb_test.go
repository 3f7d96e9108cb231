package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"aidmall/adapters/sqlstore"
)

var pgSeq atomic.Int64

// dialects returns the databases the store suite runs on: SQLite, and PostgreSQL on the
// server AIDMALL_TEST_POSTGRES names (CI sets it; without it the postgres subtests are
// skipped with t.Skip, which says so). Each call makes fresh, migrated databases that are
// dropped when the test ends.
func dialects(t *testing.T) map[string]func(t testing.TB) *sqlstore.DB {
	t.Helper()
	return map[string]func(t testing.TB) *sqlstore.DB{"sqlite": openSQLite, "postgres": openPostgres}
}

func openSQLite(t testing.TB) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// openPostgres creates a database of its own for the test on the server named by
// AIDMALL_TEST_POSTGRES, and drops it afterwards.
func openPostgres(t testing.TB) *sqlstore.DB {
	t.Helper()
	base := postgresURL(t)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := fmt.Sprintf("aidmall_test_%d_%d", os.Getpid(), pgSeq.Add(1))
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	url := replaceDB(base, name)
	db, err := sqlstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		a, err := sql.Open("pgx", base)
		if err == nil {
			_, _ = a.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			a.Close()
		}
	})
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

// postgresURL returns AIDMALL_TEST_POSTGRES, or skips the test when it is unset.
func postgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("AIDMALL_TEST_POSTGRES")
	if base == "" {
		t.Skip("AIDMALL_TEST_POSTGRES not set (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable): PostgreSQL run skipped")
	}
	return base
}

// replaceDB swaps the database name in a postgres URL.
func replaceDB(url, name string) string {
	q := ""
	if i := strings.Index(url, "?"); i >= 0 {
		url, q = url[:i], url[i:]
	}
	scheme := strings.Index(url, "://") + 3
	if j := strings.Index(url[scheme:], "/"); j >= 0 {
		url = url[:scheme+j]
	}
	return url + "/" + name + q
}

func fixedClock() func() time.Time {
	t := time.Date(2019, 3, 1, 9, 0, 0, 0, time.UTC)
	return func() time.Time { return t }
}
