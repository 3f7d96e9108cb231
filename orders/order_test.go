package orders

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestValidOutOrderNo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"service_number_from_bundle", "AM20181219162922000001", true},
		{"single_character", "A", true},
		{"thirty_two_characters", strings.Repeat("A1", 16), true},
		{"thirty_three_characters", strings.Repeat("A1", 16) + "2", false},
		{"empty", "", false},
		{"hyphen_allowed_by_abc_only", "AM-0001", false},
		{"underscore_allowed_by_abc_only", "AM_0001", false},
		{"chinese", "订单0001", false},
		{"leading_space", " AM0001", false},
		{"trailing_newline", "AM0001\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := ValidOutOrderNo(tc.in); got != tc.want {
				t.Fatalf("ValidOutOrderNo(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestNewOutOrderNo(t *testing.T) {
	t.Parallel()
	// orders.csv of the yichuan-dingbian-2019 bundle: 2018-S16-0001 placed
	// 2018-12-19T16:29:22+08:00 has out_order_no AM20181219162922000001.
	placed := time.Date(2018, 12, 19, 8, 29, 22, 0, time.UTC)
	newYork := time.FixedZone("EST", -5*60*60)
	tests := []struct {
		name string
		at   time.Time
		seq  int64
		want string
	}{
		{"bundle_number_from_utc_instant", placed, 1, "AM20181219162922000001"},
		{"same_instant_in_new_york_gives_same_number", placed.In(newYork), 1, "AM20181219162922000001"},
		{"beijing_date_not_utc_date", time.Date(2019, 12, 31, 16, 30, 0, 0, time.UTC), 42, "AM20200101003000000042"},
		{"seq_beyond_six_digits_is_not_cut", placed, 1234567, "AM201812191629221234567"},
		{"largest_documented_seq_fits_32", placed, 9_999_999_999_999_999, "AM201812191629229999999999999999"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := NewOutOrderNo(tc.at, tc.seq)
			if got != tc.want {
				t.Fatalf("NewOutOrderNo = %q, want %q", got, tc.want)
			}
			if !ValidOutOrderNo(got) {
				t.Fatalf("NewOutOrderNo = %q (%d characters) is not a valid out_order_no", got, len(got))
			}
		})
	}
}

// FuzzNewOutOrderNo checks that every number the service makes for an id below 10^16 and
// a time in years 2000–2999 is a valid out_order_no that starts with AM and the Beijing
// time, and ends with the id.
func FuzzNewOutOrderNo(f *testing.F) {
	f.Add(int64(1545208162), int64(1))
	f.Add(int64(1577809800), int64(9_999_999_999_999_999))
	f.Add(int64(946684800), int64(999_999))
	f.Fuzz(func(t *testing.T, unix, seq int64) {
		const minUnix, maxUnix = 946684800, 32503680000 - 8*3600 - 1 // 2000-01-01Z up to 2999-12-31 Beijing
		if unix < minUnix || unix > maxUnix || seq < 1 || seq >= 10_000_000_000_000_000 {
			t.Skip()
		}
		at := time.Unix(unix, 0)
		got := NewOutOrderNo(at, seq)
		if !ValidOutOrderNo(got) {
			t.Fatalf("NewOutOrderNo(%s, %d) = %q is not valid", at.UTC(), seq, got)
		}
		prefix := "AM" + at.In(time.FixedZone("CST", 8*3600)).Format("20060102150405")
		if !strings.HasPrefix(got, prefix) {
			t.Fatalf("NewOutOrderNo(%s, %d) = %q, want prefix %q", at.UTC(), seq, got, prefix)
		}
		if rest := strings.TrimLeft(got[len(prefix):], "0"); rest != strconv.FormatInt(seq, 10) {
			t.Fatalf("NewOutOrderNo(%s, %d) = %q does not end with the id", at.UTC(), seq, got)
		}
	})
}

func TestOrderTotals(t *testing.T) {
	t.Parallel()
	o := GroupOrder{Lines: []Line{
		{LineNo: 1, SKU: "YC-APL-5KG-DZ", Quantity: 20, UnitPrice: 6800},
		{LineNo: 2, SKU: "YC-WKN-500G-HH", Quantity: 3, UnitPrice: 3980},
	}}
	if got := o.Lines[0].Amount(); got != 136000 {
		t.Errorf("20 × 68.00 = %s", got)
	}
	if got := o.Total(); got != 136000+11940 {
		t.Errorf("Total = %s, want 1479.40", got)
	}
	if l := o.Line(2); l == nil || l.SKU != "YC-WKN-500G-HH" {
		t.Errorf("Line(2) = %+v", l)
	}
	if l := o.Line(3); l != nil {
		t.Errorf("Line(3) = %+v, want nil", l)
	}
}
