// Package sqltest makes real, migrated sqlstore databases for tests of other packages: a
// temporary SQLite file, or a PostgreSQL database of its own on the server named by
// AIDMALL_TEST_POSTGRES, dropped when the test ends. Tests run on the store production
// runs, not on an in-memory imitation.
package sqltest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"aidmall/adapters/sqlstore"
	"aidmall/config"
)

// PostgresEnv names the PostgreSQL server URL the PostgreSQL variants use.
const PostgresEnv = "AIDMALL_TEST_POSTGRES"

// New returns a Store over a fresh, migrated SQLite database in t.TempDir(), with jobs
// recorded by a Jobs it does not return (see NewOn for one that does) and the real clock.
func New(t testing.TB) *sqlstore.Store {
	t.Helper()
	return NewOn(t, OpenSQLite(t), &Jobs{}, nil)
}

// NewOn returns a Store over db with enq and the clock now (time.Now if nil).
func NewOn(t testing.TB, db *sqlstore.DB, enq sqlstore.Enqueuer, now func() time.Time) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.New(db, enq, now)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Databases returns the openers of the databases a suite should run on: SQLite always,
// PostgreSQL when AIDMALL_TEST_POSTGRES is set. Without it the PostgreSQL case is absent
// and the test says so (t.Log; the PostgreSQL variant itself skips with a reason).
func Databases(t testing.TB) map[string]func(testing.TB) *sqlstore.DB {
	t.Helper()
	out := map[string]func(testing.TB) *sqlstore.DB{"sqlite": OpenSQLite}
	if os.Getenv(PostgresEnv) != "" {
		out["postgres"] = OpenPostgres
	} else {
		t.Log(PostgresEnv + " not set: PostgreSQL cases not run")
	}
	return out
}

// OpenSQLite opens a fresh SQLite database in t.TempDir() with the service's pragmas and
// migrates it; it is closed when the test ends.
func OpenSQLite(t testing.TB) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), "sqlite", "file:"+filepath.Join(t.TempDir(), "test.db")+"?"+config.SQLitePragmas)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

var pgSeq atomic.Int64

// OpenPostgres creates a database of its own on the server named by AIDMALL_TEST_POSTGRES,
// migrates it, and drops it when the test ends. It skips the test when the variable is
// not set.
func OpenPostgres(t testing.TB) *sqlstore.DB {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		t.Skip(PostgresEnv + " not set: no PostgreSQL server to test on")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := fmt.Sprintf("aidmall_sqltest_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1_000_000, pgSeq.Add(1))
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	db, err := sqlstore.Open(ctx, "pgx", withDatabase(base, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		if a, err := sql.Open("pgx", base); err == nil {
			_, _ = a.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			a.Close()
		}
	})
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

// withDatabase swaps the database name in a postgres:// URL.
func withDatabase(url, name string) string {
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

// Jobs is a sqlstore.Enqueuer that records the jobs it was given (in the order's
// transaction: a rolled-back order's job is still recorded here, as River would have
// rolled it back with the order), or fails with Fail when set.
type Jobs struct {
	mu       sync.Mutex
	dispatch []int64
	cancels  map[int64][]string
	Fail     error
}

func (j *Jobs) EnqueueDispatch(_ context.Context, tx *sql.Tx, id int64) error {
	if tx == nil {
		return errors.New("sqltest: dispatch job outside a transaction")
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.Fail != nil {
		return j.Fail
	}
	j.dispatch = append(j.dispatch, id)
	return nil
}

func (j *Jobs) EnqueueCancel(_ context.Context, tx *sql.Tx, id int64, reason string) error {
	if tx == nil {
		return errors.New("sqltest: cancel job outside a transaction")
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.Fail != nil {
		return j.Fail
	}
	if j.cancels == nil {
		j.cancels = map[int64][]string{}
	}
	j.cancels[id] = append(j.cancels[id], reason)
	return nil
}

// Dispatched returns the order ids given dispatch jobs, in order.
func (j *Jobs) Dispatched() []int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]int64(nil), j.dispatch...)
}

// Cancels returns the reasons of the cancel jobs of order id, in order.
func (j *Jobs) Cancels(id int64) []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.cancels[id]...)
}
