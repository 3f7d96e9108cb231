package orders

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Group commit (合并提交) of the malls' notifications. A mall posts its notifications one
// at a time per order, but thousands of orders' at once after a batch ships; each has to
// be recorded and applied before it is acknowledged. Applied one transaction each, they
// queue for the database's writer (SQLite has one; on PostgreSQL the deliveries of one
// supplier queue on the rows of its households' rollups), and each pays its own commit.
//
// ApplyJoined applies an event as Apply does, but an event handed in while an earlier
// caller's transaction is running waits for it; then the events that waited meanwhile
// (up to joinMax) are applied together by one of their callers in one ApplyBatch, and
// each caller gets its own event's outcome. The ledger and every figure are those of
// applying the events one at a time (ApplyBatch says so and is tested for it); an event
// is acknowledged only after the transaction holding it has committed. A caller alone
// waits for nobody: a quiet service applies each event at once, as Apply does.

// joinMax bounds the events of one joined transaction (a few hundred milliseconds of
// work on the slowest database measured; a longer queue is taken in turns).
const joinMax = 64

// joinTimeout bounds one joined transaction: the caller leading it applies the others'
// events too, so its own cancellation does not end their transaction.
const joinTimeout = 30 * time.Second

// joiner queues the events handed to ApplyJoined. pending is never empty while no caller
// leads: the caller that finds no leader leads, and a leader hands the lead to the
// first event still waiting when its own transaction is done.
type joiner struct {
	mu      sync.Mutex
	pending []*joinReq
	leading bool
	// events and txs count the events applied through the queue and the transactions
	// (ApplyBatch calls) that applied them (JoinStats).
	events, txs atomic.Int64
}

// JoinStats counts what ApplyJoined has done: Events handed in and applied in
// Transactions shared transactions (Events/Transactions is the mean events a commit), and
// the events Waiting now for the transaction before theirs.
type JoinStats struct{ Events, Transactions, Waiting int64 }

// JoinStats returns the counts of ApplyJoined so far.
func (s *Service) JoinStats() JoinStats {
	s.join.mu.Lock()
	waiting := len(s.join.pending)
	s.join.mu.Unlock()
	return JoinStats{Events: s.join.events.Load(), Transactions: s.join.txs.Load(), Waiting: int64(waiting)}
}

// joinReq is one ApplyJoined call.
type joinReq struct {
	ev   FulfilmentEvent
	res  ApplyResult
	err  error
	done chan struct{} // closed once res and err are set
	lead chan struct{} // closed when this caller is to apply the waiting events
}

// ApplyJoined is Apply for concurrent callers (a mall's webhooks): see "Group commit"
// above. A Store that cannot apply a batch (not a BatchStore) applies each event alone.
// When ctx ends while the event waits for its turn, it is withdrawn and ctx's error is
// returned; once its transaction has begun, its outcome is awaited.
func (s *Service) ApplyJoined(ctx context.Context, ev FulfilmentEvent) (ApplyResult, error) {
	if _, ok := s.store.(BatchStore); !ok {
		return s.Apply(ctx, ev)
	}
	j := &s.join
	r := &joinReq{ev: ev, done: make(chan struct{}), lead: make(chan struct{})}
	j.mu.Lock()
	j.pending = append(j.pending, r)
	if !j.leading {
		j.leading = true
		close(r.lead)
	}
	j.mu.Unlock()

	select {
	case <-r.done:
		return r.res, r.err
	case <-r.lead:
	case <-ctx.Done():
		if j.withdraw(r) {
			return ApplyResult{}, ctx.Err()
		}
		select { // in a running transaction, or just handed the lead
		case <-r.done:
			return r.res, r.err
		case <-r.lead:
		}
	}

	// Leading: r is the first event waiting (a new leader is the only one; a handed lead
	// goes to pending[0]), so the batch taken holds it.
	j.mu.Lock()
	n := min(len(j.pending), joinMax)
	batch := slices.Clone(j.pending[:n])
	j.pending = slices.Delete(j.pending, 0, n)
	j.mu.Unlock()

	defer j.handOff() // deferred: a panic below must not leave the queue without a leader
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), joinTimeout)
	defer cancel()
	s.applyJoined(bctx, batch)
	return r.res, r.err
}

// handOff ends a caller's lead: the first event still waiting leads next.
func (j *joiner) handOff() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.pending) > 0 {
		close(j.pending[0].lead)
	} else {
		j.leading = false
	}
}

// errJoinAbandoned answers the events of a joined transaction whose leader panicked.
var errJoinAbandoned = errors.New("orders: the shared transaction of this event was abandoned (a panic while applying it)")

// withdraw takes r out of the queue if it is still waiting there and has not been handed
// the lead; it reports whether it did.
func (j *joiner) withdraw(r *joinReq) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	i := slices.Index(j.pending, r)
	if i < 0 {
		return false
	}
	select {
	case <-r.lead:
		return false
	default:
	}
	j.pending = slices.Delete(j.pending, i, i+1)
	return true
}

// applyJoined applies batch's events in one ApplyBatch and answers each caller. When the
// batch fails, ApplyBatch has applied the events before the one that failed one at a time
// and names that one's error; every event after it is applied alone, so that each caller
// gets its own event's outcome and one bad event does not fail the others.
func (s *Service) applyJoined(ctx context.Context, batch []*joinReq) {
	evs := make([]FulfilmentEvent, len(batch))
	for i, r := range batch {
		evs[i] = r.ev
	}
	s.join.events.Add(int64(len(evs)))
	s.join.txs.Add(1)
	answered := 0
	defer func() { // on a panic, no caller is left waiting; the panic goes on
		for _, r := range batch[answered:] {
			r.err = errJoinAbandoned
			close(r.done)
		}
	}()
	res, err := s.ApplyBatch(ctx, evs)
	for i, r := range batch {
		switch {
		case i < len(res):
			r.res = res[i]
		case i == len(res) && err != nil:
			r.err = err
		default:
			r.res, r.err = s.Apply(ctx, r.ev)
		}
		close(r.done)
		answered++
	}
}
