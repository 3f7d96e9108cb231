package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/internal/bench"
	"aidmall/jobs"
)

// TestBenchSmoke runs `aidmall bench --smoke` (each part about two seconds, bounded in
// count) and checks that it printed every figure, each measured one beside its baseline
// and their ratio. It asserts no timing: the numbers are for reading, not for passing.
func TestBenchSmoke(t *testing.T) {
	smoke := func(t *testing.T, args ...string) {
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
		defer cancel()
		var out, errs bytes.Buffer
		getenv := func(string) string { return "" }
		if err := run(ctx, append([]string{"bench", "--smoke"}, args...), getenv, &out, &errs); err != nil {
			t.Fatalf("aidmall bench: %v\n%s\n%s", err, out.String(), errs.String())
		}
		table := out.String()
		t.Log(table)
		// value unit, then "baseline-value unit (what)", then the ratio, then the load.
		withBase := func(figure string) *regexp.Regexp {
			return regexp.MustCompile(regexp.QuoteMeta(figure) + `[^\n]*?\s\d[\d.]* [a-z/]+\s+\d[\d.]* [a-z/]+ \([^)]+\)\s+\d+\.\d\d\s+\d+\.\d\d`)
		}
		for _, f := range []string{
			"RSA2 (ccb.Verify)", "SM2 (abc.Verify)",
			"POST /v1/orders, 3 lines, peak", "POST /v1/orders, 3 lines, peak, no dispatch",
			"signed deliveries applied",
			"year benefit by county", "year benefit by month", "year benefit by supplier", "year breakdown by county,month",
			// Latencies, each beside the bare path's under the same pace or clients.
			"at 70% of peak (", "at 70% of peak: p50", "at 70% of peak: p99", "ingest   p99",
		} {
			if !withBase(f).MatchString(table) {
				t.Errorf("no line %q with its baseline and ratio in the table", f)
			}
		}
		if !strings.Contains(table, "ratio: the service's speed over its baseline's") {
			t.Errorf("the table does not say what its ratio means")
		}
		// A run of minutes says up front what it will do, and each part when it is done.
		if plan, first := strings.Index(table, "what runs"), strings.Index(table, "RSA2"); plan < 0 || plan > first {
			t.Errorf("the bench does not say what runs, and for how long, before its first figure")
		}
		for _, p := range []string{"verify", "intake", "ingest", "reports", "intake without dispatch"} {
			if !regexp.MustCompile(`\n  ` + p + ` done in \d`).MatchString(table) {
				t.Errorf("part %s does not say when it is done", p)
			}
		}
		if strings.Count(table, smokeNote) != 2 {
			t.Errorf("the smoke run does not say, at its start and after its table, that its figures are not measurements")
		}
		if !strings.Contains(table, "bare insert of 6 rows") {
			t.Errorf("the intake baseline is not the 6 rows of one order (order, 3 lines, job, idempotency key)")
		}
		if !regexp.MustCompile(`1 fulfilment_events, \d+ ledger_entries`).MatchString(table) {
			t.Errorf("the ingest baseline does not name the rows one applied delivery wrote")
		}
	}
	t.Run("sqlite", func(t *testing.T) { smoke(t) })
	t.Run("postgres", func(t *testing.T) {
		base := os.Getenv("AIDMALL_TEST_POSTGRES")
		if base == "" {
			if os.Getenv("CI") == "true" {
				t.Fatal("AIDMALL_TEST_POSTGRES not set under CI=true")
			}
			t.Skip("AIDMALL_TEST_POSTGRES not set: the PostgreSQL smoke is skipped")
		}
		smoke(t, "--db", base)
	})
}

