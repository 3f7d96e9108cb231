package households_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/examples"
	"aidmall/households"
	"aidmall/internal/gen"
)

// A household file of several write batches (aidmall gen --scale 3: 1,890 rows, 9 bad)
// streams in with the semantics of a whole-file import, on both databases: every bad row
// reported by its row, the rest stored, the same file again all unchanged; strict with a
// bad row stores nothing; a file whose encoding breaks half way stores nothing; a changed
// household is updated.
func TestHouseholdImportStreamsInBatches(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := gen.Write(examples.YichuanDingbian2019(), dir, gen.Options{Scale: 3}); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join(dir, "households.csv"))
	if err != nil {
		t.Fatal(err)
	}
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		st := sqltest.Store(t, db)
		reg := newTestRegistry(t, st)
		imp := func(b []byte, strict bool) (households.Report, error) {
			return reg.Import(ctx, households.KindHouseholds, "households.csv", bytes.NewReader(b), strict)
		}

		rep, err := imp(file, true)
		if err != nil || !rep.Refused || rep.Loaded != 0 || count(t, db, "households") != 0 {
			t.Fatalf("strict: err %v, refused %v, loaded %d, stored %d: want refused and nothing stored", err, rep.Refused, rep.Loaded, count(t, db, "households"))
		}

		// Row 1,500 (in the third batch) is cut into bytes that are not GB18030.
		lines := bytes.Split(file, []byte("\r\n"))
		broken := append([][]byte{}, lines...)
		broken[1499] = append([]byte{0x81, 0x20}, broken[1499]...)
		if _, err := imp(bytes.Join(broken, []byte("\r\n")), false); err == nil || count(t, db, "households") != 0 {
			t.Fatalf("broken encoding: err %v, %d stored: want an error and nothing stored", err, count(t, db, "households"))
		}

		rep, err = imp(file, false)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Rows != 1890 || rep.Loaded != 1881 || rep.Counts.Inserted != 1881 || count(t, db, "households") != 1881 {
			t.Fatalf("report %d rows, %d loaded, %+v; %d stored: want 1890, 1881 inserted", rep.Rows, rep.Loaded, rep.Counts, count(t, db, "households"))
		}
		var rows []int
		for _, e := range rep.Errors {
			rows = append(rows, e.Row)
		}
		// The base's three bad rows, in each of the three copies (630 rows apart).
		if len(rows) != 9 || rows[3]-rows[0] != 630 || rows[6]-rows[3] != 630 {
			t.Fatalf("bad rows %v: want the base's 3 in each copy", rows)
		}
		for i := 1; i < len(rows); i++ {
			if rows[i] < rows[i-1] {
				t.Fatalf("errors not in row order: %v", rows)
			}
		}
		before := dump(t, db)
		rep, err = imp(file, false)
		if err != nil || rep.Counts.Unchanged != 1881 || rep.Counts.Inserted+rep.Counts.Updated != 0 || dump(t, db) != before {
			t.Fatalf("again: err %v, %+v: want all unchanged", err, rep.Counts)
		}

		// One household's phone changed (the last digit of row 2): that one is updated.
		changed := append([][]byte{}, lines...)
		row2 := append([]byte{}, lines[1]...)
		row2[len(row2)-1] = '0' + (row2[len(row2)-1]-'0'+1)%10
		changed[1] = row2
		rep, err = imp(bytes.Join(changed, []byte("\r\n")), false)
		if err != nil || rep.Counts.Updated != 1 || rep.Counts.Unchanged != 1880 || rep.Counts.Inserted != 0 || dump(t, db) == before {
			t.Fatalf("one changed: err %v, %+v: want 1 updated, 1880 unchanged", err, rep.Counts)
		}
	})
}
