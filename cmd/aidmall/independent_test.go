package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"aidmall/adapters/sqlstore"
	"aidmall/bizday"
	"aidmall/examples"
	"aidmall/households"
	"aidmall/reports"
)

// This file re-derives the bundle's benefit reports from ATTRIBUTION.md alone, with none
// of the service's attribution or report code: the registry files are read with the
// households parsers (input parsing only), everything else — the statements, the orders
// and their lines, the ledger, the splits and the counting — is written out here, naively,
// with exact rationals. reports is imported only for the Query type that st.Benefit takes.

// indBeijing is Asia/Shanghai: UTC+08:00 all year since 1991 (ATTRIBUTION.md, Terms).
var indBeijing = time.FixedZone("UTC+8", 8*3600)

// indLine is one sale line of the bundle with the attributes of its slices.
type indLine struct {
	ref                             string // order_ref/line_no
	mall, funding, branch           string
	sku, category, supplier, county string
	qty                             int64
	priceFen                        int64
	mallOrderNo                     string
}

// indEvent is one money-moving statement event (delivered or refunded) of a sale line.
type indEvent struct {
	mall, id, typ string // typ: "delivered" or "refunded"
	at            time.Time
	qty           int64
	refundFen     int64
}

// indEntry is one ledger entry: household "" is the unattributed part; day is the
// YYYY-MM-DD Beijing business day of the event it comes from; amount is fen.
type indEntry struct {
	household string
	day       string
	amount    int64
	source    string // "delivered" or "refunded"
	line      *indLine
}

// indLedger is the whole bundle worked out by the rules, with the registry's member counts.
type indLedger struct {
	entries []indEntry
	members map[string]int
	units   []indUnit // the events that moved money: +units delivered, −units refunded
}

// indUnit is an event that moved money: its business day, its units (negative for a
// refund) and its sale line.
type indUnit struct {
	day   string
	units int64
	line  *indLine
}

// indFen reads a yuan amount with at most two decimals ("68", "68.5", "68.00") as fen,
// exactly.
func indFen(s string) (int64, error) {
	r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
	if !ok || strings.ContainsAny(s, "eE/") {
		return 0, fmt.Errorf("not a yuan amount: %q", s)
	}
	r.Mul(r, big.NewRat(100, 1))
	if !r.IsInt() || !r.Num().IsInt64() {
		return 0, fmt.Errorf("yuan amount %q is not a whole number of fen", s)
	}
	return r.Num().Int64(), nil
}

// indTieLess orders claimants for the leftover fen of a split: household numbers as text,
// ascending, and the unattributed part ("") after every household (ATTRIBUTION.md §2).
func indTieLess(a, b string) bool {
	switch {
	case a == "":
		return false
	case b == "":
		return true
	}
	return a < b
}

// indLargestRemainder splits amount fen (>= 0) over keys in proportion to weights (>= 0,
// not all zero) by the largest remainder method of ATTRIBUTION.md §2: floors of the exact
// shares, then one fen each to the largest fractional parts, ties by indTieLess.
func indLargestRemainder(amount int64, keys []string, weights []*big.Rat) []int64 {
	total := new(big.Rat)
	for _, w := range weights {
		total.Add(total, w)
	}
	shares := make([]int64, len(keys))
	fracs := make([]*big.Rat, len(keys))
	left := amount
	for i, w := range weights {
		exact := new(big.Rat).Mul(big.NewRat(amount, 1), w)
		exact.Quo(exact, total)
		fl := new(big.Int).Quo(exact.Num(), exact.Denom()) // exact >= 0: truncation is the floor
		shares[i] = fl.Int64()
		fracs[i] = new(big.Rat).Sub(exact, new(big.Rat).SetInt(fl))
		left -= shares[i]
	}
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := fracs[b].Cmp(fracs[a]); c != 0 { // larger fraction first
			return c
		}
		if indTieLess(keys[a], keys[b]) {
			return -1
		}
		if indTieLess(keys[b], keys[a]) {
			return 1
		}
		return 0
	})
	for i := int64(0); i < left; i++ {
		shares[order[i]]++
	}
	return shares
}

