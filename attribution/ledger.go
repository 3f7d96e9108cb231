package attribution

import (
	"cmp"
	"fmt"
	"math"
	"math/big"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"aidmall/bizday"
	"aidmall/households"
	"aidmall/money"
)

// Reasons an event is held for review (ATTRIBUTION.md §1.6).
const (
	// ReasonRefundExceedsDelivered: the refund's amount is larger than what the line has
	// delivered net of earlier refunds, in fen, at its place in the order of events.
	ReasonRefundExceedsDelivered = "refund_exceeds_delivered"
	// ReasonDeliveryExceedsOrdered: the delivery would take the line's delivered quantity
	// past its ordered quantity.
	ReasonDeliveryExceedsOrdered = "delivery_exceeds_ordered"
)

// EventType is the kind of a fulfilment event as the ledger sees it. Only Delivered and
// Refunded move money; the values are those of orders.EventType, which converts to it.
type EventType string

const (
	Delivered EventType = "delivered" // 签收
	Refunded  EventType = "refunded"  // 退款
)

// MovesMoney reports whether events of type t enter the ledger.
func (t EventType) MovesMoney() bool { return t == Delivered || t == Refunded }

// Event is a money-moving fulfilment event of one sale line. ID is the mall's event id
// (unique per mall; a line belongs to one mall). OccurredAt may be in any zone; its
// business day is bizday.Of(OccurredAt), Beijing. Quantity is in whole units (delivered);
// RefundFen is the refunded amount in fen as the mall reports it (refunded; its quantity
// plays no part in the ledger).
type Event struct {
	ID         string
	Type       EventType // Delivered or Refunded; others are ignored
	OccurredAt time.Time
	Quantity   int64
	RefundFen  money.Fen
}

// Line is a sale line: the ordered quantity (whole units), the unit price paid (fen) and
// all the benefit linkages of its SKU's supplier (WorkOut keeps those active on each
// event's business day).
type Line struct {
	Quantity  int64
	UnitPrice money.Fen
	Linkages  []households.Linkage
}

// Entry is what the ledger holds for one (event, household) pair: Amount in fen, positive
// for a delivery, negative for a refund (or either sign for a correction), booked on Day,
// the Beijing business day of the event. HouseholdNo "" is the unattributed part.
//
// Concerns and Adjustment are set only on an adjustment (ATTRIBUTION.md §5.2, Closed.Place):
// an entry booked on the adjustment day (Day) for an event whose own day, Concerns, lies in
// a closed period.
type Entry struct {
	EventID     string
	HouseholdNo households.HouseholdNo
	Day         bizday.Day
	Amount      money.Fen
	Concerns    bizday.Day
	Adjustment  bool
}

// Held is an event kept for review (ATTRIBUTION.md §1.6): it moved no money. Reason is
// ReasonRefundExceedsDelivered or ReasonDeliveryExceedsOrdered.
type Held struct {
	EventID string
	Reason  string
}

// Outcome is a line's ledger as its events say it should be.
//   - Entries: one per (money-moving event, claimant) with a non-zero amount, in the
//     order of the events, then household number (text), the unattributed part last.
//   - Held: the events that moved no money, in the order of the events.
//   - DeliveredQty: units of the deliveries that moved money (refunds do not lower it).
//   - DeliveredFen, RefundedFen: fen delivered and refunded (positive) by those events;
//     DeliveredFen − RefundedFen is never negative.
type Outcome struct {
	Entries      []Entry
	Held         []Held
	DeliveredQty int64
	DeliveredFen money.Fen
	RefundedFen  money.Fen
}

// maxPresized caps the entries WorkOut allocates up front (16384 × 64 bytes).
const maxPresized = 1 << 14

