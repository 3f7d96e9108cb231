package orders_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/internal/idempotency"
	"aidmall/orders"
)

// joinedPlace is one Place call of the group-commit tests: the request, its caller and
// the Idempotency-Key its placed hook takes (as the API's does) with the order's id as
// the kept answer.
type joinedPlace struct {
	caller orders.Caller
	req    orders.PlaceRequest
	key    string
}

// place calls svc.Place for p, taking p's key in the order's transaction.
func (p joinedPlace) place(ctx context.Context, svc *orders.Service) (*orders.GroupOrder, error) {
	ctx = orders.WithPlacedHook(ctx, func(ctx context.Context, tx orders.Tx, o *orders.GroupOrder) error {
		took, err := tx.(idempotency.TxClaimer).ClaimInTx(ctx, idempotency.Scope{KeyID: p.caller.KeyID, Key: p.key},
			idempotency.Record{Fingerprint: p.req.OrderRef, Token: p.key, LockedAt: testNow,
				Response: &idempotency.Response{Status: 201, Location: strconv.FormatInt(o.ID, 10)}})
		if err != nil {
			return err
		}
		if !took {
			return idempotency.ErrTaken
		}
		return nil
	})
	return svc.Place(ctx, p.caller, p.req)
}

// joinedPlacements are 70 placements: 30 HQ orders on the union's funds, of which HQ's
// budget takes 8; 30 S01 orders paid externally; 6 more S01 orders repeating an
// order_ref and 4 reusing another request's Idempotency-Key with another body, each
// paired with an order no other bad one touches, so that whichever of a pair comes first
// is placed and the other refused: the outcome's counts do not depend on the order.
func joinedPlacements() []joinedPlace {
	var ps []joinedPlace
	for i := range 60 {
		r := bulkRequest()
		r.OrderRef = fmt.Sprintf("J-%03d", i)
		c := hqStaff
		if i%2 == 1 {
			r.BranchCode, r.Funding, c = "S01", orders.FundingExternal, s01Staff
		}
		ps = append(ps, joinedPlace{caller: c, req: r, key: "K-" + r.OrderRef})
	}
	for _, i := range []int{1, 5, 9, 13, 17, 21} {
		d := ps[i]
		d.key = "D-" + d.req.OrderRef
		ps = append(ps, d)
	}
	for _, i := range []int{3, 7, 11, 15} {
		d := ps[i]
		d.req.OrderRef = "X-" + d.req.OrderRef
		ps = append(ps, d)
	}
	// The bad ones among the good ones, not at the end.
	for k := 60; k < len(ps); k++ {
		j := (k - 60) * 6
		ps[j], ps[k] = ps[k], ps[j]
	}
	return ps
}

// hqBudget is HQ's 2019 budget in the group-commit tests: 8 of its orders (136000 fen each).
const hqBudget = 8 * 136000

// placeStore is the real store, counting the shared transactions of Place's group
// commit, and holding every transaction at gate when gated.
type placeStore struct {
	*sqlstore.Store
	shared  atomic.Int64
	gated   bool
	entered chan struct{}
	once    sync.Once
	open    chan struct{}
	// failShared makes each shared transaction fail at its commit, after its work.
	failShared bool
}

func (p *placeStore) hold() {
	if p.gated {
		p.once.Do(func() { close(p.entered) })
		<-p.open
	}
}

func (p *placeStore) InTx(ctx context.Context, fn func(tx orders.Tx) error) error {
	p.hold()
	return p.Store.InTx(ctx, fn)
}

func (p *placeStore) InSavepointTx(ctx context.Context, fn func(tx orders.SavepointTx) error) error {
	p.hold()
	p.shared.Add(1)
	return p.Store.InSavepointTx(ctx, func(tx orders.SavepointTx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if p.failShared {
			return errors.New("commit: connection reset (a test's)")
		}
		return nil
	})
}

// placeService is the service over a placeStore on the database open makes, with HQ's
// budget set.
func placeService(t *testing.T, open func(testing.TB) *sqlstore.DB, ps *placeStore) *orders.Service {
	t.Helper()
	clock := func() time.Time { return testNow }
	ps.Store = sqltest.Store(t, open(t), sqltest.WithEnqueuer(&sqltest.Jobs{}), sqltest.WithClock(clock))
	seedRegistry(t, ps.Store)
	for _, c := range []orders.Caller{hqStaff, s01Staff} { // the keys the Idempotency-Keys are under
		if _, k, err := ps.Store.CreateAPIKey(context.Background(), c.Name, c.Role, c.BranchCode); err != nil || k.ID != c.KeyID {
			t.Fatalf("API key of %s: id %d, %v; want %d", c.Name, k.ID, err, c.KeyID)
		}
	}
	svc, err := orders.NewService(ps, withSpecLimits(mallCCB, mallABC), clock)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.SetBudget(context.Background(), office, "HQ", 2019, hqBudget); err != nil {
		t.Fatal(err)
	}
	return svc
}

