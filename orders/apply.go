package orders

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"aidmall/attribution"
)

// Apply records one fulfilment event and applies it, in one transaction: the event is
// recorded once per (mall, out_order_no, event id) — a repeated or concurrent copy is a
// duplicate and changes nothing — and its order is worked out again from the set of its
// events (line quantities, held events, status, attribution ledger). An event for an
// order not yet known is parked and applied when the order is created. The order is
// locked first, so concurrent events of one order are worked out one after the other.
//
// Event ids are unique per order rather than per mall: the reference sandbox replays a
// bundle's scripted ids for every order placed with the same order_ref, and a real mall's
// ids, being unique per mall, are unique per order too.
func (s *Service) Apply(ctx context.Context, ev FulfilmentEvent) (ApplyResult, error) {
	if err := ev.Validate(); err != nil {
		return ApplyResult{}, err
	}
	if !s.connected(ev.Mall) {
		return ApplyResult{}, Errorf(ErrInvalid, "event %q: mall %q is not one of %s", ev.EventID, ev.Mall, s.mallChoices())
	}
	if ev.Source == "" {
		ev.Source = "notify"
	}
	var res ApplyResult
	err := s.store.InTx(ctx, func(tx Tx) error {
		res = ApplyResult{}
		closed, err := tx.ClosedPeriods(ctx) // before the order's lock: see Tx.ClosedPeriods
		if err != nil {
			return err
		}
		o, err := tx.LockOrderByOutOrderNo(ctx, ev.Mall, ev.OutOrderNo)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("find order %q: %w", ev.OutOrderNo, err)
		}
		var orderID int64
		adopted := 0
		if o != nil {
			orderID = o.ID
			// Events parked while the order's own transaction was uncommitted (history
			// loaded while a statement is applied) are adopted by the next event of it.
			if adopted, err = tx.AdoptParked(ctx, o.ID, ev.Mall, ev.OutOrderNo); err != nil {
				return err
			}
		}
		row, dup, err := tx.RecordEvent(ctx, ev, orderID)
		if err != nil {
			return err
		}
		switch {
		case dup:
			res.Duplicate = true
			recorded, err := tx.RecordedEvents(ctx, ev.Mall, []EventKey{ev.Key()})
			if err != nil {
				return err
			}
			if r, ok := recorded[ev.Key()]; ok {
				res.Differs = ev.Differences(r)
			}
			if adopted > 0 {
				_, _, err := workOut(ctx, tx, o, closed)
				return err
			}
			return nil
		case o == nil:
			res.Parked = true
			return nil
		}
		held, _, err := workOut(ctx, tx, o, closed)
		if err != nil {
			return err
		}
		res.Held = held[row]
		return nil
	})
	if err == nil && !res.Duplicate && !res.Parked && s.applied != nil {
		s.applied(ctx, ev, res)
	}
	return res, err
}

// create stores o (already checked) with its lines and dispatch job in tx, then applies
// the events parked for its out_order_no — a statement imported early, a mall that
// notified before our create returned — leaving o as stored.
func create(ctx context.Context, tx Tx, o *GroupOrder) error {
	o.Status = DeriveStatus(o)
	if err := tx.InsertOrder(ctx, o); err != nil {
		return taken(o, err)
	}
	n, err := tx.AdoptParked(ctx, o.ID, o.Mall, o.OutOrderNo)
	if err != nil || n == 0 {
		return err
	}
	closed, err := tx.ClosedPeriods(ctx)
	if err != nil {
		return err
	}
	if _, _, err := workOut(ctx, tx, o, closed); err != nil {
		return err
	}
	fresh, err := tx.LockOrder(ctx, o.ID)
	if err != nil {
		return err
	}
	*o = *fresh
	return nil
}

// taken gives a refused insert of o its client message when a number was taken;
// other errors are returned as they are.
func taken(o *GroupOrder, err error) error {
	switch {
	case errors.Is(err, ErrOrderRefTaken):
		return &Error{Kind: ErrConflict, Message: fmt.Sprintf("branch %s already has an order with order_ref %q", o.BranchCode, o.OrderRef), Err: err}
	case errors.Is(err, ErrOutOrderNoTaken):
		return &Error{Kind: ErrConflict, Message: fmt.Sprintf("out_order_no %q is already taken", o.OutOrderNo), Err: err}
	}
	return err
}

// Rework works out again, in tx, every order with a line of one of suppliers, after their
// benefit linkages changed: the ledger follows the registry (ATTRIBUTION.md §2.1, the
// linkages active on each event's day), corrections booked on each event's own business
// day. Every such order is listed, not only those with money events yet: an event being
// applied concurrently is not visible before its order is locked, and locking first (in
// id order) then reading the events sees it.
//
// A correction that would fall on a day of a closed period is booked on the adjustment day
// (ATTRIBUTION.md §5.2). The result is the money the rework moved, per household and
// period (what `import linkages` prints, and its dry run shows).
func Rework(ctx context.Context, tx Tx, suppliers []string) (Changes, error) {
	if len(suppliers) == 0 {
		return Changes{}, nil
	}
	closed, err := tx.ClosedPeriods(ctx) // before any order's lock: see Tx.ClosedPeriods
	if err != nil {
		return Changes{}, err
	}
	ids, err := tx.OrdersOfSuppliers(ctx, suppliers)
	if err != nil {
		return Changes{}, err
	}
	slices.Sort(ids)
	var all []LedgerEntry
	for _, id := range ids {
		o, err := tx.LockOrder(ctx, id)
		if err != nil {
			return Changes{}, err
		}
		_, booked, err := workOut(ctx, tx, o, closed)
		if err != nil {
			return Changes{}, fmt.Errorf("rework order %d: %w", id, err)
		}
		all = append(all, booked...)
	}
	return changesOf(all, closed), nil
}