// WorkOut computes a line's ledger from the set of its events alone (ATTRIBUTION.md §1.5),
// so the result never depends on the order the events are given or arrived in.
//
// Order. Events whose type is not delivered or refunded are ignored. The rest are taken
// in the order of (OccurredAt as an instant, ID as text); events with the same instant
// (written in any zone) are ordered by ID. Two events with the same ID are one event
// (§1.4): only the first in that order counts (the rest are further ordered by type,
// quantity and amount, so even conflicting duplicates give one answer).
//
// Deliveries (§1.2, §2). A delivery of q units attributes q × UnitPrice fen on the business
// day of OccurredAt (Beijing: 2019-03-31T16:30:00Z is 2019-04-01). Its claimants are the
// households whose linkages are active on that day (households.Linkage.ActiveOn: from
// valid_from inclusive to valid_to exclusive, so a linkage ending on the event's day does
// not take part and one starting on it does); a household with several active linkages
// counts once with the sum of their weights (decimals, up to 4 places, exact). With no
// active linkage the whole amount is one unattributed entry (HouseholdNo ""). The amount
// is divided by Split (largest remainder, ties to the smaller household number).
// Linkages with a non-positive weight or an empty household number take no part (the
// importer rejects them). A delivery that would take DeliveredQty past line.Quantity
// moves no money and is held as ReasonDeliveryExceedsOrdered; it does not count in
// DeliveredQty, so a later delivery that still fits applies. Refunds never lower
// DeliveredQty. A delivery with a non-positive quantity moves nothing and is not held.
//
// Refunds (§1.3, §1.6, §2 "For a refunded event"). A refund of R fen is compared with the
// line's net so far (DeliveredFen − RefundedFen of the events before it, in fen; its
// quantity plays no part). R greater than the net moves no money and is held as
// ReasonRefundExceedsDelivered; R equal to the net applies and takes the line to zero.
// An applied refund is split in proportion to each claimant's net so far on this line
// (deliveries net of earlier refunds, whatever day they fell on) — households and the
// unattributed part alike, the unattributed part sorting after every household in ties —
// and booked as negative entries on the refund's own business day; linkages are not
// looked up again. No claimant's net ever goes below zero: a share is at most the
// claimant's net. A refund with a non-positive amount moves nothing and is not held.
//
// Late events. Because the result is a function of the set, a refund held on a smaller
// set applies by itself when WorkOut is run on a set that also holds an earlier delivery
// covering it, and a delivery held for exceeding the ordered quantity may apply (and a
// later one be held instead) when an earlier-occurring delivery is removed or added.
// Corrections turns the difference between two outcomes into entries to book.
//
// WorkOut panics when line.UnitPrice is negative or line.Quantity × line.UnitPrice does
// not fit in int64 fen (orders validate both long before: orders.MaxQuantity).
func WorkOut(line Line, events []Event) Outcome {
	if line.UnitPrice < 0 {
		panic(fmt.Sprintf("attribution.WorkOut: negative unit price %d fen", line.UnitPrice))
	}
	if line.Quantity > 0 && line.UnitPrice > 0 && line.Quantity > math.MaxInt64/int64(line.UnitPrice) {
		panic(fmt.Sprintf("attribution.WorkOut: %d × %d fen overflows", line.Quantity, line.UnitPrice))
	}
	evs := ordered(events)
	w := &workout{line: line, net: map[households.HouseholdNo]money.Fen{}, byDay: map[bizday.Day]*claimants{}}
	// An event has at most one entry per linked household plus the unattributed part;
	// sizing Entries to that bound (at most maxPresized) saves regrowing it.
	linked := map[households.HouseholdNo]bool{}
	for _, l := range line.Linkages {
		linked[l.HouseholdNo] = true
	}
	w.out.Entries = make([]Entry, 0, min(len(evs)*(len(linked)+1), maxPresized))
	for _, ev := range evs {
		day := bizday.Of(ev.OccurredAt)
		switch ev.Type {
		case Delivered:
			w.deliver(ev, day)
		case Refunded:
			w.refund(ev, day)
		}
	}
	if len(w.out.Entries) == 0 {
		w.out.Entries = nil
	}
	return w.out
}

// workout is the running state of one WorkOut.
type workout struct {
	line  Line
	out   Outcome
	net   map[households.HouseholdNo]money.Fen // claimant → net fen so far on this line ("" unattributed)
	byDay map[bizday.Day]*claimants            // delivery claimants per business day, computed once
	spans []span                               // line.Linkages[i]'s validity, computed on first use
}

// span is a linkage's validity [from, to) as the Unix seconds of the first instants of
// its Beijing days (to 0 = open-ended). activeOn(day.Start().Unix()) is exactly
// households.Linkage.ActiveOn(day) — business days are ordered as their first instants —
// without formatting two dates per comparison (TestSpanMatchesActiveOn).
type span struct{ from, to int64 }

func linkageSpans(ls []households.Linkage) []span {
	out := make([]span, len(ls))
	for i, l := range ls {
		out[i].from = l.ValidFrom.Start().Unix()
		if !l.ValidTo.IsZero() {
			out[i].to = l.ValidTo.Start().Unix()
		}
	}
	return out
}

func (s span) activeOn(dayStart int64) bool {
	return s.from <= dayStart && (s.to == 0 || dayStart < s.to)
}

// claimants are the households a delivery on one day is split among, sorted by number,
// with their summed linkage weights scaled to integers (ints, or bigs when they do not
// fit in uint64). No keys means unattributed.
type claimants struct {
	keys []households.HouseholdNo
	ints []uint64
	bigs []*big.Int
}

