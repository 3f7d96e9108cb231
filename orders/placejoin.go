package orders

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"aidmall/audit"
	"aidmall/money"
)

// Group commit (合并提交) of order placements. Every order appends to the audit chain,
// whose head is one row: on PostgreSQL each placement holds it from its append through
// its commit, so concurrent placements queue on that row and pay one commit (an fsync)
// each, one after the other.
//
// Place therefore works as ApplyJoined does (applyjoin.go): a placement that reaches its
// transaction while an earlier caller's runs waits for it; then the placements that waited
// meanwhile (up to placeJoinMax) are stored by one of their callers in one transaction,
// each inside a savepoint of its own. A placement that fails there (its order_ref taken,
// its Idempotency-Key taken, its budget refused, any error) is rolled back to its
// savepoint alone and its caller gets its own error; the others commit together, and
// every caller is answered only once that commit is done. The audit entries are appended
// last, in the batch's order, after every placement's work: the chain's head is then held
// for those appends and the commit only, as one placement holds it.
//
// What is stored is what placing the orders one at a time gives: each placement sees the
// ones before it in the batch (same transaction), so a branch's budget check counts them
// and a second order with one order_ref, or a second request with one Idempotency-Key, is
// refused as it would be after the first's commit. A caller alone waits for nobody and
// runs its own transaction, without savepoints, at once.
//
// When the shared transaction fails as a whole (its commit, an audit append, a broken
// connection), nothing of it is stored, and each caller then places its order alone, as
// Place did before: no order is lost to another's failure, and none is stored twice,
// because a retry of an order that did commit after all (a commit whose answer was lost)
// finds its order_ref and out_order_no taken and is refused.

// Pipelined: the lead passes to the next placement waiting as soon as a batch's work is
// done, before its audit entries and its commit, so that the next batch inserts its
// orders while this one waits for its commit (PostgreSQL; SQLite's one connection runs
// them in turn). The next batch then meets this one's uncommitted rows as concurrent
// placements meet each other's: its budget check waits on the branch's lock, a repeated
// order_ref or Idempotency-Key waits on the unique key, and its audit entries on the
// chain's head, each until this commit, and then sees it.

// placeJoinMax bounds the placements of one shared transaction. Each has a savepoint, a
// subtransaction on PostgreSQL, which keeps the ids of 64 per transaction in shared
// memory before every other session's snapshots must look further (overflow): the bound
// stays under that.
const placeJoinMax = 48

// SavepointTx is a Tx that can undo part of its transaction.
type SavepointTx interface {
	Tx
	// Savepoint runs fn inside a savepoint: what fn did through the Tx is kept when it
	// returns nil, and undone, with the transaction going on, when it returns an error
	// (which Savepoint returns). When the savepoint's own statements fail, the error says
	// so and the transaction can no longer commit.
	Savepoint(ctx context.Context, fn func() error) error
	// AuditAll is Audit of each of es in turn, in fewer statements.
	AuditAll(ctx context.Context, es []audit.Entry) error
	// DeferKeys has the Idempotency-Keys a placed hook takes from now on reported taken
	// at once and written together by WriteDeferred: one statement for all of them.
	DeferKeys()
	// WriteDeferred writes what DeferKeys deferred, and what the store defers in a
	// shared transaction (the orders' dispatch jobs, inserted together); ErrDeferredTaken
	// when a key was taken already, and the transaction can then no longer commit.
	WriteDeferred(ctx context.Context) error
}

// ErrDeferredTaken is WriteDeferred's: an Idempotency-Key reported taken was taken
// already. The shared transaction is then run again without deferring, so that the
// placement whose key it is gets its own refusal.
var ErrDeferredTaken = errors.New("orders: an Idempotency-Key taken in a shared transaction was taken already")

// SavepointStore is a Store whose transactions take savepoints (adapters/sqlstore). With
// another Store, Place stores each order in a transaction of its own.
type SavepointStore interface {
	InSavepointTx(ctx context.Context, fn func(tx SavepointTx) error) error
}

