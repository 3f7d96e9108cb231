package faultharness

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// A run's database is made fresh and is gone after its drop, with replicas' connections
// still open on it.
func TestFreshDatabaseIsDroppedWithOpenConnections(t *testing.T) {
	admin := os.Getenv("AIDMALL_TEST_POSTGRES")
	if admin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("AIDMALL_TEST_POSTGRES is not set (CI=true: required)")
		}
		t.Skip("AIDMALL_TEST_POSTGRES is not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url, drop, err := freshDatabase(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	name := url[strings.LastIndex(url, "/")+1:]
	name, _, _ = strings.Cut(name, "?")
	held, err := pgx.Connect(ctx, url) // a replica that has not let go
	if err != nil {
		drop()
		t.Fatal(err)
	}
	defer held.Close(context.Background())
	if err := drop(); err != nil {
		t.Fatal(err)
	}
	c, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, "SELECT COUNT(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("database %s is still there after drop", name)
	}
}
