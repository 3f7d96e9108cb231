package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/adapters/sqlstore"
	"aidmall/bizday"
	"aidmall/config"
	"aidmall/examples"
	"aidmall/households"
	"aidmall/orders"
	"aidmall/reports"
)

// The closed-period scenario of issue 6 (ATTRIBUTION.md §5): load 2019, close 2018-12 and
// 2019, change the registry (member counts, then a linkages file): every 2019 figure is
// byte-identical to before, the adjustments sit on 2020-01-01, and each household's
// all-time total equals a fresh computation with the new linkages (the independent one of
// independent_test.go, from the bundle's files with the changed linkages.csv). Reopening
// reverses the adjustments: the ledger is then, day by day, the fresh computation.
//
// linkageChanges is the table of changes the scenario runs; any function from the
// bundle's linkages.csv records (header first) to a changed file can be added. A change
// should keep naming every supplier (a file replaces the set of each supplier it names).
var linkageChanges = []struct {
	name   string
	change func(t *testing.T, recs [][]string) [][]string
}{
	{"remove_a_household", func(t *testing.T, recs [][]string) [][]string {
		sup, hh := secondHouseholdOfASupplier(t, recs)
		return slices.DeleteFunc(recs, func(r []string) bool { return r[0] == sup && r[1] == hh })
	}},
	{"change_a_weight", func(t *testing.T, recs [][]string) [][]string {
		recs[1][3] = "3.5"
		return recs
	}},
	{"add_a_linkage", func(t *testing.T, recs [][]string) [][]string {
		sup := recs[1][0]
		linked := map[string]bool{}
		for _, r := range recs[1:] {
			if r[0] == sup {
				linked[r[1]] = true
			}
		}
		for _, r := range recs[1:] {
			if !linked[r[1]] && r[1] != "" {
				return append(recs, []string{sup, r[1], "employment", "1.25", "2018-01-01", ""})
			}
		}
		t.Fatal("no household to link")
		return nil
	}},
	{"end_a_validity", func(t *testing.T, recs [][]string) [][]string {
		for _, r := range recs[1:] {
			if r[5] == "" && r[4] < "2019-01-01" {
				r[5] = "2019-06-15"
				return recs
			}
		}
		t.Fatal("no open-ended linkage")
		return nil
	}},
	{"change_after_the_closed_periods", func(t *testing.T, recs [][]string) [][]string {
		return append(recs, []string{recs[1][0], recs[2][1], "shareholding", "2", "2020-03-01", ""})
	}},
}

// secondHouseholdOfASupplier is the second household (in file order) of the first supplier
// linked to at least two.
func secondHouseholdOfASupplier(t *testing.T, recs [][]string) (string, string) {
	t.Helper()
	seen := map[string][]string{}
	for _, r := range recs[1:] {
		if !slices.Contains(seen[r[0]], r[1]) {
			seen[r[0]] = append(seen[r[0]], r[1])
		}
		if len(seen[r[0]]) == 2 {
			return r[0], r[1]
		}
	}
	t.Fatal("no supplier with two households")
	return "", ""
}

// scenarioPeriods are the report periods whose figures must never move once closed.
func scenarioPeriods() [][2]string {
	ps := [][2]string{{"2018-12-01", "2018-12-31"}, {"2019-01-01", "2019-12-31"}, {"2018-12-01", "2019-12-31"}}
	for m := 1; m <= 12; m++ {
		first := bizday.MustParse(fmt.Sprintf("2019-%02d-01", m))
		last := bizday.MustParse(bizday.MustParse(first.String()).AddDays(32).Month() + "-01").AddDays(-1)
		ps = append(ps, [2]string{first.String(), last.String()})
	}
	for q := 0; q < 4; q++ {
		first := bizday.MustParse(fmt.Sprintf("2019-%02d-01", 3*q+1))
		last := bizday.MustParse(first.AddDays(95).Month() + "-01").AddDays(-1)
		ps = append(ps, [2]string{first.String(), last.String()})
	}
	return ps
}

