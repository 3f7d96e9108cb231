package reports

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"aidmall/households"
	"aidmall/money"
	"aidmall/orders"
)

// ParseDimensions reads one dimension or a pair ("county,month"): known names (ParseBy),
// two at most, not the same twice. It returns an *orders.ValidationError for "/by".
func ParseDimensions(s string) ([]By, error) {
	parts := strings.Split(s, ",")
	if len(parts) > 2 {
		return nil, &orders.ValidationError{Fields: []orders.FieldError{{Pointer: "/by", Detail: fmt.Sprintf("%q: one dimension or a pair, e.g. county,month", s)}}}
	}
	var out []By
	for _, p := range parts {
		b, err := ParseBy(p)
		if err != nil {
			return nil, err
		}
		if slices.Contains(out, b) {
			return nil, &orders.ValidationError{Fields: []orders.FieldError{{Pointer: "/by", Detail: fmt.Sprintf("%q names %s twice", s, b)}}}
		}
		out = append(out, b)
	}
	return out, nil
}

// BreakdownQuery selects a breakdown: a period, one or two dimensions and, with Compare,
// the same figures for the same period a year before (Period.YearBefore) beside each row.
type BreakdownQuery struct {
	Period
	By      []By
	Compare bool
}

// Validate checks the period's ends and the dimensions (one or two, known, distinct).
func (q BreakdownQuery) Validate() error {
	fields := SpanErrors(q.Period.From, q.Period.To)
	if q.From.IsZero() || q.To.IsZero() || q.To.Before(q.From) {
		fields = append(fields, orders.FieldError{Pointer: "/to", Detail: "the period needs a start and an end not before it"})
	}
	if len(q.By) == 0 || len(q.By) > 2 || (len(q.By) == 2 && q.By[0] == q.By[1]) {
		fields = append(fields, orders.FieldError{Pointer: "/by", Detail: "one dimension or a pair of different ones"})
	}
	for _, b := range q.By {
		if !b.Valid() {
			fields = append(fields, byError(string(b)))
		}
	}
	if len(fields) > 0 {
		return &orders.ValidationError{Fields: fields}
	}
	return nil
}

// Figures are the figures of one slice over a period (ATTRIBUTION.md §3): households whose
// net in the slice is > 0, their people, the net amount of every entry (unattributed
// included) and the net units: units of the deliveries that moved money less the units of
// the refunds that moved money, each on its event's business day.
type Figures struct {
	Households int       `json:"households"`
	People     int       `json:"people"`
	NetAmount  money.Fen `json:"net_amount"`
	NetUnits   int64     `json:"net_units"`
}

// BreakdownTotals are a breakdown's totals: the benefit report's, and the net units.
type BreakdownTotals struct {
	Totals
	NetUnits int64 `json:"net_units"`
}

// BreakdownRow is one slice: its key in each dimension (in the order of By) with labels,
// its figures, and with a comparison the same slice's figures a year before (zero when
// it had no entries then). A month key is compared with the same month a year before.
type BreakdownRow struct {
	Keys   []string `json:"keys"`
	Labels []string `json:"labels"`
	Figures
	Previous *Figures `json:"previous,omitempty"`
}

// PreviousPeriod is the period a comparison looks at, with its totals.
type PreviousPeriod struct {
	Period
	Totals BreakdownTotals `json:"totals"`
}

// Breakdown is a one- or two-level breakdown, rows sorted by their keys.
type Breakdown struct {
	Period
	Timezone string          `json:"timezone"`
	By       []By            `json:"by"`
	Totals   BreakdownTotals `json:"totals"`
	Rows     []BreakdownRow  `json:"rows"`
	Previous *PreviousPeriod `json:"previous,omitempty"`
}

// UnitRow is one event that moved money, for net units: +quantity for a delivery,
// −quantity for a refund, on the event's business day, with its sale line's slices.
type UnitRow struct {
	LedgerRow
	Units int64
}

// rowKey joins keys into one map key.
func rowKey(keys []string) string { return strings.Join(keys, "\x00") }

// SortRows sorts rows by their keys, dimension by dimension (byte order).
func SortRows(rows []BreakdownRow) {
	slices.SortFunc(rows, func(a, b BreakdownRow) int { return slices.Compare(a.Keys, b.Keys) })
}

// Compare puts prev (the same query over cur's period a year before) beside cur: every
// row of either gets Previous, rows only in prev appear with zero current figures, and a
// month key of prev is matched with the month a year later.
func Compare(cur, prev Breakdown) Breakdown {
	out := cur
	out.Rows = slices.Clone(cur.Rows)
	out.Previous = &PreviousPeriod{Period: prev.Period, Totals: prev.Totals}
	idx := map[string]int{}
	for i := range out.Rows {
		idx[rowKey(out.Rows[i].Keys)] = i
		out.Rows[i].Previous = &Figures{}
	}
	for _, r := range prev.Rows {
		keys := slices.Clone(r.Keys)
		for j, b := range prev.By {
			if b == ByMonth && j < len(keys) {
				keys[j] = MonthAfter(keys[j], 12)
			}
		}
		f := r.Figures
		if i, ok := idx[rowKey(keys)]; ok {
			out.Rows[i].Previous = &f
			continue
		}
		labels := slices.Clone(r.Labels)
		for j, b := range prev.By {
			if b == ByMonth && j < len(labels) {
				labels[j] = keys[j]
			}
		}
		out.Rows = append(out.Rows, BreakdownRow{Keys: keys, Labels: labels, Previous: &f})
	}
	SortRows(out.Rows)
	return out
}

