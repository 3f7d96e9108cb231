package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/adapters/sqlstore"
	"aidmall/attribution"
	"aidmall/bizday"
	"aidmall/config"
	"aidmall/examples"
	"aidmall/households"
	"aidmall/money"
	"aidmall/orders"
	"aidmall/reports"
)

// expectedLedger works the bundle's year out directly from its files — the statements,
// orders, lines, catalogue, registry and linkages — with the attribution rules alone: no
// API, adapters' clients, malls, jobs or database. Whatever path the events take through
// the service, its reports must agree with this to the fen.
func expectedLedger(t *testing.T, bundle fs.FS) ([]reports.LedgerRow, map[households.HouseholdNo]int) {
	t.Helper()
	open := func(name string) io.Reader {
		b, err := fs.ReadFile(bundle, name)
		if err != nil {
			t.Fatal(err)
		}
		return bytes.NewReader(b)
	}
	hs, _, err := households.ParseHouseholds("households.xlsx", householdSheet(t, open("households.xlsx")))
	if err != nil {
		t.Fatal(err)
	}
	members := map[households.HouseholdNo]int{}
	for _, h := range hs {
		members[h.No] = h.Members
	}
	sups, _, err := households.ParseSuppliers(csvFile(t, open("suppliers.csv")))
	if err != nil {
		t.Fatal(err)
	}
	county := map[string]string{}
	for _, s := range sups {
		county[s.Code] = s.CountyCode
	}
	prods, _, err := households.ParseProducts(csvFile(t, open("products.csv")))
	if err != nil {
		t.Fatal(err)
	}
	product := map[string]households.Product{}
	for _, p := range prods {
		product[p.SKU] = p
	}
	ls, _, err := households.ParseLinkages(csvFile(t, open("linkages.csv")))
	if err != nil {
		t.Fatal(err)
	}
	links := map[string][]households.Linkage{}
	for _, l := range ls {
		if _, ok := members[l.HouseholdNo]; ok { // a linkage to an unregistered household takes no part
			links[l.SupplierCode] = append(links[l.SupplierCode], l)
		}
	}
	type line struct {
		order map[string]string
		sku   string
		qty   int64
		price money.Fen
	}
	byOut := map[string]map[string]string{}
	os, err := readCSV(bundle, "orders.csv")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range os {
		byOut[o["mall"]+"/"+o["out_order_no"]] = o
	}
	ols, err := readCSV(bundle, "order_lines.csv")
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]line{}
	for _, l := range ols {
		q, _ := strconv.ParseInt(l["quantity"], 10, 64)
		p, err := money.ParseYuan(l["unit_price"])
		if err != nil {
			t.Fatal(err)
		}
		lines[l["order_ref"]+"/"+l["line_no"]] = line{sku: l["sku"], qty: q, price: p}
	}
	ccbEvents, bad, err := ccb.ParseStatement(open("statement-ccb.csv"))
	if err != nil || len(bad) > 0 {
		t.Fatalf("ccb statement: %v %v", err, bad)
	}
	abcEvents, bad2, err := abc.ParseStatement(open("statement-abc.jsonl"))
	if err != nil || len(bad2) > 0 {
		t.Fatalf("abc statement: %v %v", err, bad2)
	}
	// Events of each sale line, once per event id.
	type key struct {
		mall, out string
		line      int
	}
	evs := map[key][]attribution.Event{}
	seen := map[string]bool{}
	for _, e := range append(ccbEvents, abcEvents...) {
		if !e.Type.MovesMoney() || seen[string(e.Mall)+"/"+string(e.EventID)] {
			continue
		}
		seen[string(e.Mall)+"/"+string(e.EventID)] = true
		k := key{string(e.Mall), string(e.OutOrderNo), e.LineNo}
		evs[k] = append(evs[k], attribution.Event{ID: string(e.EventID), Type: attribution.EventType(e.Type), OccurredAt: e.OccurredAt, Quantity: e.Quantity, RefundFen: e.RefundFen})
	}
	var rows []reports.LedgerRow
	for k, es := range evs {
		o := byOut[k.mall+"/"+k.out]
		if o == nil {
			t.Fatalf("statement names unknown order %s", k.out)
		}
		l, ok := lines[o["order_ref"]+"/"+strconv.Itoa(k.line)]
		if !ok {
			t.Fatalf("statement names unknown line %s/%d", k.out, k.line)
		}
		p := product[l.sku]
		out := attribution.WorkOut(attribution.Line{Quantity: l.qty, UnitPrice: l.price, Linkages: links[p.SupplierCode]}, es)
		typ := map[string]orders.EventType{}
		for _, e := range es {
			typ[e.ID] = orders.EventType(e.Type)
		}
		for _, en := range out.Entries {
			rows = append(rows, reports.LedgerRow{HouseholdNo: en.HouseholdNo, Day: en.Day, Amount: en.Amount, Source: typ[en.EventID],
				Funding: orders.Funding(o["funding"]), CountyCode: county[p.SupplierCode], Category: string(p.Category), SKU: p.SKU,
				SupplierCode: p.SupplierCode, BranchCode: o["branch_code"], Mall: orders.Mall(k.mall)})
		}
	}
	return rows, members
}

