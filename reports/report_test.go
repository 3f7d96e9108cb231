package reports

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"aidmall/bizday"
	"aidmall/households"
	"aidmall/money"
	"aidmall/orders"
)

// lr is a ledger row of a union_funds CCB apple order from supplier YC01 in Yichuan
// (610630) by branch B01, unless changed by the options.
func lr(h, day string, amount money.Fen, opts ...func(*LedgerRow)) LedgerRow {
	r := LedgerRow{
		HouseholdNo: households.HouseholdNo(h), Day: bizday.MustParse(day), Amount: amount, Source: orders.EventDelivered,
		Funding: orders.FundingUnion, CountyCode: "610630", Category: "apple", SKU: "YC-APL-01",
		SupplierCode: "YC01", BranchCode: "B01", Mall: mallCCB,
	}
	if amount < 0 {
		r.Source = orders.EventRefunded
	}
	for _, o := range opts {
		o(&r)
	}
	return r
}

func sku(s string) func(*LedgerRow)              { return func(r *LedgerRow) { r.SKU = s } }
func funding(f orders.Funding) func(*LedgerRow)  { return func(r *LedgerRow) { r.Funding = f } }
func source(t orders.EventType) func(*LedgerRow) { return func(r *LedgerRow) { r.Source = t } }
func county(c string) func(*LedgerRow)           { return func(r *LedgerRow) { r.CountyCode = c } }

func year2019(by By) Query {
	return Query{From: bizday.MustParse("2019-01-01"), To: bizday.MustParse("2019-12-31"), By: by}
}