// filedFigures is every report of the closed periods, as JSON bytes.
func filedFigures(t *testing.T, st *sqlstore.Store) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, p := range scenarioPeriods() {
		for _, by := range []string{"county", "category", "sku", "supplier", "branch", "mall", "month", "funding"} {
			b, err := st.Benefit(context.Background(), reports.Query{From: bizday.MustParse(p[0]), To: bizday.MustParse(p[1]), By: reports.By(by)})
			if err != nil {
				t.Fatal(err)
			}
			j, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(j)
			buf.WriteByte('\n')
		}
		h, err := st.HouseholdsReport(context.Background(), bizday.MustParse(p[0]), bizday.MustParse(p[1]))
		if err != nil {
			t.Fatal(err)
		}
		for i := range h.Rows {
			h.Rows[i].Suppliers = nil // the registry's links now, not a figure
		}
		j, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(j)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// assertProvenanceSums checks, for every household of the bundle, that its provenance
// entries in from..to sum to its net, and that net is the rules' (want, per household).
func assertProvenanceSums(t *testing.T, st *sqlstore.Store, members map[string]int, from, to string, want map[string]int64) {
	t.Helper()
	ctx := context.Background()
	h, err := st.HouseholdsReport(ctx, bizday.MustParse(from), bizday.MustParse(to))
	if err != nil {
		t.Fatal(err)
	}
	net := map[string]int64{}
	for _, r := range h.Rows {
		net[string(r.HouseholdNo)] = int64(r.NetAmount)
	}
	kinds := map[string]int{}
	for no := range members {
		p, err := st.Provenance(ctx, households.HouseholdNo(no), bizday.MustParse(from), bizday.MustParse(to))
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		for _, e := range p.Entries {
			sum += int64(e.Amount)
			kinds[e.Kind]++
			if e.OrderRef == "" || e.MallEventID == "" || e.SKU == "" || e.Supplier == "" || e.LineNo == 0 {
				t.Fatalf("household %s: entry without its origin: %+v", no, e)
			}
		}
		if sum != int64(p.NetAmount) || sum != net[no] || sum != want[no] {
			t.Fatalf("household %s %s..%s: provenance sums to %d (says %d), report net %d, rules %d", no, from, to, sum, p.NetAmount, net[no], want[no])
		}
	}
	t.Logf("provenance %s..%s: entries by kind %v", from, to, kinds)
}

// loadYear loads the 2019 bundle offline (registry, order history, both statements) into
// the database at dbURL and returns the app and an orders service.
func loadYear(t *testing.T, dbURL string) (*app, *orders.Service) {
	t.Helper()
	ctx := context.Background()
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = dbURL
	a, err := openApp(ctx, cfg, slog.New(slog.DiscardHandler), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	bundle := examples.YichuanDingbian2019()
	reg, err := a.registry(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.ImportBundle(ctx, bundle, false); err != nil {
		t.Fatal(err)
	}
	svc, err := orders.NewService(a.store, drivers.Infos(drivers.Codes()), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := importHistory(ctx, svc, bundle); err != nil || len(rep.Errors) > 0 {
		t.Fatalf("history: %v %v", err, rep.Errors)
	}
	b, _ := fs.ReadFile(bundle, "statement-ccb.csv")
	ce, bad, err := ccb.ParseStatement(bytes.NewReader(b))
	if err != nil || len(bad) > 0 {
		t.Fatal(err, bad)
	}
	b, _ = fs.ReadFile(bundle, "statement-abc.jsonl")
	ae, bad2, err := abc.ParseStatement(bytes.NewReader(b))
	if err != nil || len(bad2) > 0 {
		t.Fatal(err, bad2)
	}
	for _, e := range append(ce, ae...) {
		if _, err := svc.Apply(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	return a, svc
}

// readCSV reads a bundle CSV (UTF-8) as records.
func readBundleCSV(t *testing.T, name string) [][]string {
	t.Helper()
	b, err := fs.ReadFile(examples.YichuanDingbian2019(), name)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func writeCSV(t *testing.T, recs [][]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.WriteAll(recs); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bundleWith is the 2019 bundle with one file replaced.
func bundleWith(t *testing.T, name string, content []byte) fs.FS {
	t.Helper()
	src := examples.YichuanDingbian2019()
	m := fstest.MapFS{}
	err := fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(src, p)
		m[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	m[name] = &fstest.MapFile{Data: content}
	return m
}

// ledgerByHouseholdDay is the store's ledger summed per (household, business day), and the
// adjustments per business day.
func ledgerByHouseholdDay(t *testing.T, st *sqlstore.Store) (map[[2]string]int64, map[string]int64) {
	t.Helper()
	var rows []struct {
		HH         sql.NullString `db:"household_no"`
		Day        string         `db:"business_day"`
		Adjustment bool           `db:"adjustment"`
		Amount     int64          `db:"amount"`
	}
	if err := st.DB().SelectContext(context.Background(), &rows, `SELECT household_no, business_day, adjustment, SUM(amount_fen) AS amount
		FROM ledger_entries GROUP BY household_no, business_day, adjustment`); err != nil {
		t.Fatal(err)
	}
	out, adj := map[[2]string]int64{}, map[string]int64{}
	for _, r := range rows {
		out[[2]string{r.HH.String, r.Day}] += r.Amount
		if r.Adjustment {
			adj[r.Day] += max(r.Amount, -r.Amount)
		}
	}
	for k, v := range out {
		if v == 0 {
			delete(out, k)
		}
	}
	return out, adj
}

// independentByHouseholdDay is the independent computation summed the same way.
func independentByHouseholdDay(lg indLedger) map[[2]string]int64 {
	out := map[[2]string]int64{}
	for _, e := range lg.entries {
		out[[2]string{e.household, e.day}] += e.amount
	}
	for k, v := range out {
		if v == 0 {
			delete(out, k)
		}
	}
	return out
}

func perHousehold(m map[[2]string]int64, keep func(day string) bool) map[string]int64 {
	out := map[string]int64{}
	for k, v := range m {
		if keep(k[1]) {
			out[k[0]] += v
		}
	}
	for k, v := range out {
		if v == 0 {
			delete(out, k)
		}
	}
	return out
}

func diffMaps[K comparable](t *testing.T, what string, got, want map[K]int64) {
	t.Helper()
	n := 0
	for k, w := range want {
		if got[k] != w {
			if n++; n <= 10 {
				t.Errorf("%s %v: store %d fen, rules %d fen", what, k, got[k], w)
			}
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			if n++; n <= 10 {
				t.Errorf("%s %v: store %d fen, rules none", what, k, g)
			}
		}
	}
	if n > 0 {
		t.Fatalf("%s: %d differences", what, n)
	}
}

// membersPlusOne is the bundle's households.csv with every household's 家庭人口数 one more
// (12 stays 12), in UTF-8.
func membersPlusOne(t *testing.T) []byte {
	t.Helper()
	b, err := fs.ReadFile(examples.YichuanDingbian2019(), "households.csv")
	if err != nil {
		t.Fatal(err)
	}
	text, err := io.ReadAll(transform.NewReader(bytes.NewReader(b), simplifiedchinese.GB18030.NewDecoder()))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(text)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if recs[0][3] != "家庭人口数" {
		t.Fatalf("households.csv column 4 is %q", recs[0][3])
	}
	for _, r := range recs[1:] {
		if n, err := strconv.Atoi(r[3]); err == nil && n < 12 {
			r[3] = strconv.Itoa(n + 1)
		}
	}
	return writeCSV(t, recs)
}

func runClosedPeriodScenario(t *testing.T, dbURL string, change func(t *testing.T, recs [][]string) [][]string) {
	ctx := context.Background()
	a, svc := loadYear(t, dbURL)
	st := a.store
	office := orders.Caller{Name: "扶贫办 test", Role: orders.RoleAidOffice}

	if _, err := svc.ClosePeriod(ctx, office, "2019", "annual letter"); orders.ErrorKind(err) != orders.ErrConflict {
		t.Fatalf("closing 2019 while 2018-12 (with entries) is open: %v, want a conflict", err)
	}
	if _, err := svc.ClosePeriod(ctx, office, "2018-12", "December return"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ClosePeriod(ctx, office, "2019", "annual letter 2019"); err != nil {
		t.Fatal(err)
	}
	filed := filedFigures(t, st)
	orig := independentByHouseholdDay(indWorkOutLedger(t, examples.YichuanDingbian2019()))
	assertProvenanceSums(t, st, indWorkOutLedger(t, examples.YichuanDingbian2019()).members, "2019-01-01", "2019-12-31",
		perHousehold(orig, func(d string) bool { return d >= "2019-01-01" && d <= "2019-12-31" }))

	// People: member counts change in the registry; the closed periods keep theirs.
	reg, err := a.registry(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := reg.Import(ctx, households.KindHouseholds, "households.csv", bytes.NewReader(membersPlusOne(t)), false); err != nil || rep.Counts.Updated == 0 {
		t.Fatalf("households re-import: %v %+v", err, rep)
	}
	if got := filedFigures(t, st); !bytes.Equal(got, filed) {
		t.Fatal("changed member counts moved a closed period's figures")
	}
	open, err := st.Benefit(ctx, reports.Query{From: bizday.MustParse("2019-12-01"), To: bizday.MustParse("2020-01-31"), By: "county"})
	if err != nil {
		t.Fatal(err)
	}
	dec, _ := st.Benefit(ctx, reports.Query{From: bizday.MustParse("2019-12-01"), To: bizday.MustParse("2019-12-31"), By: "county"})
	if dec.Totals.Households == 0 || open.Totals.Households != dec.Totals.Households || open.Totals.People <= dec.Totals.People {
		t.Fatalf("a period reaching into an open month counts people as registered now: %+v vs %+v", open.Totals, dec.Totals)
	}

	// The changed linkages: tried first (nothing stored), then imported.
	recs := change(t, readBundleCSV(t, "linkages.csv"))
	file := writeCSV(t, recs)
	lrecs, _, err := households.ParseLinkages(csvFile(t, bytes.NewReader(file)))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := ledgerByHouseholdDay(t, st)
	_, tried, err := st.ImportLinkages(ctx, lrecs, true, true)
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := ledgerByHouseholdDay(t, st); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("the dry run changed the ledger")
	}
	_, done, err := st.ImportLinkages(ctx, lrecs, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%+v", tried) != fmt.Sprintf("%+v", done) {
		t.Fatalf("the dry run said\n%+v\nthe import did\n%+v", tried, done)
	}
	if got := filedFigures(t, st); !bytes.Equal(got, filed) {
		t.Fatal("a linkage change moved a closed period's figures")
	}

	fresh := indWorkOutLedger(t, bundleWith(t, "linkages.csv", file))
	want := independentByHouseholdDay(fresh)
	got, adj := ledgerByHouseholdDay(t, st)
	all := func(string) bool { return true }
	diffMaps(t, "all-time total of household", perHousehold(got, all), perHousehold(want, all))
	for day := range adj {
		if day != "2020-01-01" {
			t.Fatalf("an adjustment sits on %s, want 2020-01-01", day)
		}
	}
	assertProvenanceSums(t, st, fresh.members, "2018-01-01", "2020-12-31", perHousehold(want, all))
	// What the import reported is what moved.
	var toAdj int64
	for _, r := range done.Rows {
		if r.Closed {
			toAdj += max(int64(r.Amount), -int64(r.Amount))
		}
	}
	if int64(done.ToAdjustment) < toAdj || (toAdj > 0) != (adj["2020-01-01"] > 0) {
		t.Fatalf("the import reported %s to the adjustment day (rows %d fen), the ledger holds %d fen of adjustments", done.ToAdjustment, toAdj, adj["2020-01-01"])
	}
	t.Logf("%d household-months changed, %s to the adjustment day %s", len(done.Rows), done.ToAdjustment, done.AdjustmentDay)

	// Reopening, latest first, puts every adjustment back on its own day.
	if _, err := svc.ReopenPeriod(ctx, office, "2018-12", "not the latest"); orders.ErrorKind(err) != orders.ErrConflict {
		t.Fatalf("reopening 2018-12 before 2019: %v, want a conflict", err)
	}
	if _, err := svc.ReopenPeriod(ctx, office, "2019", "corrected linkages"); err != nil {
		t.Fatal(err)
	}
	got, _ = ledgerByHouseholdDay(t, st)
	in2019 := func(d string) bool { return d >= "2019-01-01" && d <= "2019-12-31" }
	diffMaps(t, "2019 net of household", perHousehold(got, in2019), perHousehold(want, in2019))
	if _, err := svc.ReopenPeriod(ctx, office, "2018-12", "corrected linkages"); err != nil {
		t.Fatal(err)
	}
	got, _ = ledgerByHouseholdDay(t, st)
	diffMaps(t, "household and day", got, want)
}

func TestClosedPeriodsKeepFiledFigures(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the whole year for each change: skipped with -short")
	}
	for _, c := range linkageChanges {
		t.Run("sqlite/"+c.name, func(t *testing.T) {
			t.Parallel()
			runClosedPeriodScenario(t, filepath.Join(t.TempDir(), "aidmall.db"), c.change)
		})
	}
	t.Run("postgres", func(t *testing.T) {
		base := os.Getenv("AIDMALL_TEST_POSTGRES")
		if base == "" {
			t.Skip("AIDMALL_TEST_POSTGRES not set: the PostgreSQL run of the closed-period scenario is skipped")
		}
		for _, c := range linkageChanges[:2] {
			t.Run(c.name, func(t *testing.T) { runClosedPeriodScenario(t, scratchPostgres(t, base), c.change) })
		}
	})
}

// scratchPostgres creates a database of its own for one test and drops it afterwards.
func scratchPostgres(t *testing.T, base string) string {
	t.Helper()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := fmt.Sprintf("aidmall_closed_%d", time.Now().UnixNano())
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if a, err := sql.Open("pgx", base); err == nil {
			a.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
			a.Close()
		}
	})
	u, q := base, ""
	if i := strings.Index(u, "?"); i >= 0 {
		u, q = u[:i], u[i:]
	}
	return u[:strings.LastIndex(u, "/")] + "/" + name + q
}