// TestBenchScaledBundle runs the reports part on --scale 2: the bench generates the scaled
// bundle itself (removed after) and boots the service on its registry and catalogue, so
// every one of its 2×238 orders is placed (a service booted on the embedded registry
// refuses the copy's branches and SKUs with 422). --scale with --bundle is refused.
func TestBenchScaledBundle(t *testing.T) {
	bench := func(t *testing.T, args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
		defer cancel()
		var out, errs bytes.Buffer
		getenv := func(string) string { return "" }
		if err := run(ctx, append([]string{"bench", "--smoke", "--parts", "reports"}, args...), getenv, &out, &errs); err != nil {
			t.Fatalf("aidmall bench %v: %v\n%s\n%s", args, err, out.String(), errs.String())
		}
		t.Log(out.String())
		return out.String()
	}
	table := bench(t, "--scale", "2")
	if !regexp.MustCompile(`the year loaded in \S+: 476 orders placed, [1-9]\d* ledger rows`).MatchString(table) {
		t.Errorf("--scale 2 did not place the 476 orders of two copies of the year")
	}
	if !regexp.MustCompile(`year benefit by county \(\d+ ledger rows\)[^\n]*\s\d[\d.]* reports/s\s+\d[\d.]* reports/s \(bare GROUP BY\)`).MatchString(table) {
		t.Errorf("no report figure with its baseline on the scaled bundle")
	}
	if m := regexp.MustCompile(`scaled 2 times \(as aidmall gen --scale 2 writes it\) in (\S+)`).FindStringSubmatch(table); m == nil {
		t.Errorf("the bench does not say which bundle it ran on")
	} else if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
		t.Errorf("the generated bundle %s is left behind (stat: %v)", m[1], err)
	}
	if err := run(context.Background(), []string{"bench", "--scale", "2", "--bundle", t.TempDir()}, func(string) string { return "" }, io.Discard, io.Discard); err == nil {
		t.Errorf("--scale with --bundle: no error")
	}
	// A scale out of range is refused as gen refuses it, 0 included (not taken for none).
	for _, n := range []string{"0", "-1", "10001"} {
		err := run(context.Background(), []string{"bench", "--scale", n}, func(string) string { return "" }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "want a whole number from 1 to") {
			t.Errorf("bench --scale %s: %v, want it refused as out of range", n, err)
		}
	}
	// A --db the bench cannot make its database on is refused before any part runs: a
	// SQLite file (the bench makes its own; a loaded one is --loaded's), a server that does
	// not answer.
	for _, c := range []struct{ db, want string }{
		{filepath.Join(t.TempDir(), "loaded.db"), "add --loaded"},
		{"postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2", "the PostgreSQL server does not answer"},
	} {
		var said bytes.Buffer
		err := run(context.Background(), []string{"bench", "--smoke", "--db", c.db}, func(string) string { return "" }, &said, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("bench --db %s: %v, want an error saying %q", c.db, err, c.want)
		}
		if strings.Contains(said.String(), "what runs") {
			t.Errorf("bench --db %s: ran before refusing:\n%s", c.db, said.String())
		}
	}
}

