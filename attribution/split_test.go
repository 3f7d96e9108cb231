package attribution

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"aidmall/households"
	"aidmall/money"
)

func parts(kv ...string) []Part {
	if len(kv)%2 != 0 {
		panic("parts: odd number of arguments")
	}
	out := make([]Part, 0, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		out = append(out, Part{HouseholdNo: households.HouseholdNo(kv[i]), Weight: decimal.RequireFromString(kv[i+1])})
	}
	return out
}

func TestSplit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		amount money.Fen
		parts  []Part
		want   []money.Fen
	}{
		{
			// ATTRIBUTION.md §4: 22666.67 each; 2 fen left, equal fractions → H001, H002.
			name: "worked_example_680_yuan_over_three_equal_weights", amount: 68000,
			parts: parts("H001", "1", "H002", "1", "H003", "1"),
			want:  []money.Fen{22667, 22667, 22666},
		},
		{
			// §4: 6800·22667/68000 = 2266.7 (×2), 2266.6 → 2266 each, 2 left by largest fraction.
			name: "worked_example_refund_68_yuan_in_proportion", amount: 6800,
			parts: parts("H001", "22667", "H002", "22667", "H003", "22666"),
			want:  []money.Fen{2267, 2267, 2266},
		},
		{
			name: "ties_go_to_smaller_household_number_whatever_the_order_of_parts", amount: 68000,
			parts: parts("H003", "1", "H002", "1", "H001", "1"),
			want:  []money.Fen{22666, 22667, 22667},
		},
		{
			// "10" < "9" as text, though 10 > 9 as numbers.
			name: "household_numbers_compare_as_text_not_as_numbers", amount: 1,
			parts: parts("9", "1", "10", "1"),
			want:  []money.Fen{0, 1},
		},
		{
			name: "leading_zeros_are_part_of_the_text", amount: 1,
			parts: parts("1", "1", "01", "1"),
			want:  []money.Fen{0, 1},
		},
		{
			name: "unattributed_part_loses_ties_to_every_household", amount: 1,
			parts: parts("", "1", "Z999", "1"),
			want:  []money.Fen{0, 1},
		},
		{
			// 10·1/3 = 3.33, 10·2/3 = 6.67: the larger fraction wins even against the tie rule.
			name: "largest_fraction_beats_smaller_household_number", amount: 10,
			parts: parts("H1", "1", "H2", "2"),
			want:  []money.Fen{3, 7},
		},
		{
			// W = 4: 375.375, 125.125, 500.5 → 375, 125, 500 and 1 fen to the 0.5.
			name: "weights_with_decimals_are_exact", amount: 1001,
			parts: parts("A", "1.5", "B", "0.5", "C", "2"),
			want:  []money.Fen{375, 125, 501},
		},
		{
			// 100·0.3333 = 33.33, 100·0.6667 = 66.67.
			name: "four_decimal_weights", amount: 100,
			parts: parts("A", "0.3333", "B", "0.6667"),
			want:  []money.Fen{33, 67},
		},
		{
			// W = 2.0001: 10000·2/2.0001 = 9999.50..., 10000·0.0001/2.0001 = 0.49997...
			name: "weights_of_different_scales", amount: 10000,
			parts: parts("A", "2", "B", "0.0001"),
			want:  []money.Fen{10000, 0},
		},
		{
			name: "zero_weight_part_gets_nothing", amount: 5,
			parts: parts("A", "1", "B", "0", "C", "1"),
			want:  []money.Fen{3, 0, 2},
		},
		{
			name: "zero_amount_gives_zeros", amount: 0,
			parts: parts("A", "1", "B", "3"),
			want:  []money.Fen{0, 0},
		},
		{
			name: "zero_amount_with_no_positive_weight_gives_zeros", amount: 0,
			parts: parts("A", "0"),
			want:  []money.Fen{0},
		},
		{
			name: "single_part_takes_everything", amount: 12345,
			parts: parts("H1", "0.0007"),
			want:  []money.Fen{12345},
		},
		{
			name: "one_fen_among_three_goes_to_the_smallest_number", amount: 1,
			parts: parts("B", "1", "C", "1", "A", "1"),
			want:  []money.Fen{0, 0, 1},
		},
		{
			// A 26-digit weight does not fit in 64 bits: the math/big path, same tie rule.
			name: "huge_weights_use_exact_big_arithmetic", amount: 3,
			parts: parts("B", "10000000000000000000000001", "A", "10000000000000000000000001"),
			want:  []money.Fen{1, 2},
		},
		{
			// Scaled to integers, 10^25 and 1 (big path): 3·10^25/(10^25+1) = 2.99… → 3.
			name: "weights_far_apart_in_scale_use_big_arithmetic", amount: 3,
			parts: parts("A", "1e25", "B", "1"),
			want:  []money.Fen{3, 0},
		},
		{
			// 1e25 and 2e25 share their exponent: scaled to 1 and 2 (64-bit path).
			name: "weights_with_a_common_exponent_are_scaled_down", amount: 7,
			parts: parts("A", "1e25", "B", "2e25"),
			want:  []money.Fen{2, 5},
		},
		{
			name: "largest_amount_does_not_overflow", amount: 1<<63 - 1,
			parts: parts("A", "1", "B", "1"),
			want:  []money.Fen{1 << 62, 1<<62 - 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Split(tc.amount, tc.parts)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Split(%d, %v) = %v, want %v", tc.amount, tc.parts, got, tc.want)
			}
		})
	}
}

func TestSplitPanicsOnProgrammingErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		amount money.Fen
		parts  []Part
	}{
		{"negative_amount", -1, parts("A", "1")},
		{"negative_weight", 10, parts("A", "1", "B", "-1")},
		{"no_positive_weight", 10, parts("A", "0", "B", "0")},
		{"no_parts", 10, nil},
		{"weights_too_far_apart_in_scale", 10, parts("A", "1e-200", "B", "1")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if recover() == nil {
					t.Fatalf("Split(%d, %v) did not panic", tc.amount, tc.parts)
				}
			}()
			Split(tc.amount, tc.parts)
		})
	}
}

// checkSplit asserts the invariants of §2.3 against an independent math/big.Rat
// computation: sum, no negative share, each share the floor or floor+1 of its exact share,
// zero weights get zero, and the leftover fen go to the largest fractions with the tie rule.
func checkSplit(t *testing.T, amount money.Fen, ps []Part, got []money.Fen) {
	t.Helper()
	if len(got) != len(ps) {
		t.Fatalf("got %d shares for %d parts", len(got), len(ps))
	}
	var sum money.Fen
	total := new(big.Rat)
	for _, p := range ps {
		total.Add(total, p.Weight.Rat())
	}
	floors := make([]*big.Int, len(ps))
	fracs := make([]*big.Rat, len(ps))
	for i, p := range ps {
		if got[i] < 0 {
			t.Fatalf("share %d is negative: %v", i, got)
		}
		sum += got[i]
		if amount == 0 {
			continue
		}
		exact := new(big.Rat).Mul(new(big.Rat).SetInt64(int64(amount)), p.Weight.Rat())
		exact.Quo(exact, total)
		floors[i] = new(big.Int).Quo(exact.Num(), exact.Denom())
		fracs[i] = new(big.Rat).Sub(exact, new(big.Rat).SetInt(floors[i]))
		d := big.NewInt(int64(got[i]))
		d.Sub(d, floors[i])
		if d.Sign() < 0 || d.Cmp(big.NewInt(1)) > 0 {
			t.Fatalf("share %d = %d is not floor or floor+1 of exact %s", i, got[i], exact.FloatString(6))
		}
		if p.Weight.Sign() == 0 && got[i] != 0 {
			t.Fatalf("zero-weight part %d got %d", i, got[i])
		}
	}
	if sum != amount {
		t.Fatalf("shares %v sum to %d, want %d", got, sum, amount)
	}
	if amount == 0 {
		return
	}
	// Every part that got the extra fen must come before every part that did not, in
	// (fraction desc, household number with "" last, position).
	before := func(i, j int) bool {
		if c := fracs[i].Cmp(fracs[j]); c != 0 {
			return c > 0
		}
		if c := HouseholdOrder(ps[i].HouseholdNo, ps[j].HouseholdNo); c != 0 {
			return c < 0
		}
		return i < j
	}
	for i := range ps {
		if got[i] == money.Fen(floors[i].Int64()) {
			continue
		}
		for j := range ps {
			if got[j] == money.Fen(floors[j].Int64()) && fracs[j].Sign() > 0 && before(j, i) {
				t.Fatalf("part %d (%q, fraction %s) got the extra fen before part %d (%q, fraction %s)",
					i, ps[i].HouseholdNo, fracs[i].FloatString(6), j, ps[j].HouseholdNo, fracs[j].FloatString(6))
			}
		}
	}
}

