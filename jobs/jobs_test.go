package jobs

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/orders"
)

func validConfig(t *testing.T, db *sqlstore.DB) Config {
	st := sqltest.Store(t, db)
	svc := service(t, st)
	return Config{
		DB: db.DB.DB, Dialect: db.Dialect, Store: st, Orders: svc,
		Malls:      Malls{mallCCB: newFakeMall(mallCCB)},
		BranchName: func(context.Context, string) (string, error) { return "", nil },
		NotifyURL:  func(orders.Mall) string { return "" },
		Logger:     slog.New(slog.DiscardHandler),
	}
}

func TestNew_rejectsBadConfig(t *testing.T) {
	t.Parallel()
	db := sqltest.SQLite(t)
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   string
	}{
		{"nil_db", func(c *Config) { c.DB = nil }, "nil DB"},
		{"nil_store", func(c *Config) { c.Store = nil }, "nil Store"},
		{"nil_orders", func(c *Config) { c.Orders = nil }, "nil Orders"},
		{"nil_mall_client", func(c *Config) { c.Malls = Malls{mallCCB: nil} }, "nil client"},
		{"client_under_the_wrong_mall", func(c *Config) { c.Malls = Malls{mallABC: newFakeMall(mallCCB)} }, `client of mall "ccb" filed under "abc"`},
		{"auto_is_no_mall", func(c *Config) { c.Malls = Malls{orders.MallAuto: newFakeMall(orders.MallAuto)} }, "unknown mall"},
		{"nil_branch_name", func(c *Config) { c.BranchName = nil }, "nil BranchName"},
		{"nil_notify_url", func(c *Config) { c.NotifyURL = nil }, "nil NotifyURL"},
		{"nil_logger", func(c *Config) { c.Logger = nil }, "nil Logger"},
		{"nil_statement_source", func(c *Config) { c.Statements = map[orders.Mall]StatementSource{mallCCB: nil} }, "nil statement source"},
		{"unknown_dialect", func(c *Config) { c.Dialect = "mysql" }, "unknown dialect"},
		{"negative_workers", func(c *Config) { c.Workers = -1 }, "negative"},
		{"negative_stranded_after", func(c *Config) { c.StrandedAfter = -time.Minute }, "negative StrandedAfter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := validConfig(t, db)
			tt.mutate(&c)
			if _, err := New(c); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v, want an error about %q", err, tt.want)
			}
		})
	}
	t.Run("valid_config_builds", func(t *testing.T) {
		t.Parallel()
		if _, err := New(validConfig(t, db)); err != nil {
			t.Error(err)
		}
	})
}

func TestNew_metricsRegisterOnce(t *testing.T) {
	t.Parallel()
	db := sqltest.SQLite(t)
	reg := prometheus.NewRegistry()
	c := validConfig(t, db)
	c.Metrics = reg
	if _, err := New(c); err != nil {
		t.Fatal(err)
	}
	if _, err := New(c); err == nil {
		t.Error("a second runner registered the same metrics without error")
	}
}

func TestStart_refusesAnUnmigratedDatabase(t *testing.T) {
	t.Parallel()
	r, err := New(validConfig(t, sqltest.SQLite(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "migrat") {
		t.Errorf("Start on an empty database: %v, want a migrations error", err)
	}
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		// forEachDB migrated once; again is a no-op.
		if err := Migrate(context.Background(), db.DB.DB, db.Dialect); err != nil {
			t.Errorf("second Migrate: %v", err)
		}
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM river_job`).Scan(&n); err != nil || n != 0 {
			t.Errorf("river_job: %d rows, %v", n, err)
		}
	})
	t.Run("unknown_dialect", func(t *testing.T) {
		t.Parallel()
		if err := Migrate(context.Background(), sqltest.SQLite(t).DB.DB, "oracle"); err == nil {
			t.Error("Migrate accepted an unknown dialect")
		}
	})
}
