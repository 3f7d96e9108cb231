package attribution

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"aidmall/bizday"
	"aidmall/households"
	"aidmall/money"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// link is a linkage of supplier S1; to "" is open-ended.
func link(h, weight, from, to string) households.Linkage {
	l := households.Linkage{
		SupplierCode: "S1", HouseholdNo: households.HouseholdNo(h), Type: households.LinkProducePurchase,
		Weight: decimal.RequireFromString(weight), ValidFrom: bizday.MustParse(from),
	}
	if to != "" {
		l.ValidTo = bizday.MustParse(to)
	}
	return l
}

func delivered(id, when string, q int64) Event {
	return Event{ID: id, Type: Delivered, OccurredAt: at(when), Quantity: q}
}

func refunded(id, when string, fen money.Fen) Event {
	return Event{ID: id, Type: Refunded, OccurredAt: at(when), Quantity: 1, RefundFen: fen}
}

func entry(id, h, day string, amount money.Fen) Entry {
	return Entry{EventID: id, HouseholdNo: households.HouseholdNo(h), Day: bizday.MustParse(day), Amount: amount}
}

// threeEqual is the supplier of ATTRIBUTION.md §4: H001, H002, H003, weight 1 each.
func threeEqual() []households.Linkage {
	return []households.Linkage{
		link("H001", "1", "2019-01-01", ""),
		link("H002", "1", "2019-01-01", ""),
		link("H003", "1", "2019-01-01", ""),
	}
}

