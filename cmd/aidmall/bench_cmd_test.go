package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
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
		} {
			if !withBase(f).MatchString(table) {
				t.Errorf("no line %q with its baseline and ratio in the table", f)
			}
		}
		for _, f := range []string{`intake\s+at 70% of peak \(\d+/s\): rate\s+\d`, `intake\s+at 70% of peak: p50\s+\d`, `intake\s+at 70% of peak: p99\s+\d`, `ingest\s+p99\s+\d`} {
			if !regexp.MustCompile(f).MatchString(table) {
				t.Errorf("no figure %s in the table", f)
			}
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
