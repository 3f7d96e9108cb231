// Package sqltest builds real, migrated aidmall databases for tests: a SQLite file in the
// test's temporary folder, or a schema of its own on the PostgreSQL server named by
// AIDMALL_TEST_POSTGRES, dropped when the test ends. Tests of any package run on the
// production store (sqlstore) through it rather than on in-memory imitations.
//
// The files of this package are not _test files so that other packages' tests can import
// it; nothing outside tests may.
//
//	db := sqltest.SQLite(t)                    // always available
//	db := sqltest.Postgres(t)                  // t.Skip with the reason when the env var is unset
//	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) { ... }) // subtests "sqlite" and "postgres"
//	st := sqltest.Store(t, db)                 // *sqlstore.Store (no jobs, time.Now); options below
//	sqltest.ImportBundle(t, st, sqltest.ExampleBundle()) // the 2019 bundle through the registry import
//	fx := sqltest.Seed(t, st)                  // a small registry: HQ, S1/S2, P1/P2, H001–H003
package sqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"aidmall/adapters/sqlstore"
)

// PostgresEnv names the environment variable holding the PostgreSQL server URL the
// PostgreSQL cases run on (CI sets it), e.g.
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable.
const PostgresEnv = "AIDMALL_TEST_POSTGRES"

// SQLite opens a fresh SQLite database file in t.TempDir() with the connection settings
// production uses (sqlstore.Open: its pragmas, one connection), migrated to the latest schema,
// and closes it when the test ends.
func SQLite(t testing.TB) *sqlstore.DB {
	t.Helper()
	return SQLiteAt(t, filepath.Join(t.TempDir(), "aidmall.db"))
}

// SQLiteAt is SQLite on a file of the caller's choosing (a test that reopens the same
// database, as a restarted process would). The file is migrated, not emptied.
func SQLiteAt(t testing.TB, path string) *sqlstore.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, path)
	if err != nil {
		t.Fatalf("sqltest: open SQLite: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("sqltest: migrate SQLite: %v", err)
	}
	return db
}

// Postgres creates a schema of its own (aidmall_test_<random>) on the server named by
// AIDMALL_TEST_POSTGRES, opens a pool whose search_path is that schema, migrates it, and
// drops the schema (CASCADE) when the test ends, so tests and engineers sharing the server
// never see each other's rows. Without AIDMALL_TEST_POSTGRES the test is skipped with the
// reason.
func Postgres(t testing.TB) *sqlstore.DB {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		t.Skip(PostgresEnv + " not set (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable): PostgreSQL case skipped")
	}
	ctx := context.Background()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("sqltest: %s: %v", PostgresEnv, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "aidmall_test_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		_ = admin.Close()
		t.Fatalf("sqltest: create schema: %v", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		_ = admin.Close()
		t.Fatalf("sqltest: %s: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	// Registered before Open so the schema goes even when opening or migrating fails;
	// cleanups run last-in first-out, so the pool below is closed first.
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Errorf("sqltest: drop schema %s: %v", schema, err)
		}
		_ = admin.Close()
	})
	db, err := sqlstore.Open(ctx, u.String())
	if err != nil {
		t.Fatalf("sqltest: open PostgreSQL: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("sqltest: migrate PostgreSQL: %v", err)
	}
	return db
}

// Dialect is one database the suites run on: its subtest name and its opener.
type Dialect struct {
	Name string
	Open func(testing.TB) *sqlstore.DB
}

// Dialects are the databases of Each, in order: SQLite, then PostgreSQL.
var Dialects = []Dialect{{"sqlite", SQLite}, {"postgres", Postgres}}

// Each runs fn as two subtests, "sqlite" and "postgres", each on a fresh migrated
// database; the PostgreSQL subtest is skipped with the reason when AIDMALL_TEST_POSTGRES
// is unset, so `go test -v` shows it. fn may call t.Parallel.
func Each(t *testing.T, fn func(t *testing.T, db *sqlstore.DB)) {
	t.Helper()
	for _, d := range Dialects {
		t.Run(d.Name, func(t *testing.T) {
			fn(t, d.Open(t))
		})
	}
}

// StoreOption configures the Store built by Store.
type StoreOption func(*storeConfig)

type storeConfig struct {
	enq sqlstore.Enqueuer
	now func() time.Time
}

// WithEnqueuer makes the store hand its dispatch and cancel jobs to enq (default a
// fresh Jobs, which records them).
func WithEnqueuer(enq sqlstore.Enqueuer) StoreOption { return func(c *storeConfig) { c.enq = enq } }

// WithClock sets the store's clock (default time.Now).
func WithClock(now func() time.Time) StoreOption { return func(c *storeConfig) { c.now = now } }

// Store returns the production store over db, as cmd builds it.
func Store(t testing.TB, db *sqlstore.DB, opts ...StoreOption) *sqlstore.Store {
	t.Helper()
	c := storeConfig{enq: &Jobs{}}
	for _, o := range opts {
		o(&c)
	}
	st, err := sqlstore.New(db, c.enq, c.now)
	if err != nil {
		t.Fatalf("sqltest: sqlstore.New: %v", err)
	}
	return st
}
