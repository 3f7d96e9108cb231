package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	. "aidmall/api"
	"aidmall/internal/idempotency"
	"aidmall/orders"
)

// killedStore is the production store with a replica killed in the middle of placing an
// order: when killAfter (or killBefore) is set, the next order transaction is followed
// (or replaced) by the replica's death. A killed replica answers nothing more and runs
// none of its cleanup, so Release is lost too.
type killedStore struct {
	*sqlstore.Store
	killBefore, killAfter, dead atomic.Bool
}

var errKilled = errors.New("replica killed")

func (k *killedStore) InTx(ctx context.Context, fn func(orders.Tx) error) error {
	if k.killBefore.Swap(false) {
		k.dead.Store(true)
		return errKilled // nothing of the order committed
	}
	if err := k.Store.InTx(ctx, fn); err != nil {
		return err
	}
	if k.killAfter.Swap(false) {
		k.dead.Store(true)
		return errKilled // the order committed; its answer never left the replica
	}
	return nil
}

func (k *killedStore) Release(ctx context.Context, scope idempotency.Scope, token string) error {
	if k.dead.Swap(false) {
		return nil // a dead replica releases nothing
	}
	return k.Store.Release(ctx, scope, token)
}

// newKilledHarness is the API over a store that can be killed mid-order.
func newKilledHarness(t *testing.T, db *sqlstore.DB) (*harness, *killedStore) {
	var k *killedStore
	h := newHarnessOn(t, db, func(cfg *Config) {
		k = &killedStore{Store: cfg.Idempotency.(*sqlstore.Store)}
		svc, err := orders.NewService(k, []orders.MallInfo{{Code: mallCCB, Limits: ccb.Limits}, {Code: mallABC, Limits: abc.Limits}}, cfg.Now)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Orders, cfg.Idempotency = svc, k
	})
	return h, k
}

// pausingStore is the production store whose first order transaction stops after its work,
// before its commit, until release is closed.
type pausingStore struct {
	*sqlstore.Store
	once    atomic.Bool
	paused  chan struct{}
	release chan struct{}
}

func (p *pausingStore) InTx(ctx context.Context, fn func(orders.Tx) error) error {
	return p.Store.InTx(ctx, func(tx orders.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if p.once.CompareAndSwap(false, true) {
			close(p.paused)
			<-p.release
		}
		return nil
	})
}

// newPausedHarness is the API over a store whose first order pauses before its commit;
// h.orders counts the calls of Place.
func newPausedHarness(t *testing.T, db *sqlstore.DB) (*harness, *pausingStore) {
	var p *pausingStore
	var fo *fakeOrders
	h := newHarnessOn(t, db, func(cfg *Config) {
		p = &pausingStore{Store: cfg.Idempotency.(*sqlstore.Store), paused: make(chan struct{}), release: make(chan struct{})}
		svc, err := orders.NewService(p, []orders.MallInfo{{Code: mallCCB, Limits: ccb.Limits}, {Code: mallABC, Limits: abc.Limits}}, cfg.Now)
		if err != nil {
			t.Fatal(err)
		}
		fo = &fakeOrders{Service: svc}
		cfg.Orders = fo
	})
	h.orders = fo
	return h, p
}

