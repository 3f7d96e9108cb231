package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/redis/go-redis/v9"

	"aidmall/adapters/redisx"
	"aidmall/adapters/registryfile"
	"aidmall/adapters/seal"
	"aidmall/adapters/sqlstore"
	"aidmall/config"
	"aidmall/households"
	"aidmall/jobs"
)

// app is the wiring shared by every command: configuration, logger, database and store,
// the sealer of personal data, and Redis when configured.
type app struct {
	cfg    config.Config
	log    *slog.Logger
	db     *sqlstore.DB
	rdb    *sqlstore.DB // the reports' read replica (AIDMALL_REPORTS_DATABASE_URL), nil: the primary
	store  *sqlstore.Store
	sealer *seal.Sealer
	redis  *redis.Client
	// redisHealth watches redis (nil without REDIS_URL) and hands out its parts with
	// their in-process fallbacks.
	redisHealth *redisx.Health
	getenv      func(string) string // the environment, for the new seal key of a rotation
	// jobsOff: startRuntime serves without starting the job runner, so that no job of the
	// database is worked (bench --loaded measures reports on a database it must not change).
	jobsOff bool
}

// openApp opens the database named by cfg. With migrate it applies the schema and River's
// migrations first; without, it refuses a database with pending migrations.
func openApp(ctx context.Context, cfg config.Config, log *slog.Logger, migrate bool) (*app, error) {
	if sqlstore.DialectOf(cfg.DatabaseURL) == sqlstore.SQLite {
		p, err := sqlstore.SQLitePath(cfg.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("DATABASE_URL: %w", err)
		}
		if !migrate {
			if err := checkSQLiteFile(p); err != nil {
				return nil, err
			}
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return nil, fmt.Errorf("database directory: %w", err)
		}
	}
	db, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: log, db: db}
	ok := false
	defer func() {
		if !ok {
			a.Close()
		}
	}()
	if migrate {
		if err := a.migrate(ctx); err != nil {
			return nil, err
		}
	} else if err := db.CheckSchema(ctx); err != nil {
		return nil, err
	}
	if cfg.ReportsDatabaseURL != "" {
		if a.rdb, err = openReplica(ctx, cfg); err != nil {
			return nil, err
		}
	}
	if a.store, err = sqlstore.New(db, sqlstore.NoJobs{}, nil); err != nil {
		return nil, err
	}
	a.readReports(a.store)
	if cfg.RedisURL != "" {
		// A Redis that does not answer yet is no reason not to start: the nonce cache,
		// rate limits and dashboard bus run in process until it does (redisx.Health).
		if a.redis, err = redisx.Dial(cfg.RedisURL); err != nil {
			return nil, err
		}
		if a.redisHealth, err = redisx.NewHealth(ctx, a.redis, nil, log); err != nil {
			return nil, err
		}
		if up, why := a.redisHealth.Status(); !up {
			log.Warn("redis unreachable at start: running with in-process nonce cache, rate limits and dashboard bus until it answers", "error", why)
		}
	}
	ok = true
	return a, nil
}

// openReplica opens the read replica the reports read (AIDMALL_REPORTS_DATABASE_URL): a
// database of the primary's dialect, at the binary's schema.
func openReplica(ctx context.Context, cfg config.Config) (*sqlstore.DB, error) {
	if err := sqlstore.CheckURL(cfg.ReportsDatabaseURL); err != nil {
		return nil, fmt.Errorf("AIDMALL_REPORTS_DATABASE_URL: %w", err)
	}
	if sqlstore.DialectOf(cfg.ReportsDatabaseURL) != sqlstore.DialectOf(cfg.DatabaseURL) {
		return nil, errors.New("AIDMALL_REPORTS_DATABASE_URL: a replica of DATABASE_URL must be of its dialect")
	}
	rdb, err := sqlstore.Open(ctx, cfg.ReportsDatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("AIDMALL_REPORTS_DATABASE_URL: %w", err)
	}
	if err := rdb.CheckSchema(ctx); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("AIDMALL_REPORTS_DATABASE_URL: %w", err)
	}
	return rdb, nil
}

// readReports points st's reports at the replica when one is configured.
func (a *app) readReports(st *sqlstore.Store) {
	if a.rdb != nil {
		st.ReadReportsFrom(a.rdb)
	}
}

// migrate applies aidmall's schema migrations and River's.
func (a *app) migrate(ctx context.Context) error {
	if err := a.db.Migrate(ctx); err != nil {
		return err
	}
	return jobs.Migrate(ctx, a.db.DB.DB, a.db.Dialect)
}

