package mallsim

import (
	"fmt"
	"hash/fnv"
	"reflect"
	"time"

	"aidmall/money"
	"aidmall/orders"
)

// content is an order as the partner sent it, parsed and without the notify URL: what the
// idempotency check compares (ccb-mall.md: "notify_url is not part of an order's content";
// abc-mall.md likewise for notifyUrl). Key order and whitespace of the JSON do not matter.
type content struct {
	OutOrderNo   string
	BuyerRef     string
	BuyerName    string
	DeliveryMode orders.DeliveryMode
	ShipTo       *orders.ShipTo
	Lines        []contentLine
	Total        money.Fen
}

// contentLine is one line of a content.
type contentLine struct {
	LineNo     int
	ItemID     string
	Quantity   int64
	UnitPrice  money.Fen
	Recipients []orders.Recipient // nil when none
}

// same reports whether c and d are the same order content.
func (c content) same(d content) bool { return reflect.DeepEqual(c, d) }

// lineState is one line of a simulated mall order with what fulfilment has done to it.
type lineState struct {
	contentLine
	Shipped, Delivered, RefundedQty int64
	RefundedFen                     money.Fen
}

// order is one mall order inside a simulator. Every field is guarded by the mall's mutex.
type order struct {
	c           content
	mallOrderNo string
	notifyURL   string // the first one given (specs: later creates keep it)
	createdAt   time.Time
	lines       []*lineState
	accepted    bool
	cancelled   bool
	createCalls int // the first create and its idempotent repeats

	// Fulfilment.
	scriptRef string                   // the bundle order_ref replayed; "" for the default script
	steps     []orders.FulfilmentEvent // templates; a zero EventID/OccurredAt is filled when produced
	next      int                      // index of the next step to produce
	queue     []orders.FulfilmentEvent // produced outside the script (a cancel), sent before the next step
	running   bool                     // a driver goroutine owns this order (or is about to)
	wake      chan struct{}            // nudges a driver waiting out the replay gap (cap 1)
}

func (o *order) line(no int) *lineState {
	for _, l := range o.lines {
		if l.LineNo == no {
			return l
		}
	}
	return nil
}

// anyShipped reports whether some line has shipped or been delivered (cancel is refused
// then: ccb-mall.md 40010 ORDER_SHIPPED, abc-mall.md 409 ALREADY_SHIPPED).
func (o *order) anyShipped() bool {
	for _, l := range o.lines {
		if l.Shipped > 0 || l.Delivered > 0 {
			return true
		}
	}
	return false
}

// apply records the effect of event e on the order's state. Events naming a line the
// order does not have (a script replayed onto a different order) change nothing but are
// still notified: the mall reports what its book says.
func (o *order) apply(e orders.FulfilmentEvent) {
	switch e.Type {
	case orders.EventAccepted:
		o.accepted = true
	case orders.EventCancelled:
		o.cancelled = true
	case orders.EventShipped:
		if l := o.line(e.LineNo); l != nil {
			l.Shipped += e.Quantity
		}
	case orders.EventDelivered:
		if l := o.line(e.LineNo); l != nil {
			l.Delivered += e.Quantity
		}
	case orders.EventRefunded:
		if l := o.line(e.LineNo); l != nil {
			l.RefundedQty += e.Quantity
			l.RefundedFen += e.RefundFen
		}
	}
}

// progress is how far a line, or a whole order, has gone; the status words of both malls
// are derived from it.
type progress int

const (
	progNone progress = iota
	progPartShipped
	progShipped
	progPartDelivered
	progDelivered
	progRefunded
)

func (l *lineState) progress() progress {
	switch {
	case l.RefundedQty > 0 && l.RefundedQty >= l.Delivered && l.Delivered > 0:
		return progRefunded
	case l.Delivered >= l.Quantity:
		return progDelivered
	case l.Delivered > 0:
		return progPartDelivered
	case l.Shipped >= l.Quantity:
		return progShipped
	case l.Shipped > 0:
		return progPartShipped
	}
	return progNone
}

// orderProgress folds the lines: refunded when every line is refunded, delivered when
// every line is delivered (or refunded) in full, partly delivered when some units are,
// and the same for shipping.
func (o *order) progress() progress {
	if len(o.lines) == 0 {
		return progNone
	}
	lo, hi := progRefunded, progNone
	for _, l := range o.lines {
		p := l.progress()
		lo, hi = min(lo, p), max(hi, p)
	}
	switch {
	case lo >= progDelivered:
		return lo
	case hi >= progPartDelivered:
		return progPartDelivered
	case lo >= progShipped:
		return progShipped
	case hi >= progPartShipped:
		return progPartShipped
	}
	return progNone
}

// statusWord spells p for both malls; before any shipment it is the mall's own word for an
// open order (CCB ACCEPTED; ABC CREATED, or CONFIRMED once ORDER_CONFIRMED was sent).
func statusWord(p progress, cancelled bool, open string) string {
	if cancelled && p < progPartDelivered {
		return "CANCELLED"
	}
	switch p {
	case progPartShipped:
		return "PARTIALLY_SHIPPED"
	case progShipped:
		return "SHIPPED"
	case progPartDelivered:
		return "PARTIALLY_DELIVERED"
	case progDelivered:
		return "DELIVERED"
	case progRefunded:
		return "REFUNDED"
	}
	return open
}

// defaultSteps is the default script (mallsandbox README "Other orders"): accepted, then
// every line shipped in full, then every line delivered in full. Ids and times are filled
// when each step is produced.
func defaultSteps(c content) []orders.FulfilmentEvent {
	steps := []orders.FulfilmentEvent{{Type: orders.EventAccepted}}
	for _, l := range c.Lines {
		steps = append(steps, orders.FulfilmentEvent{Type: orders.EventShipped, LineNo: l.LineNo, Quantity: l.Quantity})
	}
	for _, l := range c.Lines {
		steps = append(steps, orders.FulfilmentEvent{Type: orders.EventDelivered, LineNo: l.LineNo, Quantity: l.Quantity})
	}
	return steps
}

// logisticsNo makes a stable carrier and waybill for a shipped event from its id, so a
// replayed event carries the same logistics_no every time.
func logisticsNo(eventID string) string {
	h := fnv.New64a()
	h.Write([]byte(eventID))
	return fmt.Sprintf("SF%012d", h.Sum64()%1_000_000_000_000)
}
