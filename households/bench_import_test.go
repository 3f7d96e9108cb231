package households_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/examples"
	"aidmall/households"
	"aidmall/internal/gen"
)

// BenchmarkHouseholdImport imports a generated households.csv (GB18030, aidmall gen; rows
// from AIDMALL_BENCH_ROWS, default 20,000) into a fresh database and reports rows/s; in
// the same run, the bare batched insert of the same stored rows (a multi-row INSERT of
// 500 rows, prepared once, one transaction; INSERT OR ROLLBACK on SQLite, as the import) through the same driver, and the ratio.
//
//	AIDMALL_BENCH_ROWS=1000000 go test ./households -run '^$' -bench HouseholdImport -benchtime 1x
func BenchmarkHouseholdImport(b *testing.B) {
	rows := 20000
	if v, err := strconv.Atoi(os.Getenv("AIDMALL_BENCH_ROWS")); err == nil && v > 0 {
		rows = v
	}
	dir := b.TempDir()
	if err := gen.Write(examples.YichuanDingbian2019(), dir, gen.Options{Scale: (rows + 629) / 630}); err != nil {
		b.Fatal(err)
	}
	file := filepath.Join(dir, "households.csv")

	for _, d := range sqltest.Dialects {
		b.Run(d.Name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				db := d.Open(b)
				st := sqltest.Store(b, db)
				reg := sqltest.Registry(b, st, func() time.Time { return households.TestNow })
				f, err := os.Open(file)
				if err != nil {
					b.Fatal(err)
				}
				// The previous dialect's bare insert held every row: give that memory back
				// to the OS first, or it counts as the import's peak.
				debug.FreeOSMemory()
				limit := debug.SetMemoryLimit(-1)
				if os.Getenv("GOMEMLIMIT") == "" { // as the import commands do
					debug.SetMemoryLimit(households.ImportHeapLimit)
				}
				resetPeakRSS()
				b.StartTimer()
				start := time.Now()
				rep, err := reg.Import(context.Background(), households.KindHouseholds, "households.csv", f, false)
				took := time.Since(start)
				b.StopTimer()
				peak := peakRSS()
				debug.SetMemoryLimit(limit) // not for the bare insert, which holds every row
				f.Close()
				if err != nil || rep.Loaded == 0 {
					b.Fatalf("%v %+v", err, rep.Counts)
				}
				bare := bareInsert(b, db)
				rate := float64(rep.Rows) / took.Seconds()
				b.ReportMetric(rate, "rows/s")
				b.ReportMetric(bare, "bare-rows/s")
				b.ReportMetric(rate/bare, "ratio")
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				b.ReportMetric(float64(ms.Sys)/(1<<20), "sys-MiB")
				b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
				b.Logf("%s: %d rows in %v: %.0f rows/s; bare batched insert %.0f rows/s (ratio %.2f); Go heap sys %d MiB; peak RSS of the import %d MiB",
					d.Name, rep.Rows, took.Round(time.Millisecond), rate, bare, rate/bare, ms.Sys>>20, peak>>20)
				b.StartTimer()
			}
		})
	}
}

// bareInsert writes the stored households again into the same table (its indexes and
// constraints) by multi-row INSERTs of 500, prepared once, in one transaction after
// deleting them (not timed), and returns its rows/s; the transaction is rolled back.
func bareInsert(b *testing.B, db *sqlstore.DB) float64 {
	ctx := context.Background()
	cols := []string{"household_no", "name_sealed", "name_masked", "id_sealed", "id_hash", "id_masked", "phone_sealed",
		"phone_hash", "phone_masked", "members", "county", "township", "village", "attribute", "exit_year", "fingerprint", "seal_key", "updated_at"}
	rs, err := db.QueryxContext(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM households")
	if err != nil {
		b.Fatal(err)
	}
	var all [][]any
	for rs.Next() {
		v, err := rs.SliceScan()
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, v)
	}
	rs.Close()
	const batch = 500
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	verb := "INSERT"
	if db.Dialect == sqlstore.SQLite {
		verb = "INSERT OR ROLLBACK" // the import's statement: no statement journal (sqlstore's insertHouseholdsSQL)
	}
	q := db.Rebind(verb + " INTO households (" + strings.Join(cols, ", ") + ") VALUES " + strings.TrimSuffix(strings.Repeat(row+", ", batch), ", "))
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	if db.Dialect == sqlstore.SQLite { // the import's cache (sqlstore's ImportHouseholds)
		if _, err := tx.ExecContext(ctx, "PRAGMA cache_size = -65536"); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM households"); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	stmt, err := tx.PreparexContext(ctx, q)
	if err != nil {
		b.Fatal(err)
	}
	args := make([]any, 0, batch*len(cols))
	for i, r := range all {
		args = append(args, r...)
		if (i+1)%batch == 0 {
			if _, err := stmt.ExecContext(ctx, args...); err != nil {
				b.Fatal(err)
			}
			args = args[:0]
		}
	}
	if n := len(args) / len(cols); n > 0 {
		if _, err := tx.ExecContext(ctx, db.Rebind(verb+" INTO households ("+strings.Join(cols, ", ")+") VALUES "+strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")), args...); err != nil {
			b.Fatal(err)
		}
	}
	return float64(len(all)) / time.Since(start).Seconds()
}

// resetPeakRSS resets the process's peak resident set size (VmHWM) to its current one
// (Linux: clear_refs 5), so that peakRSS then gives the import's own peak; elsewhere it
// does nothing.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS is the process's peak resident set size in bytes (VmHWM), 0 where unknown.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