// placement is one Place call's work in the database, once its order is checked and made.
type placement struct {
	ctx    context.Context // the caller's: its values (the placed hook's), not its deadline, once running
	caller Caller
	o      *GroupOrder
	add    money.Fen // the budget it uses
	placed PlacedHook

	entry    audit.Entry // the audit entry to append when its work is done
	err      error
	alone    bool // the shared transaction failed: the caller places its order alone
	panicked any  // the value fn panicked with, panicked again on the caller's goroutine
	done     chan struct{}
	lead     chan struct{}
}

// placeJoiner queues the placements of Place (see joiner, which it mirrors).
type placeJoiner struct {
	mu      sync.Mutex
	pending []*placement
	leading bool
	// orders and txs count the placements stored through the queue and the transactions
	// that stored them (PlaceJoinStats).
	orders, txs atomic.Int64
}

// PlaceJoinStats counts what Place's group commit has done: Orders handed in and stored
// (or refused) in Transactions shared transactions (Orders/Transactions is the mean orders
// a commit), and the placements Waiting now for the transaction before theirs.
type PlaceJoinStats struct{ Orders, Transactions, Waiting int64 }

// PlaceJoinStats returns the counts of Place's group commit so far.
func (s *Service) PlaceJoinStats() PlaceJoinStats {
	s.placeJoin.mu.Lock()
	waiting := len(s.placeJoin.pending)
	s.placeJoin.mu.Unlock()
	return PlaceJoinStats{Orders: s.placeJoin.orders.Load(), Transactions: s.placeJoin.txs.Load(), Waiting: int64(waiting)}
}

// errPlaceAbandoned answers the placements of a shared transaction whose leader panicked
// outside any placement's own work; none of them was stored.
var errPlaceAbandoned = errors.New("orders: the shared transaction of this order was abandoned (a panic while storing it)")

// errPlacementPanicked is the savepoint error of a placement whose work panicked.
var errPlacementPanicked = errors.New("orders: placing this order panicked")

// commitPlacement stores p: alone, or with the placements waiting beside it. When ctx ends while p
// waits for its turn, p is withdrawn (nothing stored) and ctx's error returned; once its
// transaction has begun, its outcome is awaited.
func (s *Service) commitPlacement(ctx context.Context, p *placement) error {
	if _, ok := s.store.(SavepointStore); !ok {
		return s.storeAlone(ctx, p, nil)
	}
	j := &s.placeJoin
	p.done, p.lead = make(chan struct{}), make(chan struct{})
	j.mu.Lock()
	j.pending = append(j.pending, p)
	if !j.leading {
		j.leading = true
		close(p.lead)
	}
	j.mu.Unlock()

	select {
	case <-p.done:
		return p.answer(ctx, s)
	case <-p.lead:
	case <-ctx.Done():
		if j.withdraw(p) {
			return ctx.Err()
		}
		select { // in a running transaction, or just handed the lead
		case <-p.done:
			return p.answer(ctx, s)
		case <-p.lead:
		}
	}

	// Leading: p is the first placement waiting, so the batch taken holds it.
	j.mu.Lock()
	n := min(len(j.pending), placeJoinMax)
	batch := slices.Clone(j.pending[:n])
	j.pending = slices.Delete(j.pending, 0, n)
	j.mu.Unlock()

	// The lead is handed on once the batch's work is done, before its audit entries and
	// its commit (or at the latest when it ends; deferred, so that a panic does not leave
	// the queue without a leader): see "Pipelined" above.
	handOff := sync.OnceFunc(j.handOff)
	if n == 1 { // alone: its own transaction, under its own ctx, without savepoints
		defer handOff()
		j.orders.Add(1)
		j.txs.Add(1)
		return s.storeAlone(ctx, p, handOff)
	}
	func() {
		defer handOff()
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), joinTimeout)
		defer cancel()
		s.storeJoined(bctx, batch, handOff)
	}()
	return p.answer(ctx, s)
}

// answer is p's outcome once its transaction is done: its error, its panic again, or
// its order placed alone after the shared transaction failed.
func (p *placement) answer(ctx context.Context, s *Service) error {
	switch {
	case p.panicked != nil:
		panic(p.panicked)
	case p.alone:
		return s.storeAlone(ctx, p, nil)
	}
	return p.err
}

// handOff ends a caller's lead: the first placement still waiting leads next.
func (j *placeJoiner) handOff() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.pending) > 0 {
		close(j.pending[0].lead)
	} else {
		j.leading = false
	}
}

