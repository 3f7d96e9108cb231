// Package reports defines the benefit report of aidmall (受益统计: households and people
// benefited, purchased and helped-to-sell amounts; ATTRIBUTION.md §3) and holds its
// reference computation, Compute, over denormalised ledger rows, with renderers to a text
// table, CSV and JSON. The SQL store computes the same figures in SQL and is tested
// against Compute. It is pure: no clock, no I/O beyond the io.Writer it is given.
//
// Money is money.Fen (int64 fen), written as yuan with two decimals. Days are Beijing
// business days (bizday.Day); a report's period is inclusive at both ends.
package reports

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"aidmall/bizday"
	"aidmall/households"
	"aidmall/money"
	"aidmall/orders"
)

// Timezone is the zone of every report's days (ATTRIBUTION.md, Terms).
const Timezone = "Asia/Shanghai"

// By is the dimension a report breaks its figures down by.
type By string

// The dimensions of a breakdown (ATTRIBUTION.md §3: county, product category, SKU,
// supplier, union branch, mall, funding source; and month of the business day).
const (
	ByCounty   By = "county"   // the supplier's county, GB/T 2260 code (610630)
	ByCategory By = "category" // product category (apple, peppercorn, walnut)
	BySKU      By = "sku"      // the SKU
	BySupplier By = "supplier" // supplier code
	ByBranch   By = "branch"   // the ordering union branch's code
	ByMall     By = "mall"     // ccb or abc
	ByMonth    By = "month"    // the entry's business month, "YYYY-MM" (Beijing)
	ByFunding  By = "funding"  // union_funds, employee_self_pay, external
)

// Dimensions lists every By in the order they are documented.
func Dimensions() []By {
	return []By{ByCounty, ByCategory, BySKU, BySupplier, ByBranch, ByMall, ByMonth, ByFunding}
}

// Valid reports whether b is a known dimension.
func (b By) Valid() bool { return slices.Contains(Dimensions(), b) }

// ParseBy reads a dimension name; surrounding spaces and letter case are ignored
// ("County" is county). It returns an *orders.ValidationError (wrapping orders.ErrInvalid)
// for field "/by" when s names no dimension.
func ParseBy(s string) (By, error) {
	b := By(strings.ToLower(strings.TrimSpace(s)))
	if !b.Valid() {
		return "", &orders.ValidationError{Fields: []orders.FieldError{byError(s)}}
	}
	return b, nil
}

func byError(s string) orders.FieldError {
	names := make([]string, 0, 8)
	for _, d := range Dimensions() {
		names = append(names, string(d))
	}
	return orders.FieldError{Pointer: "/by", Detail: fmt.Sprintf("unknown dimension %q: want one of %s", s, strings.Join(names, ", "))}
}

// Query selects a report: the business days From through To, both inclusive (Beijing),
// broken down By a dimension.
type Query struct {
	From, To bizday.Day
	By       By
}

// Validate checks that From and To are set, From is not after To, and By is known. It
// returns an *orders.ValidationError (wrapping orders.ErrInvalid) listing every bad field
// by pointer: "/from", "/to", "/by".
func (q Query) Validate() error {
	fields := SpanErrors(q.From, q.To)
	if q.From.IsZero() {
		fields = append(fields, orders.FieldError{Pointer: "/from", Detail: "required (YYYY-MM-DD, Beijing)"})
	}
	if q.To.IsZero() {
		fields = append(fields, orders.FieldError{Pointer: "/to", Detail: "required (YYYY-MM-DD, Beijing)"})
	}
	if !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From) {
		fields = append(fields, orders.FieldError{Pointer: "/to", Detail: fmt.Sprintf("%s is before from %s", q.To, q.From)})
	}
	if !q.By.Valid() {
		fields = append(fields, byError(string(q.By)))
	}
	if len(fields) > 0 {
		return &orders.ValidationError{Fields: fields}
	}
	return nil
}

// LedgerRow is one ledger entry with the slice attributes of its sale line (denormalised).
// HouseholdNo "" is the unattributed part; Day is the entry's business day (Beijing);
// Amount is in fen, negative for refunds; Source is the type of the event the entry comes
// from (orders.EventDelivered or orders.EventRefunded, correcting entries included).
type LedgerRow struct {
	HouseholdNo  households.HouseholdNo
	Day          bizday.Day
	Amount       money.Fen
	Source       orders.EventType
	Funding      orders.Funding
	CountyCode   string
	Category     string
	SKU          string
	SupplierCode string
	BranchCode   string
	Mall         orders.Mall
}

// key returns r's key in dimension b ("" for an unknown dimension).
func (b By) key(r LedgerRow) string {
	switch b {
	case ByCounty:
		return r.CountyCode
	case ByCategory:
		return r.Category
	case BySKU:
		return r.SKU
	case BySupplier:
		return r.SupplierCode
	case ByBranch:
		return r.BranchCode
	case ByMall:
		return string(r.Mall)
	case ByMonth:
		return r.Day.Month()
	case ByFunding:
		return string(r.Funding)
	}
	return ""
}

