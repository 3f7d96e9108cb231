package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// SQLitePragmas are the connection settings aidmall uses on every SQLite connection
// (modernc.org/sqlite DSN parameters): write-ahead logging so that readers never wait for
// the writer, a 10 s busy timeout instead of an immediate SQLITE_BUSY, foreign keys on,
// and BEGIN IMMEDIATE so that a transaction takes the write lock up front rather than
// failing when it upgrades from reading to writing.
const SQLitePragmas = "_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate"

// Dialect returns the database dialect of DatabaseURL: DialectPostgres for a
// `postgres://` or `postgresql://` URL, DialectSQLite for a `sqlite:` or `file:` URL or a
// plain file path, and "" for any other URL scheme (Validate refuses it).
func (c Config) Dialect() string { return dialectOf(c.DatabaseURL) }

func dialectOf(raw string) string {
	s := strings.ToLower(strings.TrimSpace(raw))
	switch {
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		return DialectPostgres
	case strings.HasPrefix(s, "sqlite:"), strings.HasPrefix(s, "file:"):
		return DialectSQLite
	case strings.Contains(s, "://"):
		return ""
	case s == "":
		return ""
	}
	return DialectSQLite
}

// SQLitePath returns the database file of a SQLite DatabaseURL. It accepts the forms of
// River's migration CLI (`sqlite://rel.db`, `sqlite:rel.db`, `sqlite:///abs.db`,
// `sqlite:/abs.db`), `file:path` and a plain path. Errors: not a SQLite URL, an empty path,
// an in-memory database (it would last one connection only), or query parameters (aidmall
// sets its own pragmas, SQLitePragmas).
func (c Config) SQLitePath() (string, error) {
	raw := strings.TrimSpace(c.DatabaseURL)
	if dialectOf(raw) != DialectSQLite {
		return "", fmt.Errorf("DATABASE_URL: not a SQLite database")
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
		return "", errors.New("DATABASE_URL: empty SQLite path")
	case strings.Contains(p, ":memory:") || strings.Contains(strings.ToLower(p), "mode=memory"):
		return "", errors.New("DATABASE_URL: an in-memory SQLite database lasts one connection only; give a file path")
	case strings.ContainsAny(p, "?#"):
		return "", errors.New("DATABASE_URL: SQLite parameters are not accepted (aidmall sets WAL, busy timeout, foreign keys and immediate transactions itself)")
	}
	return p, nil
}

// DriverDSN returns the database/sql driver name and data source name for DatabaseURL:
// ("sqlite", "file:PATH?"+SQLitePragmas) for SQLite (modernc.org/sqlite) and
// ("pgx", URL) for PostgreSQL (github.com/jackc/pgx/v5/stdlib; the caller imports the
// driver). Errors as SQLitePath, or an unsupported scheme.
func (c Config) DriverDSN() (driver, dsn string, err error) {
	switch c.Dialect() {
	case DialectSQLite:
		p, err := c.SQLitePath()
		if err != nil {
			return "", "", err
		}
		return "sqlite", "file:" + p + "?" + SQLitePragmas, nil
	case DialectPostgres:
		return "pgx", strings.TrimSpace(c.DatabaseURL), nil
	}
	return "", "", fmt.Errorf("DATABASE_URL: unsupported database %s (want a file path, sqlite:PATH or postgres://…)", redactURL(c.DatabaseURL))
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