func TestWorkOut(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		line    Line
		events  []Event
		entries []Entry
		held    []Held
		qty     int64
		dFen    money.Fen
		rFen    money.Fen
	}{
		{
			name: "worked_example_680_yuan_then_refund_of_68",
			line: Line{Quantity: 10, UnitPrice: 6800, Linkages: threeEqual()},
			events: []Event{
				refunded("R1", "2019-06-01T10:00:00+08:00", 6800),
				delivered("D1", "2019-05-10T10:00:00+08:00", 10),
			},
			entries: []Entry{
				entry("D1", "H001", "2019-05-10", 22667), entry("D1", "H002", "2019-05-10", 22667),
				entry("D1", "H003", "2019-05-10", 22666),
				entry("R1", "H001", "2019-06-01", -2267), entry("R1", "H002", "2019-06-01", -2267),
				entry("R1", "H003", "2019-06-01", -2266),
			},
			qty: 10, dFen: 68000, rFen: 6800,
		},
		{
			name: "no_active_linkage_goes_unattributed",
			line: Line{Quantity: 10, UnitPrice: 6800, Linkages: []households.Linkage{
				link("H001", "1", "2018-01-01", "2019-01-01"),
			}},
			events:  []Event{delivered("D1", "2019-05-10T10:00:00+08:00", 2)},
			entries: []Entry{entry("D1", "", "2019-05-10", 13600)},
			qty:     2, dFen: 13600,
		},
		{
			name: "linkage_starting_on_the_event_day_takes_part",
			line: Line{Quantity: 10, UnitPrice: 6800, Linkages: []households.Linkage{
				link("H001", "1", "2019-05-10", ""),
				link("H002", "1", "2019-01-01", ""),
			}},
			events: []Event{delivered("D1", "2019-05-10T00:00:00+08:00", 1)},
			entries: []Entry{
				entry("D1", "H001", "2019-05-10", 3400), entry("D1", "H002", "2019-05-10", 3400),
			},
			qty: 1, dFen: 6800,
		},
		{
			name: "linkage_ending_on_the_event_day_takes_no_part",
			line: Line{Quantity: 10, UnitPrice: 6800, Linkages: []households.Linkage{
				link("H001", "1", "2019-01-01", "2019-05-10"),
				link("H002", "1", "2019-01-01", ""),
			}},
			events: []Event{
				delivered("D1", "2019-05-09T23:59:59+08:00", 1),
				delivered("D2", "2019-05-10T00:00:00+08:00", 1),
			},
			entries: []Entry{
				entry("D1", "H001", "2019-05-09", 3400), entry("D1", "H002", "2019-05-09", 3400),
				entry("D2", "H002", "2019-05-10", 6800),
			},
			qty: 2, dFen: 13600,
		},
		{
			// W = 1 + 0.5 + 1 = 2.5: H001 6800·1.5/2.5 = 4080, H002 2720, one entry each.
			name: "household_with_two_active_linkages_counts_once_with_summed_weight",
			line: Line{Quantity: 10, UnitPrice: 6800, Linkages: []households.Linkage{
				link("H001", "1", "2019-01-01", ""),
				{SupplierCode: "S1", HouseholdNo: "H001", Type: households.LinkShareholding,
					Weight: decimal.RequireFromString("0.5"), ValidFrom: bizday.MustParse("2019-01-01")},
				link("H002", "1", "2019-01-01", ""),
			}},
			events: []Event{delivered("D1", "2019-05-10T10:00:00+08:00", 1)},
			entries: []Entry{
				entry("D1", "H001", "2019-05-10", 4080), entry("D1", "H002", "2019-05-10", 2720),
			},
			qty: 1, dFen: 6800,
		},
		{
			// 33.33, 33.33, 33.34 fen: 1 fen left goes to the largest fraction, H003.
			name: "four_decimal_weights",
			line: Line{Quantity: 10, UnitPrice: 100, Linkages: []households.Linkage{
				link("H001", "0.3333", "2019-01-01", ""),
				link("H002", "0.3333", "2019-01-01", ""),
				link("H003", "0.3334", "2019-01-01", ""),
			}},
			events: []Event{delivered("D1", "2019-05-10T10:00:00+08:00", 1)},
			entries: []Entry{
				entry("D1", "H001", "2019-05-10", 33), entry("D1", "H002", "2019-05-10", 33),
				entry("D1", "H003", "2019-05-10", 34),
			},
			qty: 1, dFen: 100,
		},
		{
			name: "linkage_with_zero_weight_takes_no_part",
			line: Line{Quantity: 10, UnitPrice: 100, Linkages: []households.Linkage{
				link("H001", "0", "2019-01-01", ""),
				link("H002", "1", "2019-01-01", ""),
			}},
			events:  []Event{delivered("D1", "2019-05-10T10:00:00+08:00", 1)},
			entries: []Entry{entry("D1", "H002", "2019-05-10", 100)},
			qty:     1, dFen: 100,
		},
		{
			// 16:30Z is 00:30 on April 1 in Beijing; 15:59:59Z is still March 31.
			name: "utc_instants_near_midnight_take_the_beijing_day",
			line: Line{Quantity: 10, UnitPrice: 6800, Linkages: []households.Linkage{
				link("H001", "1", "2019-04-01", ""),
			}},
			events: []Event{
				delivered("D1", "2019-03-31T16:30:00Z", 1),
				delivered("D2", "2019-03-31T15:59:59Z", 1),
			},
			entries: []Entry{
				entry("D2", "", "2019-03-31", 6800),
				entry("D1", "H001", "2019-04-01", 6800),
			},
			qty: 2, dFen: 13600,
		},
		{
			// 00:30+09:00 on April 1 is 23:30 on March 31 in Beijing; 12:30-04:00 on March 31
			// is 00:30 on April 1 in Beijing.
			name: "other_zones_near_midnight_take_the_beijing_day",
			line: Line{Quantity: 10, UnitPrice: 6800, Linkages: []households.Linkage{
				link("H001", "1", "2019-04-01", ""),
			}},
			events: []Event{
				delivered("D1", "2019-04-01T00:30:00+09:00", 1),
				delivered("D2", "2019-03-31T12:30:00-04:00", 1),
			},
			entries: []Entry{
				entry("D1", "", "2019-03-31", 6800),
				entry("D2", "H001", "2019-04-01", 6800),
			},
			qty: 2, dFen: 13600,
		},
		{
			name: "refund_beyond_delivered_is_held",
			line: Line{Quantity: 10, UnitPrice: 6800, Linkages: threeEqual()},
			events: []Event{
				delivered("D1", "2019-05-10T10:00:00+08:00", 1),
				refunded("R1", "2019-06-01T10:00:00+08:00", 6801),
			},
			entries: []Entry{
				entry("D1", "H001", "2019-05-10", 2267), entry("D1", "H002", "2019-05-10", 2267),
				entry("D1", "H003", "2019-05-10", 2266),
			},
			held: []Held{{EventID: "R1", Reason: ReasonRefundExceedsDelivered}},
			qty:  1, dFen: 6800,
		},
		{
			name: "refund_equal_to_net_applies_and_the_next_one_is_held",
			line: Line{Quantity: 10, UnitPrice: 6800, Linkages: threeEqual()},
			events: []Event{
				delivered("D1", "2019-05-10T10:00:00+08:00", 1),
				refunded("R1", "2019-06-01T10:00:00+08:00", 6800),
				refunded("R2", "2019-06-02T10:00:00+08:00", 1),
			},
			entries: []Entry{
				entry("D1", "H001", "2019-05-10", 2267), entry("D1", "H002", "2019-05-10", 2267),
				entry("D1", "H003", "2019-05-10", 2266),
				entry("R1", "H001", "2019-06-01", -2267), entry("R1", "H002", "2019-06-01", -2267),
				entry("R1", "H003", "2019-06-01", -2266),
			},
			held: []Held{{EventID: "R2", Reason: ReasonRefundExceedsDelivered}},
			qty:  1, dFen: 6800, rFen: 6800,
		},
		{
			// Order is by occurred_at, not by position in the input.
			name: "refund_occurring_before_any_delivery_is_held",
			line: Line{Quantity: 10, UnitPrice: 100, Linkages: threeEqual()[:1]},
			events: []Event{
				delivered("D1", "2019-05-02T10:00:00+08:00", 1),
				refunded("R1", "2019-05-01T10:00:00+08:00", 50),
			},
			entries: []Entry{entry("D1", "H001", "2019-05-02", 100)},
			held:    []Held{{EventID: "R1", Reason: ReasonRefundExceedsDelivered}},
			qty:     1, dFen: 100,
		},
		{
			// 13600 → 4534, 4533, 4533 (tie to H001). Refund of 100 fen for "5 units":
			// 33.338, 33.331, 33.331 → 33 each and 1 fen to H001.
			name: "refund_compares_money_not_quantity",
			line: Line{Quantity: 10, UnitPrice: 6800, Linkages: threeEqual()},
			events: []Event{
				delivered("D1", "2019-05-10T10:00:00+08:00", 2),
				{ID: "R1", Type: Refunded, OccurredAt: at("2019-06-01T10:00:00+08:00"), Quantity: 5, RefundFen: 100},
			},
			entries: []Entry{
				entry("D1", "H001", "2019-05-10", 4534), entry("D1", "H002", "2019-05-10", 4533),
				entry("D1", "H003", "2019-05-10", 4533),
				entry("R1", "H001", "2019-06-01", -34), entry("R1", "H002", "2019-06-01", -33),
				entry("R1", "H003", "2019-06-01", -33),
			},
			qty: 2, dFen: 13600, rFen: 100,
		},
		{
			// Nets H001 500, H002 500, unattributed 1000; 1001 fen → 250.25, 250.25, 500.5:
			// the leftover fen goes to the unattributed part's larger fraction.
			name: "refund_split_over_households_and_unattributed",
			line: Line{Quantity: 10, UnitPrice: 1000, Linkages: []households.Linkage{
				link("H001", "1", "2019-01-01", "2019-06-01"),
				link("H002", "1", "2019-01-01", "2019-06-01"),
			}},
			events: []Event{
				delivered("D1", "2019-05-10T10:00:00+08:00", 1),
				delivered("D2", "2019-06-10T10:00:00+08:00", 1),
				refunded("R1", "2019-07-01T10:00:00+08:00", 1001),
			},
			entries: []Entry{
				entry("D1", "H001", "2019-05-10", 500), entry("D1", "H002", "2019-05-10", 500),
				entry("D2", "", "2019-06-10", 1000),
				entry("R1", "H001", "2019-07-01", -250), entry("R1", "H002", "2019-07-01", -250),
				entry("R1", "", "2019-07-01", -501),
			},
			qty: 2, dFen: 2000, rFen: 1001,
		},
		{
			// Nets H001 1000, unattributed 1000; 1 fen → 0.5 each: the household wins the tie,
			// and the unattributed part's zero share is not emitted.
			name: "refund_tie_goes_to_household_before_unattributed",
			line: Line{Quantity: 10, UnitPrice: 1000, Linkages: []households.Linkage{
				link("H001", "1", "2019-01-01", "2019-06-01"),
			}},
			events: []Event{
				delivered("D1", "2019-05-10T10:00:00+08:00", 1),
				delivered("D2", "2019-06-10T10:00:00+08:00", 1),
				refunded("R1", "2019-07-01T10:00:00+08:00", 1),
			},
			entries: []Entry{
				entry("D1", "H001", "2019-05-10", 1000),
				entry("D2", "", "2019-06-10", 1000),
				entry("R1", "H001", "2019-07-01", -1),
			},
			qty: 2, dFen: 2000, rFen: 1,
		},
		{
			// After R1 H001's net is 1000, H002's 1000: R2 splits 1:1, not 2:1 as the gross
			// deliveries would.
			name: "refund_is_proportional_to_nets_after_earlier_refunds",
			line: Line{Quantity: 10, UnitPrice: 1000, Linkages: []households.Linkage{
				link("H001", "1", "2019-01-01", "2019-06-01"),
				link("H002", "1", "2019-06-01", ""),
			}},
			events: []Event{
				delivered("D1", "2019-05-10T10:00:00+08:00", 2),
				refunded("R1", "2019-05-20T10:00:00+08:00", 1000),
				delivered("D2", "2019-06-10T10:00:00+08:00", 1),
				refunded("R2", "2019-07-01T10:00:00+08:00", 2000),
			},
			entries: []Entry{
				entry("D1", "H001", "2019-05-10", 2000),
				entry("R1", "H001", "2019-05-20", -1000),
				entry("D2", "H002", "2019-06-10", 1000),
				entry("R2", "H001", "2019-07-01", -1000), entry("R2", "H002", "2019-07-01", -1000),
			},
			qty: 3, dFen: 3000, rFen: 3000,
		},
		{
			name: "refund_does_not_look_up_linkages_again",
			line: Line{Quantity: 10, UnitPrice: 6800, Linkages: []households.Linkage{
				link("H001", "1", "2019-01-01", "2019-06-01"),
				link("H002", "1", "2019-06-01", ""),
			}},
			events: []Event{
				delivered("D1", "2019-05-10T10:00:00+08:00", 1),
				refunded("R1", "2019-06-10T10:00:00+08:00", 6800),
			},
			entries: []Entry{
				entry("D1", "H001", "2019-05-10", 6800),
				entry("R1", "H001", "2019-06-10", -6800),
			},
			qty: 1, dFen: 6800, rFen: 6800,
		},
		{
			name: "delivery_beyond_ordered_is_held_and_a_later_one_that_fits_applies",
			line: Line{Quantity: 10, UnitPrice: 100, Linkages: threeEqual()[:1]},
			events: []Event{
				delivered("D1", "2019-05-01T10:00:00+08:00", 8),
				delivered("D2", "2019-05-02T10:00:00+08:00", 5),
				delivered("D3", "2019-05-03T10:00:00+08:00", 2),
			},
			entries: []Entry{
				entry("D1", "H001", "2019-05-01", 800),
				entry("D3", "H001", "2019-05-03", 200),
			},
			held: []Held{{EventID: "D2", Reason: ReasonDeliveryExceedsOrdered}},
			qty:  10, dFen: 1000,
		},
		{
			name: "refunds_do_not_lower_the_delivered_quantity",
			line: Line{Quantity: 2, UnitPrice: 100, Linkages: threeEqual()[:1]},
			events: []Event{
				delivered("D1", "2019-05-01T10:00:00+08:00", 2),
				refunded("R1", "2019-05-02T10:00:00+08:00", 200),
				delivered("D2", "2019-05-03T10:00:00+08:00", 1),
			},
			entries: []Entry{
				entry("D1", "H001", "2019-05-01", 200),
				entry("R1", "H001", "2019-05-02", -200),
			},
			held: []Held{{EventID: "D2", Reason: ReasonDeliveryExceedsOrdered}},
			qty:  2, dFen: 200, rFen: 200,
		},
		{
			// The same instant written in two zones: E1 (the refund) comes first and is held.
			name: "equal_instants_are_ordered_by_event_id_refund_first",
			line: Line{Quantity: 10, UnitPrice: 100, Linkages: threeEqual()[:1]},
			events: []Event{
				delivered("E2", "2019-05-10T10:00:00+08:00", 1),
				refunded("E1", "2019-05-10T02:00:00Z", 100),
			},
			entries: []Entry{entry("E2", "H001", "2019-05-10", 100)},
			held:    []Held{{EventID: "E1", Reason: ReasonRefundExceedsDelivered}},
			qty:     1, dFen: 100,
		},
		{
			name: "equal_instants_are_ordered_by_event_id_delivery_first",
			line: Line{Quantity: 10, UnitPrice: 100, Linkages: threeEqual()[:1]},
			events: []Event{
				refunded("E2", "2019-05-10T02:00:00Z", 100),
				delivered("E1", "2019-05-10T10:00:00+08:00", 1),
			},
			entries: []Entry{
				entry("E1", "H001", "2019-05-10", 100),
				entry("E2", "H001", "2019-05-10", -100),
			},
			qty: 1, dFen: 100, rFen: 100,
		},
		{
			name: "events_that_move_no_money_are_ignored",
			line: Line{Quantity: 1, UnitPrice: 100, Linkages: threeEqual()[:1]},
			events: []Event{
				{ID: "A1", Type: EventType("accepted"), OccurredAt: at("2019-05-01T10:00:00+08:00")},
				{ID: "S1", Type: EventType("shipped"), OccurredAt: at("2019-05-02T10:00:00+08:00"), Quantity: 1},
				{ID: "C1", Type: EventType("cancelled"), OccurredAt: at("2019-05-03T10:00:00+08:00"), Quantity: 1, RefundFen: 100},
				delivered("D1", "2019-05-04T10:00:00+08:00", 1),
			},
			entries: []Entry{entry("D1", "H001", "2019-05-04", 100)},
			qty:     1, dFen: 100,
		},
		{
			name: "the_same_event_twice_has_effect_once",
			line: Line{Quantity: 10, UnitPrice: 100, Linkages: threeEqual()[:1]},
			events: []Event{
				delivered("D1", "2019-05-04T10:00:00+08:00", 1),
				delivered("D1", "2019-05-04T10:00:00+08:00", 1),
			},
			entries: []Entry{entry("D1", "H001", "2019-05-04", 100)},
			qty:     1, dFen: 100,
		},
		{
			name: "zero_quantity_delivery_and_zero_refund_move_nothing_and_are_not_held",
			line: Line{Quantity: 10, UnitPrice: 100, Linkages: threeEqual()[:1]},
			events: []Event{
				delivered("D1", "2019-05-04T10:00:00+08:00", 0),
				refunded("R1", "2019-05-05T10:00:00+08:00", 0),
			},
		},
		{
			name: "zero_shares_are_not_emitted",
			line: Line{Quantity: 10, UnitPrice: 1, Linkages: threeEqual()},
			events: []Event{
				delivered("D1", "2019-05-04T10:00:00+08:00", 1),
			},
			entries: []Entry{entry("D1", "H001", "2019-05-04", 1)},
			qty:     1, dFen: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := WorkOut(tc.line, tc.events)
			want := Outcome{Entries: tc.entries, Held: tc.held, DeliveredQty: tc.qty, DeliveredFen: tc.dFen, RefundedFen: tc.rFen}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("WorkOut:\n got  %+v\n want %+v", got, want)
			}
			checkOutcome(t, tc.line, tc.events, got)
		})
	}
}

