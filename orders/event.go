package orders

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"aidmall/bizday"
	"aidmall/money"
)

// ErrUnreadableEvent means the mall's signature (and, for ABC, the timestamp and nonce
// freshness) verified, but the notification's fields could not be read into a
// FulfilmentEvent (an unknown event type, a bad quantity, a field the spec forbids on that
// type). The notification is genuine, so retrying cannot fix it and refusing it would lose
// it: the webhook keeps the raw body for an operator and acknowledges it. Adapters' Parse
// wraps it together with their own malformed error; it is never wrapped for a failure
// before or during verification.
var ErrUnreadableEvent = errors.New("unreadable event")

// EventType is the mall-neutral kind of a fulfilment event (ATTRIBUTION.md, Terms).
type EventType string

const (
	EventAccepted  EventType = "accepted"  // CCB order.accepted, ABC ORDER_CONFIRMED
	EventShipped   EventType = "shipped"   // CCB order.shipped, ABC ITEM_SHIPPED
	EventDelivered EventType = "delivered" // 签收; CCB order.delivered, ABC ITEM_DELIVERED
	EventRefunded  EventType = "refunded"  // 退款; CCB order.refunded, ABC ITEM_REFUNDED
	EventCancelled EventType = "cancelled" // CCB order.cancelled, ABC ORDER_CANCELLED
)

// Valid reports whether t is a known event type.
func (t EventType) Valid() bool {
	switch t {
	case EventAccepted, EventShipped, EventDelivered, EventRefunded, EventCancelled:
		return true
	}
	return false
}

// MovesMoney reports whether events of type t enter the attribution ledger (§1.1).
func (t EventType) MovesMoney() bool { return t == EventDelivered || t == EventRefunded }

// FulfilmentEvent is one thing a mall reports about an order or one of its lines, in a
// form that no longer depends on the mall: every adapter's notification and statement
// parser produces these.
type FulfilmentEvent struct {
	Mall        Mall        `json:"mall"`
	EventID     MallEventID `json:"event_id"` // CCB notify_id, ABC eventId; unique per mall
	Type        EventType   `json:"type"`
	OutOrderNo  OutOrderNo  `json:"out_order_no"`
	MallOrderNo string      `json:"mall_order_no"`
	LineNo      int         `json:"line_no"`                // 0 for whole-order events (accepted, cancelled)
	Quantity    int64       `json:"quantity"`               // units shipped, delivered or refunded; 0 on whole-order events
	RefundFen   money.Fen   `json:"refund_amount"`          // refunded amount (refunded only)
	OccurredAt  time.Time   `json:"occurred_at"`            // when it happened (any zone; business day is Beijing)
	LogisticsNo string      `json:"logistics_no,omitempty"` // carrier and waybill (shipped only)
	Source      string      `json:"source,omitempty"`       // "notify", "statement" or "query"
}

// EventKey is what makes an event one within its mall: the order's out_order_no and the
// mall's event id (fulfilment_events' unique key with the mall).
type EventKey struct {
	OutOrderNo OutOrderNo
	EventID    MallEventID
}

// Key is e's EventKey.
func (e FulfilmentEvent) Key() EventKey { return EventKey{e.OutOrderNo, e.EventID} }

// Differences says how e's content differs from recorded, an event with the same key as
// recorded before: each field that differs as "field e's value (recorded: its value)",
// joined by "; ", or "" when e is a true copy. What a mall may change when it sends an
// event again is not content: the notification's own time and signature (not kept), where
// it came from (notify, statement, query), and a logistics number the first copy lacked.
func (e FulfilmentEvent) Differences(recorded FulfilmentEvent) string {
	var out []string
	diff := func(field string, have, was any) {
		out = append(out, fmt.Sprintf("%s %v (recorded: %v)", field, have, was))
	}
	if e.Type != recorded.Type {
		diff("type", e.Type, recorded.Type)
	}
	if e.MallOrderNo != recorded.MallOrderNo {
		diff("mall_order_no", e.MallOrderNo, recorded.MallOrderNo)
	}
	if e.LineNo != recorded.LineNo {
		diff("line_no", e.LineNo, recorded.LineNo)
	}
	if e.Quantity != recorded.Quantity {
		diff("quantity", e.Quantity, recorded.Quantity)
	}
	if e.RefundFen != recorded.RefundFen {
		diff("refund_amount", e.RefundFen, recorded.RefundFen)
	}
	if !e.OccurredAt.Equal(recorded.OccurredAt) {
		diff("occurred_at", e.OccurredAt.In(bizday.Beijing).Format(time.RFC3339), recorded.OccurredAt.In(bizday.Beijing).Format(time.RFC3339))
	}
	if e.LogisticsNo != "" && recorded.LogisticsNo != "" && e.LogisticsNo != recorded.LogisticsNo {
		diff("logistics_no", e.LogisticsNo, recorded.LogisticsNo)
	}
	return strings.Join(out, "; ")
}

// Validate checks the event's shape: a mall named (which malls exist is the Service's
// list, checked by Apply), a known type, ids present, a line and a positive
// quantity on line events, a non-negative refund amount. It returns an error wrapping
// ErrInvalid that names the first problem.
func (e FulfilmentEvent) Validate() error {
	bad := func(f string, a ...any) error {
		return Errorf(ErrInvalid, "event %q: %s", e.EventID, fmt.Sprintf(f, a...))
	}
	switch {
	case e.Mall == "" || e.Mall == MallAuto:
		return bad("unknown mall %q", e.Mall)
	case e.EventID == "":
		return bad("missing event id")
	case !e.Type.Valid():
		return bad("unknown event type %q", e.Type)
	case e.OutOrderNo == "":
		return bad("missing out_order_no")
	case e.OccurredAt.IsZero():
		return bad("missing occurred_at")
	}
	switch e.Type {
	case EventShipped, EventDelivered, EventRefunded:
		if e.LineNo <= 0 {
			return bad("%s needs a line number", e.Type)
		}
		if e.Quantity <= 0 && e.Type != EventRefunded {
			return bad("%s needs a positive quantity", e.Type)
		}
		if e.Quantity < 0 {
			return bad("negative quantity")
		}
	}
	if e.RefundFen < 0 {
		return bad("negative refund amount")
	}
	if e.Type == EventRefunded && e.RefundFen == 0 {
		return bad("refund without an amount")
	}
	return nil
}
