package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"aidmall/bizday"
)

// TestReconcileRange: reconcile reads the days asked for, and refuses a range it cannot
// read — reversed, empty or not a day — saying what was given, before touching anything.
func TestReconcileRange(t *testing.T) {
	t.Parallel()
	today := bizday.MustParse("2026-12-06")
	good := []struct {
		name, from, to, wantFrom, wantTo string
	}{
		{"defaults_are_yesterday_and_today", "", "", "2026-12-05", "2026-12-06"},
		{"one_day", "2026-12-01", "2026-12-01", "2026-12-01", "2026-12-01"},
		{"a_week", "2026-12-01", "2026-12-07", "2026-12-01", "2026-12-07"},
		{"from_alone_runs_to_today", "2026-12-01", "", "2026-12-01", "2026-12-06"},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			f, to, err := reconcileRange(tt.from, tt.to, today)
			if err != nil || f.String() != tt.wantFrom || to.String() != tt.wantTo {
				t.Fatalf("%s..%s, %v; want %s..%s", f, to, err, tt.wantFrom, tt.wantTo)
			}
		})
	}
	bad := []struct {
		name, from, to string
		want           []string
	}{
		{"reversed", "2026-12-07", "2026-12-01", []string{"--from 2026-12-07 is after --to 2026-12-01", "empty"}},
		{"from_after_the_default_to", "2026-12-09", "", []string{"--from 2026-12-09 is after the default --to (today, 2026-12-06)"}},
		{"to_before_the_default_from", "", "2026-12-01", []string{"--to 2026-12-01 is before the default --from"}},
		{"not_a_day", "2026-13-01", "2026-12-01", []string{`--from "2026-13-01"`}},
		{"to_not_a_day", "2026-12-01", "tomorrow", []string{`--to "tomorrow"`}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := reconcileRange(tt.from, tt.to, today)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestReconcileCommandRefusesABadRange: `aidmall reconcile` exits with an error naming the
// range before it looks for a mall (none is configured here), and reads nothing.
func TestReconcileCommandRefusesABadRange(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "a.db")
	mustCLI(t, db, dir, "migrate")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"reconcile", "--from", "2026-12-07", "--to", "2026-12-01"}, "--from 2026-12-07 is after --to 2026-12-01: the range is empty"},
		{[]string{"reconcile", "--from", "", "--to", "2026-12-01"}, "--from is empty"},
		{[]string{"reconcile", "--from", "2026-12-01", "--to=  "}, "--to is empty"},
	} {
		out, err := cli(t, db, dir, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("aidmall %s: error %v, want one saying %q", strings.Join(tc.args, " "), err, tc.want)
		}
		if out != "" {
			t.Errorf("aidmall %s printed %q, want nothing reconciled", strings.Join(tc.args, " "), out)
		}
	}
	// A good range gets past the range to the next check: no mall is configured here.
	if _, err := cli(t, db, dir, "reconcile", "--from", "2026-12-01", "--to", "2026-12-01"); err == nil || !strings.Contains(err.Error(), "no mall is configured") {
		t.Errorf("a good range: error %v, want no mall configured", err)
	}
}

// TestImportStatementStrict: `import statement --strict` refuses a file with a bad row
// whole (exit non-zero, the bad row named, nothing applied); without --strict the good
// rows apply and the bad are reported, and the summary counts each event once.
func TestImportStatementStrict(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "a.db")
	mustCLI(t, db, dir, "migrate")
	file := filepath.Join(dir, "statement-abc.jsonl")
	good := `{"eventId":"EVT-1","eventType":"ITEM_SHIPPED","occurredAt":"2019-03-05T12:00:00+08:00","partnerOrderNo":"AM1","mallOrderNo":"ABC1","lineNo":1,"quantity":5,"refundFen":0}`
	if err := os.WriteFile(file, []byte(good+"\n"+`{"eventId":1}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := cli(t, db, dir, "import", "statement", file, "--strict")
	if err == nil || !strings.Contains(err.Error(), "nothing applied") || !strings.Contains(out, "bad row: abc statement row 2") {
		t.Fatalf("--strict: error %v, output %q; want the file refused naming row 2", err, out)
	}
	// Nothing was applied: the good row's event is new to the import without --strict.
	out = mustCLI(t, db, dir, "import", "statement", file)
	if !strings.Contains(out, "1 events: 0 applied, 0 held for review, 0 already known (recorded before, or repeated in the file), 1 waiting for their order; 1 bad row ") {
		t.Fatalf("without --strict: %q", out)
	}
}
