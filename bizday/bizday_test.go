package bizday

import (
	"encoding/json"
	"testing"
	"time"
)

func TestOfTakesTheDateInBeijing(t *testing.T) {
	t.Parallel()
	newYork := time.FixedZone("EST", -5*60*60)
	tests := []struct {
		name string
		at   time.Time
		want string
	}{
		{"utc_afternoon_is_next_day_in_beijing", time.Date(2019, 12, 31, 16, 30, 0, 0, time.UTC), "2020-01-01"},
		{"utc_one_second_before_beijing_midnight", time.Date(2019, 12, 31, 15, 59, 59, 0, time.UTC), "2019-12-31"},
		{"utc_exactly_beijing_midnight", time.Date(2019, 12, 31, 16, 0, 0, 0, time.UTC), "2020-01-01"},
		{"beijing_last_second_of_day", time.Date(2019, 12, 31, 23, 59, 59, 999_999_999, Beijing), "2019-12-31"},
		{"beijing_first_second_of_day", time.Date(2020, 1, 1, 0, 0, 0, 0, Beijing), "2020-01-01"},
		{"new_york_morning_is_beijing_next_day", time.Date(2019, 12, 31, 11, 30, 0, 0, newYork), "2020-01-01"},
		{"new_york_late_evening_is_beijing_next_day", time.Date(2019, 6, 30, 23, 0, 0, 0, newYork), "2019-07-01"},
		{"utc_evening_crosses_into_leap_day", time.Date(2020, 2, 28, 16, 0, 0, 0, time.UTC), "2020-02-29"},
		{"utc_evening_leaves_leap_day", time.Date(2020, 2, 29, 20, 0, 0, 0, time.UTC), "2020-03-01"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Of(tc.at).String(); got != tc.want {
				t.Fatalf("Of(%s) = %s, want %s", tc.at.Format(time.RFC3339Nano), got, tc.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	good := []string{"2019-12-31", "2020-01-01", "2020-02-29", "2019-02-28", "0001-01-01", "9999-12-31"}
	for _, s := range good {
		t.Run("accepts_"+s, func(t *testing.T) {
			t.Parallel()
			d, err := Parse(s)
			if err != nil {
				t.Fatalf("Parse(%q): %v", s, err)
			}
			if d.IsZero() || d.String() != s {
				t.Fatalf("Parse(%q) = %q (zero %v)", s, d.String(), d.IsZero())
			}
		})
	}
	bad := []struct{ name, in string }{
		{"empty", ""},
		{"one_digit_month_and_day", "2019-1-5"},
		{"slashes", "2019/01/05"},
		{"no_separators", "20190105"},
		{"timestamp", "2019-01-05T00:00:00Z"},
		{"leading_space", " 2019-01-05"},
		{"trailing_text", "2019-01-05x"},
		{"month_thirteen", "2019-13-01"},
		{"month_zero", "2019-00-10"},
		{"day_zero", "2019-01-00"},
		{"february_30_impossible", "2019-02-30"},
		{"february_29_in_common_year", "2019-02-29"},
		{"april_31_impossible", "2019-04-31"},
		{"year_zero_is_no_day", "0000-01-01"},
		{"two_digit_year", "19-01-05"},
	}
	for _, tc := range bad {
		t.Run("refuses_"+tc.name, func(t *testing.T) {
			t.Parallel()
			d, err := Parse(tc.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want an error", tc.in, d.String())
			}
			if !d.IsZero() {
				t.Fatalf("Parse(%q) returned %q alongside an error", tc.in, d.String())
			}
		})
	}
}

func TestMustParsePanicsOnBadInput(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Fatal("MustParse(2019-02-30) did not panic")
		}
	}()
	MustParse("2019-02-30")
}

func TestStartIsBeijingMidnight(t *testing.T) {
	t.Parallel()
	got := MustParse("2020-01-01").Start()
	if want := time.Date(2019, 12, 31, 16, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("Start() = %s, want %s", got.UTC(), want)
	}
}

func TestZeroDay(t *testing.T) {
	t.Parallel()
	var d Day
	if !d.IsZero() || d.String() != "" {
		t.Fatalf("zero Day: IsZero %v, String %q", d.IsZero(), d.String())
	}
	if MustParse("2019-01-01").IsZero() {
		t.Fatal("a parsed day reports IsZero")
	}
}

func TestMonth(t *testing.T) {
	t.Parallel()
	tests := []struct{ day, want string }{
		{"2020-01-05", "2020-01"},
		{"2019-12-31", "2019-12"},
		{"2019-09-01", "2019-09"},
	}
	for _, tc := range tests {
		if got := MustParse(tc.day).Month(); got != tc.want {
			t.Errorf("Month(%s) = %s, want %s", tc.day, got, tc.want)
		}
	}
	// The month is Beijing's: 16:30 UTC on 31 December is already January.
	if got := Of(time.Date(2019, 12, 31, 16, 30, 0, 0, time.UTC)).Month(); got != "2020-01" {
		t.Errorf("Month of 2019-12-31T16:30Z = %s, want 2020-01", got)
	}
}

func TestAddDays(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		from string
		n    int
		want string
	}{
		{"zero_is_same_day", "2019-06-15", 0, "2019-06-15"},
		{"across_month_end", "2019-01-31", 1, "2019-02-01"},
		{"across_year_end", "2019-12-31", 1, "2020-01-01"},
		{"back_across_year_end", "2020-01-01", -1, "2019-12-31"},
		{"into_leap_day", "2020-02-28", 1, "2020-02-29"},
		{"common_year_skips_february_29", "2019-02-28", 1, "2019-03-01"},
		{"back_from_march_in_common_year", "2019-03-01", -1, "2019-02-28"},
		{"back_from_march_in_leap_year", "2020-03-01", -1, "2020-02-29"},
		{"a_leap_year_has_366_days", "2020-01-01", 366, "2021-01-01"},
		{"a_common_year_has_365_days", "2019-01-01", 365, "2020-01-01"},
		{"back_a_quarter", "2019-10-01", -92, "2019-07-01"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := MustParse(tc.from).AddDays(tc.n).String(); got != tc.want {
				t.Fatalf("%s + %d days = %s, want %s", tc.from, tc.n, got, tc.want)
			}
		})
	}
}

