// Package attribution holds the ledger rules of ATTRIBUTION.md: which registered poor
// households (建档立卡贫困户) a sale line's delivered and refunded money goes to, how much
// each one gets (largest remainder method, to the fen), and the correcting entries that
// keep a booked ledger equal to what a line's events say. It is pure: no clock, no I/O.
//
// Amounts are money.Fen (int64 fen, 0.01 yuan). Business days are Beijing calendar days
// (bizday.Of). Nothing here uses floating point: shares are computed with 128-bit integer
// arithmetic (math/bits) or math/big when the scaled weights do not fit in 64 bits.
package attribution

import (
	"cmp"
	"fmt"
	"math/big"
	"math/bits"
	"slices"

	"github.com/shopspring/decimal"

	"aidmall/households"
	"aidmall/money"
)

// Part is one claimant in a split: a household (HouseholdNo != "") or the unattributed
// remainder (HouseholdNo == ""), with a non-negative weight (any number of decimals).
type Part struct {
	HouseholdNo households.HouseholdNo
	Weight      decimal.Decimal
}

// maxScaleSpread bounds how far apart (in powers of ten) the weights of one split may lie.
// Real weights have at most 4 decimals (ATTRIBUTION.md, Terms) and refund weights are
// whole fen, so 100 is far beyond any real input; it only stops a pathological decimal
// (1e-1000000 next to 1) from making Split build a million-digit integer.
const maxScaleSpread = 100

// Split divides amount (fen, >= 0) among parts by the largest remainder method
// (ATTRIBUTION.md §2.3):
//   - W = sum of weights; part i's exact share is amount·w_i/W fen;
//   - each part first gets the floor of its exact share;
//   - the fen left over (always fewer than the number of parts with a fractional
//     share) go one each to the parts with the largest fractional parts; ties go to the
//     smaller household number compared as text (byte order), the unattributed part
//     (HouseholdNo "") sorting after every household; two parts with the same
//     HouseholdNo tie-break by position (callers should merge them first).
//
// Shares are returned in the order of parts (a new slice of the same length), sum to
// amount exactly and none is negative; every share lies within 1 fen of the exact share
// (floor or floor+1). A zero-weight part gets 0. amount 0 gives all zeros.
//
// Arithmetic is exact: weights are scaled to integers by their common power of ten and
// divided with 128-bit integers, or math/big when they do not fit in 64 bits.
//
// Split panics (a programming error, never a data error: WorkOut and the importers rule
// these out) when amount is negative, a weight is negative, amount > 0 and no weight is
// positive (including len(parts) == 0), or the weights' decimal exponents lie more than
// 100 apart.
func Split(amount money.Fen, parts []Part) []money.Fen {
	if amount < 0 {
		panic(fmt.Sprintf("attribution.Split: negative amount %d fen", amount))
	}
	weights := make([]decimal.Decimal, len(parts))
	keys := make([]households.HouseholdNo, len(parts))
	for i, p := range parts {
		if p.Weight.Sign() < 0 {
			panic(fmt.Sprintf("attribution.Split: negative weight %s for %q", p.Weight, p.HouseholdNo))
		}
		weights[i] = p.Weight
		keys[i] = p.HouseholdNo
	}
	return splitDecimal(amount, keys, weights)
}

// splitDecimal is Split over parallel key and weight slices (weights already checked >= 0).
func splitDecimal(amount money.Fen, keys []households.HouseholdNo, weights []decimal.Decimal) []money.Fen {
	ints, ok := scaleWeights(weights)
	if ok {
		return splitUint(amount, keys, ints)
	}
	return splitBig(amount, keys, scaleWeightsBig(weights))
}

// exponentRange returns the smallest and largest decimal exponent of the non-zero weights.
func exponentRange(weights []decimal.Decimal) (lo, hi int32) {
	found := false
	for _, w := range weights {
		if w.Sign() == 0 {
			continue
		}
		e := w.Exponent()
		if !found || e < lo {
			lo = e
		}
		if !found || e > hi {
			hi = e
		}
		found = true
	}
	if int64(hi)-int64(lo) > maxScaleSpread {
		panic(fmt.Sprintf("attribution.Split: weights' exponents %d..%d lie more than %d apart", lo, hi, maxScaleSpread))
	}
	return lo, hi
}

// maxPow10 is the largest n with 10^n < 2^64.
const maxPow10 = 19

// pow10 returns 10^n for 0 <= n <= maxPow10.
func pow10(n int64) uint64 {
	p := uint64(1)
	for range n {
		p *= 10
	}
	return p
}

