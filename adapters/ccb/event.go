package ccb

import (
	"fmt"
	"time"

	"aidmall/bizday"
	"aidmall/malls"
	"aidmall/money"
	"aidmall/orders"
)

// notifyTypes maps the spec's notify_type values ("Notifications") to mall-neutral types.
var notifyTypes = map[string]orders.EventType{
	"order.accepted":  orders.EventAccepted,
	"order.shipped":   orders.EventShipped,
	"order.delivered": orders.EventDelivered,
	"order.refunded":  orders.EventRefunded,
	"order.cancelled": orders.EventCancelled,
}

// rawEvent is one event's fields as text, named as in the notification form; the statement
// has the same fields under Chinese headers (ccb-mall.md, "Daily statement").
type rawEvent struct {
	NotifyID, NotifyType, OutOrderNo, MallOrderNo string
	LineNo, Quantity, Amount, OccurredAt          string
	LogisticsNo                                   string
}

// fieldError names the notification parameter that is wrong and why.
type fieldError struct{ field, reason string }

func (e *fieldError) Error() string { return e.field + ": " + e.reason }

// event converts r into a FulfilmentEvent of the CCB mall with the given source. Whole-order
// events (accepted, cancelled) get line 0 and quantity 0 whatever r carries; line events
// need a positive line_no; shipped and delivered need a positive quantity; refunded needs
// a positive yuan amount. occurred_at is read as Beijing time (TimeLayout).
func (r rawEvent) event(source string) (orders.FulfilmentEvent, *fieldError) {
	ev := orders.FulfilmentEvent{
		Mall:        Code,
		EventID:     orders.MallEventID(r.NotifyID),
		OutOrderNo:  orders.OutOrderNo(r.OutOrderNo),
		MallOrderNo: r.MallOrderNo,
		Source:      source,
	}
	if r.NotifyID == "" {
		return ev, &fieldError{"notify_id", "missing"}
	}
	for _, f := range []struct{ name, v string }{{"notify_id", r.NotifyID}, {"out_order_no", r.OutOrderNo},
		{"mall_order_no", r.MallOrderNo}, {"logistics_no", r.LogisticsNo}} {
		if why := malls.BadID(f.v); why != "" {
			return ev, &fieldError{f.name, why}
		}
	}
	typ, ok := notifyTypes[r.NotifyType]
	if !ok {
		if r.NotifyType == "" {
			return ev, &fieldError{"notify_type", "missing"}
		}
		return ev, &fieldError{"notify_type", fmt.Sprintf("unknown type %q", r.NotifyType)}
	}
	ev.Type = typ
	if r.OutOrderNo == "" {
		return ev, &fieldError{"out_order_no", "missing"}
	}
	t, err := parseTime(r.OccurredAt)
	if err != nil {
		return ev, &fieldError{"occurred_at", err.Error()}
	}
	ev.OccurredAt = t

	switch typ {
	case orders.EventAccepted, orders.EventCancelled:
		// Whole-order events carry no line (the spec omits line_no); anything sent is ignored.
		return ev, nil
	}
	if r.LineNo == "" {
		return ev, &fieldError{"line_no", fmt.Sprintf("missing on %s", r.NotifyType)}
	}
	n, ok := parseCount(r.LineNo)
	if !ok || n == 0 || n > 1<<31-1 {
		return ev, &fieldError{"line_no", fmt.Sprintf("%q is not a positive whole number", r.LineNo)}
	}
	ev.LineNo = int(n)
	if r.Quantity != "" {
		q, ok := parseCount(r.Quantity)
		if !ok {
			return ev, &fieldError{"quantity", fmt.Sprintf("%q is not a count of units (a whole number, 0 or more)", r.Quantity)}
		}
		ev.Quantity = q
	}
	if (typ == orders.EventShipped || typ == orders.EventDelivered) && ev.Quantity <= 0 {
		return ev, &fieldError{"quantity", fmt.Sprintf("missing or zero on %s", r.NotifyType)}
	}
	switch typ {
	case orders.EventShipped:
		ev.LogisticsNo = r.LogisticsNo
	case orders.EventRefunded:
		if r.Amount == "" {
			return ev, &fieldError{"amount", "missing on order.refunded"}
		}
		f, err := money.ParseYuan(r.Amount)
		if err != nil || f <= 0 {
			return ev, &fieldError{"amount", fmt.Sprintf("%q is not a positive yuan amount", r.Amount)}
		}
		ev.RefundFen = f
	}
	if err := ev.Validate(); err != nil {
		return ev, &fieldError{"event", err.Error()}
	}
	return ev, nil
}

// parseTime reads `yyyy-MM-dd HH:mm:ss` as Beijing time (exactly 19 characters).
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("missing")
	}
	t, err := time.ParseInLocation(TimeLayout, s, bizday.Beijing)
	if err != nil || len(s) != len(TimeLayout) {
		return time.Time{}, fmt.Errorf("%q is not yyyy-MM-dd HH:mm:ss", s)
	}
	return t, nil
}

// parseCount reads a non-negative decimal integer made of ASCII digits only (no sign, no
// spaces) that fits in int64.
func parseCount(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
