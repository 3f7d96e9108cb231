package orders_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"aidmall/orders"
)

// delivered is a valid line event as the CCB adapter would produce it.
func delivered() orders.FulfilmentEvent {
	return orders.FulfilmentEvent{
		Mall: mallCCB, EventID: "N20191125000001", Type: orders.EventDelivered,
		OutOrderNo: "AM20191120100000000042", MallOrderNo: "CCB20191120000163",
		LineNo: 1, Quantity: 20, OccurredAt: time.Date(2019, 11, 25, 9, 0, 0, 0, time.UTC),
		Source: "notify",
	}
}

func TestFulfilmentEventValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		edit    func(*orders.FulfilmentEvent)
		wantErr string // a fragment naming the rule; "" = valid
	}{
		{"delivered_line_event_is_valid", func(*orders.FulfilmentEvent) {}, ""},
		{"abc_event_is_valid", func(e *orders.FulfilmentEvent) { e.Mall = mallABC }, ""},
		{"shipped_with_waybill_is_valid", func(e *orders.FulfilmentEvent) { e.Type = orders.EventShipped; e.LogisticsNo = "SF1234567890" }, ""},
		{"accepted_whole_order_event_is_valid", func(e *orders.FulfilmentEvent) { e.Type = orders.EventAccepted; e.LineNo = 0; e.Quantity = 0 }, ""},
		{"cancelled_whole_order_event_is_valid", func(e *orders.FulfilmentEvent) { e.Type = orders.EventCancelled; e.LineNo = 0; e.Quantity = 0 }, ""},
		{"refund_with_quantity_and_amount_is_valid", func(e *orders.FulfilmentEvent) { e.Type = orders.EventRefunded; e.Quantity = 2; e.RefundFen = 13600 }, ""},
		{"refund_of_amount_only_is_valid", func(e *orders.FulfilmentEvent) { e.Type = orders.EventRefunded; e.Quantity = 0; e.RefundFen = 500 }, ""},
		{"missing_mall", func(e *orders.FulfilmentEvent) { e.Mall = "" }, "unknown mall"},
		{"auto_is_not_a_mall", func(e *orders.FulfilmentEvent) { e.Mall = orders.MallAuto }, "unknown mall"},
		{"missing_event_id", func(e *orders.FulfilmentEvent) { e.EventID = "" }, "missing event id"},
		{"unknown_type", func(e *orders.FulfilmentEvent) { e.Type = "returned" }, "unknown event type"},
		{"missing_type", func(e *orders.FulfilmentEvent) { e.Type = "" }, "unknown event type"},
		{"missing_out_order_no", func(e *orders.FulfilmentEvent) { e.OutOrderNo = "" }, "missing out_order_no"},
		{"missing_occurred_at", func(e *orders.FulfilmentEvent) { e.OccurredAt = time.Time{} }, "missing occurred_at"},
		{"shipped_without_line", func(e *orders.FulfilmentEvent) { e.Type = orders.EventShipped; e.LineNo = 0 }, "needs a line number"},
		{"delivered_without_line", func(e *orders.FulfilmentEvent) { e.LineNo = 0 }, "needs a line number"},
		{"refunded_with_negative_line", func(e *orders.FulfilmentEvent) { e.Type = orders.EventRefunded; e.LineNo = -1; e.RefundFen = 100 }, "needs a line number"},
		{"shipped_without_quantity", func(e *orders.FulfilmentEvent) { e.Type = orders.EventShipped; e.Quantity = 0 }, "needs a positive quantity"},
		{"delivered_without_quantity", func(e *orders.FulfilmentEvent) { e.Quantity = 0 }, "needs a positive quantity"},
		{"delivered_negative_quantity", func(e *orders.FulfilmentEvent) { e.Quantity = -3 }, "needs a positive quantity"},
		{"refund_of_negative_quantity", func(e *orders.FulfilmentEvent) { e.Type = orders.EventRefunded; e.Quantity = -1; e.RefundFen = 100 }, "negative quantity"},
		{"negative_refund_amount", func(e *orders.FulfilmentEvent) { e.Type = orders.EventRefunded; e.RefundFen = -6800 }, "negative refund amount"},
		{"negative_refund_amount_on_delivery", func(e *orders.FulfilmentEvent) { e.RefundFen = -1 }, "negative refund amount"},
		{"refund_without_amount", func(e *orders.FulfilmentEvent) { e.Type = orders.EventRefunded; e.RefundFen = 0 }, "refund without an amount"},
		{"first_problem_is_named", func(e *orders.FulfilmentEvent) { e.EventID = ""; e.OutOrderNo = "" }, "missing event id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := delivered()
			tc.edit(&e)
			err := e.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, orders.ErrInvalid) {
				t.Fatalf("Validate = %v, want ErrInvalid", err)
			}
			// Only an adapter that has verified the mall's signature may call an event
			// unreadable (it is then kept and acknowledged); Validate alone never does.
			if errors.Is(err, orders.ErrUnreadableEvent) {
				t.Fatalf("Validate = %v, must not wrap ErrUnreadableEvent", err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate = %q, want it to say %q", err, tc.wantErr)
			}
		})
	}
}