func TestWorkOutLateEvents(t *testing.T) {
	t.Parallel()
	line := Line{Quantity: 10, UnitPrice: 6800, Linkages: threeEqual()}
	d1 := delivered("D1", "2019-05-10T10:00:00+08:00", 1)
	r1 := refunded("R1", "2019-06-01T10:00:00+08:00", 10000)

	t.Run("held_refund_applies_once_an_earlier_delivery_covers_it", func(t *testing.T) {
		t.Parallel()
		before := WorkOut(line, []Event{d1, r1})
		if !slices.Equal(before.Held, []Held{{"R1", ReasonRefundExceedsDelivered}}) {
			t.Fatalf("R1 should be held on {D1, R1}: %+v", before.Held)
		}
		after := WorkOut(line, []Event{d1, r1, delivered("D0", "2019-05-01T10:00:00+08:00", 1)})
		if len(after.Held) != 0 || after.RefundedFen != 10000 {
			t.Fatalf("R1 should apply once D0 (13600 fen before it) is in the set: %+v", after)
		}
	})
	t.Run("a_later_delivery_does_not_cover_an_earlier_refund", func(t *testing.T) {
		t.Parallel()
		got := WorkOut(line, []Event{d1, r1, delivered("D2", "2019-07-01T10:00:00+08:00", 5)})
		if !slices.Equal(got.Held, []Held{{"R1", ReasonRefundExceedsDelivered}}) || got.RefundedFen != 0 {
			t.Fatalf("R1 occurs before D2 and must stay held: %+v", got)
		}
	})
	t.Run("late_earlier_delivery_takes_the_quantity_and_the_later_one_is_held", func(t *testing.T) {
		t.Parallel()
		d2 := delivered("D2", "2019-06-01T10:00:00+08:00", 6)
		got := WorkOut(line, []Event{d2, delivered("D1", "2019-05-01T10:00:00+08:00", 6)})
		if !slices.Equal(got.Held, []Held{{"D2", ReasonDeliveryExceedsOrdered}}) || got.DeliveredQty != 6 {
			t.Fatalf("D1 occurred first and applies, D2 is held: %+v", got)
		}
	})
}

