package money

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func TestParseYuan(t *testing.T) {
	t.Parallel()
	valid := []struct {
		name string
		in   string
		want Fen
	}{
		{"whole_yuan", "68", 6800},
		{"one_decimal_is_tens_of_fen", "68.5", 6850},
		{"two_decimals", "68.00", 6800},
		{"negative_refund_of_five_fen", "-0.05", -5},
		{"surrounding_spaces_trimmed", " 1.20 ", 120},
		{"tabs_and_newline_trimmed", "\t1360.00\n", 136000},
		{"zero", "0", 0},
		{"one_fen", "0.01", 1},
		{"largest_int64_fen", "92233720368547758.07", math.MaxInt64},
		{"smallest_int64_fen", "-92233720368547758.08", math.MinInt64},
	}
	for _, tc := range valid {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseYuan(tc.in)
			if err != nil {
				t.Fatalf("ParseYuan(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Fatalf("ParseYuan(%q) = %d fen, want %d", tc.in, got, tc.want)
			}
		})
	}

	invalid := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"only_spaces", "   "},
		{"three_decimals", "1.234"},
		{"sub_fen_amount", "0.001"},
		{"exponent", "1e2"},
		{"upper_case_exponent", "1E2"},
		{"thousands_separator", "1,000"},
		{"underscore_separator", "1_000"},
		{"inner_space", "1 000"},
		{"letters", "abc"},
		{"currency_sign", "¥68"},
		{"hex", "0x10"},
		{"nan", "NaN"},
		{"infinity", "Inf"},
		{"lone_minus", "-"},
		{"double_sign", "--1"},
		{"one_fen_above_int64", "92233720368547758.08"},
		{"one_fen_below_int64", "-92233720368547758.09"},
		{"twenty_digit_yuan", "99999999999999999999"},
	}
	for _, tc := range invalid {
		t.Run(tc.name+"_is_refused", func(t *testing.T) {
			t.Parallel()
			got, err := ParseYuan(tc.in)
			if !errors.Is(err, ErrInvalidAmount) {
				t.Fatalf("ParseYuan(%q) = %d, %v; want ErrInvalidAmount", tc.in, got, err)
			}
			if got != 0 {
				t.Fatalf("ParseYuan(%q) returned %d alongside an error", tc.in, got)
			}
		})
	}
}

func TestFromDecimal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		yuan    decimal.Decimal
		want    Fen
		wantErr bool
	}{
		{"two_decimals", decimal.RequireFromString("68.50"), 6850, false},
		{"trailing_zeros_beyond_two_places_are_exact", decimal.RequireFromString("1.2300"), 123, false},
		{"negative", decimal.RequireFromString("-0.01"), -1, false},
		{"from_int", decimal.NewFromInt(1360), 136000, false},
		{"three_decimal_places_refused", decimal.New(1, -3), 0, true},
		{"half_fen_refused", decimal.RequireFromString("0.005"), 0, true},
		{"int64_yuan_overflows_fen", decimal.NewFromInt(math.MaxInt64), 0, true},
		{"negative_overflow", decimal.NewFromInt(math.MinInt64), 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := FromDecimal(tc.yuan)
			if tc.wantErr {
				if !errors.Is(err, ErrInvalidAmount) {
					t.Fatalf("FromDecimal(%s) = %d, %v; want ErrInvalidAmount", tc.yuan, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("FromDecimal(%s) = %d, %v; want %d", tc.yuan, got, err, tc.want)
			}
		})
	}
}

func TestFenStringHasTwoDecimals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fen  Fen
		want string
	}{
		{"zero", 0, "0.00"},
		{"one_fen", 1, "0.01"},
		{"tens_of_fen", 50, "0.50"},
		{"whole_yuan", 6800, "68.00"},
		{"order_total", 136000, "1360.00"},
		{"negative_fen", -5, "-0.05"},
		{"negative_yuan_and_fen", -136050, "-1360.50"},
		{"largest", math.MaxInt64, "92233720368547758.07"},
		{"smallest", math.MinInt64, "-92233720368547758.08"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.fen.String(); got != tc.want {
				t.Fatalf("Fen(%d).String() = %q, want %q", tc.fen, got, tc.want)
			}
			if !tc.fen.Decimal().Equal(decimal.New(int64(tc.fen), -2)) {
				t.Fatalf("Fen(%d).Decimal() = %s", tc.fen, tc.fen.Decimal())
			}
		})
	}
}

