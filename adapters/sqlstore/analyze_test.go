package sqlstore_test

import (
	"slices"
	"testing"

	"aidmall/adapters/sqlstore"
)

// TestAnalyzeSchedule: a bulk load of 2.2M rows (a year at N = 100: events and ledger
// entries) written 10,000 at a time runs ANALYZE after 20k, 40k, 80k, … rows: seven
// times, not 110.
func TestAnalyzeSchedule(t *testing.T) {
	var at []int64
	var total, since, before int64
	for total < 2_200_000 {
		total += 10_000
		since += 10_000
		if since >= sqlstore.AnalyzeAfter(before) {
			at = append(at, total)
			before += since
			since = 0
		}
	}
	want := []int64{20_000, 40_000, 80_000, 160_000, 320_000, 640_000, 1_280_000}
	if !slices.Equal(at, want) {
		t.Fatalf("ANALYZE after %v rows, want %v", at, want)
	}
}