// checkOutcome asserts the invariants every outcome keeps, derived from the rules rather
// than from expected numbers: each applied delivery's entries sum to q × price, each applied
// refund's to −R; entries carry the business day of their event; claimants' running nets
// never go negative; a delivery's households are those linked on its day.
func checkOutcome(t *testing.T, line Line, events []Event, o Outcome) {
	t.Helper()
	byID := map[string]Event{}
	for _, ev := range ordered(events) {
		byID[ev.ID] = ev
	}
	held := map[string]bool{}
	for _, h := range o.Held {
		held[h.EventID] = true
	}
	perEvent := map[string]money.Fen{}
	net := map[households.HouseholdNo]money.Fen{}
	var total money.Fen
	for _, e := range o.Entries {
		ev, ok := byID[e.EventID]
		if !ok || held[e.EventID] {
			t.Fatalf("entry %+v of an unknown or held event", e)
		}
		if e.Amount == 0 {
			t.Fatalf("zero entry %+v", e)
		}
		if e.Day != bizday.Of(ev.OccurredAt) {
			t.Fatalf("entry %+v: day should be %s", e, bizday.Of(ev.OccurredAt))
		}
		if ev.Type == Delivered && e.HouseholdNo != "" {
			linked := false
			for _, l := range line.Linkages {
				linked = linked || l.HouseholdNo == e.HouseholdNo && l.ActiveOn(e.Day) && l.Weight.Sign() > 0
			}
			if !linked {
				t.Fatalf("delivery entry %+v for a household not linked that day", e)
			}
		}
		perEvent[e.EventID] += e.Amount
		net[e.HouseholdNo] += e.Amount
		if net[e.HouseholdNo] < 0 {
			t.Fatalf("claimant %q goes below zero at %+v", e.HouseholdNo, e)
		}
		total += e.Amount
	}
	var qty int64
	var dFen, rFen money.Fen
	for id, ev := range byID {
		if held[id] {
			continue
		}
		switch {
		case ev.Type == Delivered && ev.Quantity > 0:
			qty += ev.Quantity
			dFen += money.Fen(ev.Quantity) * line.UnitPrice
			if perEvent[id] != money.Fen(ev.Quantity)*line.UnitPrice {
				t.Fatalf("delivery %s entries sum to %d, want %d", id, perEvent[id], money.Fen(ev.Quantity)*line.UnitPrice)
			}
		case ev.Type == Refunded && ev.RefundFen > 0:
			rFen += ev.RefundFen
			if perEvent[id] != -ev.RefundFen {
				t.Fatalf("refund %s entries sum to %d, want %d", id, perEvent[id], -ev.RefundFen)
			}
		}
	}
	if qty != o.DeliveredQty || dFen != o.DeliveredFen || rFen != o.RefundedFen {
		t.Fatalf("totals %d/%d/%d, applied events say %d/%d/%d", o.DeliveredQty, o.DeliveredFen, o.RefundedFen, qty, dFen, rFen)
	}
	if total != o.DeliveredFen-o.RefundedFen || o.DeliveredQty > line.Quantity {
		t.Fatalf("entries sum to %d, delivered %d − refunded %d; qty %d of %d", total, o.DeliveredFen, o.RefundedFen, o.DeliveredQty, line.Quantity)
	}
}