// assertYearReport compares the service's 2019 reports with the independent computation,
// for every breakdown.
func assertYearReport(t *testing.T, st *sqlstore.Store) {
	t.Helper()
	rows, members := expectedLedger(t, examples.YichuanDingbian2019())
	for _, by := range []string{"county", "category", "sku", "supplier", "branch", "mall", "month", "funding"} {
		for _, p := range [][2]string{{"2019-01-01", "2019-12-31"}, {"2019-01-01", "2019-01-31"}, {"2018-12-01", "2018-12-31"}} {
			b, err := reports.ParseBy(by)
			if err != nil {
				t.Fatal(err)
			}
			q := reports.Query{From: bizday.MustParse(p[0]), To: bizday.MustParse(p[1]), By: b}
			got, err := st.Benefit(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			want := reports.Compute(rows, members, nil, q)
			if got.Totals != want.Totals {
				t.Fatalf("%s %s..%s totals:\n got  %+v\n want %+v", by, p[0], p[1], got.Totals, want.Totals)
			}
			if len(got.Rows) != len(want.Rows) {
				t.Fatalf("%s %s..%s: %d rows, want %d", by, p[0], p[1], len(got.Rows), len(want.Rows))
			}
			for i := range got.Rows {
				g, w := got.Rows[i], want.Rows[i]
				if g.Key != w.Key || g.Households != w.Households || g.People != w.People || g.NetAmount != w.NetAmount {
					t.Fatalf("%s %s..%s row %d:\n got  %+v\n want %+v", by, p[0], p[1], i, g, w)
				}
			}
		}
	}
	year, _ := st.Benefit(context.Background(), reports.Query{From: bizday.MustParse("2019-01-01"), To: bizday.MustParse("2019-12-31"), By: "county"})
	if year.Totals.Households == 0 || year.Totals.PurchasedAmount <= 0 {
		t.Fatalf("the year's report is empty: %+v", year.Totals)
	}
	t.Logf("2019: %d households, %d people, purchased %s, helped to sell %s, unattributed %s",
		year.Totals.Households, year.Totals.People, year.Totals.PurchasedAmount, year.Totals.HelpedSellAmount, year.Totals.UnattributedAmount)
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// openStore opens a database the demo left, for reading its reports.
func openStore(t *testing.T, dbURL string) *sqlstore.Store {
	t.Helper()
	cfg, err := config.Load(env(map[string]string{"DATABASE_URL": dbURL, "AIDMALL_DATA_DIR": t.TempDir()}), "")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlstore.Open(context.Background(), cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := sqlstore.New(db, sqlstore.NoJobs{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func runDemoTest(t *testing.T, dbURL string) *sqlstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	e := env(map[string]string{"AIDMALL_LISTEN": "127.0.0.1:0", "AIDMALL_DATA_DIR": t.TempDir()})
	if err := run(ctx, []string{"demo", "--exit", "--db", dbURL}, e, &out, &errOut); err != nil {
		t.Fatalf("demo: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	for _, want := range []string{"238 group orders", "Benefit report 2019-01-01 to 2019-12-31", "宜川县", "定边县"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	st := openStore(t, dbURL)
	p, err := st.Progress(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p.Orders != 239 || p.Undispatched != 0 || p.Parked != 0 { // the year and one branch order of today
		t.Fatalf("after the demo: %+v", p)
	}
	// Every order was placed with the branches' 2019 budgets in force (budgets.csv column).
	if b, err := st.Budgets(context.Background(), 2019); err != nil || len(b) != 19 || b["HQ"] != 92_800_000 {
		t.Fatalf("the demo's 2019 budgets: %v %v", b, err)
	}
	return st
}

func TestDemoYearAgreesWithTheRules(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole year: skipped with -short")
	}
	dbPath := filepath.Join(t.TempDir(), "demo.db")
	st := runDemoTest(t, dbPath)
	if _, err := os.Stat(dbPath); err != nil {
		t.Fatalf("demo --db did not leave its database: %v", err)
	}
	assertYearReport(t, st)
	assertIndependent(t, st)
	assertIndependentReportSet(t, st)
	assertPersonalDataSealed(t, st, dbPath)
}

// assertPersonalDataSealed checks that no household's ID number, phone or name is stored in
// clear anywhere in the database files, and that the registry shows them masked.
func assertPersonalDataSealed(t *testing.T, st *sqlstore.Store, dbPath string) {
	t.Helper()
	b, err := fs.ReadFile(examples.YichuanDingbian2019(), "households.xlsx")
	if err != nil {
		t.Fatal(err)
	}
	hs, _, err := households.ParseHouseholds("households.xlsx", householdSheet(t, bytes.NewReader(b)))
	if err != nil {
		t.Fatal(err)
	}
	var raw []byte
	for _, f := range []string{dbPath, dbPath + "-wal"} {
		if b, err := os.ReadFile(f); err == nil {
			raw = append(raw, b...)
		}
	}
	for _, h := range hs {
		for _, clear := range []string{h.IDNumber, h.Phone, h.HeadName} {
			if clear != "" && bytes.Contains(raw, []byte(clear)) {
				t.Fatalf("household %s: %q is stored in clear", h.No, households.MaskID(clear))
			}
		}
	}
	v, err := st.HouseholdView(context.Background(), hs[0].No)
	if err != nil {
		t.Fatal(err)
	}
	if v.IDNumber != households.MaskID(hs[0].IDNumber) || !strings.Contains(v.IDNumber, "********") {
		t.Fatalf("registry shows ID %q, want it masked", v.IDNumber)
	}
}

func TestDemoYearOnPostgres(t *testing.T) {
	base := os.Getenv("AIDMALL_TEST_POSTGRES")
	if base == "" {
		t.Skip("AIDMALL_TEST_POSTGRES not set: the PostgreSQL demo run is skipped (.ci/run sets it)")
	}
	if testing.Short() {
		t.Skip("runs the whole year: skipped with -short")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("aidmall_demo_%d", time.Now().UnixNano())
	// The pool is closed by the cleanup that drops the database, not when this function
	// returns (a deferred Close ran first, and every run left its database behind).
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
		admin.Close()
	})
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	u := base
	q := ""
	if i := strings.Index(u, "?"); i >= 0 {
		u, q = u[:i], u[i:]
	}
	u = u[:strings.LastIndex(u, "/")] + "/" + name + q
	st := runDemoTest(t, u)
	assertYearReport(t, st)
	assertIndependent(t, st)
	assertIndependentReportSet(t, st)
}
