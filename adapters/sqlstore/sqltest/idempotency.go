package sqltest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"aidmall/adapters/sqlstore"
	"aidmall/internal/idempotency"
	"aidmall/orders"
)

// IdempotencyKeysAt stores one idempotency key per time in at, each created (by the
// store's clock) at that time, as the API's Claim does for a request carrying an
// Idempotency-Key header; the keys belong to a fresh aid_office API key. It fails the test
// on an error.
func IdempotencyKeysAt(t testing.TB, db *sqlstore.DB, at ...time.Time) {
	t.Helper()
	ctx := context.Background()
	_, key, err := Store(t, db).CreateAPIKey(ctx, "idempotency keys of a test", orders.RoleAidOffice, "")
	if err != nil {
		t.Fatalf("sqltest: API key: %v", err)
	}
	for i, when := range at {
		st := Store(t, db, WithClock(func() time.Time { return when }))
		scope := idempotency.Scope{KeyID: key.ID, Key: fmt.Sprintf("key-%d", i)}
		rec := idempotency.Record{Fingerprint: "fp", Token: fmt.Sprintf("token-%d", i), LockedAt: when}
		if _, took, err := st.Claim(ctx, scope, rec, when); err != nil || !took {
			t.Fatalf("sqltest: claim idempotency key %d: took %v, %v", i, took, err)
		}
	}
}
