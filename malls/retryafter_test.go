package malls_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"aidmall/malls"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		value  string
		want   time.Duration
		wantOK bool
	}{
		{"delay_seconds", "120", 120 * time.Second, true},
		{"zero_seconds_is_no_wait_but_read", "0", 0, true},
		{"spaces_around_are_ignored", "  30 ", 30 * time.Second, true},
		{"leading_zeros", "007", 7 * time.Second, true},
		{"http_date_in_the_future", "Sun, 06 Dec 2026 10:02:00 GMT", 2 * time.Minute, true},
		{"rfc850_date", "Sunday, 06-Dec-26 10:00:45 GMT", 45 * time.Second, true},
		{"asctime_date", "Sun Dec  6 10:01:00 2026", time.Minute, true},
		{"date_in_the_past_is_nothing_to_wait_for", "Sun, 06 Dec 2026 09:59:00 GMT", 0, false},
		{"date_equal_to_now_is_nothing", "Sun, 06 Dec 2026 10:00:00 GMT", 0, false},
		{"far_date_is_cut_to_the_maximum", "Fri, 01 Jan 2100 00:00:00 GMT", malls.MaxRetryAfter, true},
		{"huge_seconds_are_cut_to_the_maximum", "99999999", malls.MaxRetryAfter, true},
		{"overflowing_seconds_are_cut_to_the_maximum", "999999999999999999999999", malls.MaxRetryAfter, true},
		{"negative_seconds_are_refused", "-5", 0, false},
		{"plus_sign_is_refused", "+5", 0, false},
		{"fraction_is_refused", "1.5", 0, false},
		{"empty", "", 0, false},
		{"garbage", "soon", 0, false},
		{"seconds_with_unit_is_refused", "120s", 0, false},
		{"date_with_wrong_zone_is_refused", "Sun, 06 Dec 2026 10:02:00 CST", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := malls.ParseRetryAfter(tc.value, now)
			if got != tc.want || ok != tc.wantOK {
				t.Fatalf("ParseRetryAfter(%q) = %s, %v; want %s, %v", tc.value, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestRetryAfterHeader(t *testing.T) {
	t.Parallel()
	now := time.Now()
	if got := malls.RetryAfterHeader(http.Header{"Retry-After": {"120"}}, now); got != 2*time.Minute {
		t.Errorf("Retry-After 120: %s", got)
	}
	if got := malls.RetryAfterHeader(http.Header{}, now); got != 0 {
		t.Errorf("no Retry-After: %s", got)
	}
}

// FuzzParseRetryAfter: whatever a mall (or anything between it and us) sends, the wait
// is never negative nor beyond MaxRetryAfter, ok false means no wait, and a value of
// digits alone is always read.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "0", "-1", "Sun, 06 Dec 2026 10:02:00 GMT", "", "soon", "99999999999999999999", " 5 ", "1e3"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := malls.ParseRetryAfter(v, now)
		if d < 0 || d > malls.MaxRetryAfter {
			t.Fatalf("ParseRetryAfter(%q) = %s: out of [0, %s]", v, d, malls.MaxRetryAfter)
		}
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %s but not ok", v, d)
		}
		if s := strings.TrimSpace(v); s != "" && strings.Trim(s, "0123456789") == "" && !ok {
			t.Fatalf("ParseRetryAfter(%q): digits not read", v)
		}
	})
}
