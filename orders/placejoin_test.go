package orders_test

import (
	"aidmall/jobs"
	"context"
	"errors"
	"fmt"
	"slices"
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
	panics bool // its placed hook panics (a bug)
}

// place calls svc.Place for p, taking p's key in the order's transaction.
func (p joinedPlace) place(ctx context.Context, svc *orders.Service) (*orders.GroupOrder, error) {
	ctx = orders.WithPlacedHook(ctx, func(ctx context.Context, tx orders.Tx, o *orders.GroupOrder) error {
		if p.panics {
			panic("boom: a bug in a placed hook")
		}
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
	db := open(t)
	if err := jobs.Migrate(context.Background(), db.DB.DB, db.Dialect); err != nil {
		t.Fatal(err)
	}
	enq, err := jobs.NewEnqueuer(db.DB.DB, db.Dialect, 0) // River's, in the orders' transactions
	if err != nil {
		t.Fatal(err)
	}
	ps.Store = sqltest.Store(t, db, sqltest.WithEnqueuer(enq), sqltest.WithClock(clock))
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
			// Each stored order got one dispatch job, and no placement undone (alone, or
			// with a shared transaction run again with savepoints) was given one.
			var stored, dispatched []int64
			orderID := `CAST(args->>'order_id' AS BIGINT)`
			if d.Name == "sqlite" {
				orderID = `json_extract(args, '$.order_id')` // River keeps args as JSONB there
			}
			db := st.Store.DB()
			if err := db.SelectContext(ctx, &stored, `SELECT id FROM group_orders ORDER BY id`); err != nil {
				t.Fatal(err)
			}
			if err := db.SelectContext(ctx, &dispatched, db.Rebind(`SELECT `+orderID+` FROM river_job WHERE kind = ?`), jobs.DispatchArgs{}.Kind()); err != nil {
				t.Fatal(err)
			}
			if slices.Sort(dispatched); !slices.Equal(dispatched, stored) {
				t.Errorf("dispatch jobs for orders %v, want one for each stored order %v", dispatched, stored)
			}
			js := svc.PlaceJoinStats()
			t.Logf("%d placements in %d transactions, %d of them shared", js.Orders, js.Transactions, st.shared.Load())
			if st.shared.Load() == 0 || js.Orders != int64(len(ps)) || js.Transactions >= js.Orders || js.Waiting != 0 {
				t.Errorf("%d shared transactions, stats %+v: want placements stored together", st.shared.Load(), js)
			}
		})
	}
}

// gatedPlaceService is placeService over a gated placeStore: the first transaction waits
// at the gate until open is closed.
func gatedPlaceService(t *testing.T, open func(testing.TB) *sqlstore.DB) (*orders.Service, *placeStore) {
	t.Helper()
	st := &placeStore{entered: make(chan struct{}), open: make(chan struct{})}
	svc := placeService(t, open, st)
	st.gated = true // after the setup's transactions
	return svc, st
}

// placeOutcome is how one Place call ended: its error, or the value it panicked with.
type placeOutcome struct {
	err      error
	panicked any
}

// placeAsync places p on another goroutine and sends its outcome on out.
func placeAsync(ctx context.Context, svc *orders.Service, p joinedPlace, out chan<- placeOutcome) {
	go func() {
		defer func() {
			if v := recover(); v != nil {
				out <- placeOutcome{panicked: v}
			}
		}()
		_, err := p.place(ctx, svc)
		out <- placeOutcome{err: err}
	}()
}

// waitQueued waits until n placements wait for the transaction before theirs.
func waitQueued(t *testing.T, svc *orders.Service, n int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); svc.PlaceJoinStats().Waiting < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) { // a hang guard, not a timing
			t.Fatalf("%d placements never queued behind the first", n)
		}
	}
}

// receive returns the next outcome on out; a hang guard fails the test.
func receive(t *testing.T, out <-chan placeOutcome, what string) placeOutcome {
	t.Helper()
	select {
	case o := <-out:
		return o
	case <-time.After(10 * time.Second): // a hang guard, not a timing
		t.Fatalf("%s is still waiting", what)
	}
	return placeOutcome{}
}

// storedRefs counts the orders of each order_ref.
func storedRefs(t *testing.T, st *placeStore) map[string]int {
	t.Helper()
	var refs []string
	if err := st.DB().SelectContext(context.Background(), &refs, `SELECT order_ref FROM group_orders`); err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, r := range refs {
		n[r]++
	}
	return n
}