// withdraw takes p out of the queue if it is still waiting there and has not been handed
// the lead; it reports whether it did.
func (j *placeJoiner) withdraw(p *placement) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	i := slices.Index(j.pending, p)
	if i < 0 {
		return false
	}
	select {
	case <-p.lead:
		return false
	default:
	}
	j.pending = slices.Delete(j.pending, i, i+1)
	return true
}

// storeAlone stores p in a transaction of its own; worked (when not nil) is called once
// p's work is done, before its audit entry.
func (s *Service) storeAlone(ctx context.Context, p *placement, worked func()) error {
	return s.store.InTx(ctx, func(tx Tx) error {
		e, err := s.insertPlaced(ctx, tx, p)
		if err != nil {
			return err
		}
		if worked != nil {
			worked()
		}
		return tx.Audit(ctx, e)
	})
}

// storeJoined stores batch's placements (two or more) in one transaction, each in a
// savepoint, and answers each caller once it has committed. The placements are taken in the order of their branches' codes: an order
// on a budget locks its branch until the commit, so two transactions (two processes)
// lock the branches they share in one order and cannot deadlock; which of two concurrent
// placements comes first is not promised anyway.
func (s *Service) storeJoined(ctx context.Context, batch []*placement, worked func()) {
	s.placeJoin.orders.Add(int64(len(batch)))
	s.placeJoin.txs.Add(1)
	answered := 0
	defer func() { // on a panic, no caller is left waiting; the panic goes on
		for _, p := range batch[answered:] {
			p.err = errPlaceAbandoned
			close(p.done)
		}
	}()
	slices.SortStableFunc(batch, func(a, b *placement) int { return cmp.Compare(a.o.BranchCode, b.o.BranchCode) })
	err := s.storeTogether(ctx, batch, false, worked)
	if errors.Is(err, errPlacementFailed) || errors.Is(err, ErrDeferredTaken) {
		// One of them failed: again, from the start, each in a savepoint of its own.
		err = s.storeTogether(ctx, batch, true, worked)
	}
	for _, p := range batch {
		if err != nil {
			p.err, p.panicked, p.alone = nil, nil, true
		}
		close(p.done)
		answered++
	}
}

// errPlacementFailed ends a shared transaction without savepoints in which a placement
// failed.
var errPlacementFailed = errors.New("orders: a placement of the shared transaction failed")

// storeTogether stores batch in one transaction and sets each placement's outcome (worked
// is called once their work is done, before the audit entries); it
// returns the transaction's own error, when nothing of it is stored. Without savepoints
// (the common case, where every placement succeeds: two statements fewer each) the first
// placement that fails ends the transaction with errPlacementFailed, and the placed
// hooks' Idempotency-Keys are written together at the end (DeferKeys: one statement
// fewer each; one already taken ends it with ErrDeferredTaken); with them, a placement
// that fails is undone alone and the others go on, each key taken when its hook takes it.
func (s *Service) storeTogether(ctx context.Context, batch []*placement, savepoints bool, worked func()) error {
	return s.store.(SavepointStore).InSavepointTx(ctx, func(tx SavepointTx) error {
		var entries []audit.Entry
		if !savepoints {
			tx.DeferKeys()
		}
		for _, p := range batch {
			work := func() (err error) {
				defer func() {
					if v := recover(); v != nil {
						p.panicked, err = v, errPlacementPanicked
					}
				}()
				p.entry, err = s.insertPlaced(joinedCtx{ctx, p.ctx}, tx, p)
				return err
			}
			p.panicked = nil
			if savepoints {
				p.err = tx.Savepoint(ctx, work)
			} else if p.err = work(); p.err != nil {
				return errPlacementFailed
			}
			if p.err == nil {
				entries = append(entries, p.entry)
			}
		}
		if err := tx.WriteDeferred(ctx); err != nil {
			return err
		}
		worked()
		return tx.AuditAll(ctx, entries)
	})
}

// joinedCtx is what a placement's work in a shared transaction runs under: the shared
// transaction's deadline and cancellation (its leader's, detached, bounded by
// joinTimeout), with the values of the placement's own caller (its placed hook, its
// request's for logs).
type joinedCtx struct {
	context.Context // the shared transaction's
	values          context.Context
}

func (c joinedCtx) Value(key any) any { return c.values.Value(key) }
