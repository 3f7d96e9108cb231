package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"aidmall/adapters/sqlstore"
	"aidmall/examples"
	"aidmall/households"
	"aidmall/reports"
)

// The report set of issue 6 (indicators, two-level breakdowns with net units, supplier
// sales, unattributed sales, branch spending) re-derived from the bundle's files and
// ATTRIBUTION.md alone, in the style of independent_test.go. reports is imported only for
// the query and period types the store takes.

// indBreakdown is the breakdown of lg over [from, to] by dims: per joined key, households,
// people, net fen and net units; and the period's net units.
func (lg indLedger) breakdown(t *testing.T, from, to string, dims []string) (map[string][4]int64, int64) {
	t.Helper()
	key := func(day string, l *indLine) string {
		ks := make([]string, len(dims))
		for i, d := range dims {
			ks[i] = indKey(t, d, indEntry{day: day, line: l})
		}
		return strings.Join(ks, "|")
	}
	nets := map[string]map[string]int64{}
	net := map[string]int64{}
	units := map[string]int64{}
	for _, e := range lg.entries {
		if e.day < from || e.day > to {
			continue
		}
		k := key(e.day, e.line)
		if nets[k] == nil {
			nets[k] = map[string]int64{}
		}
		nets[k][e.household] += e.amount
		net[k] += e.amount
	}
	var total int64
	for _, u := range lg.units {
		if u.day < from || u.day > to {
			continue
		}
		units[key(u.day, u.line)] += u.units
		total += u.units
	}
	out := map[string][4]int64{}
	for k := range net {
		hh, people := indCount(nets[k], lg.members)
		out[k] = [4]int64{hh, people, net[k], units[k]}
	}
	for k, u := range units {
		if _, ok := out[k]; !ok {
			out[k] = [4]int64{0, 0, 0, u}
		}
	}
	return out, total
}

// indOrder is an order of orders.csv with its ordered amount and what its statements say.
type indOrder struct {
	ref, branch, funding, month, year string
	total                             int64
	cancelled                         bool // a cancel event and nothing shipped or delivered
}