// TestJoinedPlacementGivenUpWhileWaiting: a placement whose caller gives up while it
// waits for another's transaction is withdrawn (the caller gets its context's error and
// nothing of it is stored, neither order nor key), the one being stored is not disturbed,
// and the next placement is stored at once.
func TestJoinedPlacementGivenUpWhileWaiting(t *testing.T) {
	t.Parallel()
	ps := joinedPlacements()[20:23]
	for _, d := range sqltest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			svc, st := gatedPlaceService(t, d.Open)
			first := make(chan placeOutcome, 1)
			placeAsync(ctx, svc, ps[0], first)
			<-st.entered
			gone, cancel := context.WithCancel(ctx)
			second := make(chan placeOutcome, 1)
			placeAsync(gone, svc, ps[1], second)
			waitQueued(t, svc, 1)
			cancel()
			if o := receive(t, second, "a placement whose caller gave up"); !errors.Is(o.err, context.Canceled) {
				close(st.open)
				t.Fatalf("waiting placement whose caller gave up: %+v, want context.Canceled", o)
			}
			close(st.open)
			if o := receive(t, first, "the placement being stored"); o.err != nil || o.panicked != nil {
				t.Fatalf("the placement being stored: %v, panicked %v", o.err, o.panicked)
			}
			if _, err := ps[2].place(ctx, svc); err != nil {
				t.Fatalf("the next placement: %v", err)
			}
			refs := storedRefs(t, st)
			for i, want := range []int{1, 0, 1} {
				if refs[ps[i].req.OrderRef] != want {
					t.Errorf("order %s stored %d times, want %d", ps[i].req.OrderRef, refs[ps[i].req.OrderRef], want)
				}
			}
			if _, keys := placedStateOf(t, st.Store); keys[ps[1].key] != "" {
				t.Errorf("the withdrawn placement's key %s was stored", ps[1].key)
			}
		})
	}
}

// TestJoinedPlacementThatPanicsLeavesNoOneWaiting: when one placement of a shared
// transaction panics (a bug in its placed hook), the panic reaches that placement's own
// caller (the server's recovery answers that request) and nothing of it is stored; the
// others of the transaction are placed, and the next placement is stored: no caller is
// left waiting and the queue keeps a leader.
func TestJoinedPlacementThatPanicsLeavesNoOneWaiting(t *testing.T) {
	t.Parallel()
	ps := joinedPlacements()[30:35]
	ps[2].panics = true
	for _, d := range sqltest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			svc, st := gatedPlaceService(t, d.Open)
			first := make(chan placeOutcome, 1)
			placeAsync(ctx, svc, ps[0], first) // alone, held at the gate
			<-st.entered
			outs := make([]chan placeOutcome, 3)
			for i := range outs {
				outs[i] = make(chan placeOutcome, 1)
				placeAsync(ctx, svc, ps[1+i], outs[i])
			}
			waitQueued(t, svc, 3)
			close(st.open)
			if o := receive(t, first, "the first placement"); o.err != nil || o.panicked != nil {
				t.Fatalf("the first placement: %+v", o)
			}
			for i, out := range outs {
				o := receive(t, out, fmt.Sprintf("placement %d of the shared transaction", i+1))
				switch {
				case ps[1+i].panics && o.panicked != "boom: a bug in a placed hook":
					t.Errorf("the placement whose hook panics: %+v, want its own panic", o)
				case !ps[1+i].panics && (o.err != nil || o.panicked != nil):
					t.Errorf("placement %d beside the one that panicked: %+v", i+1, o)
				}
			}
			if st.shared.Load() == 0 {
				t.Errorf("no shared transaction: want the three queued placed together")
			}
			next := make(chan placeOutcome, 1)
			placeAsync(ctx, svc, ps[4], next)
			if o := receive(t, next, "the next placement"); o.err != nil || o.panicked != nil {
				t.Fatalf("the next placement: %+v", o)
			}
			refs := storedRefs(t, st)
			for i, p := range ps {
				if want := map[bool]int{false: 1, true: 0}[p.panics]; refs[p.req.OrderRef] != want {
					t.Errorf("order %d (%s) stored %d times, want %d", i, p.req.OrderRef, refs[p.req.OrderRef], want)
				}
			}
		})
	}
}

