// Package review is the review queue's domain: what waits for a person (events held by
// ATTRIBUTION.md §1.6, events parked too long, notifications and statement rows that could
// not be read, orders whose dispatch gave up), each with a stable id, and their resolution
// with a note — dismissed, or re-read where that makes sense — recorded in the audit log.
// It holds no SQL: adapters/sqlstore implements Store.
//
// A resolution never blocks the rules: a held event that becomes applicable (a delivery
// before it arrives) still applies by itself, whether or not it was dismissed.
package review

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"aidmall/attribution"
	"aidmall/audit"
	"aidmall/money"
	"aidmall/orders"
)

// Kind is what an item is.
type Kind string

const (
	KindHeldEvent     Kind = "held_event"     // applied to state, moved no money (ATTRIBUTION.md §1.6)
	KindParkedEvent   Kind = "parked_event"   // no order has its out_order_no, for longer than ParkedAfter
	KindUnreadable    Kind = "unreadable"     // a notification or statement row that verified but could not be read
	KindRejectedOrder Kind = "rejected_order" // the mall refused the order for good
	KindStrandedOrder Kind = "stranded_order" // pending, not at its mall for longer than ParkedAfter (dispatch still trying, or its job lost)
	// KindDispatchFailed: the order's dispatch gave up (status dispatch_failed); shown at
	// once. Retry it (POST /v1/orders/{id}/retry-dispatch, `aidmall order retry ID`, the
	// order page) or cancel it; its id names the give-up ("dispatch_failed:<order>:<n>"), so a
	// later give-up of the same order is a new item.
	KindDispatchFailed Kind = "dispatch_failed"
)

// Outcome is how an item was resolved.
type Outcome string

const (
	Dismissed Outcome = "dismissed" // looked at; nothing to do here
	Reread    Outcome = "reread"    // read again: a parked event given to the order that now has its number
)

// DefaultParkedAfter is how long an event may wait for its order (or an order for its mall)
// before it is shown for review.
const DefaultParkedAfter = 24 * time.Hour

// Item is one thing waiting for review. ID is stable: "event:<row>", "unreadable:<id>",
// "order:<id>", "dispatch_failed:<order id>:<give-up number>".
type Item struct {
	ID          string    `json:"id"`
	Kind        Kind      `json:"kind"`
	Since       time.Time `json:"since"`
	Reason      string    `json:"reason"`
	Rule        string    `json:"rule,omitempty"` // the ATTRIBUTION.md rule that held it
	Mall        string    `json:"mall,omitempty"`
	OrderID     int64     `json:"order_id,omitempty"`
	OutOrderNo  string    `json:"out_order_no,omitempty"`
	EventID     string    `json:"event_id,omitempty"`
	EventType   string    `json:"event_type,omitempty"`
	LineNo      int       `json:"line_no,omitempty"`
	Quantity    int64     `json:"quantity,omitempty"`
	Refund      money.Fen `json:"refund,omitempty"`
	BusinessDay string    `json:"business_day,omitempty"`
	// Attempts is how many times the dispatch ran before it gave up (dispatch_failed).
	Attempts int `json:"attempts,omitempty"`
	// Body is what could not be read (unreadable items; shown by Get only, never listed).
	Body     string    `json:"body,omitempty"`
	Rereads  bool      `json:"can_reread"`
	Resolved *Resolved `json:"resolved,omitempty"`
}

// Resolved is an item's resolution.
type Resolved struct {
	Outcome Outcome   `json:"outcome"`
	Note    string    `json:"note"`
	Actor   string    `json:"actor"`
	At      time.Time `json:"at"`
}

// Rule is the ATTRIBUTION.md rule behind a held reason ("" for none known).
func Rule(reason string) string {
	switch reason {
	case attribution.ReasonRefundExceedsDelivered:
		return "ATTRIBUTION.md §1.6: a refund beyond what the line has delivered net of earlier refunds moves no money; it applies by itself once earlier deliveries cover it"
	case attribution.ReasonDeliveryExceedsOrdered:
		return "ATTRIBUTION.md §1.6: a delivery that would take the delivered quantity past the ordered quantity moves no money"
	case orders.ReasonUnknownLine:
		return "the event names a line the order does not have: it moves no money"
	}
	return ""
}

// Store is what the review queue needs of the system of record.
type Store interface {
	// ReviewItems returns the open items (unresolved), oldest first: events held; events
	// parked and orders stranded since before waitedBefore; unreadable records; rejected
	// orders; orders whose dispatch gave up. Bodies are left out.
	ReviewItems(ctx context.Context, waitedBefore time.Time) ([]Item, error)
	// ReviewItem returns item id (with its body and resolution, if any); orders.ErrNotFound
	// when no such item exists.
	ReviewItem(ctx context.Context, id string) (Item, error)
	// ResolveReview records that id was resolved (outcome, note) and appends e to the
	// audit log in the same transaction; orders.ErrConflict when it is resolved already.
	ResolveReview(ctx context.Context, id string, outcome Outcome, note string, e audit.Entry) error
}

