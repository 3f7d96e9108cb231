// Package sqlstore is the system of record of aidmall over sqlx: SQLite (modernc.org/sqlite,
// no cgo; the embedded default) or PostgreSQL (pgx through database/sql). It implements
// orders.Store, households.RegistryStore, the API's key and idempotency stores and the
// benefit report queries, with one schema migrated per dialect by goose.
//
// Money is stored as integer fen, business days as TEXT 'YYYY-MM-DD' (Beijing), instants
// as timestamps (UTC).
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
)

// DB is an open database with its dialect.
type DB struct {
	*sqlx.DB
	Dialect Dialect
}

//go:embed migrations
var migrations embed.FS

// Open opens the database named by databaseURL (see DialectOf and SQLitePath for the
// forms accepted) and pings it. It decides the driver (modernc.org/sqlite or pgx), the
// SQLite pragmas and the connection pool: every connection to an aidmall database is
// made here. Errors: a URL CheckURL refuses, or a database that does not answer.
func Open(ctx context.Context, databaseURL string) (*DB, error) {
	driver, dsn, err := driverDSN(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	d := DialectOf(databaseURL)
	var db *sqlx.DB
	if d == SQLite {
		// modernc.org/sqlite's driver ("sqlite"), each connection with its statement
		// cache (stmtcache.go).
		db = sqlx.NewDb(sql.OpenDB(sqliteConnector{dsn: dsn}), driver)
	} else if db, err = sqlx.Open(driver, dsn); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if d == SQLite {
		// SQLite runs one write at a time; queued on its busy handler, writers sleep in
		// growing steps and throughput collapses under contention. One connection makes
		// the process queue them in Go instead (as River's SQLite driver advises).
		db.SetMaxOpenConns(1)
	} else {
		// Keep the pool warm: with Go's default of 2 idle connections, a busy server
		// closes and reopens one per request (tens of ms each; docs/PERFORMANCE.md).
		db.SetMaxOpenConns(20)
		db.SetMaxIdleConns(20)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	return &DB{DB: db, Dialect: d}, nil
}

func (db *DB) provider() (*goose.Provider, error) {
	sub, err := fs.Sub(migrations, "migrations/"+string(db.Dialect))
	if err != nil {
		return nil, err
	}
	dialect := goose.DialectSQLite3
	if db.Dialect == Postgres {
		dialect = goose.DialectPostgres
	}
	return goose.NewProvider(dialect, db.DB.DB, sub, goose.WithGoMigrations(goMigrations()...))
}

// Migrate applies every pending schema migration.
func (db *DB) Migrate(ctx context.Context) error {
	p, err := db.provider()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// ErrPendingMigrations is returned by CheckSchema when the database is behind the binary.
var ErrPendingMigrations = errors.New("database has pending migrations: run `aidmall migrate`")

// ErrNoSchema is returned by CheckSchema for a database no migration has run on: not an
// aidmall database (yet).
var ErrNoSchema = errors.New("no aidmall schema in this database (an empty database, or another program's): run `aidmall migrate` to make one there, or name the right database with --db")

// CheckSchema returns ErrNoSchema for a database without aidmall's schema, changing
// nothing there, and ErrPendingMigrations unless every migration is applied; the server
// refuses to start on an old schema.
func (db *DB) CheckSchema(ctx context.Context) error {
	// A database no migration has touched is said so, and left as it is: goose would make
	// its version table there to answer.
	q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'goose_db_version'`
	if db.Dialect == Postgres {
		q = `SELECT COUNT(*) FROM pg_class WHERE oid = to_regclass('goose_db_version')`
	}
	var versioned int
	if err := db.GetContext(ctx, &versioned, q); err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	if versioned == 0 {
		return ErrNoSchema
	}
	p, err := db.provider()
	if err != nil {
		return err
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	if pending {
		return ErrPendingMigrations
	}
	return nil
}

// inTx runs fn in a transaction, committing when it returns nil and rolling back otherwise.
func (db *DB) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", translate(err))
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", translate(err))
	}
	return nil
}

// inConnTx is inTx on a connection held for the transaction and given to fn too, so that
// what database/sql cannot send (pgx's COPY, through conn.Raw) goes over the same
// connection and so into the same transaction.
func (db *DB) inConnTx(ctx context.Context, fn func(conn *sqlx.Conn, tx *sqlx.Tx) error) error {
	conn, err := db.Connx(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", translate(err))
	}
	defer conn.Close()
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", translate(err))
	}
	if err := fn(conn, tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", translate(err))
	}
	return nil
}

// forUpdate returns " FOR UPDATE" on PostgreSQL (row locks); SQLite's immediate
// transactions already hold the database's one write lock.
func (db *DB) forUpdate() string {
	if db.Dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// goMigrations are the migrations written in Go: those that fill a table by a rule the
// store keeps in Go, so that the rule is written once.
func goMigrations() []*goose.Migration {
	return []*goose.Migration{
		// 00017 filled the benefit figures of migration 00016 from the ledger and the
		// registry. 00020 fills them again, with the nets' sums of 00019, and the server
		// refuses a database with pending migrations (CheckSchema): a database older than
		// 00017 is never read between the two, so 00017 now leaves the filling to 00020
		// (it cannot write the nets as the store keeps them now, before 00019).
		goose.NewGoMigration(17, &goose.GoFunc{RunTx: func(context.Context, *sql.Tx) error { return nil }},
			&goose.GoFunc{RunTx: func(context.Context, *sql.Tx) error { return nil }}),
		// 00018: the day rollups keep the slice set alone (rollupTables).
		goose.NewGoMigration(18, &goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			return execAll(ctx, tx, []string{sliceOnlySQL(rollupTables[1])})
		}}, &goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			return execAll(ctx, tx, unsliceSQL(rollupTables[1]))
		}}),
		// 00020: the nets with the rollups' sums and the unattributed part (00019), from the
		// ledger; the month and year rollups keep the slice set alone.
		goose.NewGoMigration(20, &goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			if err := rebuildBenefit(ctx, tx); err != nil {
				return err
			}
			return execAll(ctx, tx, []string{sliceOnlySQL(rollupTables[0]), sliceOnlySQL(rollupTables[2])})
		}}, &goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			return execAll(ctx, tx, append(unsliceSQL(rollupTables[0]), unsliceSQL(rollupTables[2])...))
		}}),
		// 00023: the unit figures of 00022, from the unit month rollups and the catalogue.
		goose.NewGoMigration(23, &goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			return rebuildUnitFigures(ctx, tx)
		}}, &goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			return execAll(ctx, tx, []string{`DELETE FROM unit_figures`})
		}}),
	}
}

// execAll runs qs in tx, in order.
func execAll(ctx context.Context, tx *sql.Tx, qs []string) error {
	for _, q := range qs {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}