// randomLine builds a line and events from rng: a few households with overlapping,
// starting and ending linkages, events around Beijing midnight in several zones, duplicate
// ids, refunds that do and do not fit, deliveries beyond the ordered quantity.
func randomLine(rng *rand.Rand, nHouseholds, events int) (Line, []Event) {
	start := bizday.MustParse("2019-03-01")
	line := Line{Quantity: 1 + rng.Int64N(40), UnitPrice: money.Fen(1 + rng.Int64N(20000))}
	for i := range nHouseholds {
		from := start.AddDays(rng.IntN(20))
		l := link(fmt.Sprintf("%08d", i), "1", from.String(), "")
		l.Weight = decimal.New(1+rng.Int64N(30000), -int32(rng.IntN(5)))
		if rng.IntN(2) == 0 {
			l.ValidTo = from.AddDays(1 + rng.IntN(20))
		}
		line.Linkages = append(line.Linkages, l)
		if rng.IntN(4) == 0 { // a second linkage of the same household
			l2 := l
			l2.Type = households.LinkEmployment
			l2.ValidFrom = start.AddDays(rng.IntN(20))
			l2.ValidTo = bizday.Day{}
			line.Linkages = append(line.Linkages, l2)
		}
	}
	zones := []*time.Location{time.UTC, bizday.Beijing, time.FixedZone("x", -5*3600), time.FixedZone("y", 9*3600)}
	types := []EventType{Delivered, Delivered, Refunded, EventType("shipped")}
	evs := make([]Event, events)
	for i := range evs {
		ts := start.Start().Add(time.Duration(rng.IntN(40*24)) * time.Hour / 2).In(zones[rng.IntN(len(zones))])
		ev := Event{ID: fmt.Sprintf("E%03d", rng.IntN(events+events/4)), Type: types[rng.IntN(len(types))], OccurredAt: ts}
		if ev.Type == Refunded {
			ev.RefundFen = money.Fen(1 + rng.Int64N(int64(line.UnitPrice)*3))
		} else {
			ev.Quantity = 1 + rng.Int64N(line.Quantity/2+1)
		}
		evs[i] = ev
	}
	return line, evs
}