func TestEventTypeMovesMoney(t *testing.T) {
	t.Parallel()
	// ATTRIBUTION.md §1.1: only delivered and refunded events enter the ledger.
	want := map[orders.EventType]bool{
		orders.EventAccepted: false, orders.EventShipped: false, orders.EventDelivered: true, orders.EventRefunded: true, orders.EventCancelled: false,
	}
	for typ, moves := range want {
		if !typ.Valid() {
			t.Errorf("%s is not Valid", typ)
		}
		if got := typ.MovesMoney(); got != moves {
			t.Errorf("%s.MovesMoney() = %v, want %v", typ, got, moves)
		}
	}
	if orders.EventType("returned").Valid() || orders.EventType("").Valid() {
		t.Error("unknown event types are Valid")
	}
}

// A copy of an event is told from an event id used again with other content: the
// substance of the event counts, not how or when the mall sent it.
func TestFulfilmentEventDifferences(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*orders.FulfilmentEvent)
		want []string // fragments of the answer; none: a true copy
	}{
		{"a_true_copy", func(*orders.FulfilmentEvent) {}, nil},
		{"sent_again_by_statement", func(e *orders.FulfilmentEvent) { e.Source = "statement" }, nil},
		{"same_instant_in_another_zone", func(e *orders.FulfilmentEvent) {
			e.OccurredAt = e.OccurredAt.In(time.FixedZone("CST", 8*3600))
		}, nil},
		{"waybill_added_later", func(e *orders.FulfilmentEvent) { e.LogisticsNo = "SF1234567890" }, nil},
		{"other_quantity", func(e *orders.FulfilmentEvent) { e.Quantity = 25 }, []string{"quantity 25 (recorded: 20)"}},
		{"other_type", func(e *orders.FulfilmentEvent) { e.Type = orders.EventShipped }, []string{"type shipped (recorded: delivered)"}},
		{"other_line", func(e *orders.FulfilmentEvent) { e.LineNo = 2 }, []string{"line_no 2 (recorded: 1)"}},
		{"other_mall_order_no", func(e *orders.FulfilmentEvent) { e.MallOrderNo = "CCB20191120000999" }, []string{"mall_order_no CCB20191120000999 (recorded: CCB20191120000163)"}},
		{"other_refund", func(e *orders.FulfilmentEvent) { e.RefundFen = 1250 }, []string{"refund_amount 12.50 (recorded: 0.00)"}},
		{"other_day", func(e *orders.FulfilmentEvent) { e.OccurredAt = e.OccurredAt.Add(24 * time.Hour) }, []string{"occurred_at 2019-11-26T17:00:00+08:00 (recorded: 2019-11-25T17:00:00+08:00)"}},
		{"two_fields", func(e *orders.FulfilmentEvent) { e.Quantity = 1; e.LineNo = 3 }, []string{"line_no 3", "; quantity 1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			recorded, e := delivered(), delivered()
			tc.edit(&e)
			got := e.Differences(recorded)
			if len(tc.want) == 0 && got != "" {
				t.Fatalf("a copy differs: %q", got)
			}
			if len(tc.want) > 0 && got == "" {
				t.Fatalf("no difference found, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("differences %q, want %q in it", got, w)
				}
			}
		})
	}
}
