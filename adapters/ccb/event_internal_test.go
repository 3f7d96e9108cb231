package ccb

import (
	"strconv"
	"testing"

	"aidmall/orders"
)

// FuzzEventFields fuzzes the field rules shared by notifications and statements (what
// Verifier.Parse applies once a signature verifies): never a panic, and an accepted event
// is valid, carries its ids, has line 0 exactly when it is a whole-order event, and a refund
// amount only on refunds.
func FuzzEventFields(f *testing.F) {
	f.Add("N1", "order.delivered", "AM1", "CCB1", "1", "20", "", "2019-03-14 15:59:58", "")
	f.Add("N2", "order.refunded", "AM1", "CCB1", "1", "6", "408.00", "2019-01-08 10:12:45", "")
	f.Add("N3", "order.accepted", "AM1", "CCB1", "", "", "", "2019-01-08 10:12:45", "")
	f.Add("N4", "order.shipped", "AM1", "CCB1", "2", "5", "", "2019-02-29 10:12:45", "SF1")
	f.Add("N5", "order.refunded", "AM1", "", "9223372036854775808", "+1", "1e3", "2019-01-08 1:2:3", "")
	f.Fuzz(func(t *testing.T, id, typ, out, mall, line, qty, amount, occurred, logistics string) {
		r := rawEvent{NotifyID: id, NotifyType: typ, OutOrderNo: out, MallOrderNo: mall,
			LineNo: line, Quantity: qty, Amount: amount, OccurredAt: occurred, LogisticsNo: logistics}
		ev, ferr := r.event("notify")
		if ferr != nil {
			if ferr.field == "" || ferr.reason == "" {
				t.Fatalf("field error without a field or reason: %+v", ferr)
			}
			return
		}
		if err := ev.Validate(); err != nil {
			t.Fatalf("accepted an invalid event %+v: %v", ev, err)
		}
		if string(ev.EventID) != id || string(ev.OutOrderNo) != out || ev.MallOrderNo != mall {
			t.Fatalf("ids changed: %+v", ev)
		}
		whole := ev.Type == orders.EventAccepted || ev.Type == orders.EventCancelled
		if whole != (ev.LineNo == 0) {
			t.Fatalf("line %d on a %s event", ev.LineNo, ev.Type)
		}
		if !whole && strconv.Itoa(ev.LineNo) != line {
			t.Fatalf("line %d from %q", ev.LineNo, line)
		}
		if ev.RefundFen != 0 && ev.Type != orders.EventRefunded {
			t.Fatalf("refund amount on a %s event", ev.Type)
		}
		if _, off := ev.OccurredAt.Zone(); off != 8*3600 || ev.OccurredAt.Format(TimeLayout) != occurred {
			t.Fatalf("occurred_at %v from %q", ev.OccurredAt, occurred)
		}
	})
}
