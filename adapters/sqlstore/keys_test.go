package sqlstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/orders"
)

// testClock is a clock a test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// The serving store remembers a key it found for KeyCacheTTL: revoked or rotated through
// it, the key stops at once; revoked by another process (here another Store on the same
// database, as the CLI is), it stops within KeyCacheTTL.
func TestAPIKeyCache(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ctx := context.Background()
		clock := &testClock{t: time.Date(2019, 3, 1, 9, 0, 0, 0, time.UTC)}
		server := sqltest.Store(t, db, sqltest.WithClock(clock.Now))
		server.CacheAPIKeys(sqlstore.KeyCacheTTL)
		cli := sqltest.Store(t, db, sqltest.WithClock(clock.Now))
		refused := func(st *sqlstore.Store, token string) bool {
			t.Helper()
			_, err := st.Authenticate(ctx, token)
			if err != nil && !errors.Is(err, orders.ErrNotFound) {
				t.Fatal(err)
			}
			return err != nil
		}

		token, k, err := cli.CreateAPIKey(ctx, "office", orders.RoleAidOffice, "")
		if err != nil {
			t.Fatal(err)
		}
		if c, err := server.Authenticate(ctx, token); err != nil || c.KeyID != k.ID || c.Role != orders.RoleAidOffice {
			t.Fatalf("a new key: %+v %v", c, err)
		}
		if err := cli.RevokeAPIKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		if !refused(cli, token) {
			t.Fatal("the revoking store still accepts the key")
		}
		if refused(server, token) {
			t.Fatal("the server refused a key revoked elsewhere within KeyCacheTTL: is the cache on?")
		}
		clock.Advance(sqlstore.KeyCacheTTL)
		if !refused(server, token) {
			t.Fatalf("the server accepts a key revoked elsewhere %s ago", sqlstore.KeyCacheTTL)
		}

		// Through the serving store itself: at once.
		token, k, err = cli.CreateAPIKey(ctx, "staff", orders.RoleAidOffice, "")
		if err != nil {
			t.Fatal(err)
		}
		if refused(server, token) {
			t.Fatal("a new key refused")
		}
		fresh, _, err := server.RotateAPIKey(ctx, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !refused(server, token) || refused(server, fresh) {
			t.Fatal("after a rotate on the server: the old secret accepted or the new one refused")
		}
		if err := server.RevokeAPIKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		if !refused(server, fresh) {
			t.Fatal("the server accepts a key it revoked")
		}
	})
}