func TestSplitInvariantsOnRandomInputs(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		n := 1 + rng.IntN(12)
		ps := make([]Part, n)
		for i := range ps {
			no := fmt.Sprintf("H%02d", rng.IntN(20))
			if rng.IntN(10) == 0 {
				no = ""
			}
			ps[i] = Part{HouseholdNo: households.HouseholdNo(no), Weight: decimal.New(rng.Int64N(30000), -int32(rng.IntN(5)))}
		}
		ps[rng.IntN(n)].Weight = decimal.New(1+rng.Int64N(5), 0)
		amount := money.Fen(rng.Int64N(10_000_000))
		got := Split(amount, ps)
		checkSplit(t, amount, ps, got)
		// The math/big path gives the same answer as the 64-bit path.
		keys := make([]households.HouseholdNo, n)
		weights := make([]decimal.Decimal, n)
		for i, p := range ps {
			keys[i], weights[i] = p.HouseholdNo, p.Weight
		}
		if big := splitBig(amount, keys, scaleWeightsBig(weights)); !slices.Equal(big, got) {
			t.Fatalf("big path %v, 64-bit path %v for %d over %v", big, got, amount, ps)
		}
	}
}

// FuzzSplit checks the invariants of §2.3 for any amount and weights. weights is a
// comma-separated list of decimals; parts are named H00, H01, …, and the one at position
// unattributed (if in range) is the unattributed part.
func FuzzSplit(f *testing.F) {
	f.Add(int64(68000), "1,1,1", -1)
	f.Add(int64(6800), "22667,22667,22666", -1)
	f.Add(int64(1001), "1.5,0.5,2", 1)
	f.Add(int64(3), "1e25,1e25", 0)
	f.Add(int64(1), "0.0001,0.0001,0.0001,0", 2)
	f.Add(int64(9223372036854775807), "3,7", -1)
	f.Fuzz(func(t *testing.T, amount int64, weights string, unattributed int) {
		if amount < 0 {
			amount = -(amount + 1)
		}
		var ps []Part
		positive := false
		for i, s := range strings.Split(weights, ",") {
			w, err := decimal.NewFromString(strings.TrimSpace(s))
			if err != nil || w.Sign() < 0 || w.Exponent() < -20 || w.Exponent() > 40 {
				return
			}
			positive = positive || w.Sign() > 0
			no := fmt.Sprintf("H%02d", i)
			if i == unattributed {
				no = ""
			}
			ps = append(ps, Part{HouseholdNo: households.HouseholdNo(no), Weight: w})
		}
		if !positive || len(ps) > 200 {
			return
		}
		checkSplit(t, money.Fen(amount), ps, Split(money.Fen(amount), ps))
	})
}