func TestCompute(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		rows    []LedgerRow
		members map[households.HouseholdNo]int
		labels  map[string]string
		q       Query
		totals  Totals
		out     []Row
	}{
		{
			// ATTRIBUTION.md §3.2: +100 in March, −100 in April.
			name:    "march_plus_100_april_minus_100_counts_in_march_row_not_in_year_total",
			rows:    []LedgerRow{lr("H1", "2019-03-10", 10000), lr("H1", "2019-04-05", -10000)},
			members: map[households.HouseholdNo]int{"H1": 4},
			q:       year2019(ByMonth),
			totals:  Totals{DeliveredAmount: 10000, RefundedAmount: 10000},
			out: []Row{
				{Key: "2019-03", Label: "2019-03", Households: 1, People: 4, NetAmount: 10000},
				{Key: "2019-04", Label: "2019-04", Households: 0, People: 0, NetAmount: -10000},
			},
		},
		{
			name: "total_counts_a_household_once_not_the_sum_of_rows",
			rows: []LedgerRow{
				lr("H1", "2019-03-10", 100, sku("A")), lr("H1", "2019-03-11", 50, sku("B")),
				lr("H2", "2019-03-12", 70, sku("B")),
			},
			members: map[households.HouseholdNo]int{"H1": 3, "H2": 2},
			q:       year2019(BySKU),
			totals:  Totals{Households: 2, People: 5, PurchasedAmount: 220, DeliveredAmount: 220},
			out: []Row{
				{Key: "A", Label: "A", Households: 1, People: 3, NetAmount: 100},
				{Key: "B", Label: "B", Households: 2, People: 5, NetAmount: 120},
			},
		},
		{
			// A household missing from members (not registered any more) adds no people.
			name:    "people_are_the_members_of_the_households_benefited",
			rows:    []LedgerRow{lr("H1", "2019-03-10", 1), lr("H2", "2019-03-10", 1), lr("H3", "2019-03-10", 1)},
			members: map[households.HouseholdNo]int{"H1": 3, "H2": 5, "H9": 7},
			q:       year2019(ByCounty),
			totals:  Totals{Households: 3, People: 8, PurchasedAmount: 3, DeliveredAmount: 3},
			out:     []Row{{Key: "610630", Label: "610630", Households: 3, People: 8, NetAmount: 3}},
		},
		{
			name:    "unattributed_counts_in_money_not_in_households",
			rows:    []LedgerRow{lr("", "2019-03-10", 50000), lr("H1", "2019-03-10", 10000), lr("", "2019-04-10", -2000)},
			members: map[households.HouseholdNo]int{"H1": 2},
			q:       year2019(ByCounty),
			totals: Totals{Households: 1, People: 2, PurchasedAmount: 58000, UnattributedAmount: 48000,
				DeliveredAmount: 60000, RefundedAmount: 2000},
			out: []Row{{Key: "610630", Label: "610630", Households: 1, People: 2, NetAmount: 58000}},
		},
		{
			name:   "only_unattributed_money_gives_a_row_with_no_households",
			rows:   []LedgerRow{lr("", "2019-03-10", 500, county("610825"))},
			q:      year2019(ByCounty),
			totals: Totals{PurchasedAmount: 500, UnattributedAmount: 500, DeliveredAmount: 500},
			out:    []Row{{Key: "610825", Label: "610825", NetAmount: 500}},
		},
		{
			name: "period_boundaries_are_inclusive_business_days",
			rows: []LedgerRow{
				lr("H1", "2019-02-28", 1), lr("H2", "2019-03-01", 10), lr("H3", "2019-03-31", 100),
				lr("H4", "2019-04-01", 1000),
			},
			members: map[households.HouseholdNo]int{"H1": 1, "H2": 1, "H3": 1, "H4": 1},
			q:       Query{From: bizday.MustParse("2019-03-01"), To: bizday.MustParse("2019-03-31"), By: ByMonth},
			totals:  Totals{Households: 2, People: 2, PurchasedAmount: 110, DeliveredAmount: 110},
			out:     []Row{{Key: "2019-03", Label: "2019-03", Households: 2, People: 2, NetAmount: 110}},
		},
		{
			name:   "one_day_period",
			rows:   []LedgerRow{lr("H1", "2019-03-09", 1), lr("H1", "2019-03-10", 10), lr("H1", "2019-03-11", 100)},
			q:      Query{From: bizday.MustParse("2019-03-10"), To: bizday.MustParse("2019-03-10"), By: ByMonth},
			totals: Totals{Households: 1, PurchasedAmount: 10, DeliveredAmount: 10},
			out:    []Row{{Key: "2019-03", Label: "2019-03", Households: 1, NetAmount: 10}},
		},
		{
			name: "purchased_is_union_funds_and_helped_to_sell_the_others_net_of_refunds",
			rows: []LedgerRow{
				lr("H1", "2019-03-10", 10000), lr("H1", "2019-03-11", -500),
				lr("H2", "2019-03-10", 2000, funding(orders.FundingEmployeePays)),
				lr("", "2019-03-10", 300, funding(orders.FundingExternal)),
				lr("H2", "2019-03-12", -100, funding(orders.FundingExternal)),
			},
			members: map[households.HouseholdNo]int{"H1": 1, "H2": 1},
			q:       year2019(ByFunding),
			totals: Totals{Households: 2, People: 2, PurchasedAmount: 9500, HelpedSellAmount: 2200,
				UnattributedAmount: 300, DeliveredAmount: 12300, RefundedAmount: 600},
			out: []Row{
				{Key: "employee_self_pay", Label: "employee_self_pay", Households: 1, People: 1, NetAmount: 2000},
				{Key: "external", Label: "external", Households: 0, People: 0, NetAmount: 200},
				{Key: "union_funds", Label: "union_funds", Households: 1, People: 1, NetAmount: 9500},
			},
		},
		{
			// A correcting entry of a delivery may be negative: it still counts as delivered.
			name: "delivered_and_refunded_follow_the_source_event_not_the_sign",
			rows: []LedgerRow{
				lr("H1", "2019-03-10", 600), lr("H1", "2019-03-10", -600, source(orders.EventDelivered)),
				lr("H2", "2019-03-10", 600), lr("H2", "2019-03-20", -200), lr("H2", "2019-03-20", 50, source(orders.EventRefunded)),
			},
			members: map[households.HouseholdNo]int{"H1": 1, "H2": 1},
			q:       year2019(ByMall),
			totals:  Totals{Households: 1, People: 1, PurchasedAmount: 450, DeliveredAmount: 600, RefundedAmount: 150},
			out:     []Row{{Key: "ccb", Label: "ccb", Households: 1, People: 1, NetAmount: 450}},
		},
		{
			name:    "labels_name_keys_and_default_to_the_key",
			rows:    []LedgerRow{lr("H1", "2019-03-10", 1), lr("H2", "2019-03-10", 1, county("610825")), lr("H3", "2019-03-10", 1, county("610000"))},
			members: map[households.HouseholdNo]int{"H1": 1, "H2": 1, "H3": 1},
			labels:  map[string]string{"610630": "宜川县", "610825": "定边县"},
			q:       year2019(ByCounty),
			totals:  Totals{Households: 3, People: 3, PurchasedAmount: 3, DeliveredAmount: 3},
			out: []Row{
				{Key: "610000", Label: "610000", Households: 1, People: 1, NetAmount: 1},
				{Key: "610630", Label: "宜川县", Households: 1, People: 1, NetAmount: 1},
				{Key: "610825", Label: "定边县", Households: 1, People: 1, NetAmount: 1},
			},
		},
		{
			name:   "no_entries_gives_no_rows_and_zero_totals",
			rows:   []LedgerRow{lr("H1", "2018-12-31", 100)},
			labels: nil,
			q:      year2019(ByCounty),
			out:    []Row{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Compute(tc.rows, tc.members, tc.labels, tc.q)
			want := Benefit{From: tc.q.From, To: tc.q.To, Timezone: "Asia/Shanghai", By: tc.q.By, Totals: tc.totals, Rows: tc.out}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Compute:\n got  %+v\n want %+v", got, want)
			}
		})
	}
}