// split divides amount among c (which has keys).
func (c *claimants) split(amount money.Fen) []money.Fen {
	if c.bigs != nil {
		return splitBig(amount, c.keys, c.bigs)
	}
	return splitUint(amount, c.keys, c.ints)
}

func (w *workout) deliver(ev Event, day bizday.Day) {
	q := ev.Quantity
	if q <= 0 {
		return
	}
	if q > w.line.Quantity-w.out.DeliveredQty {
		w.out.Held = append(w.out.Held, Held{EventID: ev.ID, Reason: ReasonDeliveryExceedsOrdered})
		return
	}
	amount := money.Fen(q) * w.line.UnitPrice // q <= line.Quantity: checked not to overflow
	w.out.DeliveredQty += q
	w.out.DeliveredFen += amount
	c := w.claimantsOn(day)
	if len(c.keys) == 0 {
		w.book(ev.ID, day, []households.HouseholdNo{""}, []money.Fen{amount}, 1)
		return
	}
	w.book(ev.ID, day, c.keys, c.split(amount), 1)
}

func (w *workout) refund(ev Event, day bizday.Day) {
	r := ev.RefundFen
	if r <= 0 {
		return
	}
	if r > w.out.DeliveredFen-w.out.RefundedFen {
		w.out.Held = append(w.out.Held, Held{EventID: ev.ID, Reason: ReasonRefundExceedsDelivered})
		return
	}
	w.out.RefundedFen += r
	keys := make([]households.HouseholdNo, 0, len(w.net))
	for k, v := range w.net {
		if v > 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, HouseholdOrder)
	weights := make([]uint64, len(keys))
	for i, k := range keys {
		weights[i] = uint64(w.net[k])
	}
	// The nets sum to the line's net, which is >= r > 0, so the split is defined.
	w.book(ev.ID, day, keys, splitUint(r, keys, weights), -1)
}

// book records shares (times sign) as entries of event id on day and updates the nets.
func (w *workout) book(id string, day bizday.Day, keys []households.HouseholdNo, shares []money.Fen, sign money.Fen) {
	for i, k := range keys {
		if shares[i] == 0 {
			continue
		}
		a := sign * shares[i]
		w.net[k] += a
		w.out.Entries = append(w.out.Entries, Entry{EventID: id, HouseholdNo: k, Day: day, Amount: a})
	}
}

// claimantsOn returns the households linked to the line's supplier on day (§2.1).
func (w *workout) claimantsOn(day bizday.Day) *claimants {
	if c, ok := w.byDay[day]; ok {
		return c
	}
	if w.spans == nil {
		w.spans = linkageSpans(w.line.Linkages)
	}
	sum := map[households.HouseholdNo]decimal.Decimal{}
	d := day.Start().Unix()
	for i, l := range w.line.Linkages {
		if l.HouseholdNo == "" || l.Weight.Sign() <= 0 || !w.spans[i].activeOn(d) {
			continue
		}
		if s, ok := sum[l.HouseholdNo]; ok {
			sum[l.HouseholdNo] = s.Add(l.Weight)
		} else {
			sum[l.HouseholdNo] = l.Weight
		}
	}
	c := &claimants{keys: make([]households.HouseholdNo, 0, len(sum))}
	for k := range sum {
		c.keys = append(c.keys, k)
	}
	slices.Sort(c.keys)
	weights := make([]decimal.Decimal, len(c.keys))
	for i, k := range c.keys {
		weights[i] = sum[k]
	}
	if ints, ok := scaleWeights(weights); ok {
		c.ints = ints
	} else {
		c.bigs = scaleWeightsBig(weights)
	}
	w.byDay[day] = c
	return c
}

// ordered returns the money-moving events in the order of §1.5, one per ID.
func ordered(events []Event) []Event {
	evs := make([]Event, 0, len(events))
	for _, ev := range events {
		if ev.Type.MovesMoney() {
			evs = append(evs, ev)
		}
	}
	slices.SortFunc(evs, compareEvents)
	seen := make(map[string]bool, len(evs))
	out := evs[:0]
	for _, ev := range evs {
		if seen[ev.ID] {
			continue
		}
		seen[ev.ID] = true
		out = append(out, ev)
	}
	return out
}

// compareEvents is the order of §1.5, (occurred_at, event id), made total for duplicates.
func compareEvents(a, b Event) int {
	if c := a.OccurredAt.Compare(b.OccurredAt); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ID, b.ID); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Type, b.Type); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Quantity, b.Quantity); c != 0 {
		return c
	}
	return cmp.Compare(a.RefundFen, b.RefundFen)
}
