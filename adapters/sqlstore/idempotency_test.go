package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/internal/idempotency"
	"aidmall/orders"
)

func TestIdempotencyKeys(t *testing.T) {
	for _, d := range sqltest.Dialects {
		name, open := d.Name, d.Open
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t, open)
			_, k, err := f.store.CreateAPIKey(ctx, "office", orders.RoleAidOffice, "")
			if err != nil {
				t.Fatal(err)
			}
			scope := idempotency.Scope{KeyID: k.ID, Key: "order-42"}
			now := time.Date(2019, 3, 1, 9, 0, 0, 0, time.UTC)

			t.Run("one_of_many_concurrent_requests_takes_the_key", func(t *testing.T) {
				var wg sync.WaitGroup
				var mu sync.Mutex
				took := 0
				for i := 0; i < 8; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						rec := idempotency.Record{Fingerprint: "fp", Token: fmt.Sprint("t", i), LockedAt: now}
						_, ok, err := f.store.Claim(ctx, scope, rec, now.Add(-time.Minute))
						if err != nil {
							t.Error(err)
						}
						if ok {
							mu.Lock()
							took++
							mu.Unlock()
						}
					}()
				}
				wg.Wait()
				if took != 1 {
					t.Fatalf("%d requests took the key, want 1", took)
				}
			})
			t.Run("a_stale_lock_is_taken_over_and_the_old_holder_cannot_complete", func(t *testing.T) {
				held, ok, err := f.store.Claim(ctx, scope, idempotency.Record{Fingerprint: "fp", Token: "late", LockedAt: now.Add(2 * time.Minute)}, now.Add(time.Minute))
				if err != nil || !ok || held.Token != "late" {
					t.Fatalf("take over: %+v %v %v", held, ok, err)
				}
				for i := 0; i < 8; i++ {
					err := f.store.Complete(ctx, scope, fmt.Sprint("t", i), idempotency.Response{Status: 201})
					if !errors.Is(err, orders.ErrConflict) {
						t.Fatalf("old holder t%d completed: %v", i, err)
					}
				}
			})
			t.Run("the_completed_response_is_what_a_retry_gets", func(t *testing.T) {
				resp := idempotency.Response{Status: 201, ContentType: "application/json", Location: "/v1/orders/7", Body: []byte(`{"id":7}`)}
				if err := f.store.Complete(ctx, scope, "late", resp); err != nil {
					t.Fatal(err)
				}
				got, ok, err := f.store.Claim(ctx, scope, idempotency.Record{Fingerprint: "fp", Token: "retry", LockedAt: now.Add(time.Hour)}, now.Add(time.Hour))
				if err != nil || ok || got.Response == nil || got.Response.Status != 201 || string(got.Response.Body) != `{"id":7}` ||
					got.Response.Location != "/v1/orders/7" || got.Response.ContentType != "application/json" {
					t.Fatalf("retry got %+v ok=%v err=%v, want the stored 201", got, ok, err)
				}
			})
			t.Run("old_keys_are_deleted", func(t *testing.T) {
				n, err := f.store.DeleteIdempotencyBefore(ctx, time.Now().Add(time.Hour))
				if err != nil || n != 1 {
					t.Fatalf("deleted %d (%v), want 1", n, err)
				}
			})
		})
	}
}

func TestUnreadableIsKeptOnce(t *testing.T) {
	for _, d := range sqltest.Dialects {
		name, open := d.Name, d.Open
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, open)
			ctx := context.Background()
			for i := 0; i < 3; i++ {
				if err := f.store.KeepUnreadable(ctx, mallCCB, []byte("statement 2019-03-05"), "row 7, 数量: not a whole number"); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.store.KeepUnreadable(ctx, mallCCB, []byte("statement 2019-03-05"), "row 8, 数量: not a whole number"); err != nil {
				t.Fatal(err)
			}
			if n, err := f.store.UnreadableCount(ctx); err != nil || n != 2 {
				t.Fatalf("%d kept (%v), want 2: the same row read three times is one record", n, err)
			}
		})
	}
}