// workOut works order o (locked in tx) out again from the set of its recorded events:
// flags, line quantities, event states, and the ledger of every line, booking the
// difference from what is booked as correcting entries (ATTRIBUTION.md §1.5). It saves
// what changed and returns the event rows now held for review.
//
// Held: an event naming a line the order does not have (ReasonUnknownLine), a delivery
// beyond the ordered quantity and a refund beyond what was delivered (attribution.WorkOut).
//
// A correction whose day lies in a closed period is booked on the adjustment day instead
// (closed.Place, ATTRIBUTION.md §5.2). It returns the entries booked too.
func workOut(ctx context.Context, tx Tx, o *GroupOrder, closed attribution.Closed) (map[int64]bool, []LedgerEntry, error) {
	evs, err := tx.Events(ctx, o.ID)
	if err != nil {
		return nil, nil, err
	}
	supplies, err := tx.Supplies(ctx, o.ID)
	if err != nil {
		return nil, nil, err
	}
	byLine := map[int][]RecordedEvent{}
	accepted, cancelled := false, false
	mallOrderNo := o.MallOrderNo
	for _, e := range evs {
		switch e.Event.Type {
		case EventAccepted:
			accepted = true
		case EventCancelled:
			cancelled = true
		default:
			byLine[e.Event.LineNo] = append(byLine[e.Event.LineNo], e)
		}
		if mallOrderNo == "" && e.Event.MallOrderNo != "" {
			mallOrderNo = e.Event.MallOrderNo
		}
	}

	held := map[int64]bool{}
	heldReason := map[int64]string{}
	known := map[int]bool{}
	var book []LedgerEntry
	for i := range o.Lines {
		l := &o.Lines[i]
		known[l.LineNo] = true
		sup := supplies[l.ID]
		links, err := tx.Linkages(ctx, sup.SupplierCode)
		if err != nil {
			return nil, nil, err
		}
		var shipped int64
		var moves []attribution.Event
		rowOf := map[string]RecordedEvent{} // by attribution.Event.ID, the mall event id as text
		for _, e := range byLine[l.LineNo] {
			rowOf[string(e.Event.EventID)] = e
			switch e.Event.Type {
			case EventShipped:
				shipped += e.Event.Quantity
			case EventDelivered, EventRefunded:
				moves = append(moves, attribution.Event{ID: string(e.Event.EventID), Type: attribution.EventType(e.Event.Type),
					OccurredAt: e.Event.OccurredAt, Quantity: e.Event.Quantity, RefundFen: e.Event.RefundFen})
			}
		}
		out := attribution.WorkOut(attribution.Line{Quantity: l.Quantity, UnitPrice: l.UnitPrice, Linkages: links}, moves)
		for _, h := range out.Held {
			r := rowOf[h.EventID].Row
			held[r] = true
			heldReason[r] = h.Reason
		}
		have, err := tx.Booked(ctx, l.ID)
		if err != nil {
			return nil, nil, err
		}
		bookedEvent := map[string]bool{}
		for _, b := range have {
			bookedEvent[b.EventID] = true
		}
		for _, c := range closed.Place(attribution.Corrections(have, out.Entries)) {
			r, ok := rowOf[c.EventID]
			if !ok {
				return nil, nil, fmt.Errorf("ledger entry for unknown event %q", c.EventID)
			}
			book = append(book, LedgerEntry{LineID: l.ID, EventRow: r.Row, HouseholdNo: c.HouseholdNo, Day: c.Day,
				Amount: c.Amount, Source: r.Event.Type, Correction: bookedEvent[c.EventID], Supply: sup,
				Concerns: c.Concerns, Adjustment: c.Adjustment})
		}
		l.ShippedQty, l.DeliveredQty, l.RefundedFen, l.HeldEvents = shipped, out.DeliveredQty, out.RefundedFen, len(out.Held)
		if err := tx.SaveLine(ctx, *l); err != nil {
			return nil, nil, err
		}
	}
	if err := tx.BookLedger(ctx, o, book); err != nil {
		return nil, nil, err
	}
	for no, es := range byLine {
		if known[no] {
			continue
		}
		for _, e := range es {
			held[e.Row] = true
			heldReason[e.Row] = ReasonUnknownLine
		}
	}
	for _, e := range evs {
		state, reason := EventApplied, ""
		if held[e.Row] {
			state, reason = EventHeld, heldReason[e.Row]
		}
		if e.State == state && e.HeldReason == reason {
			continue
		}
		if err := tx.SaveEventState(ctx, e.Row, state, reason); err != nil {
			return nil, nil, err
		}
	}
	o.Accepted, o.Cancelled, o.MallOrderNo = accepted || o.Accepted, cancelled || o.Cancelled, mallOrderNo
	o.Status = DeriveStatus(o)
	if err := tx.SaveOrderState(ctx, o); err != nil {
		return nil, nil, err
	}
	return held, book, nil
}
