package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
)

// Enqueuer inserts background jobs in the caller's transaction, so that a job exists if and
// only if the row it acts on was committed (jobs.Runner implements it with River).
type Enqueuer interface {
	// EnqueueDispatch enqueues the dispatch job of each order of orderIDs (one or more).
	EnqueueDispatch(ctx context.Context, tx *sql.Tx, orderIDs ...int64) error
	EnqueueCancel(ctx context.Context, tx *sql.Tx, orderID int64, reason string) error
}

// Store implements the stores of every domain package over one DB.
type Store struct {
	db     *DB
	rdb    ReportReader // where reports read: db, or a replica (ReadReportsFrom)
	enq    Enqueuer
	now    func() time.Time
	keyUse sync.Map // API key id → when its last use was written (keys.go)
	keys   keyCache // API keys found, by hash, for KeyCacheTTL (keys.go)

	written   atomic.Int64 // events and ledger entries written since the last ANALYZE (rollups.go)
	analyzed  atomic.Int64 // those written before it
	analyzing atomic.Bool
	parts     ledgerParts // the ledger's monthly partitions (partitions.go)
}

// New returns a Store over db. enq receives the dispatch and cancel jobs inside the order
// transactions; now is the clock (time.Now if nil).
func New(db *DB, enq Enqueuer, now func() time.Time) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlstore: nil db")
	}
	if enq == nil {
		return nil, errors.New("sqlstore: nil enqueuer")
	}
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, rdb: db, enq: enq, now: now}, nil
}

// ReportReader is where the reports read (Benefit, Breakdown, SupplierSales,
// Unattributed, Spending, HouseholdsReport, Provenance): each in one read-only
// transaction. *DB is one.
type ReportReader interface {
	BeginTxx(ctx context.Context, opts *sql.TxOptions) (*sqlx.Tx, error)
}

// ReadReportsFrom makes the reports read from r, a read replica of the store's database
// (same dialect and schema), instead of the primary. A replica answers as of its last
// replayed change: a report there lags the primary by the replica's replication delay
// (docs/ARCHITECTURE.md); every write and every use case still goes to the primary.
func (s *Store) ReadReportsFrom(r ReportReader) {
	if r == nil {
		r = s.db
	}
	s.rdb = r
}

// DB returns the underlying database.
func (s *Store) DB() *DB { return s.db }

func (s *Store) utcNow() time.Time { return s.now().UTC() }

// ErrNoJobs is NoJobs' answer to a job: the store was opened for commands that place
// and cancel nothing.
var ErrNoJobs = errors.New("sqlstore: this store takes no dispatch or cancel jobs (opened for imports, reports and events only)")

// NoJobs is the Enqueuer of a store that must never be given a job: commands that only
// load history, import registries, apply events or read reports. A dispatch or cancel
// job given to it fails with ErrNoJobs, so the Place or Cancel that asked for it rolls
// back rather than leaving an order no job will ever send or cancel.
type NoJobs struct{}

func (NoJobs) EnqueueDispatch(context.Context, *sql.Tx, ...int64) error    { return ErrNoJobs }
func (NoJobs) EnqueueCancel(context.Context, *sql.Tx, int64, string) error { return ErrNoJobs }