func TestBefore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		d, e string
		want bool
	}{
		{"previous_year_end", "2019-12-31", "2020-01-01", true},
		{"next_year_start", "2020-01-01", "2019-12-31", false},
		{"same_day_is_not_before", "2019-06-15", "2019-06-15", false},
		{"single_digit_month_before_double_digit", "2019-09-30", "2019-10-01", true},
		{"february_before_october", "2019-02-01", "2019-10-01", true},
		{"day_order_within_month", "2019-10-09", "2019-10-10", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := MustParse(tc.d).Before(MustParse(tc.e)); got != tc.want {
				t.Fatalf("%s.Before(%s) = %v, want %v", tc.d, tc.e, got, tc.want)
			}
		})
	}
}

type report struct {
	Day Day `json:"day"`
}

func TestTextMarshalling(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(report{Day: MustParse("2020-01-01")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"day":"2020-01-01"}`; got != want {
		t.Fatalf("json = %s, want %s", got, want)
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Day != MustParse("2020-01-01") {
		t.Fatalf("round trip gave %s", r.Day)
	}
	for _, in := range []string{`{"day":"2019-02-30"}`, `{"day":"2019/01/01"}`, `{"day":""}`} {
		var r report
		if err := json.Unmarshal([]byte(in), &r); err == nil {
			t.Errorf("unmarshal %s: no error, day %q", in, r.Day)
		}
	}
	// Days as map keys go through the same text form.
	m := map[Day]int{MustParse("2019-12-31"): 1}
	b, err = json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"2019-12-31":1}`; got != want {
		t.Fatalf("map json = %s, want %s", got, want)
	}
}

// FuzzParse checks that Parse never panics and that an accepted day is a real one: it is
// not the zero Day, prints as its input, starts at 00:00 Beijing on that date, and
// AddDays steps away and back to it.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"2019-12-31", "2020-02-29", "2019-02-30", "2019-02-29", "0000-01-01", "0001-01-01",
		"9999-12-31", "2019-1-5", "", "2019-13-01", "2019-01-05T00:00:00Z", "+019-01-01",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			if !d.IsZero() {
				t.Fatalf("Parse(%q) failed but returned %q", s, d.String())
			}
			return
		}
		if d.IsZero() {
			t.Fatalf("Parse(%q) succeeded with the zero Day", s)
		}
		if d.String() != s {
			t.Fatalf("Parse(%q).String() = %q", s, d.String())
		}
		start := d.Start()
		if start.Location() != Beijing || start.Format(Layout) != s || start.Hour() != 0 {
			t.Fatalf("Parse(%q).Start() = %s", s, start)
		}
		if Of(start) != d {
			t.Fatalf("Of(Start()) of %q = %q", s, Of(start).String())
		}
		prev := d.AddDays(-1)
		if prev.AddDays(1) != d || !prev.Before(d) || d.Before(prev) {
			t.Fatalf("%q: previous day %q does not step back or order before it", s, prev.String())
		}
	})
}