type priced struct {
	Price Fen  `json:"price"`
	Opt   *Fen `json:"opt,omitempty"`
}

func TestJSONWritesYuanStrings(t *testing.T) {
	t.Parallel()
	refund := Fen(-5)
	b, err := json.Marshal(priced{Price: 6800, Opt: &refund})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"price":"68.00","opt":"-0.05"}`; got != want {
		t.Fatalf("json = %s, want %s", got, want)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	t.Parallel()
	for _, f := range []Fen{0, 1, -5, 6850, 136000, math.MaxInt64, math.MinInt64} {
		b, err := json.Marshal(f)
		if err != nil {
			t.Fatalf("marshal %d: %v", f, err)
		}
		var back Fen
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("unmarshal %s: %v", b, err)
		}
		if back != f {
			t.Fatalf("round trip of %d through %s gave %d", f, b, back)
		}
	}
}

func TestJSONReading(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    Fen
		wantErr bool
	}{
		{"yuan_string", `{"price":"68.5"}`, 6850, false},
		{"yuan_string_with_spaces", `{"price":" 68.00 "}`, 6800, false},
		{"bare_number_refused", `{"price":68.5}`, 0, true},
		{"bare_integer_refused", `{"price":68}`, 0, true},
		{"three_decimals_refused", `{"price":"1.234"}`, 0, true},
		{"exponent_refused", `{"price":"1e2"}`, 0, true},
		{"empty_string_refused", `{"price":""}`, 0, true},
		{"bool_refused", `{"price":true}`, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var p priced
			err := json.Unmarshal([]byte(tc.in), &p)
			if tc.wantErr {
				if !errors.Is(err, ErrInvalidAmount) {
					t.Fatalf("unmarshal %s: got %d, %v; want ErrInvalidAmount", tc.in, p.Price, err)
				}
				return
			}
			if err != nil || p.Price != tc.want {
				t.Fatalf("unmarshal %s = %d, %v; want %d", tc.in, p.Price, err, tc.want)
			}
		})
	}
}

// FuzzParseYuan checks that ParseYuan never panics, never rounds (an accepted amount is
// exactly the decimal written), accepts only a sign, digits and a point, and that
// String() of an accepted amount parses back to the same amount.
func FuzzParseYuan(f *testing.F) {
	for _, s := range []string{
		"68", "68.5", "68.00", "-0.05", " 1.20 ", "", "1.234", "1e2", "1,000", "abc",
		"92233720368547758.07", "92233720368547758.08", "-92233720368547758.08", ".5", "5.",
		"+5", "1.230", "0x10", "NaN",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseYuan(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidAmount) {
				t.Fatalf("ParseYuan(%q): error %v does not wrap ErrInvalidAmount", s, err)
			}
			return
		}
		trimmed := strings.TrimSpace(s)
		if strings.Trim(trimmed, "+-.0123456789") != "" {
			t.Fatalf("ParseYuan(%q) accepted characters other than a sign, digits and a point", s)
		}
		exact, err := decimal.NewFromString(trimmed)
		if err != nil {
			t.Fatalf("ParseYuan(%q) accepted text decimal cannot read: %v", s, err)
		}
		if !v.Decimal().Equal(exact) {
			t.Fatalf("ParseYuan(%q) = %s yuan, not exactly %s", s, v, exact)
		}
		back, err := ParseYuan(v.String())
		if err != nil {
			t.Fatalf("ParseYuan(%q) = %d but its String %q does not parse: %v", s, v, v.String(), err)
		}
		if back != v {
			t.Fatalf("ParseYuan(%q) = %d, String %q parses back to %d", s, v, v.String(), back)
		}
	})
}

func TestParseAmountIsExactlyTheContract(t *testing.T) {
	for s, want := range map[string]Fen{"68": 6800, "68.5": 6850, "68.00": 6800, "0.01": 1, "0": 0, "-3.20": -320, "928000.00": 92800000} {
		if got, err := ParseAmount(s); err != nil || got != want {
			t.Errorf("ParseAmount(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"68.000", "+68.00", " 68.00", "68.00 ", "068.00", "68.", ".5", "", "6e3", "1,000.00", "１２", "68,00", "1000000000000000"} {
		if got, err := ParseAmount(s); err == nil {
			t.Errorf("ParseAmount(%q) = %v, want a refusal", s, got)
		}
	}
}