func ordersWithRef(t *testing.T, h *harness, ref string) []int64 {
	t.Helper()
	var ids []int64
	if err := h.store.DB().SelectContext(context.Background(), &ids,
		h.store.DB().Rebind(`SELECT id FROM group_orders WHERE order_ref = ? ORDER BY id`), ref); err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestIdempotencyAcrossAKilledReplica(t *testing.T) {
	t.Parallel()
	for _, d := range sqltest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()

			t.Run("when_killed_after_the_order_committed_expect_the_retry_replayed_the_order", func(t *testing.T) {
				h, k := newKilledHarness(t, d.Open(t))
				k.killAfter.Store(true)
				if first := h.place("key-hq", `"k-crash"`, orderBody(nil)); first.Code != http.StatusInternalServerError {
					t.Fatalf("killed request answered %d: %s", first.Code, first.Body)
				}
				retry := h.place("key-hq", `"k-crash"`, orderBody(nil))
				if retry.Code != http.StatusCreated || retry.Header().Get("Idempotent-Replayed") != "true" {
					t.Fatalf("retry after the order committed: %d %v: %s (want the order replayed, not 409)", retry.Code, retry.Header(), retry.Body)
				}
				ids := ordersWithRef(t, h, "2019-HQ-0042")
				if len(ids) != 1 {
					t.Fatalf("orders %v, want exactly one", ids)
				}
				var body struct {
					ID       int64  `json:"id"`
					OrderRef string `json:"order_ref"`
				}
				if err := json.Unmarshal(retry.Body.Bytes(), &body); err != nil || body.ID != ids[0] {
					t.Fatalf("replayed body %s names order %d (%v), stored %d", retry.Body, body.ID, err, ids[0])
				}
				if loc := retry.Header().Get("Location"); loc != "/v1/orders/"+strconv.FormatInt(ids[0], 10) {
					t.Errorf("replayed Location %q", loc)
				}
				again := h.place("key-hq", `"k-crash"`, orderBody(nil))
				if again.Code != http.StatusCreated || again.Body.String() != retry.Body.String() {
					t.Errorf("second replay differs: %d %s", again.Code, again.Body)
				}
			})

			t.Run("when_killed_before_the_order_committed_expect_nothing_kept_and_the_retry_placed_once", func(t *testing.T) {
				h, k := newKilledHarness(t, d.Open(t))
				k.killBefore.Store(true)
				if first := h.place("key-hq", `"k-crash"`, orderBody(nil)); first.Code != http.StatusInternalServerError {
					t.Fatalf("killed request answered %d: %s", first.Code, first.Body)
				}
				if ids := ordersWithRef(t, h, "2019-HQ-0042"); len(ids) != 0 {
					t.Fatalf("orders %v after a kill before the commit", ids)
				}
				// The key is taken in the order's transaction: a replica that dies before
				// the commit leaves no claim to wait out, and the retry places the order.
				retry := h.place("key-hq", `"k-crash"`, orderBody(nil))
				if retry.Code != http.StatusCreated || retry.Header().Get("Idempotent-Replayed") != "" {
					t.Fatalf("retry after the kill: %d %s, want the order placed now", retry.Code, retry.Body)
				}
				if ids := ordersWithRef(t, h, "2019-HQ-0042"); len(ids) != 1 {
					t.Fatalf("orders %v, want exactly one", ids)
				}
				if again := h.place("key-hq", `"k-crash"`, orderBody(nil)); again.Code != http.StatusCreated || again.Body.String() != retry.Body.String() {
					t.Errorf("replay after the retry: %d %s", again.Code, again.Body)
				}
			})

			t.Run("when_a_duplicate_arrives_while_the_first_is_in_its_transaction_expect_it_waits_and_gets_the_replay", func(t *testing.T) {
				db := d.Open(t)
				h, p := newPausedHarness(t, db)
				first := make(chan *httptest.ResponseRecorder)
				go func() { first <- h.place("key-hq", `"k-dup"`, orderBody(nil)) }()
				<-p.paused // the first holds its key, order and kept response, uncommitted
				waitsBefore := db.Stats().WaitCount
				second := make(chan *httptest.ResponseRecorder)
				go func() { second <- h.place("key-hq", `"k-dup"`, orderBody(nil)) }()
				// The duplicate is waiting for the first's commit: on PostgreSQL inside its
				// own Place (the key's unique index), on SQLite for the one connection.
				for {
					place, _ := h.orders.counts()
					if place == 2 || (d.Name == "sqlite" && db.Stats().WaitCount > waitsBefore) {
						break
					}
					select {
					case r := <-second:
						t.Fatalf("the duplicate answered %d before the first committed: %s", r.Code, r.Body)
					case <-time.After(time.Millisecond):
					}
				}
				close(p.release)
				a, b := <-first, <-second
				if a.Code != http.StatusCreated || a.Header().Get("Idempotent-Replayed") != "" {
					t.Fatalf("first: %d %s", a.Code, a.Body)
				}
				if b.Code != http.StatusCreated || b.Header().Get("Idempotent-Replayed") != "true" || b.Body.String() != a.Body.String() ||
					b.Header().Get("Location") != a.Header().Get("Location") {
					t.Fatalf("duplicate: %d %v %s, want the first's 201 replayed (%s)", b.Code, b.Header(), b.Body, a.Body)
				}
				if ids := ordersWithRef(t, h, "2019-HQ-0042"); len(ids) != 1 {
					t.Fatalf("orders %v, want exactly one", ids)
				}
			})

			t.Run("when_a_duplicate_key_with_another_body_arrives_while_the_first_is_in_its_transaction_expect_422_after_its_commit", func(t *testing.T) {
				db := d.Open(t)
				h, p := newPausedHarness(t, db)
				first := make(chan *httptest.ResponseRecorder)
				go func() { first <- h.place("key-hq", `"k-dup"`, orderBody(nil)) }()
				<-p.paused
				waitsBefore := db.Stats().WaitCount
				second := make(chan *httptest.ResponseRecorder)
				go func() {
					second <- h.place("key-hq", `"k-dup"`, orderBody(map[string]any{"order_ref": "2019-HQ-0043"}))
				}()
				// It waits for the first's commit: on PostgreSQL at the key's unique index
				// (its own order inserted), on SQLite for the one connection.
				for {
					place, _ := h.orders.counts()
					if place == 2 || (d.Name == "sqlite" && db.Stats().WaitCount > waitsBefore) {
						break
					}
					select {
					case r := <-second:
						t.Fatalf("the other body answered %d before the first committed: %s", r.Code, r.Body)
					case <-time.After(time.Millisecond):
					}
				}
				close(p.release)
				a, b := <-first, <-second
				if a.Code != http.StatusCreated {
					t.Fatalf("first: %d %s", a.Code, a.Body)
				}
				if b.Code != http.StatusUnprocessableEntity || problemOf(t, b).Type != ProblemTypeBase+"idempotency-key-reused" {
					t.Fatalf("another body under the same key: %d %s, want 422 idempotency-key-reused", b.Code, b.Body)
				}
				if ids := ordersWithRef(t, h, "2019-HQ-0043"); len(ids) != 0 {
					t.Fatalf("the refused body's order was stored: %v", ids)
				}
			})
		})
	}
}