// MonthAfter returns the month n months after m ("YYYY-MM"); m itself when unreadable.
func MonthAfter(m string, n int) string {
	var y, mo int
	if _, err := fmt.Sscanf(m, "%04d-%02d", &y, &mo); err != nil || len(m) != 7 {
		return m
	}
	t := y*12 + (mo - 1) + n
	return fmt.Sprintf("%04d-%02d", t/12, t%12+1)
}

// ComputeBreakdown is the reference implementation of a breakdown over ledger and unit
// rows (§3 per row and for the totals), without comparison; labels[i] are the labels of
// dimension q.By[i]. Rows sorted by keys; never nil.
func ComputeBreakdown(rows []LedgerRow, units []UnitRow, members map[households.HouseholdNo]int, labels []map[string]string, q BreakdownQuery) Breakdown {
	b := Breakdown{Period: q.Period, Timezone: Timezone, By: q.By, Rows: []BreakdownRow{}}
	benefit := Compute(rows, members, nil, Query{From: q.From, To: q.To, By: q.By[0]})
	b.Totals.Totals = benefit.Totals
	keysOf := func(r LedgerRow) []string {
		ks := make([]string, len(q.By))
		for i, d := range q.By {
			ks[i] = d.key(r)
		}
		return ks
	}
	type acc struct {
		keys  []string
		s     *slice
		units int64
	}
	byKey := map[string]*acc{}
	get := func(ks []string) *acc {
		a, ok := byKey[rowKey(ks)]
		if !ok {
			a = &acc{keys: ks, s: newSlice()}
			byKey[rowKey(ks)] = a
		}
		return a
	}
	for _, r := range rows {
		if q.Contains(r.Day) {
			get(keysOf(r)).s.add(r)
		}
	}
	for _, u := range units {
		if q.Contains(u.Day) {
			get(keysOf(u.LedgerRow)).units += u.Units
			b.Totals.NetUnits += u.Units
		}
	}
	for _, a := range byKey {
		row := BreakdownRow{Keys: a.keys, Labels: make([]string, len(a.keys))}
		for i, k := range a.keys {
			row.Labels[i] = k
			if i < len(labels) {
				if l, ok := labels[i][k]; ok {
					row.Labels[i] = l
				}
			}
		}
		row.NetAmount, row.NetUnits = a.s.all, a.units
		row.Households, row.People = a.s.benefited(members)
		b.Rows = append(b.Rows, row)
	}
	SortRows(b.Rows)
	return b
}

// SupplierRow is one supplier's sales over a period: its figures, the unattributed part
// of its net (§2.2), and LinkedHouseholds: the registered households with a linkage to it
// active on at least one day of the period.
type SupplierRow struct {
	Supplier string `json:"supplier"`
	Label    string `json:"label"`
	County   string `json:"county"`
	Figures
	UnattributedAmount money.Fen `json:"unattributed_amount"`
	LinkedHouseholds   int       `json:"linked_households"`
}

// SupplierSales are the sales of every supplier of the catalogue over a period, rows by
// supplier code; a supplier with no entries has zero figures.
type SupplierSales struct {
	Period
	Timezone string          `json:"timezone"`
	Totals   BreakdownTotals `json:"totals"`
	Rows     []SupplierRow   `json:"rows"`
}

// UnattributedRow is a supplier's unattributed sales over a period (entries with no
// household, §2.2): deliveries, refunds (positive) and their net.
type UnattributedRow struct {
	Supplier        string    `json:"supplier"`
	Label           string    `json:"label"`
	County          string    `json:"county"`
	DeliveredAmount money.Fen `json:"delivered_amount"`
	RefundedAmount  money.Fen `json:"refunded_amount"`
	NetAmount       money.Fen `json:"net_amount"`
}

// Unattributed lists the suppliers with unattributed entries in a period, by code.
type Unattributed struct {
	Period
	Timezone string            `json:"timezone"`
	Total    money.Fen         `json:"unattributed_amount"`
	Rows     []UnattributedRow `json:"rows"`
}

// SpendingRow is one branch's money in one business month: Placed is the ordered amount
// of its orders placed that month, Cancelled the ordered amount of those of them that
// ended cancelled or rejected, Delivered and Refunded (positive) the ledger's deliveries
// and refunds of its orders on days of that month.
type SpendingRow struct {
	Branch    string    `json:"branch"`
	Label     string    `json:"label"`
	Month     string    `json:"month"`
	Placed    money.Fen `json:"placed_amount"`
	Delivered money.Fen `json:"delivered_amount"`
	Refunded  money.Fen `json:"refunded_amount"`
	Cancelled money.Fen `json:"cancelled_amount"`
}

// Spending is branch spending by month over a period, rows by branch then month, with
// the sums over every row.
type Spending struct {
	Period
	Timezone string        `json:"timezone"`
	Totals   SpendingRow   `json:"totals"`
	Rows     []SpendingRow `json:"rows"`
}

// SortSpending sorts rows by branch, then month.
func SortSpending(rows []SpendingRow) {
	slices.SortFunc(rows, func(a, b SpendingRow) int {
		return cmp.Or(cmp.Compare(a.Branch, b.Branch), cmp.Compare(a.Month, b.Month))
	})
}

// SortUnattributed sorts rows by supplier code.
func SortUnattributed(rows []UnattributedRow) {
	slices.SortFunc(rows, func(a, b UnattributedRow) int { return cmp.Compare(a.Supplier, b.Supplier) })
}
