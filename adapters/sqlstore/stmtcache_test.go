package sqlstore

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// A statement the service runs all the time stays compiled while a stream of one-off
// texts (IN lists and multi-row inserts of every length) passes through the cache; the
// one-off texts are the ones evicted.
func TestStatementCacheKeepsTheHotStatements(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "cache.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const hot = "SELECT 1 WHERE 1 = ?"
	var cache *stmtCacheConn
	var first *cachedStmt
	for i := 0; i < 3*stmtCacheSize; i++ {
		if _, err := conn.ExecContext(ctx, hot, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("SELECT %d WHERE 1 = ?", i+2), 1); err != nil {
			t.Fatal(err)
		}
		if err := conn.Raw(func(dc any) error {
			cache = dc.(*stmtCacheConn)
			if first == nil {
				first = cache.stmts[hot]
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(cache.stmts) > stmtCacheSize {
		t.Errorf("the cache holds %d statements, want at most %d", len(cache.stmts), stmtCacheSize)
	}
	if got := cache.stmts[hot]; got == nil || got != first {
		t.Errorf("the hot statement was compiled again after %d one-off texts (first %p, now %p)", 3*stmtCacheSize, first, got)
	}
	if cache.stmts["SELECT 2 WHERE 1 = ?"] != nil {
		t.Error("the oldest one-off text is still cached")
	}
}

// IN lists take a few lengths only, and hold the same keys.
func TestPadInKeepsTheKeysInFewLengths(t *testing.T) {
	for _, c := range []struct{ n, want int }{{1, 8}, {8, 8}, {9, 16}, {100, 128}, {257, 500}, {500, 500}} {
		keys := make([]int, c.n)
		for i := range keys {
			keys[i] = i + 1
		}
		got := padIn(keys)
		if len(got) != c.want {
			t.Errorf("%d keys padded to %d, want %d", c.n, len(got), c.want)
		}
		seen := map[int]bool{}
		for _, k := range got {
			seen[k] = true
		}
		if len(seen) != c.n || !seen[1] || !seen[c.n] {
			t.Errorf("%d keys padded hold %d distinct keys, want the same %d", c.n, len(seen), c.n)
		}
	}
	if got := padIn([]string(nil)); len(got) != 0 {
		t.Errorf("no keys padded to %d", len(got))
	}
}