// Rereader reads an item again; orders.Service's AdoptParked does it for parked events.
type Rereader interface {
	// AdoptParked gives the events parked for (mall, outOrderNo) to the order that now has
	// that number and works it out again; orders.ErrNotFound while no order has it.
	AdoptParked(ctx context.Context, mall orders.Mall, outOrderNo orders.OutOrderNo) (int, error)
}

// Service is the review queue's use cases.
type Service struct {
	store       Store
	reread      Rereader
	parkedAfter time.Duration
	now         func() time.Time
}

// NewService returns the review queue over store; parkedAfter ≤ 0 is DefaultParkedAfter,
// reread may be nil (then nothing can be re-read), now nil is time.Now.
func NewService(store Store, reread Rereader, parkedAfter time.Duration, now func() time.Time) (*Service, error) {
	if store == nil {
		return nil, errors.New("review: nil store")
	}
	if parkedAfter <= 0 {
		parkedAfter = DefaultParkedAfter
	}
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, reread: reread, parkedAfter: parkedAfter, now: now}, nil
}

// CanReview reports whether c may read and resolve the review queue: the aid office.
func CanReview(c orders.Caller) bool { return c.Role == orders.RoleAidOffice }

func (s *Service) allowed(c orders.Caller) error {
	if !CanReview(c) {
		return orders.Errorf(orders.ErrForbidden, "role %s may not read the review queue", c.Role)
	}
	return nil
}

func (s *Service) canReread(it Item) bool {
	return s.reread != nil && it.Kind == KindParkedEvent
}

// List returns the open items, oldest first.
func (s *Service) List(ctx context.Context, c orders.Caller) ([]Item, error) {
	if err := s.allowed(c); err != nil {
		return nil, err
	}
	items, err := s.store.ReviewItems(ctx, s.now().Add(-s.parkedAfter))
	if err != nil {
		return nil, err
	}
	for i := range items {
		items[i].Rule = Rule(items[i].Reason)
		items[i].Rereads = s.canReread(items[i])
	}
	return items, nil
}

// Get returns item id, open or resolved.
func (s *Service) Get(ctx context.Context, c orders.Caller, id string) (Item, error) {
	if err := s.allowed(c); err != nil {
		return Item{}, err
	}
	it, err := s.store.ReviewItem(ctx, id)
	if errors.Is(err, orders.ErrNotFound) {
		return Item{}, &orders.Error{Kind: orders.ErrNotFound, Message: fmt.Sprintf("review item %q not found", id), Err: err}
	}
	if err != nil {
		return Item{}, err
	}
	it.Rule = Rule(it.Reason)
	it.Rereads = it.Resolved == nil && s.canReread(it)
	return it, nil
}

// Resolve resolves item id with outcome and a note (required), as c, and records it in
// the audit log. Re-reading a parked event gives it to its order when one now has its
// number (orders.ErrNotFound-kind error while none does, and nothing is recorded);
// other items can only be dismissed.
func (s *Service) Resolve(ctx context.Context, c orders.Caller, id string, outcome Outcome, note string) (Item, error) {
	it, err := s.Get(ctx, c, id)
	if err != nil {
		return Item{}, err
	}
	note = strings.TrimSpace(note)
	ve := &orders.ValidationError{}
	if note == "" {
		ve.Fields = append(ve.Fields, orders.FieldError{Pointer: "/note", Detail: "required: say why"})
	}
	switch outcome {
	case Dismissed:
	case Reread:
		if !it.Rereads {
			ve.Fields = append(ve.Fields, orders.FieldError{Pointer: "/outcome", Detail: fmt.Sprintf("a %s item cannot be re-read; dismiss it", it.Kind)})
		}
	default:
		ve.Fields = append(ve.Fields, orders.FieldError{Pointer: "/outcome", Detail: "must be dismissed or reread"})
	}
	if len(ve.Fields) > 0 {
		return Item{}, ve
	}
	if it.Resolved != nil {
		return Item{}, orders.Errorf(orders.ErrConflict, "review item %s was already %s", id, it.Resolved.Outcome)
	}
	after := map[string]any{"outcome": outcome, "note": note, "kind": it.Kind, "reason": it.Reason}
	if outcome == Reread {
		n, err := s.reread.AdoptParked(ctx, orders.Mall(it.Mall), orders.OutOrderNo(it.OutOrderNo))
		if errors.Is(err, orders.ErrNotFound) {
			return Item{}, &orders.Error{Kind: orders.ErrNotAllowed, Message: fmt.Sprintf("no order has out_order_no %s yet: the event stays parked", it.OutOrderNo), Err: err}
		}
		if err != nil {
			return Item{}, err
		}
		after["events_applied"] = n
	}
	before := map[string]any{"kind": it.Kind, "reason": it.Reason, "since": it.Since.UTC().Format(audit.TimeLayout)}
	e, err := audit.New(c.Actor(), audit.ActionReviewResolve, "review:"+id, before, after)
	if err != nil {
		return Item{}, err
	}
	if err := s.store.ResolveReview(ctx, id, outcome, note, e); err != nil {
		return Item{}, err
	}
	return s.Get(ctx, c, id)
}
