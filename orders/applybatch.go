package orders

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"aidmall/bizday"
)

// BatchStore is a Store that can apply many events in one transaction (adapters/sqlstore
// implements it). A Store without it applies a batch one event at a time.
type BatchStore interface {
	// InBatchTx runs fn in one transaction, like InTx, with a BatchTx: the saves of the
	// orders it prefetched are deferred and written in bulk before the commit.
	InBatchTx(ctx context.Context, fn func(tx BatchTx) error) error
}

// MonthPreparer is a BatchStore that readies its ledger for business months before a
// batch books entries in them (adapters/sqlstore on PostgreSQL: each month's partition,
// made in a transaction of its own before the batch's). ApplyBatch hands it the months
// ("YYYY-MM") of its events' business days. It is best effort: a month it could not
// ready takes its entries where the store puts them otherwise, and the batch goes on.
type MonthPreparer interface {
	PrepareLedgerMonths(ctx context.Context, months []string) error
}

// BatchTx is a Tx that loads and saves for many orders at once (ApplyBatch).
type BatchTx interface {
	Tx
	// LockOrdersByOutOrderNo locks the orders of mall with the numbers nos, in id order,
	// and returns them with their lines by number; a number without an order is absent.
	LockOrdersByOutOrderNo(ctx context.Context, mall Mall, nos []OutOrderNo) (map[OutOrderNo]*GroupOrder, error)
	// Parked returns which of the numbers nos of mall have events parked.
	Parked(ctx context.Context, mall Mall, nos []OutOrderNo) (map[OutOrderNo]bool, error)
	// RecordEvents is RecordEvent for many events at once (no two with the same key):
	// each with the order orderIDs[i] (0: none yet, parked); rows[i] is 0 for a duplicate.
	RecordEvents(ctx context.Context, evs []FulfilmentEvent, orderIDs []int64) (rows []int64, err error)
	// Prefetch loads at once what working out os reads (their events, line supplies,
	// booked ledger and their suppliers' linkages). From then on, in this transaction,
	// Events, Supplies, Booked and Linkages of them are served from it, and SaveLine,
	// SaveEventState, SaveOrderState and BookLedger are deferred to the commit: nothing
	// may read what they change after Prefetch.
	Prefetch(ctx context.Context, os []*GroupOrder) error
}

