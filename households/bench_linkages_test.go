package households_test

import (
	"context"
	"encoding/csv"
	"io"
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

// BenchmarkLinkageImport imports a generated linkages.csv (aidmall gen; rows from
// AIDMALL_BENCH_ROWS, default 20,000; 412 a copy) into a fresh database that holds its
// suppliers and (bare, unsealed) households, and reports rows/s and the peak RSS of the
// import (VmHWM); in the same run, the bare batched insert of the same stored linkages
// (multi-row INSERT of 512, prepared once, one transaction; INSERT OR ROLLBACK and the 64
// MiB page cache on SQLite, as the import) and the ratio.
//
//	AIDMALL_BENCH_ROWS=1000000 go test ./households -run '^$' -bench LinkageImport -benchtime 1x
func BenchmarkLinkageImport(b *testing.B) {
	rows := 20000
	if v, err := strconv.Atoi(os.Getenv("AIDMALL_BENCH_ROWS")); err == nil && v > 0 {
		rows = v
	}
	dir := b.TempDir()
	if err := gen.Write(examples.YichuanDingbian2019(), dir, gen.Options{Scale: (rows + 411) / 412}); err != nil {
		b.Fatal(err)
	}
	file := filepath.Join(dir, "linkages.csv")
	nos := linkedHouseholds(b, file)
	for _, d := range sqltest.Dialects {
		b.Run(d.Name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				db := d.Open(b)
				st := sqltest.Store(b, db)
				reg := sqltest.Registry(b, st, func() time.Time { return households.TestNow })
				sf, err := os.Open(filepath.Join(dir, "suppliers.csv"))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := reg.Import(context.Background(), households.KindSuppliers, "suppliers.csv", sf, false); err != nil {
					b.Fatal(err)
				}
				sf.Close()
				seedBareHouseholds(b, db, nos)
				f, err := os.Open(file)
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				limit := debug.SetMemoryLimit(-1)
				if os.Getenv("GOMEMLIMIT") == "" { // as the import commands do
					debug.SetMemoryLimit(households.ImportHeapLimit)
				}
				resetPeakRSS()
				b.StartTimer()
				start := time.Now()
				rep, err := reg.Import(context.Background(), households.KindLinkages, "linkages.csv", f, false)
				took := time.Since(start)
				b.StopTimer()
				peak := peakRSS()
				debug.SetMemoryLimit(limit)
				f.Close()
				if err != nil || rep.Loaded == 0 {
					b.Fatalf("%v %+v", err, rep.Counts)
				}
				bare := bareLinkageInsert(b, db)
				rate := float64(rep.Rows) / took.Seconds()
				b.ReportMetric(rate, "rows/s")
				b.ReportMetric(bare, "bare-rows/s")
				b.ReportMetric(rate/bare, "ratio")
				b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
				b.Logf("%s: %d rows (%d loaded, %d errors) in %v: %.0f rows/s; bare batched insert %.0f rows/s (ratio %.2f); peak RSS of the import %d MiB",
					d.Name, rep.Rows, rep.Loaded, len(rep.Errors), took.Round(time.Millisecond), rate, bare, rate/bare, peak>>20)
				b.StartTimer()
			}
		})
	}
}

// linkedHouseholds returns the distinct household numbers a linkages file names.
func linkedHouseholds(b testing.TB, file string) []string {
	f, err := os.Open(file)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	seen := map[string]bool{}
	var out []string
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return out
		}
		if err != nil || len(rec) < 2 {
			continue
		}
		if !seen[rec[1]] {
			seen[rec[1]] = true
			out = append(out, rec[1])
		}
	}
}

// seedBareHouseholds stores households numbered nos with placeholder values (not timed):
// what a linkage import asks of a household is that it is registered.
func seedBareHouseholds(b testing.TB, db *sqlstore.DB, nos []string) {
	ctx := context.Background()
	cols := "household_no, name_sealed, name_masked, id_sealed, id_hash, id_masked, phone_hash, phone_masked, members, county, township, village, attribute, exit_year, fingerprint, updated_at"
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	now := time.Now().UTC()
	const batch = 500
	for i := 0; i < len(nos); i += batch {
		part := nos[i:min(i+batch, len(nos))]
		args := make([]any, 0, len(part)*16)
		for _, no := range part {
			args = append(args, no, []byte("x"), "x", []byte("x"), "h"+no, "x", "", "", 1, "c", "t", "v", "a", 0, "f", now)
		}
		row := "(" + strings.TrimSuffix(strings.Repeat("?, ", 16), ", ") + ")"
		if _, err := tx.ExecContext(ctx, db.Rebind("INSERT INTO households ("+cols+") VALUES "+strings.TrimSuffix(strings.Repeat(row+", ", len(part)), ", ")), args...); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// bareLinkageInsert writes the stored linkages again into the same table by multi-row
// INSERTs of 512, prepared once, in one transaction after deleting them (not timed), and
// returns its rows/s; the transaction is rolled back.
func bareLinkageInsert(b *testing.B, db *sqlstore.DB) float64 {
	ctx := context.Background()
	cols := []string{"supplier_code", "household_no", "type", "weight_e4", "valid_from", "valid_to", "updated_at"}
	rs, err := db.QueryxContext(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM linkages")
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
	const batch = 512
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	verb := "INSERT"
	if db.Dialect == sqlstore.SQLite {
		verb = "INSERT OR ROLLBACK"
	}
	insert := func(n int) string {
		return db.Rebind(verb + " INTO linkages (" + strings.Join(cols, ", ") + ") VALUES " + strings.TrimSuffix(strings.Repeat(row+", ", n), ", "))
	}
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	if db.Dialect == sqlstore.SQLite { // the import's cache (sqlstore's StreamLinkages)
		if _, err := tx.ExecContext(ctx, "PRAGMA cache_size = -65536"); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM linkages"); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	stmt, err := tx.PreparexContext(ctx, insert(batch))
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
		if _, err := tx.ExecContext(ctx, insert(n), args...); err != nil {
			b.Fatal(err)
		}
	}
	return float64(len(all)) / time.Since(start).Seconds()
}
