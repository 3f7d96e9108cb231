package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"aidmall/adapters/sqlstore/sqltest"
)

// An import's progress bar is drawn at 0 % before the first read, so its first byte rate
// is measured over a throttle's time, not over the first read's microseconds (a newcomer
// saw "16 GB/s").
func TestImportProgressStartsBlank(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"import", "households", filepath.Join(sqltest.ExampleBundle(), "households.csv"),
		"--db", filepath.Join(dir, "a.db"), "--progress"}, env(map[string]string{"AIDMALL_DATA_DIR": dir}), &out, &errOut)
	if err != nil && !strings.Contains(err.Error(), "row") { // the example file has rows with errors, on purpose
		t.Fatalf("import households: %v\n%s", err, errOut.String())
	}
	readings := strings.FieldsFunc(errOut.String(), func(r rune) bool { return r == '\r' || r == '\n' })
	var bars []string
	for _, r := range readings {
		if strings.Contains(r, "households") && strings.Contains(r, "%") {
			bars = append(bars, r)
		}
	}
	if len(bars) == 0 {
		t.Fatalf("no progress bar on stderr: %q", errOut.String())
	}
	// 0 %, an empty bar, then straight to the elapsed time: no rate.
	if !regexp.MustCompile(`^households\s+0% \|\s*\|\s+\[`).MatchString(strings.TrimSpace(bars[0])) {
		t.Errorf("the first reading is not the blank bar (0 %%, no rate): %q", bars[0])
	}
}

// The bar ends its line before the summary, and a statement's last count is the number
// of its events, not the last hundred read.
func TestImportProgressEndsWithTheWholeCount(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "a.db")
	bundle := sqltest.ExampleBundle()
	e := env(map[string]string{"AIDMALL_DATA_DIR": dir})
	for _, args := range [][]string{{"import", "bundle", bundle}, {"import", "orders", bundle}} {
		if err := run(context.Background(), append(args, "--db", db), e, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"import", "statement", filepath.Join(bundle, "statement-ccb.csv"), "--db", db, "--progress"}, e, &out, &errOut); err != nil {
		t.Fatalf("import statement: %v\n%s", err, errOut.String())
	}
	m := regexp.MustCompile(`(\d+) events:`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no event count in the summary: %q", out.String())
	}
	readings := strings.FieldsFunc(errOut.String(), func(r rune) bool { return r == '\r' || r == '\n' })
	last := ""
	for _, r := range readings {
		if strings.Contains(r, "rows") {
			last = r
		}
	}
	if !strings.Contains(last, "statement: "+m[1]+" rows") {
		t.Errorf("the bar's last reading is %q, want the statement's %s rows", last, m[1])
	}
	if !strings.HasSuffix(errOut.String(), "\n") {
		t.Errorf("the bar does not end its line: %q", errOut.String()[max(0, errOut.Len()-80):])
	}
}