func TestComputeKeysOfEveryDimension(t *testing.T) {
	t.Parallel()
	r := LedgerRow{
		HouseholdNo: "H1", Day: bizday.MustParse("2019-03-10"), Amount: 100, Source: orders.EventDelivered,
		Funding: orders.FundingExternal, CountyCode: "610825", Category: "walnut", SKU: "DB-WAL-02",
		SupplierCode: "DB02", BranchCode: "B07", Mall: mallABC,
	}
	want := map[By]string{
		ByCounty: "610825", ByCategory: "walnut", BySKU: "DB-WAL-02", BySupplier: "DB02",
		ByBranch: "B07", ByMall: "abc", ByMonth: "2019-03", ByFunding: "external",
	}
	if len(want) != len(Dimensions()) {
		t.Fatalf("test covers %d dimensions, package has %d", len(want), len(Dimensions()))
	}
	for _, by := range Dimensions() {
		t.Run(string(by), func(t *testing.T) {
			t.Parallel()
			got := Compute([]LedgerRow{r}, nil, nil, year2019(by))
			if len(got.Rows) != 1 || got.Rows[0].Key != want[by] {
				t.Fatalf("rows %+v, want one keyed %q", got.Rows, want[by])
			}
		})
	}
}

func TestParseBy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want By
		ok   bool
	}{
		{"county", ByCounty, true},
		{"funding", ByFunding, true},
		{" Month ", ByMonth, true},
		{"SKU", BySKU, true},
		{"", "", false},
		{"household", "", false},
		{"county,sku", "", false},
	}
	for _, tc := range tests {
		t.Run("parse_"+strings.TrimSpace(tc.in), func(t *testing.T) {
			t.Parallel()
			got, err := ParseBy(tc.in)
			if tc.ok != (err == nil) || got != tc.want {
				t.Fatalf("ParseBy(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
			}
			if err != nil && (!errors.Is(err, orders.ErrInvalid) || !strings.Contains(err.Error(), "/by")) {
				t.Fatalf("error %v should wrap ErrInvalid and name /by", err)
			}
		})
	}
}

