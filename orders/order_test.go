package orders

import (
	"strings"
	"testing"
	"time"
)

// TestValidOutOrderNo checks a mall's out_order_no rule as its limits state it: 1–32
// letters and digits (CCB's), and with ABC's 64 and '-'/'_' in TestMallLimits.
func TestValidOutOrderNo(t *testing.T) {
	t.Parallel()
	ccbLike := MallLimits{OrderRefMax: 64, OutOrderNoMax: 32, ConsigneeRequired: true}
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
		{"hyphen_not_allowed", "AM-0001", false},
		{"underscore_not_allowed", "AM_0001", false},
		{"chinese", "订单0001", false},
		{"leading_space", " AM0001", false},
		{"trailing_newline", "AM0001\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := ccbLike.ValidOutOrderNo(OutOrderNo(tc.in)); got != tc.want {
				t.Fatalf("ValidOutOrderNo(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

// decodeULIDTime reads the Unix milliseconds of an out_order_no's ULID (the 10 characters
// after "AM"), written independently of NewOutOrderNo's encoder.
func decodeULIDTime(t *testing.T, no string) int64 {
	t.Helper()
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	var ms int64
	for _, c := range no[2:12] {
		i := strings.IndexRune(alphabet, c)
		if i < 0 {
			t.Fatalf("%q: %q is not Crockford base32", no, c)
		}
		ms = ms*32 + int64(i)
	}
	return ms
}

func TestNewOutOrderNo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		at   time.Time
	}{
		{"bundle_order_2018_S16_0001", time.Date(2018, 12, 19, 16, 29, 22, 0, time.FixedZone("CST", 8*3600))},
		{"epoch_plus_one_ms", time.UnixMilli(1)},
		{"year_2999", time.Date(2999, 12, 31, 23, 59, 59, 999e6, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := NewOutOrderNo(tc.at)
			if !(MallLimits{OutOrderNoMax: 32}).ValidOutOrderNo(got) || len(got) != OutOrderNoLen || !strings.HasPrefix(string(got), "AM") {
				t.Fatalf("NewOutOrderNo = %q (%d characters): want AM and 26 ULID characters", got, len(got))
			}
			if ms := decodeULIDTime(t, string(got)); ms != tc.at.UnixMilli() {
				t.Fatalf("NewOutOrderNo(%s) = %q encodes %d ms, want %d", tc.at, got, ms, tc.at.UnixMilli())
			}
		})
	}
	t.Run("numbers_never_repeat_for_one_instant", func(t *testing.T) {
		t.Parallel()
		at := time.Now()
		seen := map[string]bool{}
		for i := 0; i < 10000; i++ {
			no := NewOutOrderNo(at)
			if seen[string(no)] {
				t.Fatalf("%q made twice", no)
			}
			seen[string(no)] = true
		}
	})
	t.Run("numbers_sort_by_time", func(t *testing.T) {
		t.Parallel()
		a := NewOutOrderNo(time.UnixMilli(1545208162000))
		b := NewOutOrderNo(time.UnixMilli(1545208162001))
		if a[:12] >= b[:12] {
			t.Fatalf("%q does not sort before %q", a, b)
		}
	})
}

// FuzzNewOutOrderNo checks that the number made for any instant from 1970 to 10889 (48
// bits of milliseconds) is a valid out_order_no that encodes that instant.
func FuzzNewOutOrderNo(f *testing.F) {
	f.Add(int64(1545208162000))
	f.Add(int64(0))
	f.Add(int64(1<<48 - 1))
	f.Fuzz(func(t *testing.T, ms int64) {
		if ms < 0 || ms >= 1<<48 {
			t.Skip()
		}
		got := NewOutOrderNo(time.UnixMilli(ms))
		if !(MallLimits{OutOrderNoMax: 32}).ValidOutOrderNo(got) || len(got) != OutOrderNoLen {
			t.Fatalf("NewOutOrderNo(%d ms) = %q is not valid", ms, got)
		}
		if d := decodeULIDTime(t, string(got)); d != ms {
			t.Fatalf("NewOutOrderNo(%d ms) = %q encodes %d", ms, got, d)
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

func TestMallLimits(t *testing.T) {
	t.Parallel()
	abcLike := MallLimits{OrderRefMax: 64, OutOrderNoMax: 64, OutOrderNoExtra: "-_", ConsigneeRequired: true}
	ccbLike := MallLimits{OrderRefMax: 64, OutOrderNoMax: 32, ConsigneeRequired: true}
	for _, tc := range []struct {
		in   string
		want bool
	}{{"AM-0001_x", true}, {strings.Repeat("A", 64), true}, {strings.Repeat("A", 65), false}, {"AM.0001", false}, {"", false}} {
		if got := abcLike.ValidOutOrderNo(OutOrderNo(tc.in)); got != tc.want {
			t.Errorf("ABC-like ValidOutOrderNo(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if got := abcLike.outOrderNoRule(); got != "1–64 letters, digits and - _" {
		t.Errorf("rule %q", got)
	}
	if got := ccbLike.outOrderNoRule(); got != "1–32 letters and digits" {
		t.Errorf("rule %q", got)
	}
	got := strictest([]MallLimits{abcLike, ccbLike, {OrderRefMax: 40}})
	if want := (MallLimits{OrderRefMax: 40, OutOrderNoMax: 32, ConsigneeRequired: true}); got != want {
		t.Errorf("strictest = %+v, want %+v", got, want)
	}
	if got := strictest([]MallLimits{abcLike, {OutOrderNoExtra: "_"}}); got.OutOrderNoExtra != "_" || got.OutOrderNoMax != 64 {
		t.Errorf("strictest = %+v, want 64 and only '_'", got)
	}
	if got := strictest(nil); got != (MallLimits{}) {
		t.Errorf("strictest of none = %+v, want no limits", got)
	}
}