func TestWorkOutIsIndependentOfEventOrder(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		line, evs := randomLine(rng, 1+rng.IntN(8), 1+rng.IntN(30))
		want := WorkOut(line, evs)
		checkOutcome(t, line, evs, want)
		for range 5 {
			perm := slices.Clone(evs)
			rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
			if got := WorkOut(line, perm); !reflect.DeepEqual(got, want) {
				t.Fatalf("permuted events changed the outcome:\n got  %+v\n want %+v", got, want)
			}
		}
	}
}

// FuzzWorkOut checks that the outcome depends on the set of events only, and keeps the
// ledger invariants, for event lists decoded from data (7 bytes an event).
func FuzzWorkOut(f *testing.F) {
	f.Add(int64(10), int64(6800), []byte{0, 1, 10, 0, 3, 0, 0, 1, 2, 20, 0, 0, 40, 0})
	f.Add(int64(2), int64(100), []byte{0, 1, 0, 0, 2, 0, 0, 1, 1, 0, 0, 0, 200, 0, 0, 3, 0, 0, 1, 0, 0})
	f.Add(int64(5), int64(1), []byte{1, 0, 15, 59, 1, 1, 1, 0, 2, 15, 59, 2, 0, 0})
	f.Fuzz(func(t *testing.T, quantity, price int64, data []byte) {
		line := Line{Quantity: quantity % 1000, UnitPrice: money.Fen(price % 1_000_000), Linkages: []households.Linkage{
			link("H001", "1", "2019-03-02", ""),
			link("H002", "0.3333", "2019-03-01", "2019-03-03"),
			link("H002", "1.5", "2019-03-03", ""),
			link("H003", "2", "2019-03-01", "2019-03-02"),
		}}
		line.Quantity, line.UnitPrice = max(line.Quantity, -line.Quantity), max(line.UnitPrice, -line.UnitPrice)
		types := []EventType{Delivered, Refunded, EventType("shipped"), EventType("cancelled")}
		base := bizday.MustParse("2019-03-01").Start()
		var evs []Event
		for len(data) >= 7 && len(evs) < 64 {
			b := data[:7]
			data = data[7:]
			ev := Event{
				Type:       types[int(b[0])%len(types)],
				ID:         fmt.Sprintf("E%d", b[1]%16),
				OccurredAt: base.Add(time.Duration(b[2]%72)*time.Hour + time.Duration(b[3]%60)*time.Minute).In(time.FixedZone("z", (int(b[4])%27-12)*3600)),
				Quantity:   int64(b[5] % 8),
				RefundFen:  money.Fen(b[6]) * (line.UnitPrice/64 + 1),
			}
			evs = append(evs, ev)
		}
		want := WorkOut(line, evs)
		checkOutcome(t, line, evs, want)
		rev := slices.Clone(evs)
		slices.Reverse(rev)
		if got := WorkOut(line, rev); !reflect.DeepEqual(got, want) {
			t.Fatalf("reversed events changed the outcome:\n got  %+v\n want %+v", got, want)
		}
		rot := append(slices.Clone(evs[len(evs)/2:]), evs[:len(evs)/2]...)
		if got := WorkOut(line, rot); !reflect.DeepEqual(got, want) {
			t.Fatalf("rotated events changed the outcome:\n got  %+v\n want %+v", got, want)
		}
	})
}

