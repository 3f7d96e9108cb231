package imports_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/orders"
)

// countingStore is the real store, counting the transactions that apply a batch.
type countingStore struct {
	*sqlstore.Store
	batches atomic.Int64
}

func (c *countingStore) InBatchTx(ctx context.Context, fn func(tx orders.BatchTx) error) error {
	c.batches.Add(1)
	return c.Store.InBatchTx(ctx, fn)
}

// joinEvents is the first n events of each mall's statement of the example year, with
// every tenth sent twice (a mall repeating a notification), and bad ones: an event of a
// mall not connected and one without an event id, which are refused.
func joinEvents(t *testing.T, n int) (good, bad []orders.FulfilmentEvent) {
	for _, mall := range []orders.Mall{ccb.Code, abc.Code} {
		evs := yearEvents(t, mall)
		evs = evs[:min(n, len(evs))]
		good = append(good, evs...)
		for i := 0; i < len(evs); i += 10 {
			good = append(good, evs[i])
		}
	}
	alien := good[0]
	alien.Mall, alien.EventID = "jd", "ALIEN-1"
	noID := good[1]
	noID.EventID = ""
	return good, []orders.FulfilmentEvent{alien, noID}
}

// TestJoinedNotificationsAreEventByEvent: notifications applied by 12 concurrent callers
// through ApplyJoined (group commit) leave every event, line, order, ledger sum and rollup
// exactly as applying the same events one at a time does; they were in fact applied in
// shared transactions; each caller gets its own event's outcome (a repeated event is a
// duplicate once, a bad one its own error, never another's).
func TestJoinedNotificationsAreEventByEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	good, bad := joinEvents(t, 250)

	single, sst := yearStore(t, sqltest.SQLite)
	wantDups := 0 // the copies added, and any the statements hold themselves
	for _, ev := range good {
		r, err := single.Apply(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		if r.Duplicate {
			wantDups++
		}
	}
	want := stateOf(t, sst)

	for _, d := range sqltest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			_, st := yearStore(t, d.Open)
			cs := &countingStore{Store: st}
			svc, err := orders.NewService(cs, []orders.MallInfo{{Code: ccb.Code}, {Code: abc.Code}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			all := append(slices.Clone(good), bad...)
			// Interleave the bad events among the good ones.
			all[len(good)/3], all[len(good)] = all[len(good)], all[len(good)/3]
			all[2*len(good)/3], all[len(good)+1] = all[len(good)+1], all[2*len(good)/3]
			results := make([]orders.ApplyResult, len(all))
			errs := make([]error, len(all))
			next := atomic.Int64{}
			var wg sync.WaitGroup
			for range 12 {
				wg.Go(func() {
					for {
						i := int(next.Add(1)) - 1
						if i >= len(all) {
							return
						}
						results[i], errs[i] = svc.ApplyJoined(ctx, all[i])
					}
				})
			}
			wg.Wait()

			dups := 0
			for i, ev := range all {
				isBad := ev.Mall == "jd" || ev.EventID == ""
				switch {
				case isBad && !errors.Is(errs[i], orders.ErrInvalid):
					t.Errorf("bad event %d (%s %q): got %v, want its own ErrInvalid", i, ev.Mall, ev.EventID, errs[i])
				case !isBad && errs[i] != nil:
					t.Errorf("event %d (%s): %v", i, ev.EventID, errs[i])
				case results[i].Duplicate:
					dups++
				}
			}
			if dups != wantDups || dups < len(good)/11 {
				t.Errorf("%d duplicates answered, want %d (as one at a time)", dups, wantDups)
			}
			if b := cs.batches.Load(); b == 0 || b >= int64(len(all)) {
				t.Errorf("%d batch transactions for %d events: want events applied together", b, len(all))
			}
			got := stateOf(t, st)
			for name := range want {
				if !slices.Equal(got[name], want[name]) {
					t.Errorf("%s differ: joined %d rows, one by one %d; first difference %s", name, len(got[name]), len(want[name]), firstDiff(got[name], want[name]))
				}
			}
		})
	}
}

// gateStore holds every transaction until open is closed, saying on entered when the
// first one is waiting.
type gateStore struct {
	*sqlstore.Store
	entered chan struct{}
	once    sync.Once
	open    chan struct{}
}

func (g *gateStore) hold() {
	g.once.Do(func() { close(g.entered) })
	<-g.open
}

func (g *gateStore) InTx(ctx context.Context, fn func(tx orders.Tx) error) error {
	g.hold()
	return g.Store.InTx(ctx, fn)
}