func indReadCSV(t *testing.T, r io.Reader, name string) []map[string]string {
	t.Helper()
	recs, err := csv.NewReader(r).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(recs) == 0 {
		t.Fatalf("%s: empty", name)
	}
	var out []map[string]string
	for _, rec := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[strings.TrimPrefix(h, "\ufeff")] = rec[i]
		}
		out = append(out, m)
	}
	return out
}

// indWorkOutLedger works the bundle out by the rules.
func indWorkOutLedger(t *testing.T, bundle fs.FS) indLedger {
	t.Helper()
	read := func(name string) []byte {
		b, err := fs.ReadFile(bundle, name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	// Registry and catalogue (the households parsers; bad rows are left out as at import).
	hs, _, err := households.ParseHouseholds("households.xlsx", householdSheet(t, bytes.NewReader(read("households.xlsx"))))
	if err != nil {
		t.Fatal(err)
	}
	members := map[string]int{}
	for _, h := range hs {
		members[string(h.No)] = h.Members
	}
	sups, bad, err := households.ParseSuppliers(csvFile(t, bytes.NewReader(read("suppliers.csv"))))
	if err != nil || len(bad) > 0 {
		t.Fatalf("suppliers.csv: %v %v", err, bad)
	}
	county := map[string]string{}
	for _, s := range sups {
		county[s.Code] = s.CountyCode
	}
	prods, bad, err := households.ParseProducts(csvFile(t, bytes.NewReader(read("products.csv"))))
	if err != nil || len(bad) > 0 {
		t.Fatalf("products.csv: %v %v", err, bad)
	}
	products := map[string]households.Product{}
	for _, p := range prods {
		products[p.SKU] = p
	}
	links, _, err := households.ParseLinkages(csvFile(t, bytes.NewReader(read("linkages.csv"))))
	if err != nil {
		t.Fatal(err)
	}
	type link struct {
		household, from, to string // to "" is open-ended; [from, to)
		weight              *big.Rat
	}
	bySupplier := map[string][]link{}
	for _, l := range links {
		if _, ok := members[string(l.HouseholdNo)]; !ok {
			continue // a household missing from the registry, or whose row was bad
		}
		w, ok := new(big.Rat).SetString(l.Weight.String())
		if !ok || w.Sign() <= 0 {
			t.Fatalf("linkage weight %q", l.Weight.String())
		}
		to := ""
		if !l.ValidTo.IsZero() {
			to = l.ValidTo.String()
		}
		bySupplier[l.SupplierCode] = append(bySupplier[l.SupplierCode], link{string(l.HouseholdNo), l.ValidFrom.String(), to, w})
	}

	// Orders and their lines, keyed by (mall, out_order_no, line_no).
	type orderRow struct{ mall, funding, branch, out, mallNo string }
	ordersByRef := map[string]orderRow{}
	for _, o := range indReadCSV(t, bytes.NewReader(read("orders.csv")), "orders.csv") {
		switch o["funding"] {
		case "union_funds", "employee_self_pay", "external":
		default:
			t.Fatalf("orders.csv: order %s has funding %q", o["order_ref"], o["funding"])
		}
		ordersByRef[o["order_ref"]] = orderRow{o["mall"], o["funding"], o["branch_code"], o["out_order_no"], o["mall_order_no"]}
	}
	lines := map[string]*indLine{} // mall/out_order_no/line_no
	for _, l := range indReadCSV(t, bytes.NewReader(read("order_lines.csv")), "order_lines.csv") {
		o, ok := ordersByRef[l["order_ref"]]
		if !ok {
			t.Fatalf("order_lines.csv: unknown order %s", l["order_ref"])
		}
		p, ok := products[l["sku"]]
		if !ok {
			t.Fatalf("order_lines.csv: unknown sku %s", l["sku"])
		}
		q, err := strconv.ParseInt(l["quantity"], 10, 64)
		if err != nil || q <= 0 {
			t.Fatalf("order_lines.csv: quantity %q", l["quantity"])
		}
		price, err := indFen(l["unit_price"])
		if err != nil {
			t.Fatalf("order_lines.csv: %v", err)
		}
		k := o.mall + "/" + o.out + "/" + l["line_no"]
		if lines[k] != nil {
			t.Fatalf("order_lines.csv: line %s twice", k)
		}
		lines[k] = &indLine{ref: l["order_ref"] + "/" + l["line_no"], mall: o.mall, funding: o.funding, branch: o.branch,
			sku: p.SKU, category: string(p.Category), supplier: p.SupplierCode, county: county[p.SupplierCode],
			qty: q, priceFen: price, mallOrderNo: o.mallNo}
	}

	// Statements: money-moving events, once per (mall, event id).
	events := map[*indLine][]indEvent{}
	seen := map[string]indEvent{}
	add := func(e indEvent, out, mallNo, lineNo string) {
		if prev, dup := seen[e.mall+"/"+e.id]; dup {
			if prev != e {
				t.Fatalf("%s event %s repeated with other content: %+v and %+v", e.mall, e.id, prev, e)
			}
			return
		}
		seen[e.mall+"/"+e.id] = e
		l := lines[e.mall+"/"+out+"/"+lineNo]
		if l == nil {
			t.Fatalf("%s event %s names an unknown sale line %s/%s", e.mall, e.id, out, lineNo)
		}
		if l.mallOrderNo != mallNo {
			t.Fatalf("%s event %s: mall order %s, orders.csv says %s", e.mall, e.id, mallNo, l.mallOrderNo)
		}
		events[l] = append(events[l], e)
	}
	ccbText, err := io.ReadAll(transform.NewReader(bytes.NewReader(read("statement-ccb.csv")), simplifiedchinese.GB18030.NewDecoder()))
	if err != nil {
		t.Fatal(err)
	}
	ccbRecs, err := csv.NewReader(bytes.NewReader(ccbText)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if want := "通知编号,事件类型,商户订单号,商城订单号,行号,数量,退款金额,发生时间"; strings.Join(ccbRecs[0], ",") != want {
		t.Fatalf("statement-ccb.csv header %q", ccbRecs[0])
	}
	for _, r := range ccbRecs[1:] {
		var typ string
		switch r[1] {
		case "order.delivered":
			typ = "delivered"
		case "order.refunded":
			typ = "refunded"
		case "order.accepted", "order.shipped", "order.cancelled":
			continue // state only, never the ledger (§1.1)
		default:
			t.Fatalf("statement-ccb.csv: event type %q", r[1])
		}
		at, err := time.ParseInLocation("2006-01-02 15:04:05", r[7], indBeijing)
		if err != nil {
			t.Fatal(err)
		}
		q, err := strconv.ParseInt(r[5], 10, 64)
		if err != nil || q < 0 {
			t.Fatalf("statement-ccb.csv %s: quantity %q", r[0], r[5])
		}
		e := indEvent{mall: "ccb", id: r[0], typ: typ, at: at, qty: q}
		if typ == "refunded" {
			if e.refundFen, err = indFen(r[6]); err != nil || e.refundFen < 0 {
				t.Fatalf("statement-ccb.csv %s: amount %q", r[0], r[6])
			}
		}
		add(e, r[2], r[3], r[4])
	}
	for i, raw := range bytes.Split(read("statement-abc.jsonl"), []byte("\n")) {
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		var n struct {
			EventID, EventType, OccurredAt, PartnerOrderNo, MallOrderNo string
			LineNo, Quantity                                            *int64
			RefundFen                                                   int64
		}
		if err := json.Unmarshal(raw, &n); err != nil {
			t.Fatalf("statement-abc.jsonl line %d: %v", i+1, err)
		}
		var typ string
		switch n.EventType {
		case "ITEM_DELIVERED":
			typ = "delivered"
		case "ITEM_REFUNDED":
			typ = "refunded"
		case "ORDER_CONFIRMED", "ITEM_SHIPPED", "ORDER_CANCELLED":
			continue
		default:
			t.Fatalf("statement-abc.jsonl line %d: event type %q", i+1, n.EventType)
		}
		at, err := time.Parse(time.RFC3339, n.OccurredAt)
		if err != nil || n.LineNo == nil || n.Quantity == nil || *n.Quantity < 0 || n.RefundFen < 0 {
			t.Fatalf("statement-abc.jsonl line %d: %s", i+1, raw)
		}
		e := indEvent{mall: "abc", id: n.EventID, typ: typ, at: at, qty: *n.Quantity}
		if typ == "refunded" {
			e.refundFen = n.RefundFen
		}
		add(e, n.PartnerOrderNo, n.MallOrderNo, strconv.FormatInt(*n.LineNo, 10))
	}

	// Work every line out (§1, §2).
	var entries []indEntry
	var units []indUnit
	for l, es := range events {
		slices.SortFunc(es, func(a, b indEvent) int {
			if c := a.at.Compare(b.at); c != 0 {
				return c
			}
			return strings.Compare(a.id, b.id)
		})
		var delivered int64         // quantity of the deliveries that moved money
		var net int64               // fen delivered net of refunds
		claim := map[string]int64{} // claimant ("" unattributed) → its net on this line
		for _, e := range es {
			day := e.at.In(indBeijing).Format("2006-01-02")
			switch e.typ {
			case "delivered":
				if delivered+e.qty > l.qty {
					continue // held for review (§1.6)
				}
				delivered += e.qty
				units = append(units, indUnit{day, e.qty, l})
				amount := e.qty * l.priceFen
				net += amount
				weights := map[string]*big.Rat{}
				for _, k := range bySupplier[l.supplier] {
					if k.from <= day && (k.to == "" || day < k.to) {
						if weights[k.household] == nil {
							weights[k.household] = new(big.Rat)
						}
						weights[k.household].Add(weights[k.household], k.weight)
					}
				}
				if len(weights) == 0 {
					claim[""] += amount
					entries = append(entries, indEntry{"", day, amount, "delivered", l})
					continue
				}
				var keys []string
				var ws []*big.Rat
				for h, w := range weights {
					keys = append(keys, h)
					ws = append(ws, w)
				}
				for i, s := range indLargestRemainder(amount, keys, ws) {
					claim[keys[i]] += s
					entries = append(entries, indEntry{keys[i], day, s, "delivered", l})
				}
			case "refunded":
				if e.refundFen > net {
					continue // held for review (§1.6); equal applies
				}
				net -= e.refundFen
				units = append(units, indUnit{day, -e.qty, l})
				if e.refundFen == 0 {
					continue
				}
				var keys []string
				var ws []*big.Rat
				for h, v := range claim {
					keys = append(keys, h)
					ws = append(ws, big.NewRat(v, 1))
				}
				for i, s := range indLargestRemainder(e.refundFen, keys, ws) {
					claim[keys[i]] -= s
					entries = append(entries, indEntry{keys[i], day, -s, "refunded", l})
				}
			}
		}
	}
	return indLedger{entries: entries, members: members, units: units}
}

// indKey is an entry's key in a breakdown dimension.
func indKey(t *testing.T, by string, e indEntry) string {
	switch by {
	case "county":
		return e.line.county
	case "category":
		return e.line.category
	case "sku":
		return e.line.sku
	case "supplier":
		return e.line.supplier
	case "branch":
		return e.line.branch
	case "mall":
		return e.line.mall
	case "month":
		return e.day[:7]
	case "funding":
		return e.line.funding
	}
	t.Fatalf("unknown dimension %q", by)
	return ""
}

// indCount applies §3.2–3.3 to per-household nets: households with net > 0 (never the
// unattributed part) and the sum of their members.
func indCount(nets map[string]int64, members map[string]int) (hh, people int64) {
	for h, v := range nets {
		if h != "" && v > 0 {
			hh++
			people += int64(members[h])
		}
	}
	return hh, people
}

// report applies ATTRIBUTION.md §3 to the entries whose business day lies in [from, to]
// (YYYY-MM-DD, both inclusive), broken down by the dimension by.
func (lg indLedger) report(t *testing.T, from, to, by string) (map[string]int64, map[string][3]int64) {
	t.Helper()
	totals := map[string]int64{}
	whole := map[string]int64{}
	slice := map[string]map[string]int64{}
	sliceNet := map[string]int64{}
	for _, e := range lg.entries {
		if e.day < from || e.day > to {
			continue
		}
		whole[e.household] += e.amount
		k := indKey(t, by, e)
		if slice[k] == nil {
			slice[k] = map[string]int64{}
		}
		slice[k][e.household] += e.amount
		sliceNet[k] += e.amount
		switch e.line.funding {
		case "union_funds":
			totals["purchased_fen"] += e.amount
		case "employee_self_pay", "external":
			totals["helped_fen"] += e.amount
		}
		if e.household == "" {
			totals["unattributed_fen"] += e.amount
		}
		switch e.source {
		case "delivered":
			totals["delivered_fen"] += e.amount
		case "refunded":
			totals["refunded_fen"] -= e.amount
		}
	}
	totals["households"], totals["people"] = indCount(whole, lg.members)
	rows := map[string][3]int64{}
	for k, nets := range slice {
		hh, people := indCount(nets, lg.members)
		rows[k] = [3]int64{hh, people, sliceNet[k]}
	}
	return totals, rows
}

// independentReport is the benefit report of the embedded bundle for the business days
// from through to (YYYY-MM-DD, Beijing, both inclusive) broken down by (county, category,
// sku, supplier, branch, mall, month, funding), worked out from ATTRIBUTION.md alone.
// totals has households, people, purchased_fen, helped_fen, unattributed_fen,
// delivered_fen and refunded_fen; rows maps each key to (households, people, net fen).
func independentReport(t *testing.T, from, to string, by string) (totals map[string]int64, rows map[string][3]int64) {
	t.Helper()
	return indWorkOutLedger(t, examples.YichuanDingbian2019()).report(t, from, to, by)
}

// assertIndependent compares the store's benefit reports of 2019, 2019-01 and 2018-12, in
// every breakdown, field by field with the independent computation.
func assertIndependent(t *testing.T, st *sqlstore.Store) {
	t.Helper()
	lg := indWorkOutLedger(t, examples.YichuanDingbian2019())
	for _, p := range [][2]string{{"2019-01-01", "2019-12-31"}, {"2019-01-01", "2019-01-31"}, {"2018-12-01", "2018-12-31"}} {
		for _, by := range []string{"county", "category", "month", "branch", "funding", "mall", "sku", "supplier"} {
			what := fmt.Sprintf("benefit %s..%s by %s", p[0], p[1], by)
			got, err := st.Benefit(context.Background(), reports.Query{From: bizday.MustParse(p[0]), To: bizday.MustParse(p[1]), By: reports.By(by)})
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			totals, rows := lg.report(t, p[0], p[1], by)
			gt := got.Totals
			for _, f := range []struct {
				name string
				got  int64
			}{
				{"households", int64(gt.Households)}, {"people", int64(gt.People)},
				{"purchased_fen", int64(gt.PurchasedAmount)}, {"helped_fen", int64(gt.HelpedSellAmount)},
				{"unattributed_fen", int64(gt.UnattributedAmount)}, {"delivered_fen", int64(gt.DeliveredAmount)},
				{"refunded_fen", int64(gt.RefundedAmount)},
			} {
				if f.got != totals[f.name] {
					t.Errorf("%s: totals.%s: service %d, rules %d", what, f.name, f.got, totals[f.name])
				}
			}
			seenKeys := map[string]bool{}
			for _, r := range got.Rows {
				seenKeys[r.Key] = true
				w, ok := rows[r.Key]
				if !ok {
					t.Errorf("%s: the service has row %q (%d households, %d people, net %d fen), the rules have none", what, r.Key, r.Households, r.People, r.NetAmount)
					continue
				}
				for i, f := range []struct {
					name string
					got  int64
				}{{"households", int64(r.Households)}, {"people", int64(r.People)}, {"net_fen", int64(r.NetAmount)}} {
					if f.got != w[i] {
						t.Errorf("%s: row %q %s: service %d, rules %d", what, r.Key, f.name, f.got, w[i])
					}
				}
			}
			for k, w := range rows {
				if !seenKeys[k] {
					t.Errorf("%s: the rules have row %q (%d households, %d people, net %d fen), the service has none", what, k, w[0], w[1], w[2])
				}
			}
		}
	}
}

func TestIndependentLargestRemainderWorkedExample(t *testing.T) {
	t.Parallel()
	one := big.NewRat(1, 1)
	tests := []struct {
		name    string
		amount  int64
		keys    []string
		weights []*big.Rat
		want    []int64
	}{
		{"delivery_of_680_yuan_over_three_equal_weights", 68000, []string{"H001", "H002", "H003"}, []*big.Rat{one, one, one}, []int64{22667, 22667, 22666}},
		{"refund_of_68_yuan_in_proportion_to_the_line", 6800, []string{"H001", "H002", "H003"},
			[]*big.Rat{big.NewRat(22667, 1), big.NewRat(22667, 1), big.NewRat(22666, 1)}, []int64{2267, 2267, 2266}},
		{"tie_goes_to_smaller_household_number_as_text_whatever_the_input_order", 68000, []string{"H003", "H002", "H001"}, []*big.Rat{one, one, one}, []int64{22666, 22667, 22667}},
		{"unattributed_part_sorts_after_every_household", 1, []string{"", "H999"}, []*big.Rat{one, one}, []int64{0, 1}},
		{"largest_fraction_beats_household_number", 10, []string{"H001", "H002"}, []*big.Rat{big.NewRat(1, 1), big.NewRat(2, 1)}, []int64{3, 7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := indLargestRemainder(tc.amount, tc.keys, tc.weights)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("split %d over %v: got %v, want %v", tc.amount, tc.keys, got, tc.want)
			}
		})
	}
}

// The independent computation itself must hold together: money totals are the same in
// every breakdown, rows' nets add up to the period's net, the year has figures at all,
// and the year's households are never more than the sum of its months' households.
func TestIndependentReportHoldsTogether(t *testing.T) {
	t.Parallel()
	lg := indWorkOutLedger(t, examples.YichuanDingbian2019())
	year, months := lg.report(t, "2019-01-01", "2019-12-31", "month")
	if year["households"] == 0 || year["people"] < year["households"] || year["purchased_fen"] <= 0 || year["delivered_fen"] <= 0 {
		t.Fatalf("the independent 2019 report is empty: %v", year)
	}
	if n := year["delivered_fen"] - year["refunded_fen"]; n != year["purchased_fen"]+year["helped_fen"] {
		t.Fatalf("delivered - refunded = %d, purchased + helped = %d", n, year["purchased_fen"]+year["helped_fen"])
	}
	var sumNet, sumHH int64
	for k, r := range months {
		if !strings.HasPrefix(k, "2019-") {
			t.Fatalf("month row %q outside 2019", k)
		}
		sumNet += r[2]
		sumHH += r[0]
	}
	if sumNet != year["purchased_fen"]+year["helped_fen"] || sumHH < year["households"] {
		t.Fatalf("months: net %d, households %d; year %v", sumNet, sumHH, year)
	}
	for _, by := range []string{"county", "category", "branch", "funding", "mall"} {
		tot, _ := independentReport(t, "2019-01-01", "2019-12-31", by)
		for k, v := range year {
			if tot[k] != v {
				t.Fatalf("by %s: totals.%s %d, by month %d", by, k, tot[k], v)
			}
		}
	}
	t.Logf("2019 by the rules: %v", year)
}