// ApplyBatch applies evs as Apply applies each, in one transaction: every order they
// name is locked (in id order), each event not yet seen is recorded once per (mall,
// out_order_no, event id) — a later copy in evs or one already stored is a duplicate —
// and each order with a new (or adopted) event is worked out once from the set of its
// events, as Apply works it out after each. The ledger and every figure are those of
// applying evs one at a time; an event's outcome (Held) is its state when the batch
// commits, so an event held for review until a later event of evs made it good counts
// as applied.
//
// It returns the outcome of each event, in order. On an error the results are those of
// the events applied before the one that failed (evs[len(results)]): a failed batch is
// rolled back whole and applied again one event at a time, so that the error is that
// event's and nothing after it is applied.
func (s *Service) ApplyBatch(ctx context.Context, evs []FulfilmentEvent) ([]ApplyResult, error) {
	bs, ok := s.store.(BatchStore)
	if !ok || len(evs) < 2 {
		return s.applyEach(ctx, evs)
	}
	evs = slices.Clone(evs)
	for i := range evs {
		if evs[i].Validate() != nil || !s.connected(evs[i].Mall) {
			return s.applyEach(ctx, evs) // Apply's own error for it, after the ones before it
		}
		if evs[i].Source == "" {
			evs[i].Source = "notify"
		}
	}
	if mp, ok := s.store.(MonthPreparer); ok {
		months := map[string]bool{}
		for i := range evs {
			months[bizday.Of(evs[i].OccurredAt).Month()] = true
		}
		// Best effort (MonthPreparer): a month not readied books where it would anyway.
		_ = mp.PrepareLedgerMonths(ctx, slices.Sorted(maps.Keys(months)))
	}
	var res []ApplyResult
	err := bs.InBatchTx(ctx, func(tx BatchTx) error {
		var err error
		res, err = applyBatch(ctx, tx, evs)
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return s.applyEach(ctx, evs)
	}
	if s.applied != nil {
		for i, r := range res {
			if !r.Duplicate && !r.Parked {
				s.applied(ctx, evs[i], r)
			}
		}
	}
	return res, nil
}

// applyEach applies evs one at a time with Apply, stopping at the first error.
func (s *Service) applyEach(ctx context.Context, evs []FulfilmentEvent) ([]ApplyResult, error) {
	res := make([]ApplyResult, 0, len(evs))
	for _, ev := range evs {
		r, err := s.Apply(ctx, ev)
		if err != nil {
			return res, err
		}
		res = append(res, r)
	}
	return res, nil
}

type orderKey struct {
	mall Mall
	no   OutOrderNo
}

type eventKey struct {
	order orderKey
	id    MallEventID
}

func applyBatch(ctx context.Context, tx BatchTx, evs []FulfilmentEvent) ([]ApplyResult, error) {
	closed, err := tx.ClosedPeriods(ctx) // before the orders' locks: see Tx.ClosedPeriods
	if err != nil {
		return nil, err
	}
	nos := map[Mall][]OutOrderNo{}
	seen := map[orderKey]bool{}
	for _, ev := range evs {
		k := orderKey{ev.Mall, ev.OutOrderNo}
		if !seen[k] {
			seen[k] = true
			nos[ev.Mall] = append(nos[ev.Mall], ev.OutOrderNo)
		}
	}
	malls := make([]Mall, 0, len(nos))
	for m := range nos {
		malls = append(malls, m)
	}
	slices.Sort(malls)
	byKey := map[orderKey]*GroupOrder{}
	work := map[int64]*GroupOrder{} // the orders to work out again
	for _, m := range malls {
		got, err := tx.LockOrdersByOutOrderNo(ctx, m, nos[m])
		if err != nil {
			return nil, fmt.Errorf("find orders: %w", err)
		}
		found := make([]OutOrderNo, 0, len(got))
		for no, o := range got {
			byKey[orderKey{m, no}] = o
			found = append(found, no)
		}
		slices.Sort(found)
		parked, err := tx.Parked(ctx, m, found)
		if err != nil {
			return nil, err
		}
		for _, no := range found {
			if !parked[no] {
				continue
			}
			o := got[no]
			// Events parked while the order's own transaction was uncommitted are adopted
			// by the next event of it (Apply).
			n, err := tx.AdoptParked(ctx, o.ID, m, no)
			if err != nil {
				return nil, err
			}
			if n > 0 {
				work[o.ID] = o
			}
		}
	}

	// Each event once: a later copy of one in evs is a duplicate of the first.
	res := make([]ApplyResult, len(evs))
	first := map[eventKey]int{}
	copyOf := map[int]int{} // a later copy in evs: the index of the first
	var uniq []FulfilmentEvent
	var ids []int64
	var at []int // evs index of each of uniq
	for i, ev := range evs {
		k := eventKey{orderKey{ev.Mall, ev.OutOrderNo}, ev.EventID}
		if f, dup := first[k]; dup {
			res[i].Duplicate = true
			copyOf[i] = f // compared below with the event recorded: the first, or the one stored before
			continue
		}
		first[k] = i
		var id int64
		if o := byKey[k.order]; o != nil {
			id = o.ID
		}
		uniq, ids, at = append(uniq, ev), append(ids, id), append(at, i)
	}
	rows, err := tx.RecordEvents(ctx, uniq, ids)
	if err != nil {
		return nil, err
	}
	if len(rows) != len(uniq) {
		return nil, errors.New("record events: a row for each event expected")
	}
	// A copy of an event recorded before is compared with the event as recorded.
	dups := map[Mall][]EventKey{}
	for j, row := range rows {
		if row == 0 {
			dups[uniq[j].Mall] = append(dups[uniq[j].Mall], uniq[j].Key())
		}
	}
	recorded := map[Mall]map[EventKey]FulfilmentEvent{}
	for _, m := range slices.Sorted(maps.Keys(dups)) {
		if recorded[m], err = tx.RecordedEvents(ctx, m, dups[m]); err != nil {
			return nil, err
		}
	}
	rowOf := make([]int64, len(evs))
	for j, row := range rows {
		i := at[j]
		rowOf[i] = row
		switch o := byKey[orderKey{evs[i].Mall, evs[i].OutOrderNo}]; {
		case row == 0:
			res[i].Duplicate = true
			if r, ok := recorded[uniq[j].Mall][uniq[j].Key()]; ok {
				res[i].Differs = uniq[j].Differences(r)
			}
		case o == nil:
			res[i].Parked = true
		default:
			work[o.ID] = o
		}
	}
	for i, f := range copyOf {
		was := evs[f] // recorded in this batch
		if r, ok := recorded[was.Mall][was.Key()]; ok {
			was = r // recorded before it
		}
		res[i].Differs = evs[i].Differences(was)
	}

	todo := make([]*GroupOrder, 0, len(work))
	for _, o := range work {
		todo = append(todo, o)
	}
	slices.SortFunc(todo, func(a, b *GroupOrder) int { return cmp.Compare(a.ID, b.ID) })
	if err := tx.Prefetch(ctx, todo); err != nil {
		return nil, err
	}
	held := map[int64]bool{}
	for _, o := range todo {
		h, _, err := workOut(ctx, tx, o, closed)
		if err != nil {
			return nil, fmt.Errorf("order %s: %w", o.OutOrderNo, err)
		}
		for r, ok := range h {
			held[r] = ok
		}
	}
	for i := range res {
		if !res[i].Duplicate && !res[i].Parked {
			res[i].Held = held[rowOf[i]]
		}
	}
	return res, nil
}