func (g *gateStore) InBatchTx(ctx context.Context, fn func(tx orders.BatchTx) error) error {
	g.hold()
	return g.Store.InBatchTx(ctx, fn)
}

// TestJoinedNotificationGivenUpWhileWaiting: a notification whose request ends while it
// waits for another's transaction is withdrawn (the caller gets its context's error, and
// nothing of it is stored: the mall sends it again), and the one being applied is not
// disturbed; the next notification is applied at once.
func TestJoinedNotificationGivenUpWhileWaiting(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	good, _ := joinEvents(t, 3)
	_, st := yearStore(t, sqltest.SQLite)
	g := &gateStore{Store: st, entered: make(chan struct{}), open: make(chan struct{})}
	svc, err := orders.NewService(g, []orders.MallInfo{{Code: ccb.Code}, {Code: abc.Code}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() {
		_, err := svc.ApplyJoined(ctx, good[0])
		first <- err
	}()
	<-g.entered
	gone, cancel := context.WithCancel(ctx)
	cancel()
	second := make(chan error, 1)
	go func() {
		_, err := svc.ApplyJoined(gone, good[1])
		second <- err
	}()
	select {
	case err := <-second:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("waiting notification whose request ended: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second): // a hang guard, not a timing
		close(g.open)
		t.Fatal("a notification whose request ended still waits for the transaction before it")
	}
	close(g.open)
	if err := <-first; err != nil {
		t.Fatalf("the notification being applied: %v", err)
	}
	if _, err := svc.ApplyJoined(ctx, good[2]); err != nil {
		t.Fatalf("the next notification: %v", err)
	}
	for i, want := range []int{1, 0, 1} {
		var n int
		if err := st.DB().GetContext(ctx, &n, st.DB().Rebind(`SELECT COUNT(*) FROM fulfilment_events WHERE mall = ? AND event_id = ?`),
			string(good[i].Mall), string(good[i].EventID)); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("event %d (%s) stored %d times, want %d", i, good[i].EventID, n, want)
		}
	}
}

// panickyStore holds the first transaction until open is closed, and panics in every
// batch transaction (a bug in applying a joined batch).
type panickyStore struct{ gateStore }

func (p *panickyStore) InBatchTx(context.Context, func(tx orders.BatchTx) error) error {
	panic("boom: a bug while applying a joined batch")
}

// TestJoinedBatchThatPanicsLeavesNoOneWaiting: when applying a joined batch panics, the
// panic reaches the caller that led it (the server's recovery answers that request), the
// other callers of the batch get an error (their malls send again), and the next
// notification is applied: the queue is not left without a leader.
func TestJoinedBatchThatPanicsLeavesNoOneWaiting(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	good, _ := joinEvents(t, 4)
	_, st := yearStore(t, sqltest.SQLite)
	p := &panickyStore{gateStore{Store: st, entered: make(chan struct{}), open: make(chan struct{})}}
	svc, err := orders.NewService(p, []orders.MallInfo{{Code: ccb.Code}, {Code: abc.Code}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		err      error
		panicked bool
	}
	apply := func(ev orders.FulfilmentEvent, out chan<- outcome) {
		defer func() {
			if v := recover(); v != nil {
				out <- outcome{panicked: true}
			}
		}()
		_, err := svc.ApplyJoined(ctx, ev)
		out <- outcome{err: err}
	}
	first := make(chan outcome, 1)
	go apply(good[0], first) // alone: applied by Apply, held at the gate
	<-p.entered
	others := make(chan outcome, 2)
	go apply(good[1], others)
	go apply(good[2], others)
	// Both wait behind the first; then one of them leads their batch of two, which panics.
	for deadline := time.Now().Add(10 * time.Second); svc.JoinStats().Waiting < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) { // a hang guard, not a timing
			t.Fatal("the two notifications never queued behind the first")
		}
	}
	close(p.open)
	if o := <-first; o.err != nil || o.panicked {
		t.Fatalf("the first notification: %+v", o)
	}
	var panics, errs int
	for range 2 {
		select {
		case o := <-others:
			if o.panicked {
				panics++
			} else if o.err != nil {
				errs++
			}
		case <-time.After(10 * time.Second): // a hang guard, not a timing
			t.Fatal("a caller of the panicked batch is still waiting")
		}
	}
	if panics != 1 || errs != 1 {
		t.Fatalf("%d callers panicked and %d got an error: want the leader to panic and the other to get an error", panics, errs)
	}
	next := make(chan outcome, 1)
	go apply(good[3], next)
	select {
	case o := <-next:
		if o.err != nil || o.panicked {
			t.Fatalf("the next notification: %+v", o)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the next notification waits for a leader that is gone")
	}
}