// bench --loaded measures the year's reports on a database loaded beforehand (here the
// example year, imported offline), one client at a time: each report's p50 and p99 beside
// the bare GROUP BY's. It leaves the database as it found it, but for its own API key,
// revoked: no job is worked and nothing is migrated or loaded. What it refuses, it says.
func TestBenchLoaded(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "year.db")
	bundle := sqltest.ExampleBundle()
	mustCLI(t, db, dir, "import", "bundle", bundle)
	mustCLI(t, db, dir, "import", "orders", bundle)
	mustCLI(t, db, dir, "import", "statement", filepath.Join(bundle, "statement-ccb.csv"))
	mustCLI(t, db, dir, "import", "statement", filepath.Join(bundle, "statement-abc.jsonl"))
	st := openStore(t, db)
	ctx := context.Background()
	// Every table's row count, and the jobs by state: what a worked job or a started
	// runner (its leader, its periodic jobs) would change.
	fingerprint := func() map[string]int64 {
		t.Helper()
		tables, err := bench.Tables(ctx, st.DB().DB)
		if err != nil {
			t.Fatal(err)
		}
		fp := map[string]int64{}
		for _, tb := range tables {
			var n int64
			if err := st.DB().GetContext(ctx, &n, `SELECT COUNT(*) FROM `+tb); err != nil {
				t.Fatal(err)
			}
			fp[tb] = n
		}
		var states []struct {
			State string `db:"state"`
			N     int64  `db:"n"`
		}
		if err := st.DB().SelectContext(ctx, &states, `SELECT state, COUNT(*) AS n FROM river_job GROUP BY state`); err != nil {
			t.Fatal(err)
		}
		for _, s := range states {
			fp["river_job "+s.State] = s.N
		}
		return fp
	}
	// A job waiting to be worked: a runner started would work it.
	enq, err := jobs.NewEnqueuer(st.DB().DB.DB, st.DB().Dialect, 3)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := st.DB().DB.DB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := enq.EnqueueDispatch(ctx, tx, 1); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	before := fingerprint()
	if before["ledger_entries"] == 0 || before["river_job available"] != 1 {
		t.Fatal("the example year loaded no ledger rows")
	}

	out := mustCLI(t, db, dir, "bench", "--loaded", "--smoke")
	t.Log(out)
	if !strings.Contains(out, "no job worked") {
		t.Errorf("the bench does not say that it works no job")
	}
	if !strings.Contains(out, fmt.Sprintf("the database holds %d ledger rows", before["ledger_entries"])) {
		t.Errorf("the bench does not name the %d ledger rows it reports over", before["ledger_entries"])
	}
	for _, r := range []string{"year benefit by county", "year benefit by month", "year benefit by supplier", "year breakdown by county,month"} {
		for _, q := range []string{"p50", "p99"} {
			line := regexp.MustCompile(regexp.QuoteMeta(r) + ` \(\d+ ledger rows\), ` + q + ` of [1-9]\d* asked\s+\d[\d.]* ms\s+\d[\d.]* ms \(bare GROUP BY, (?:` + q + ` of [1-9]\d* runs?|slowest of [1-9]\d* runs? \(too few for a ` + q + `\))\)\s+\d+\.\d\d\s`)
			if !line.MatchString(out) {
				t.Errorf("no %s of %q beside the bare GROUP BY's in the table", q, r)
			}
		}
	}
	after := fingerprint()
	if after["api_keys"] != before["api_keys"]+1 || after["audit_log"] != before["audit_log"]+2 {
		t.Errorf("api keys %d → %d, audit entries %d → %d: the run should add its own key alone, and audit making and revoking it",
			before["api_keys"], after["api_keys"], before["audit_log"], after["audit_log"])
	}
	for _, tb := range []string{"api_keys", "audit_log"} {
		delete(before, tb)
		delete(after, tb)
	}
	if !maps.Equal(before, after) {
		t.Errorf("the bench changed the database it measured:\nbefore %v\nafter  %v", before, after)
	}
	var revoked bool
	if err := st.DB().GetContext(ctx, &revoked, `SELECT revoked_at IS NOT NULL FROM api_keys WHERE name = 'bench'`); err != nil || !revoked {
		t.Errorf("the run's API key is not revoked after (%v)", err)
	}

	emptyFile := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(emptyFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--parts", "intake"}, "--parts reports"},
		{[]string{"--parts", "reports,ingest"}, "--parts reports"},
		{[]string{"--scale", "2"}, "no --scale or --bundle"},
		{[]string{"--bundle", dir}, "no --scale or --bundle"},
		{[]string{"--parts", "reprots"}, `unknown part "reprots"`},
		{[]string{"--db", filepath.Join(dir, "none.db")}, "no database there"},
		{[]string{"--db", emptyFile}, "is an empty file, not a database"},
		{[]string{"--year", "2031"}, "no ledger entries in 2031"},
	} {
		args := append([]string{"bench", "--loaded", "--smoke"}, c.args...)
		if !slices.Contains(c.args, "--db") {
			args = append(args, "--db", db)
		}
		var said bytes.Buffer
		err := run(ctx, args, env(map[string]string{"AIDMALL_DATA_DIR": dir}), &said, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("bench --loaded %v: %v, want an error naming %q", c.args, err, c.want)
		}
		if strings.Contains(said.String(), "what runs") && !slices.Contains(c.args, "--year") { // refused before it says what it would do (a year not loaded is found once the database is open)
			t.Errorf("bench --loaded %v: printed its plan before refusing:\n%s", c.args, said.String())
		}
	}
	if st, err := os.Stat(emptyFile); err != nil || st.Size() != 0 {
		t.Errorf("bench --loaded on an empty file changed it (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "none.db")); !os.IsNotExist(err) {
		t.Errorf("bench --loaded on a missing database made one (stat: %v)", err)
	}
	if err := run(ctx, []string{"bench", "--loaded", "--smoke"}, env(map[string]string{"AIDMALL_DATA_DIR": dir}), io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "--db") {
		t.Errorf("bench --loaded without a database: %v, want an error naming --db", err)
	}
}

// A bare query run too few times for a percentile is named by its slowest run, not by a
// p99 it cannot have.
func TestBareNameSaysWhenTooFewRuns(t *testing.T) {
	for _, c := range []struct {
		name string
		q    float64
		n    int
		want string
	}{
		{"p99", 0.99, 12, "bare GROUP BY, slowest of 12 runs (too few for a p99)"},
		{"p99", 0.99, 100, "bare GROUP BY, p99 of 100 runs"},
		{"p50", 0.50, 12, "bare GROUP BY, p50 of 12 runs"},
		{"p50", 0.50, 1, "bare GROUP BY, slowest of 1 run (too few for a p50)"},
	} {
		if got := bareName(c.name, c.q, c.n); got != c.want {
			t.Errorf("bareName(%s, %d) = %q, want %q", c.name, c.n, got, c.want)
		}
	}
}

// A --duration or --clients out of range is refused naming that flag and its value alone.
func TestBenchRefusesAFlagOutOfRangeByName(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--duration", "0s"}, "--duration: 0s: "},
		{[]string{"--duration", "11m"}, "--duration: 11m0s: "},
		{[]string{"--clients", "0"}, "--clients: 0: "},
		{[]string{"--clients", "257"}, "--clients: 257: "},
	} {
		err := run(context.Background(), append([]string{"bench"}, c.args...), func(string) string { return "" }, io.Discard, io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("bench %v: %v, want an error beginning %q", c.args, err, c.want)
		}
	}
}