// TestJoinedPlacementsPlacedAloneWhenTheSharedCommitFails: when a shared transaction
// fails as a whole (its commit), nothing of it is stored and each of its callers places
// its order alone: each order is stored once, and a repeated order_ref in the batch is
// still refused for one of the two.
func TestJoinedPlacementsPlacedAloneWhenTheSharedCommitFails(t *testing.T) {
	t.Parallel()
	all := joinedPlacements()
	ps := append(all[40:44:44], all[41]) // the last repeats an order_ref (and its key: a retry)
	ps[4].key = "D-" + ps[4].req.OrderRef
	for _, d := range sqltest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			svc, st := gatedPlaceService(t, d.Open)
			st.failShared = true
			first := make(chan placeOutcome, 1)
			placeAsync(ctx, svc, ps[0], first)
			<-st.entered
			outs := make(chan placeOutcome, 4)
			for _, p := range ps[1:] {
				placeAsync(ctx, svc, p, outs)
			}
			waitQueued(t, svc, 4)
			close(st.open)
			if o := receive(t, first, "the first placement"); o.err != nil || o.panicked != nil {
				t.Fatalf("the first placement: %+v", o)
			}
			kinds := map[string]int{}
			for range 4 {
				o := receive(t, outs, "a placement of the failed shared transaction")
				kinds[outcomeKind(o.err)]++
			}
			if kinds["placed"] != 3 || kinds["order_ref taken"] != 1 {
				t.Errorf("outcomes %v: want 3 placed and the repeated order_ref refused", kinds)
			}
			if st.shared.Load() == 0 {
				t.Errorf("no shared transaction: want the four queued tried together first")
			}
			refs := storedRefs(t, st)
			for i, p := range ps {
				if refs[p.req.OrderRef] != 1 {
					t.Errorf("order %d (%s) stored %d times, want once", i, p.req.OrderRef, refs[p.req.OrderRef])
				}
			}
			if s, _ := placedStateOf(t, st.Store); s.orders != 4 || s.keys != 4 || s.audits != 4 {
				t.Errorf("stored %+v: want 4 orders, keys and audit entries", s)
			}
		})
	}
}

// TestJoinedPlacementReusingAKeyIsRefused: a placement whose Idempotency-Key a request
// committed just before took, with another body, is refused in the shared transaction it
// joins (the key is taken already: its caller gets idempotency.ErrTaken, and the API
// answers with the first request's response or its 422) while the others of the
// transaction are placed.
func TestJoinedPlacementReusingAKeyIsRefused(t *testing.T) {
	t.Parallel()
	all := joinedPlacements()
	first := all[45]
	reuse := first
	reuse.req.OrderRef = "X-" + first.req.OrderRef
	ps := []joinedPlace{all[47], reuse, all[49]}
	for _, d := range sqltest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			svc, st := gatedPlaceService(t, d.Open)
			firstOut := make(chan placeOutcome, 1)
			placeAsync(ctx, svc, first, firstOut) // alone, held at the gate
			<-st.entered
			outs := make([]chan placeOutcome, len(ps))
			for i, p := range ps {
				outs[i] = make(chan placeOutcome, 1)
				placeAsync(ctx, svc, p, outs[i])
			}
			waitQueued(t, svc, int64(len(ps)))
			close(st.open)
			if o := receive(t, firstOut, "the first placement"); o.err != nil || o.panicked != nil {
				t.Fatalf("the first placement: %+v", o)
			}
			for i, out := range outs {
				o := receive(t, out, "a placement of the shared transaction")
				want := "placed"
				if i == 1 {
					want = "key taken"
				}
				if got := outcomeKind(o.err); got != want || o.panicked != nil {
					t.Errorf("placement %s: %s (%+v), want %s", ps[i].req.OrderRef, got, o, want)
				}
			}
			if st.shared.Load() == 0 {
				t.Errorf("no shared transaction: want the three queued placed together")
			}
			refs := storedRefs(t, st)
			if refs[reuse.req.OrderRef] != 0 || refs[first.req.OrderRef] != 1 || refs[ps[0].req.OrderRef] != 1 || refs[ps[2].req.OrderRef] != 1 {
				t.Errorf("orders stored %v: want the first and the two others once, the reused key's none", refs)
			}
			if _, keys := placedStateOf(t, st.Store); keys[first.key] != first.req.OrderRef {
				t.Errorf("key %s answers with order %q, want the first request's %q", first.key, keys[first.key], first.req.OrderRef)
			}
		})
	}
}