// scaleWeights returns the weights as integers (each times 10^-minExponent) when all of
// them and their sum fit in uint64.
func scaleWeights(weights []decimal.Decimal) ([]uint64, bool) {
	lo, _ := exponentRange(weights)
	out := make([]uint64, len(weights))
	var sum uint64
	for i, w := range weights {
		if w.Sign() == 0 {
			continue
		}
		c := w.Coefficient()
		if !c.IsUint64() {
			return nil, false
		}
		shift := int64(w.Exponent()) - int64(lo)
		if shift > maxPow10 {
			return nil, false
		}
		hi, v := bits.Mul64(c.Uint64(), pow10(shift))
		if hi != 0 {
			return nil, false
		}
		var carry uint64
		sum, carry = bits.Add64(sum, v, 0)
		if carry != 0 {
			return nil, false
		}
		out[i] = v
	}
	return out, true
}

// scaleWeightsBig is scaleWeights with math/big, for weights that do not fit in uint64.
func scaleWeightsBig(weights []decimal.Decimal) []*big.Int {
	lo, _ := exponentRange(weights)
	out := make([]*big.Int, len(weights))
	ten := big.NewInt(10)
	for i, w := range weights {
		if w.Sign() == 0 {
			out[i] = new(big.Int)
			continue
		}
		f := new(big.Int).Exp(ten, big.NewInt(int64(w.Exponent())-int64(lo)), nil)
		out[i] = f.Mul(f, w.Coefficient())
	}
	return out
}

// HouseholdOrder is the order of households wherever the ledger lists or splits them
// (ATTRIBUTION.md: ties of the leftover fen): the smaller household number (text) first,
// the unattributed part ("") after every household.
func HouseholdOrder(a, b households.HouseholdNo) int {
	switch {
	case a == b:
		return 0
	case a == "":
		return 1
	case b == "":
		return -1
	}
	return cmp.Compare(a, b)
}

// splitUint splits amount by integer weights whose sum fits in uint64.
func splitUint(amount money.Fen, keys []households.HouseholdNo, w []uint64) []money.Fen {
	var total uint64
	for _, v := range w {
		total += v
	}
	shares := make([]money.Fen, len(w))
	if amount == 0 {
		return shares
	}
	if total == 0 {
		panic(fmt.Sprintf("attribution.Split: %d fen to split but no positive weight among %d parts", amount, len(w)))
	}
	rem := make([]uint64, len(w))
	left := amount
	for i, v := range w {
		if v == 0 {
			continue
		}
		// amount·v < 2^63·total, so the high word is below total and Div64 cannot overflow;
		// the quotient is at most amount.
		hi, lo := bits.Mul64(uint64(amount), v)
		q, r := bits.Div64(hi, lo, total)
		shares[i] = money.Fen(q)
		rem[i] = r
		left -= money.Fen(q)
	}
	if left == 0 {
		return shares
	}
	order := candidates(rem, func(r uint64) bool { return r > 0 })
	slices.SortFunc(order, func(a, b int) int {
		if c := cmp.Compare(rem[b], rem[a]); c != 0 {
			return c
		}
		if c := HouseholdOrder(keys[a], keys[b]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	for _, i := range order[:left] {
		shares[i]++
	}
	return shares
}

// splitBig is splitUint with math/big.
func splitBig(amount money.Fen, keys []households.HouseholdNo, w []*big.Int) []money.Fen {
	total := new(big.Int)
	for _, v := range w {
		total.Add(total, v)
	}
	shares := make([]money.Fen, len(w))
	if amount == 0 {
		return shares
	}
	if total.Sign() == 0 {
		panic(fmt.Sprintf("attribution.Split: %d fen to split but no positive weight among %d parts", amount, len(w)))
	}
	a := big.NewInt(int64(amount))
	rem := make([]*big.Int, len(w))
	left := amount
	for i, v := range w {
		q, r := new(big.Int), new(big.Int)
		q.QuoRem(new(big.Int).Mul(a, v), total, r) // both non-negative: truncation is floor
		shares[i] = money.Fen(q.Int64())           // q <= amount
		rem[i] = r
		left -= shares[i]
	}
	if left == 0 {
		return shares
	}
	order := candidates(rem, func(r *big.Int) bool { return r.Sign() > 0 })
	slices.SortFunc(order, func(a, b int) int {
		if c := rem[b].Cmp(rem[a]); c != 0 {
			return c
		}
		if c := HouseholdOrder(keys[a], keys[b]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	for _, i := range order[:left] {
		shares[i]++
	}
	return shares
}

// candidates returns the indexes whose remainder is positive: only they can receive a
// leftover fen (the leftover equals the sum of fractional parts, each below 1, so it is
// smaller than their count).
func candidates[T any](rem []T, positive func(T) bool) []int {
	var out []int
	for i, r := range rem {
		if positive(r) {
			out = append(out, i)
		}
	}
	return out
}
