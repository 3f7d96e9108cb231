package orders

import (
	"errors"
	"strings"
	"testing"
	"time"

	"aidmall/households"
)

// The failover decision is a pure function of the order, the listings and the malls'
// health: each row changes one fact of an `auto` CCB order stored 10 minutes ago whose
// mall is failing, with ABC listing every line (apples 69.00 at ABC, 68.00 at CCB).
func TestFailoverTarget(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	apples := households.Product{SKU: "APL", Listings: map[string]households.Listing{
		"ccb": {ItemID: "C1", Price: 6800}, "abc": {ItemID: "A1", Price: 6900}, "icbc": {ItemID: "I1", Price: 7000}}}
	walnuts := households.Product{SKU: "WAL", Listings: map[string]households.Listing{"ccb": {ItemID: "C2", Price: 5000}}}
	order := func() *GroupOrder {
		return &GroupOrder{ID: 1, Mall: "ccb", AutoRouted: true, OutOrderNo: "AM1", CreatedAt: now.Add(-10 * time.Minute),
			Lines: []Line{{LineNo: 1, SKU: "APL", Quantity: 2, UnitPrice: 6800}}}
	}
	facts := func() FailoverFacts {
		return FailoverFacts{Now: now, After: 5 * time.Minute, Malls: []Mall{"ccb", "abc"},
			Health:   map[Mall]MallHealth{"ccb": {Failing: true}},
			Products: map[string]households.Product{"APL": apples, "WAL": walnuts}}
	}
	tests := []struct {
		name    string
		order   func(o *GroupOrder)
		facts   func(f *FailoverFacts)
		want    Mall
		whyWant string
	}{
		{name: "auto_order_of_a_failing_mall_moves", want: "abc"},
		{name: "named_mall_order_never_moves", order: func(o *GroupOrder) { o.AutoRouted = false }, whyWant: "named mall"},
		{name: "too_early", order: func(o *GroupOrder) { o.CreatedAt = now.Add(-4 * time.Minute) }, whyWant: "not yet"},
		{name: "exactly_after_moves", order: func(o *GroupOrder) { o.CreatedAt = now.Add(-5 * time.Minute) }, want: "abc"},
		{name: "first_mall_healthy", facts: func(f *FailoverFacts) { f.Health = nil }, whyWant: "not failing"},
		{name: "other_mall_failing_too", facts: func(f *FailoverFacts) { f.Health["abc"] = MallHealth{Failing: true} }, whyWant: "no other"},
		{name: "other_mall_does_not_list_every_line", order: func(o *GroupOrder) {
			o.Lines = append(o.Lines, Line{LineNo: 2, SKU: "WAL", Quantity: 1, UnitPrice: 5000})
		}, whyWant: "no other"},
		{name: "other_mall_not_connected", facts: func(f *FailoverFacts) { f.Malls = []Mall{"ccb"} }, whyWant: "no other"},
		{name: "cheapest_of_the_others_by_autos_rule", facts: func(f *FailoverFacts) { f.Malls = []Mall{"ccb", "icbc", "abc"} }, want: "abc"},
		{name: "at_its_mall_already", order: func(o *GroupOrder) { o.MallOrderNo = "CCB1" }, whyWant: "at its mall"},
		{name: "submitted", order: func(o *GroupOrder) { o.Submitted = true }, whyWant: "at its mall"},
		{name: "rejected", order: func(o *GroupOrder) { o.RejectCode = "40005" }, whyWant: "settled"},
		{name: "cancel_requested", order: func(o *GroupOrder) { o.CancelReq = true }, whyWant: "being cancelled"},
		{name: "gave_up_waits_for_a_person", order: func(o *GroupOrder) { o.DispatchFailure = &DispatchFailure{} }, whyWant: "a person decides"},
		{name: "turned_off", facts: func(f *FailoverFacts) { f.After = -1 }, whyWant: "turned off"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, f := order(), facts()
			if tc.order != nil {
				tc.order(o)
			}
			if tc.facts != nil {
				tc.facts(&f)
			}
			got, why := FailoverTarget(o, f)
			if got != tc.want {
				t.Fatalf("FailoverTarget = %q (%s), want %q", got, why, tc.want)
			}
			if tc.want == "" && !strings.Contains(why, tc.whyWant) {
				t.Errorf("why %q, want it to say %q", why, tc.whyWant)
			}
		})
	}
}

func TestDispatchFailureOf(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 6, 9, 0, 0, 0, time.FixedZone("CST", 8*3600))
	tests := []struct {
		name                  string
		err                   error
		wantReason, wantMsgIn string
	}{
		{"mall_busy", &MallError{Mall: "ccb", HTTPStatus: 200, Code: "20000", SubCode: "SYSTEM_BUSY", Message: "busy", Retryable: true},
			"kept answering", "20000 SYSTEM_BUSY: busy"},
		{"no_answer", &MallError{Mall: "abc", Retryable: true, Err: errors.New("dial tcp: connection refused")},
			"could not be reached in 25 attempts", "connection refused"},
		{"not_called", errors.New("ccb create: mall circuit breaker open"), "not called", "circuit breaker open"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := DispatchFailureOf("ccb", tc.err, 25, at)
			if !strings.Contains(f.Reason, tc.wantReason) || !strings.Contains(f.MallMessage, tc.wantMsgIn) {
				t.Errorf("reason %q message %q, want %q and %q", f.Reason, f.MallMessage, tc.wantReason, tc.wantMsgIn)
			}
			if f.Attempts != 25 || f.MallCode != "ccb" || !f.At.Equal(at) || f.At.Location() != time.UTC {
				t.Errorf("got %+v", f)
			}
		})
	}
}