func indOrders(t *testing.T, bundle fs.FS) []indOrder {
	t.Helper()
	read := func(name string) []byte {
		b, err := fs.ReadFile(bundle, name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	totals := map[string]int64{}
	for _, l := range indReadCSV(t, bytes.NewReader(read("order_lines.csv")), "order_lines.csv") {
		price, err := indFen(l["unit_price"])
		if err != nil {
			t.Fatal(err)
		}
		var q int64
		fmt.Sscan(l["quantity"], &q)
		totals[l["order_ref"]] += q * price
	}
	// What happened to each out_order_no, from the statements (event types only).
	cancelled, moved := map[string]bool{}, map[string]bool{}
	ccb := string(read("statement-ccb.csv"))
	for _, line := range strings.Split(ccb, "\n") {
		f := strings.Split(line, ",")
		if len(f) < 3 {
			continue
		}
		switch f[1] {
		case "order.cancelled":
			cancelled[f[2]] = true
		case "order.shipped", "order.delivered":
			moved[f[2]] = true
		}
	}
	for _, line := range strings.Split(string(read("statement-abc.jsonl")), "\n") {
		out := between(line, `"partnerOrderNo":"`, `"`)
		switch {
		case strings.Contains(line, `"ORDER_CANCELLED"`):
			cancelled[out] = true
		case strings.Contains(line, `"ITEM_SHIPPED"`), strings.Contains(line, `"ITEM_DELIVERED"`):
			moved[out] = true
		}
	}
	var out []indOrder
	for _, o := range indReadCSV(t, bytes.NewReader(read("orders.csv")), "orders.csv") {
		at, err := time.Parse(time.RFC3339, o["placed_at"])
		if err != nil {
			t.Fatal(err)
		}
		day := at.In(indBeijing).Format("2006-01-02")
		out = append(out, indOrder{ref: o["order_ref"], branch: o["branch_code"], funding: o["funding"], month: day[:7], year: day[:4],
			total: totals[o["order_ref"]], cancelled: cancelled[o["out_order_no"]] && !moved[o["out_order_no"]]})
	}
	return out
}

func between(s, a, b string) string {
	i := strings.Index(s, a)
	if i < 0 {
		return ""
	}
	s = s[i+len(a):]
	if j := strings.Index(s, b); j >= 0 {
		return s[:j]
	}
	return s
}

// assertIndependentReportSet compares the store's indicators of 2019 and its breakdowns,
// supplier sales, unattributed sales and spending with the independent computation.
func assertIndependentReportSet(t *testing.T, st *sqlstore.Store) {
	t.Helper()
	ctx := context.Background()
	bundle := examples.YichuanDingbian2019()
	lg := indWorkOutLedger(t, bundle)
	const from, to = "2019-01-01", "2019-12-31"
	year := reports.YearPeriod(2019)

	// Indicators: per branch purchased / helped-to-sell, households, people, budget, used.
	x, err := st.Indicators(ctx, 2019)
	if err != nil {
		t.Fatal(err)
	}
	totals, byBranch := lg.report(t, from, to, "branch")
	amounts, _ := lg.breakdown(t, from, to, []string{"branch", "funding"})
	budgets := map[string]int64{}
	for _, b := range indReadCSV(t, bytes.NewReader(mustRead(t, bundle, "branches.csv")), "branches.csv") {
		v, err := indFen(b["budget"])
		if err != nil {
			t.Fatal(err)
		}
		budgets[b["code"]] = v
	}
	// Used: union_funds orders placed in 2019, less those cancelled, less refunds applied
	// to their lines (on any day).
	refunds := map[string]int64{} // order_ref → refunded fen
	for _, e := range lg.entries {
		if e.source == "refunded" {
			refunds[strings.Split(e.line.ref, "/")[0]] -= e.amount
		}
	}
	used := map[string]int64{}
	for _, o := range indOrders(t, bundle) {
		if o.funding == "union_funds" && o.year == "2019" && !o.cancelled {
			used[o.branch] += o.total - refunds[o.ref]
		}
	}
	var groupUsed int64
	for _, r := range x.Branches {
		what := "indicators 2019 branch " + r.Branch
		purchased := amounts[r.Branch+"|union_funds"][2]
		helped := amounts[r.Branch+"|employee_self_pay"][2] + amounts[r.Branch+"|external"][2]
		w := byBranch[r.Branch]
		for _, f := range []struct {
			name      string
			got, want int64
		}{
			{"purchased", int64(r.PurchasedAmount), purchased}, {"helped_sell", int64(r.HelpedSellAmount), helped},
			{"households", int64(r.Households), w[0]}, {"people", int64(r.People), w[1]}, {"used", int64(r.Used), used[r.Branch]},
		} {
			if f.got != f.want {
				t.Errorf("%s: %s: service %d, rules %d", what, f.name, f.got, f.want)
			}
		}
		if b, ok := budgets[r.Branch]; !ok || r.Budget == nil || int64(*r.Budget) != b {
			t.Errorf("%s: budget %v, branches.csv %d", what, r.Budget, b)
		}
		groupUsed += used[r.Branch]
	}
	if len(x.Branches) != len(budgets) {
		t.Errorf("indicators 2019: %d branches, branches.csv has %d", len(x.Branches), len(budgets))
	}
	g := x.Group
	if int64(g.PurchasedAmount) != totals["purchased_fen"] || int64(g.HelpedSellAmount) != totals["helped_fen"] ||
		int64(g.Households) != totals["households"] || int64(g.People) != totals["people"] || int64(g.Used) != groupUsed {
		t.Errorf("indicators 2019 group: service %+v, rules %v, used %d", g, totals, groupUsed)
	}

	// Breakdowns: every pair in both orders is too many for a test; these cover each
	// dimension, first and second, and the year's net units.
	for _, p := range []reports.Period{year, {From: year.From, To: reports.YearPeriod(2019).From.AddDays(89)}} {
		for _, dims := range [][]string{{"county", "month"}, {"category", "branch"}, {"supplier", "funding"}, {"mall", "sku"}, {"month", "county"}, {"sku"}} {
			var by []reports.By
			for _, d := range dims {
				by = append(by, reports.By(d))
			}
			what := fmt.Sprintf("breakdown %s..%s by %v", p.From, p.To, dims)
			got, err := st.Breakdown(ctx, reports.BreakdownQuery{Period: p, By: by})
			if err != nil {
				t.Fatal(err)
			}
			want, units := lg.breakdown(t, p.From.String(), p.To.String(), dims)
			if got.Totals.NetUnits != units {
				t.Errorf("%s: net units: service %d, rules %d", what, got.Totals.NetUnits, units)
			}
			if len(got.Rows) != len(want) {
				t.Errorf("%s: %d rows, rules %d", what, len(got.Rows), len(want))
			}
			for _, r := range got.Rows {
				w := want[strings.Join(r.Keys, "|")]
				if have := [4]int64{int64(r.Households), int64(r.People), int64(r.NetAmount), r.NetUnits}; have != w {
					t.Errorf("%s: row %v: service %v, rules %v", what, r.Keys, have, w)
				}
			}
		}
	}

	// Supplier sales and unattributed sales of 2019.
	sales, err := st.SupplierSales(ctx, year)
	if err != nil {
		t.Fatal(err)
	}
	bySupplier, _ := lg.breakdown(t, from, to, []string{"supplier"})
	unattributed := map[string]int64{}
	for _, e := range lg.entries {
		if e.household == "" && e.day >= from && e.day <= to {
			unattributed[e.line.supplier] += e.amount
		}
	}
	linked := indLinked(t, bundle, lg.members, from, to)
	for _, r := range sales.Rows {
		w := bySupplier[r.Supplier]
		have := [6]int64{int64(r.Households), int64(r.People), int64(r.NetAmount), r.NetUnits, int64(r.UnattributedAmount), int64(r.LinkedHouseholds)}
		if want := [6]int64{w[0], w[1], w[2], w[3], unattributed[r.Supplier], linked[r.Supplier]}; have != want {
			t.Errorf("supplier sales 2019 %s: service %v, rules %v", r.Supplier, have, want)
		}
	}
	un, err := st.Unattributed(ctx, year)
	if err != nil {
		t.Fatal(err)
	}
	var unTotal int64
	for _, v := range unattributed {
		unTotal += v
	}
	if int64(un.Total) != unTotal || int64(un.Total) != totals["unattributed_fen"] {
		t.Errorf("unattributed 2019: service %s, rules %d (report %d)", un.Total, unTotal, totals["unattributed_fen"])
	}
	for _, r := range un.Rows {
		if int64(r.NetAmount) != unattributed[r.Supplier] {
			t.Errorf("unattributed 2019 %s: service %s, rules %d", r.Supplier, r.NetAmount, unattributed[r.Supplier])
		}
	}

	var nCancelled int
	for _, o := range indOrders(t, bundle) {
		if o.cancelled {
			nCancelled++
		}
	}
	if groupUsed <= 0 || len(sales.Rows) == 0 || unTotal <= 0 {
		t.Errorf("the independent report set is empty: used %d, %d suppliers, unattributed %d", groupUsed, len(sales.Rows), unTotal)
	}
	t.Logf("independent 2019 report set: used %d fen, %d orders cancelled, unattributed %d fen", groupUsed, nCancelled, unTotal)

	// Branch spending by month of 2019.
	sp, err := st.Spending(ctx, year)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][4]int64{} // branch|month → placed, delivered, refunded, cancelled
	for _, o := range indOrders(t, bundle) {
		if o.year == "2019" {
			v := want[o.branch+"|"+o.month]
			v[0] += o.total
			if o.cancelled {
				v[3] += o.total
			}
			want[o.branch+"|"+o.month] = v
		}
	}
	for _, e := range lg.entries {
		if e.day >= from && e.day <= to {
			k := e.line.branch + "|" + e.day[:7]
			v := want[k]
			if e.source == "delivered" {
				v[1] += e.amount
			} else {
				v[2] -= e.amount
			}
			want[k] = v
		}
	}
	if len(sp.Rows) != len(want) {
		t.Errorf("spending 2019: %d rows, rules %d", len(sp.Rows), len(want))
	}
	for _, r := range sp.Rows {
		k := r.Branch + "|" + r.Month
		if have := [4]int64{int64(r.Placed), int64(r.Delivered), int64(r.Refunded), int64(r.Cancelled)}; have != want[k] {
			t.Errorf("spending 2019 %s: service %v, rules %v", k, have, want[k])
		}
	}
}

func mustRead(t *testing.T, bundle fs.FS, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(bundle, name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// indLinked counts per supplier the registered households with a linkage active on at
// least one day of [from, to] (valid_from <= D < valid_to).
func indLinked(t *testing.T, bundle fs.FS, members map[string]int, from, to string) map[string]int64 {
	t.Helper()
	links, _, err := households.ParseLinkages(csvFile(t, bytes.NewReader(mustRead(t, bundle, "linkages.csv"))))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]map[string]bool{}
	for _, l := range links {
		if _, ok := members[string(l.HouseholdNo)]; !ok {
			continue
		}
		vf, vt := l.ValidFrom.String(), ""
		if !l.ValidTo.IsZero() {
			vt = l.ValidTo.String()
		}
		if vf <= to && (vt == "" || (vt > from && vf < vt)) {
			if seen[l.SupplierCode] == nil {
				seen[l.SupplierCode] = map[string]bool{}
			}
			seen[l.SupplierCode][string(l.HouseholdNo)] = true
		}
	}
	out := map[string]int64{}
	for s, hs := range seen {
		out[s] = int64(len(hs))
	}
	return out
}