// registry returns the registry importer. When sealing (a households file or a bundle) it
// loads the seal key (generating a dev key in the data dir on first run, with a warning)
// and checks it is the key this database's personal data was sealed with; the other files
// hold no personal data and need no key.
func (a *app) registry(ctx context.Context, sealing bool, opts ...households.RegistryOption) (*households.Registry, error) {
	opts = append([]households.RegistryOption{households.WithMalls(mallCodes()...), households.WithFileDecoder(registryfile.Decoder{}), households.WithAuditor(a.store)}, opts...)
	if !sealing {
		return households.NewRegistry(a.store, noSealer{}, opts...)
	}
	if a.sealer == nil {
		// A database that already has sealed data needs its own key: never generate a
		// fresh one for it (from another folder, say).
		if a.cfg.SealKey == "" {
			if _, err := os.Stat(a.cfg.SealKeyFile()); errors.Is(err, os.ErrNotExist) {
				if recorded, err := a.store.SealKeyRecorded(ctx); err != nil {
					return nil, err
				} else if recorded {
					return nil, fmt.Errorf("%w (no key at %s; set AIDMALL_SEAL_KEY or run from the folder whose data/seal.key sealed it)",
						sqlstore.ErrSealKeyMismatch, a.cfg.SealKeyFile())
				}
			}
		}
		key, err := a.cfg.LoadSealKey(a.log, rand.Reader)
		if err != nil {
			return nil, err
		}
		sealer, err := a.sealerOf(ctx, key)
		if err != nil {
			return nil, err
		}
		a.sealer = sealer
	}
	return households.NewRegistry(a.store, a.sealer, opts...)
}

// sealerOf returns the sealer of key, checked against the database's. During a seal key
// rotation (aidmall keys rotate) with the new key at hand (AIDMALL_SEAL_KEY_NEW or the data
// dir's seal-next/seal.key), it seals under the new key and opens under both, so that what
// it imports needs no second pass; before the rotation begins it uses key alone.
func (a *app) sealerOf(ctx context.Context, key []byte) (*seal.Sealer, error) {
	getenv := a.getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if next, err := loadNextSealKey(a.cfg, getenv, a.log); err != nil {
		return nil, err
	} else if next != nil {
		rotating, err := seal.New(next, key)
		if err != nil {
			return nil, err
		}
		switch err := a.store.CheckSealKey(ctx, rotating.Hash(sealKeyCheck)); {
		case err == nil:
			return rotating, nil
		case !errors.Is(err, sqlstore.ErrSealKeyMismatch):
			return nil, err
		}
	}
	sealer, err := seal.New(key)
	if err != nil {
		return nil, err
	}
	if err := a.store.CheckSealKey(ctx, sealer.Hash(sealKeyCheck)); err != nil {
		return nil, fmt.Errorf("%w (key file %s)", err, a.cfg.SealKeyFile())
	}
	return sealer, nil
}

// noSealer stands in for the sealer where no personal data is imported; it refuses to seal.
type noSealer struct{}

func (noSealer) Seal(string, string) ([]byte, error) {
	return nil, errors.New("no seal key loaded for this import")
}
func (noSealer) Hash(string) string { return "" }
func (noSealer) KeyName() string    { return "" }

// sealKeyCheck is the fixed text whose keyed hash tells which seal key a database uses.
const sealKeyCheck = "aidmall seal key check v1"

// Close releases the database and Redis.
func (a *app) Close() error {
	var errs []error
	if a.rdb != nil {
		errs = append(errs, a.rdb.Close())
	}
	if a.redis != nil {
		errs = append(errs, a.redis.Close())
	}
	if a.db != nil {
		errs = append(errs, a.db.Close())
	}
	return errors.Join(errs...)
}

// checkSQLiteFile refuses, before SQLite opens it (and makes it a WAL database), a path
// that holds no SQLite database: none there, an empty file, or another kind of file.
func checkSQLiteFile(p string) error {
	f, err := os.Open(p) // #nosec G304 -- the database path the operator named
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no database at %s: run `aidmall migrate` (or an import) first, or give --db", p)
	}
	if err != nil {
		return fmt.Errorf("database %s: %w", p, err)
	}
	defer f.Close()
	head := make([]byte, 16)
	n, err := io.ReadFull(f, head)
	switch {
	case n == 0 && (err == io.EOF || err == nil):
		if st, err := os.Stat(p + "-wal"); err == nil && st.Size() > 0 {
			return nil // a database whose pages are all in its write-ahead log still (a server has it open)
		}
		return fmt.Errorf("%s is an empty file, not a database: run `aidmall migrate` to make one there, or name the database with --db", p)
	case string(head[:n]) != "SQLite format 3\x00":
		return fmt.Errorf("%s is not a SQLite database: name the database file with --db", p)
	}
	// Another program's SQLite database is said so before the store opens it: that open
	// switches the file to WAL, which rewrites its header. Read without any pragma, which
	// changes nothing.
	db, err := sql.Open("sqlite", p)
	if err != nil {
		return fmt.Errorf("database %s: %w", p, err)
	}
	defer db.Close()
	var versioned int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'goose_db_version'`).Scan(&versioned); err != nil {
		return fmt.Errorf("database %s: %w", p, err)
	}
	if versioned == 0 {
		return fmt.Errorf("%s: %w", p, sqlstore.ErrNoSchema)
	}
	return nil
}