func TestWorkOutPanicsOnImpossibleLines(t *testing.T) {
	t.Parallel()
	for _, line := range []Line{
		{Quantity: 1, UnitPrice: -1},
		{Quantity: 1 << 40, UnitPrice: 1 << 40},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("WorkOut(%+v) did not panic", line)
				}
			}()
			WorkOut(line, nil)
		}()
	}
}

// BenchmarkWorkOut works out a line with 200 events (deliveries and refunds over two
// months) and 300 linked households. Its baseline, measured in the same run after the
// timed loop over the same count: the same ledger with plain int64 arithmetic
// (plainWorkOut, checked first to give the same nets and entries), as bare-ns/op, and
// ratio = bare-ns/op ÷ ns/op (WorkOut's throughput as a share of the plain loop's).
func BenchmarkWorkOut(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	start := bizday.MustParse("2019-03-01")
	line := Line{Quantity: 1_000_000, UnitPrice: 6800}
	for i := range 300 {
		l := link(fmt.Sprintf("0825%07d", i), "1", start.AddDays(rng.IntN(30)).String(), "")
		l.Weight = decimal.New(1+rng.Int64N(30000), -4)
		if i%3 == 0 {
			l.ValidTo = l.ValidFrom.AddDays(10 + rng.IntN(30))
		}
		line.Linkages = append(line.Linkages, l)
	}
	evs := make([]Event, 200)
	for i := range evs {
		ts := start.Start().Add(time.Duration(rng.IntN(60*24)) * time.Hour)
		evs[i] = Event{ID: fmt.Sprintf("E%04d", i), Type: Delivered, OccurredAt: ts, Quantity: 1 + rng.Int64N(100)}
		if i%4 == 3 {
			evs[i] = Event{ID: evs[i].ID, Type: Refunded, OccurredAt: ts, RefundFen: money.Fen(1 + rng.Int64N(100_000))}
		}
	}
	pl, pe, err := checkPlain(line, evs)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		WorkOut(line, evs)
	}
	per := elapsedPer(b.Elapsed(), b.N)
	t0 := time.Now()
	for range b.N {
		plainWorkOut(pl, pe)
	}
	bare := elapsedPer(time.Since(t0), b.N)
	b.ReportMetric(bare, "bare-ns/op")
	b.ReportMetric(bare/per, "ratio")
}

func TestSpanMatchesActiveOn(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(9, 10))
	base := bizday.MustParse("2018-12-20")
	for range 5000 {
		l := link("H1", "1", base.AddDays(rng.IntN(30)).String(), "")
		switch rng.IntN(3) {
		case 0:
			l.ValidTo = l.ValidFrom.AddDays(rng.IntN(5))
		case 1:
			l.ValidFrom = bizday.Day{}
		}
		d := base.AddDays(rng.IntN(40) - 5)
		if got, want := linkageSpans([]households.Linkage{l})[0].activeOn(d.Start().Unix()), l.ActiveOn(d); got != want {
			t.Fatalf("linkage [%s, %s) on %s: span says %v, ActiveOn %v", l.ValidFrom, l.ValidTo, d, got, want)
		}
	}
}