func FuzzParseBy(f *testing.F) {
	for _, s := range []string{"county", " Mall", "month\n", "", "by", "ＣＯＵＮＴＹ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseBy(s)
		if err != nil {
			if b != "" || !errors.Is(err, orders.ErrInvalid) {
				t.Fatalf("ParseBy(%q) = %q, %v", s, b, err)
			}
			return
		}
		if !b.Valid() || !strings.EqualFold(strings.TrimSpace(s), string(b)) {
			t.Fatalf("ParseBy(%q) = %q, which is not the input's dimension", s, b)
		}
		if again, err := ParseBy(string(b)); err != nil || again != b {
			t.Fatalf("ParseBy(%q) does not read back: %q, %v", b, again, err)
		}
	})
}

func TestQueryValidate(t *testing.T) {
	t.Parallel()
	d := bizday.MustParse
	tests := []struct {
		name   string
		q      Query
		fields []string
	}{
		{"valid_year", Query{From: d("2019-01-01"), To: d("2019-12-31"), By: ByCounty}, nil},
		{"one_day_is_valid", Query{From: d("2019-01-01"), To: d("2019-01-01"), By: ByMonth}, nil},
		{"to_before_from_names_to", Query{From: d("2019-02-01"), To: d("2019-01-31"), By: ByMonth}, []string{"/to"}},
		{"missing_days_name_both", Query{By: ByMonth}, []string{"/from", "/to"}},
		{"unknown_by_names_by", Query{From: d("2019-01-01"), To: d("2019-01-31"), By: "province"}, []string{"/by"}},
		{"empty_by_names_by", Query{From: d("2019-01-01"), To: d("2019-01-31")}, []string{"/by"}},
		{"every_problem_listed", Query{From: d("2019-02-01"), To: d("2019-01-01"), By: "x"}, []string{"/to", "/by"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.q.Validate()
			if tc.fields == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var ve *orders.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, orders.ErrInvalid) {
				t.Fatalf("Validate() = %v, want a ValidationError wrapping ErrInvalid", err)
			}
			var got []string
			for _, f := range ve.Fields {
				got = append(got, f.Pointer)
			}
			if !reflect.DeepEqual(got, tc.fields) {
				t.Fatalf("fields %v, want %v (%v)", got, tc.fields, err)
			}
		})
	}
}

// The malls of the tests, by code: which malls exist is the drivers' knowledge, not the domain's.
const mallCCB, mallABC = orders.Mall("ccb"), orders.Mall("abc")

// A report's days must lie within FirstDay..LastDay: the year before (compare) and the
// month after (a range cut into months) of any day it accepts are days too.
func TestReportDaysAreBounded(t *testing.T) {
	day := bizday.MustParse
	for _, c := range []struct {
		from, to string
		ok       bool
	}{
		{"1901-01-01", "1901-12-31", true},
		{"9998-12-01", "9998-12-31", true},
		{"0001-01-01", "0001-12-31", false},
		{"1900-12-31", "1901-01-31", false},
		{"9999-12-15", "9999-12-31", false},
		{"2019-01-01", "9999-01-01", false},
	} {
		q := Query{From: day(c.from), To: day(c.to), By: ByCounty}
		bq := BreakdownQuery{Period: Period{From: day(c.from), To: day(c.to)}, By: []By{ByCounty}, Compare: true}
		for name, err := range map[string]error{"benefit": q.Validate(), "breakdown": bq.Validate()} {
			if c.ok && err != nil {
				t.Errorf("%s %s..%s refused: %v", name, c.from, c.to, err)
			}
			if !c.ok && !errors.Is(err, orders.ErrInvalid) {
				t.Errorf("%s %s..%s: %v, want a refusal (orders.ErrInvalid)", name, c.from, c.to, err)
			}
		}
	}
}
