package attribution

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"aidmall/bizday"
	"aidmall/households"
	"aidmall/money"
)

// BenchmarkWorkOut's baseline: the same ledger worked out with plain int64 arithmetic on
// inputs converted once, outside the measured loop — weights as whole multiples of their
// smallest unit, linkage validity and event days as Unix seconds, one linkage per
// household, households in number order — so that what it leaves out (decimals, maps,
// business days, Entry values) is what WorkOut's generality costs. The same rules: events
// in (instant, id) order, a delivery split over the linkages active on its day by largest
// remainder (ties to the smaller household), the whole amount unattributed when none is,
// a refund split over the households' nets, an event beyond the ordered quantity or the
// net delivered held.

type plainLine struct {
	qty, price int64
	from, to   []int64 // each household's linkage validity [from, to), to 0 = open
	weight     []int64
}

type plainEvent struct {
	at       int64 // instant, Unix nanoseconds
	day      int64 // its business day's first instant, Unix seconds
	id       string
	refund   bool
	qty, fen int64
}

// plainInputs converts line and evs for plainWorkOut; it refuses a line outside the
// baseline's shape (two linkages of one household, a weight finer than 4 places).
func plainInputs(line Line, evs []Event) (plainLine, []plainEvent, []households.HouseholdNo, error) {
	pl := plainLine{qty: line.Quantity, price: int64(line.UnitPrice)}
	var keys []households.HouseholdNo
	for _, l := range line.Linkages {
		if slices.Contains(keys, l.HouseholdNo) {
			return pl, nil, nil, fmt.Errorf("household %s has two linkages", l.HouseholdNo)
		}
		w := l.Weight.Shift(4)
		if !w.IsInteger() {
			return pl, nil, nil, fmt.Errorf("weight %s has more than 4 places", l.Weight)
		}
		keys = append(keys, l.HouseholdNo)
		var to int64
		if !l.ValidTo.IsZero() {
			to = l.ValidTo.Start().Unix()
		}
		pl.from, pl.to, pl.weight = append(pl.from, l.ValidFrom.Start().Unix()), append(pl.to, to), append(pl.weight, w.IntPart())
	}
	if !slices.IsSortedFunc(keys, HouseholdOrder) {
		return pl, nil, nil, fmt.Errorf("linkages not in household order")
	}
	pe := make([]plainEvent, len(evs))
	for i, e := range evs {
		pe[i] = plainEvent{at: e.OccurredAt.UnixNano(), day: bizday.Of(e.OccurredAt).Start().Unix(), id: e.ID,
			refund: e.Type == Refunded, qty: e.Quantity, fen: int64(e.RefundFen)}
	}
	return pl, pe, keys, nil
}

// plainWorkOut returns each household's net fen (the last one unattributed) and the
// number of entries booked.
func plainWorkOut(l plainLine, in []plainEvent) ([]int64, int) {
	evs := slices.Clone(in)
	slices.SortFunc(evs, func(a, b plainEvent) int {
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	n := len(l.weight)
	net := make([]int64, n+1)
	share, rem, w := make([]int64, n+1), make([]int64, n+1), make([]int64, n+1)
	order := make([]int, 0, n+1)
	var deliveredQty, deliveredFen, refundedFen int64
	entries := 0
	// split divides amount by w (total > 0) into share, largest remainder first.
	split := func(amount, total int64) {
		left := amount
		order = order[:0]
		for i := range w {
			share[i], rem[i] = 0, 0
			if w[i] == 0 {
				continue
			}
			share[i], rem[i] = amount*w[i]/total, amount*w[i]%total
			left -= share[i]
			if rem[i] > 0 {
				order = append(order, i)
			}
		}
		if left > 0 {
			slices.SortFunc(order, func(a, b int) int {
				if c := cmp.Compare(rem[b], rem[a]); c != 0 {
					return c
				}
				return a - b
			})
			for _, i := range order[:left] {
				share[i]++
			}
		}
	}
	for _, e := range evs {
		var sign int64 = 1
		if !e.refund {
			if e.qty <= 0 || e.qty > l.qty-deliveredQty {
				continue
			}
			amount := e.qty * l.price
			deliveredQty += e.qty
			deliveredFen += amount
			var total int64
			for i := range n {
				w[i] = 0
				if l.from[i] <= e.day && (l.to[i] == 0 || e.day < l.to[i]) {
					w[i] = l.weight[i]
					total += w[i]
				}
			}
			w[n] = 0
			if total == 0 {
				w[n], total = 1, 1
			}
			split(amount, total)
		} else {
			if e.fen <= 0 || e.fen > deliveredFen-refundedFen {
				continue
			}
			refundedFen += e.fen
			var total int64
			for i := range net {
				w[i] = max(net[i], 0)
				total += w[i]
			}
			split(e.fen, total)
			sign = -1
		}
		for i, s := range share {
			if s != 0 {
				net[i] += sign * s
				entries++
			}
		}
	}
	return net, entries
}

// checkPlain reports whether plainWorkOut gives WorkOut's nets and number of entries on
// line and evs: the baseline does the same work.
func checkPlain(line Line, evs []Event) (plainLine, []plainEvent, error) {
	pl, pe, keys, err := plainInputs(line, evs)
	if err != nil {
		return pl, nil, err
	}
	net, n := plainWorkOut(pl, pe)
	out := WorkOut(line, evs)
	want := map[households.HouseholdNo]money.Fen{}
	for _, e := range out.Entries {
		want[e.HouseholdNo] += e.Amount
	}
	for i, k := range append(keys, "") {
		if money.Fen(net[i]) != want[k] {
			return pl, nil, fmt.Errorf("household %q: plain net %d fen, WorkOut %d", k, net[i], want[k])
		}
	}
	if n != len(out.Entries) {
		return pl, nil, fmt.Errorf("plain booked %d entries, WorkOut %d", n, len(out.Entries))
	}
	return pl, pe, nil
}

// elapsedPer is d per operation of n, in nanoseconds.
func elapsedPer(d time.Duration, n int) float64 { return float64(d.Nanoseconds()) / float64(n) }
