package faultharness

import "testing"

// A move counts only with the first mall's word about the old number right before the
// move to the new mall under the new number, and only one move.
func TestMovedTimeline(t *testing.T) {
	t.Parallel()
	const (
		absent    = "failover_confirmed_absent ccb OLD"
		cancelled = "failover_cancelled_at_first ccb OLD"
		moved     = "failover_moved abc NEW"
	)
	for _, tt := range []struct {
		name  string
		steps []string
		want  bool
	}{
		{"absent_then_moved", []string{absent, moved}, true},
		{"cancelled_then_moved", []string{cancelled, moved}, true},
		{"after_a_give_up_and_a_retry", []string{"dispatch_failed ccb OLD", "dispatch_retried ccb OLD", absent, moved}, true},
		{"moved_without_asking", []string{moved}, false},
		{"asked_after_the_move", []string{moved, absent}, false},
		{"asked_about_another_number", []string{"failover_confirmed_absent ccb OTHER", moved}, false},
		{"moved_under_the_old_number", []string{absent, "failover_moved abc OLD"}, false},
		{"moved_twice", []string{absent, moved, "failover_confirmed_absent abc NEW", "failover_moved ccb NEWER"}, false},
		{"no_timeline", nil, false},
	} {
		if got := movedTimeline(tt.steps, "ccb", "OLD", "abc", "NEW"); got != tt.want {
			t.Errorf("%s: movedTimeline(%q) = %v, want %v", tt.name, tt.steps, got, tt.want)
		}
	}
}
