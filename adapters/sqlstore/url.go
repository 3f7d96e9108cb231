package sqlstore

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Dialect is the kind of database. It is the one dialect type of aidmall: the job runner
// (jobs.Config.Dialect, jobs.Migrate, jobs.NewEnqueuer) and the commands take it.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// sqlitePragmas are the connection settings aidmall uses on every SQLite connection
// (modernc.org/sqlite DSN parameters): write-ahead logging so that readers never wait for
// the writer, a 10 s busy timeout instead of an immediate SQLITE_BUSY, foreign keys on,
// and BEGIN IMMEDIATE so that a transaction takes the write lock up front rather than
// failing when it upgrades from reading to writing. River's SQLite driver shares the
// connection and needs the same.
const sqlitePragmas = "_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate"

// DialectOf returns the dialect of a database URL: Postgres for a `postgres://` or
// `postgresql://` URL, SQLite for a `sqlite:` or `file:` URL or a plain file path, and ""
// for any other URL scheme or an empty URL (Open and CheckURL refuse it).
func DialectOf(databaseURL string) Dialect {
	s := strings.ToLower(strings.TrimSpace(databaseURL))
	switch {
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		return Postgres
	case strings.HasPrefix(s, "sqlite:"), strings.HasPrefix(s, "file:"):
		return SQLite
	case strings.Contains(s, "://"), s == "":
		return ""
	}
	return SQLite
}

// SQLitePath returns the database file of a SQLite database URL. It accepts the forms of
// River's migration CLI (`sqlite://rel.db`, `sqlite:rel.db`, `sqlite:///abs.db`,
// `sqlite:/abs.db`), `file:path` and a plain path. Errors: not a SQLite URL, an empty path,
// an in-memory database (it would last one connection only), or query parameters (aidmall
// sets its own pragmas).
func SQLitePath(databaseURL string) (string, error) {
	raw := strings.TrimSpace(databaseURL)
	if DialectOf(raw) != SQLite {
		return "", errors.New("not a SQLite database")
	}
	p := raw
	lower := strings.ToLower(raw)
	switch {
	case strings.HasPrefix(lower, "sqlite://"):
		p = raw[len("sqlite://"):]
	case strings.HasPrefix(lower, "sqlite:"):
		p = raw[len("sqlite:"):]
	case strings.HasPrefix(lower, "file:"):
		p = raw[len("file:"):]
	}
	switch {
	case p == "":
		return "", errors.New("empty SQLite path")
	case strings.Contains(p, ":memory:") || strings.Contains(strings.ToLower(p), "mode=memory"):
		return "", errors.New("an in-memory SQLite database lasts one connection only; give a file path")
	case strings.ContainsAny(p, "?#"):
		return "", errors.New("SQLite parameters are not accepted (aidmall sets WAL, busy timeout, foreign keys and immediate transactions itself)")
	}
	return p, nil
}

// CheckURL says whether Open would accept databaseURL, without opening it. Errors never
// show a password.
func CheckURL(databaseURL string) error {
	_, _, err := driverDSN(databaseURL)
	return err
}

// driverDSN returns the database/sql driver name and data source name for a database URL:
// ("sqlite", "file:PATH?"+sqlitePragmas) for SQLite (modernc.org/sqlite) and ("pgx", URL)
// for PostgreSQL (github.com/jackc/pgx/v5/stdlib).
func driverDSN(databaseURL string) (driver, dsn string, err error) {
	switch DialectOf(databaseURL) {
	case SQLite:
		p, err := SQLitePath(databaseURL)
		if err != nil {
			return "", "", err
		}
		return "sqlite", "file:" + p + "?" + sqlitePragmas, nil
	case Postgres:
		raw := strings.TrimSpace(databaseURL)
		if u, err := url.Parse(raw); err != nil || u.Host == "" {
			return "", "", errors.New("not a valid PostgreSQL URL (postgres://user@host:5432/db)")
		}
		return "pgx", raw, nil
	}
	if strings.TrimSpace(databaseURL) == "" {
		return "", "", errors.New("no database given")
	}
	return "", "", fmt.Errorf("unsupported database %s (want a file path, sqlite:PATH or postgres://…)", redactURL(databaseURL))
}

// redactURL returns raw with any password replaced, for error messages.
func redactURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Scheme == "" {
		if i := strings.Index(raw, "://"); i >= 0 {
			return raw[:i] + "://…"
		}
		return "(unparseable)"
	}
	return u.Redacted()
}
