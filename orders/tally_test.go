package orders_test

import (
	"testing"

	"aidmall/orders"
)

func TestTally(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		results []orders.ApplyResult
		want    orders.Tally
		last    orders.Outcome
	}{
		{"new_event_is_applied", []orders.ApplyResult{{}}, orders.Tally{Applied: 1}, orders.OutcomeApplied},
		{"duplicate_counts_once_as_duplicate", []orders.ApplyResult{{Duplicate: true, Held: true}}, orders.Tally{Duplicate: 1}, orders.OutcomeDuplicate},
		{"parked_is_not_held", []orders.ApplyResult{{Parked: true, Held: true}}, orders.Tally{Parked: 1}, orders.OutcomeParked},
		{"held_is_not_applied", []orders.ApplyResult{{Held: true}}, orders.Tally{Held: 1}, orders.OutcomeHeld},
		{"duplicate_with_other_content_is_a_duplicate_that_differs", []orders.ApplyResult{{Duplicate: true, Differs: "quantity 2 (recorded: 1)"}, {Duplicate: true}},
			orders.Tally{Duplicate: 2, Differing: 1}, orders.OutcomeDuplicate},
		{"each_event_counts_in_one_place", []orders.ApplyResult{{}, {Duplicate: true}, {}, {Parked: true}, {Held: true}},
			orders.Tally{Applied: 2, Duplicate: 1, Parked: 1, Held: 1}, orders.OutcomeHeld},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got orders.Tally
			var last orders.Outcome
			for _, r := range tt.results {
				last = got.Add(r)
			}
			if got != tt.want || last != tt.last || got.Total() != len(tt.results) {
				t.Errorf("tally %+v (total %d), last %q; want %+v, %q", got, got.Total(), last, tt.want, tt.last)
			}
		})
	}
}

func TestListLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		asked, got int
	}{
		{"none_asked_is_the_default", 0, 50},
		{"negative_is_the_default", -3, 50},
		{"one_is_one", 1, 1},
		{"within_is_kept", 120, 120},
		{"the_maximum_is_kept", 200, 200},
		{"above_the_maximum_is_cut", 201, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := orders.ListLimit(tt.asked); got != tt.got {
				t.Errorf("ListLimit(%d) = %d, want %d", tt.asked, got, tt.got)
			}
		})
	}
}

// Metrics tell a duplicate with other content from a true copy; every other outcome is
// labelled as itself.
func TestApplyResultLabel(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		r    orders.ApplyResult
		want string
	}{
		{orders.ApplyResult{}, "applied"},
		{orders.ApplyResult{Duplicate: true}, "duplicate"},
		{orders.ApplyResult{Duplicate: true, Differs: "line_no 2 (recorded: 1)"}, orders.LabelDuplicateDiffers},
		{orders.ApplyResult{Parked: true}, "parked"},
		{orders.ApplyResult{Held: true}, "held"},
	} {
		if got := c.r.Label(); got != c.want {
			t.Errorf("%+v labelled %q, want %q", c.r, got, c.want)
		}
	}
}