// Totals are a report's figures over its whole period (ATTRIBUTION.md §3). Amounts are fen,
// written in JSON as yuan strings.
type Totals struct {
	// Households is the number of distinct households whose net over the whole period is
	// > 0 (§3.2): never the sum of the rows' counts.
	Households int `json:"households"`
	// People is the sum of 家庭人口数 over those households (§3.3).
	People int `json:"people"`
	// PurchasedAmount is the net (deliveries minus refunds) of union_funds orders (§3.4,
	// 购买贫困地区农产品), unattributed amounts included.
	PurchasedAmount money.Fen `json:"purchased_amount"`
	// HelpedSellAmount is the same for employee_self_pay and external orders (§3.4,
	// 帮助销售贫困地区农产品). An entry with any other funding value counts in neither.
	HelpedSellAmount money.Fen `json:"helped_sell_amount"`
	// UnattributedAmount is the net of the entries with no household (§2.2).
	UnattributedAmount money.Fen `json:"unattributed_amount"`
	// DeliveredAmount is the sum of the entries that come from deliveries.
	DeliveredAmount money.Fen `json:"delivered_amount"`
	// RefundedAmount is minus the sum of the entries that come from refunds (positive).
	RefundedAmount money.Fen `json:"refunded_amount"`
}

// Row is one slice of a breakdown: Households counts the households whose net in this
// slice over the period is > 0, People sums their members, NetAmount is the net of every
// entry of the slice, unattributed included (fen; yuan string in JSON).
type Row struct {
	Key        string    `json:"key"`
	Label      string    `json:"label"`
	Households int       `json:"households"`
	People     int       `json:"people"`
	NetAmount  money.Fen `json:"net_amount"`
}

// Benefit is a benefit report: the query, its totals and its rows sorted by key.
type Benefit struct {
	From     bizday.Day `json:"from"`
	To       bizday.Day `json:"to"`
	Timezone string     `json:"timezone"` // always Timezone
	By       By         `json:"by"`
	Totals   Totals     `json:"totals"`
	Rows     []Row      `json:"rows"`
}

// slice accumulates one row or the totals: net per household and the net of all entries.
type slice struct {
	net map[households.HouseholdNo]money.Fen // household → net; "" unattributed
	all money.Fen
}

func newSlice() *slice { return &slice{net: map[households.HouseholdNo]money.Fen{}} }

func (s *slice) add(r LedgerRow) {
	s.net[r.HouseholdNo] += r.Amount
	s.all += r.Amount
}

// benefited returns the number of households with net > 0 (the unattributed part never
// counts) and the sum of their members (a household missing from members adds 0).
func (s *slice) benefited(members map[households.HouseholdNo]int) (count, people int) {
	for h, v := range s.net {
		if h != "" && v > 0 {
			count++
			people += members[h]
		}
	}
	return count, people
}

// Compute is the reference implementation of ATTRIBUTION.md §3 over ledger rows.
//
// Only rows with q.From <= Day <= q.To count (inclusive, Beijing days). members gives
// 家庭人口数 per household number (as currently registered); labels gives the label of a
// key in the q.By dimension (the key itself when absent). A household counts in a row when
// its net in that row's slice is > 0, and in the totals when its net over the whole period
// is > 0: a household with +100 in March and −100 in April counts in March's row but not in
// the year's total, so the total is not the sum of the rows. The unattributed part counts
// in every amount and in no household count. A slice with entries in the period is a row
// even when its net or household count is 0. Rows are sorted by key (byte order); the
// result always has a non-nil Rows slice.
//
// Compute does not validate q (call Validate first): with an unknown By every row falls
// into one row keyed "".
func Compute(rows []LedgerRow, members map[households.HouseholdNo]int, labels map[string]string, q Query) Benefit {
	b := Benefit{From: q.From, To: q.To, Timezone: Timezone, By: q.By, Rows: []Row{}}
	from, to := q.From.Start().Unix(), q.To.Start().Unix()
	total := newSlice()
	byKey := map[string]*slice{}
	for _, r := range rows {
		if d := r.Day.Start().Unix(); r.Day.IsZero() || d < from || d > to {
			continue
		}
		total.add(r)
		k := q.By.key(r)
		s, ok := byKey[k]
		if !ok {
			s = newSlice()
			byKey[k] = s
		}
		s.add(r)
		t := &b.Totals
		switch r.Funding {
		case orders.FundingUnion:
			t.PurchasedAmount += r.Amount
		case orders.FundingEmployeePays, orders.FundingExternal:
			t.HelpedSellAmount += r.Amount
		}
		if r.HouseholdNo == "" {
			t.UnattributedAmount += r.Amount
		}
		switch r.Source {
		case orders.EventDelivered:
			t.DeliveredAmount += r.Amount
		case orders.EventRefunded:
			t.RefundedAmount -= r.Amount
		}
	}
	b.Totals.Households, b.Totals.People = total.benefited(members)
	for k, s := range byKey {
		row := Row{Key: k, Label: k, NetAmount: s.all}
		if l, ok := labels[k]; ok {
			row.Label = l
		}
		row.Households, row.People = s.benefited(members)
		b.Rows = append(b.Rows, row)
	}
	slices.SortFunc(b.Rows, func(x, y Row) int { return cmp.Compare(x.Key, y.Key) })
	return b
}

// FirstDay and LastDay bound the business days a report may cover: a report compares with
// the year before and cuts its range at the first day of the next month, and both must be
// days of the calendar too.
var (
	FirstDay = bizday.MustParse("1901-01-01")
	LastDay  = bizday.MustParse("9998-12-31")
)

// SpanErrors are the field errors of a report's days from..to outside FirstDay..LastDay
// (none for a zero day: the caller says it is required).
func SpanErrors(from, to bizday.Day) []orders.FieldError {
	var fields []orders.FieldError
	for _, f := range []struct {
		pointer string
		d       bizday.Day
	}{{"/from", from}, {"/to", to}} {
		if !f.d.IsZero() && (f.d.Before(FirstDay) || LastDay.Before(f.d)) {
			fields = append(fields, orders.FieldError{Pointer: f.pointer,
				Detail: fmt.Sprintf("%s is outside the business days a report covers, %s to %s", f.d, FirstDay, LastDay)})
		}
	}
	return fields
}
