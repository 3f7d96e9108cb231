package sqlstore_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"aidmall/adapters/sqlstore"
)

func TestDatabaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, url string
		dialect   sqlstore.Dialect
		path      string // SQLite: the file; "" when the URL is refused
		refusal   string // "" when accepted
	}{
		{"relative_path_is_sqlite", "./data/aidmall.db", sqlstore.SQLite, "./data/aidmall.db", ""},
		{"absolute_path_is_sqlite", "/var/lib/aidmall/aidmall.db", sqlstore.SQLite, "/var/lib/aidmall/aidmall.db", ""},
		{"sqlite_short_relative", "sqlite:aid.db", sqlstore.SQLite, "aid.db", ""},
		{"sqlite_long_relative", "sqlite://aid.db", sqlstore.SQLite, "aid.db", ""},
		{"sqlite_long_absolute", "sqlite:///srv/aid.db", sqlstore.SQLite, "/srv/aid.db", ""},
		{"sqlite_short_absolute", "sqlite:/srv/aid.db", sqlstore.SQLite, "/srv/aid.db", ""},
		{"sqlite_scheme_is_case_insensitive", "SQLite:aid.db", sqlstore.SQLite, "aid.db", ""},
		{"file_url_is_sqlite", "file:/srv/aid.db", sqlstore.SQLite, "/srv/aid.db", ""},
		{"sqlite_memory_is_refused", "sqlite::memory:", sqlstore.SQLite, "", "in-memory"},
		{"sqlite_empty_path_is_refused", "sqlite://", sqlstore.SQLite, "", "empty"},
		{"sqlite_parameters_are_refused", "file:x.db?_pragma=foo", sqlstore.SQLite, "", "parameters"},
		{"postgres_url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", sqlstore.Postgres, "", ""},
		{"postgresql_url", "postgresql://u@h/db", sqlstore.Postgres, "", ""},
		{"postgres_scheme_is_case_insensitive", "Postgres://u@h/db", sqlstore.Postgres, "", ""},
		{"postgres_without_host_is_refused", "postgres://", sqlstore.Postgres, "", "PostgreSQL URL"},
		{"mysql_is_unsupported", "mysql://root:secret@db/aid", "", "", "unsupported"},
		{"empty_is_refused", "", "", "", "no database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := sqlstore.DialectOf(tt.url); got != tt.dialect {
				t.Fatalf("DialectOf(%q) = %q, want %q", tt.url, got, tt.dialect)
			}
			err := sqlstore.CheckURL(tt.url)
			switch {
			case tt.refusal == "" && err != nil:
				t.Fatalf("CheckURL(%q) = %v, want accepted", tt.url, err)
			case tt.refusal != "" && (err == nil || !strings.Contains(err.Error(), tt.refusal)):
				t.Fatalf("CheckURL(%q) = %v, want a refusal mentioning %q", tt.url, err, tt.refusal)
			case err != nil && strings.Contains(err.Error(), "secret"):
				t.Fatalf("CheckURL(%q) leaks the password: %v", tt.url, err)
			}
			if tt.path != "" {
				if p, err := sqlstore.SQLitePath(tt.url); err != nil || p != tt.path {
					t.Errorf("SQLitePath(%q) = %q, %v; want %q", tt.url, p, err, tt.path)
				}
			}
		})
	}
}

// TestOpenSQLiteSettings: every SQLite connection aidmall opens writes ahead, waits for a
// busy writer, checks foreign keys, and the pool is one connection.
func TestOpenSQLiteSettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "settings.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Dialect != sqlstore.SQLite {
		t.Errorf("dialect %q", db.Dialect)
	}
	for pragma, want := range map[string]string{"journal_mode": "wal", "busy_timeout": "10000", "foreign_keys": "1"} {
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
	if n := db.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("SQLite pool of %d connections, want 1", n)
	}
}

// FuzzSQLiteURL: whatever the URL, a SQLite database that CheckURL accepts has a path with
// no parameters of its own (aidmall's pragmas are the only ones).
func FuzzSQLiteURL(f *testing.F) {
	for _, s := range []string{"./data/aidmall.db", "sqlite:a.db", "sqlite:///x?y", "file:a#b", "postgres://h/d", "x://y", ":memory:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, url string) {
		if sqlstore.CheckURL(url) != nil || sqlstore.DialectOf(url) != sqlstore.SQLite {
			return
		}
		p, err := sqlstore.SQLitePath(url)
		if err != nil || p == "" || strings.ContainsAny(p, "?#") {
			t.Fatalf("SQLitePath(%q) = %q, %v", url, p, err)
		}
	})
}