// placedState is what the placements left: counts of rows and HQ's budget use.
// placedStateOf also returns each stored key's order's order_ref (the answer kept is its
// own request's order), after checking that the audit chain verifies.
type placedState struct {
	orders, lines, keys, audits int
	used                        int64
}

func placedStateOf(t *testing.T, st *sqlstore.Store) (placedState, map[string]string) {
	t.Helper()
	ctx := context.Background()
	db := st.DB()
	var s placedState
	for q, n := range map[string]*int{
		`SELECT COUNT(*) FROM group_orders`:                           &s.orders,
		`SELECT COUNT(*) FROM order_lines`:                            &s.lines,
		`SELECT COUNT(*) FROM idempotency_keys`:                       &s.keys,
		`SELECT COUNT(*) FROM audit_log WHERE action = 'order.place'`: &s.audits,
	} {
		if err := db.GetContext(ctx, n, q); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := st.VerifyAudit(ctx); err != nil || n == 0 {
		t.Fatalf("audit chain: %d entries, %v", n, err)
	}
	used, err := st.Used(ctx, 2019)
	if err != nil {
		t.Fatal(err)
	}
	s.used = int64(used["HQ"])
	var rows []struct {
		Key string `db:"idem_key"`
		Ref string `db:"order_ref"`
	}
	if err := db.SelectContext(ctx, &rows, `SELECT k.idem_key, o.order_ref FROM idempotency_keys k
		JOIN group_orders o ON CAST(o.id AS TEXT) = k.location`); err != nil {
		t.Fatal(err)
	}
	keyRefs := map[string]string{}
	for _, r := range rows {
		keyRefs[r.Key] = r.Ref
	}
	return s, keyRefs
}

// outcomeKind names how a placement ended.
func outcomeKind(err error) string {
	switch {
	case err == nil:
		return "placed"
	case errors.Is(err, idempotency.ErrTaken):
		return "key taken"
	case errors.Is(err, orders.ErrConflict):
		return "order_ref taken"
	case errors.Is(err, orders.ErrInvalid):
		return "over budget"
	}
	return err.Error()
}

// TestJoinedPlacementsAreOrderByOrder: 70 placements by 12 concurrent callers (group
// commit), bad ones among them, store what placing them one at a time stores: as many
// orders, lines and keys, each key answering with its own request's order, one audit
// entry an order in a chain that verifies, HQ's budget used to the same fen; each caller
// gets its own outcome; and the orders were in fact placed in shared transactions.
func TestJoinedPlacementsAreOrderByOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ps := joinedPlacements()

	one := &placeStore{}
	single := placeService(t, sqltest.SQLite, one)
	wantKinds := map[string]int{}
	for _, p := range ps {
		_, err := p.place(ctx, single)
		wantKinds[outcomeKind(err)]++
	}
	want, _ := placedStateOf(t, one.Store)
	if want.orders != 38 || wantKinds["over budget"] != 22 || wantKinds["order_ref taken"] != 6 || wantKinds["key taken"] != 4 {
		t.Fatalf("one at a time: %d orders, outcomes %v: the test's placements are not what it says", want.orders, wantKinds)
	}

	for _, d := range sqltest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			st := &placeStore{}
			svc := placeService(t, d.Open, st)
			got := make([]*orders.GroupOrder, len(ps))
			errs := make([]error, len(ps))
			next := atomic.Int64{}
			var wg sync.WaitGroup
			for range 12 {
				wg.Go(func() {
					for {
						i := int(next.Add(1)) - 1
						if i >= len(ps) {
							return
						}
						got[i], errs[i] = ps[i].place(ctx, svc)
					}
				})
			}
			wg.Wait()

			kinds := map[string]int{}
			for i, p := range ps {
				kinds[outcomeKind(errs[i])]++
				if errs[i] == nil && (got[i].OrderRef != p.req.OrderRef || got[i].BranchCode != p.req.BranchCode || got[i].ID == 0) {
					t.Errorf("placement %d (%s) answered with order %d %s/%s", i, p.req.OrderRef, got[i].ID, got[i].BranchCode, got[i].OrderRef)
				}
			}
			if fmt.Sprint(kinds) != fmt.Sprint(wantKinds) {
				t.Errorf("outcomes %v, one at a time %v", kinds, wantKinds)
			}
			s, keyRefs := placedStateOf(t, st.Store)
			for i, p := range ps {
				if errs[i] == nil && keyRefs[p.key] != p.req.OrderRef {
					t.Errorf("key %s answers with order %q, want its own request's %q", p.key, keyRefs[p.key], p.req.OrderRef)
				}
			}
			if s != want {
				t.Errorf("joined left %+v, one at a time %+v", s, want)
			}
			js := svc.PlaceJoinStats()
			t.Logf("%d placements in %d transactions, %d of them shared", js.Orders, js.Transactions, st.shared.Load())
			if st.shared.Load() == 0 || js.Orders != int64(len(ps)) || js.Transactions >= js.Orders || js.Waiting != 0 {
				t.Errorf("%d shared transactions, stats %+v: want placements stored together", st.shared.Load(), js)
			}
		})
	}
}
