package households_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/households"
)

// withQuote returns the lines (split on eol) of the bundle's file name with a quote
// opened, and never closed, before cell cell (1-based) of each given row.
func withQuote(t *testing.T, name, eol string, cell int, rows ...int) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(households.BundleDir, name))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(raw, []byte(eol))
	for _, row := range rows {
		// Commas are ASCII in GB18030 too (no byte of a multi-byte character is 0x2C).
		cells := bytes.Split(lines[row-1], []byte(","))
		cells[cell-1] = append([]byte{'"'}, cells[cell-1]...)
		lines[row-1] = bytes.Join(cells, []byte(","))
	}
	return bytes.Join(lines, []byte(eol))
}

// An unterminated quote in one row of the county's household export (GB18030, CRLF) is
// one row error, at its row and column, and every row after it is read: 630 rows, the
// broken one and the 3 bad on purpose refused, 626 stored. Strict refuses the file
// naming that row, and stores nothing.
func TestHouseholdImportUnterminatedQuoteCostsOneRow(t *testing.T) {
	t.Parallel()
	file := withQuote(t, "households.csv", "\r\n", 2, 5)
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		reg := newTestRegistry(t, sqltest.Store(t, db))
		rep, err := reg.Import(ctx, households.KindHouseholds, "households.csv", bytes.NewReader(file), true)
		if err != nil || !rep.Refused || rep.Loaded != 0 || count(t, db, "households") != 0 ||
			len(rep.Errors) != 4 || rep.Errors[0].Row != 5 {
			t.Fatalf("strict: err %v, %+v; %d stored: want refused at row 5, nothing stored", err, rep, count(t, db, "households"))
		}
		rep, err = reg.Import(ctx, households.KindHouseholds, "households.csv", bytes.NewReader(file), false)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Rows != 630 || rep.Loaded != 626 || rep.Counts.Inserted != 626 || count(t, db, "households") != 626 {
			t.Fatalf("%d rows, %d loaded, %+v, %d stored: want 630 rows, 626 loaded and stored", rep.Rows, rep.Loaded, rep.Counts, count(t, db, "households"))
		}
		want := append([]households.RowError{{Row: 5, Column: "户主姓名"}}, households.BundleHouseholdErrors...)
		if len(rep.Errors) != len(want) {
			t.Fatalf("errors %+v, want row 5 and the bundle's 3", rep.Errors)
		}
		for i, e := range rep.Errors {
			if e.Row != want[i].Row || e.Column != want[i].Column {
				t.Fatalf("error %d: %s, want row %d, %s", i, e, want[i].Row, want[i].Column)
			}
		}
		if r := rep.Errors[0].Reason; !strings.Contains(r, "quoting is broken") || !strings.Contains(r, "not closed") || rep.Errors[0].Value != "" {
			t.Fatalf("row 5: %+v: want it to say the quote is not closed, without the (personal) value", rep.Errors[0])
		}
	})
}

// The same in a linkages file (read as a stream): a row with an unterminated quote, one at
// the last row, and the rows between them load; the file, having bad rows, removes no
// linkage. Strict refuses it naming both rows.
func TestLinkageImportUnterminatedQuoteCostsOneRow(t *testing.T) {
	t.Parallel()
	file := withQuote(t, "linkages.csv", "\n", 2, 10, 413)
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		st := sqltest.Store(t, db)
		sqltest.ImportBundle(t, st, sqltest.ExampleBundle())
		stored := count(t, db, "linkages")
		reg := newTestRegistry(t, st)
		rep, err := reg.Import(ctx, households.KindLinkages, "linkages.csv", bytes.NewReader(file), true)
		if err != nil || !rep.Refused || len(rep.Errors) != 2 || rep.Errors[0].Row != 10 || rep.Errors[1].Row != 413 {
			t.Fatalf("strict: err %v, %+v: want refused at rows 10 and 413", err, rep)
		}
		rep, err = reg.Import(ctx, households.KindLinkages, "linkages.csv", bytes.NewReader(file), false)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Rows != 412 || rep.Loaded != 410 || rep.Counts.Unchanged != 410 || rep.Counts.Removed != 0 || count(t, db, "linkages") != stored {
			t.Fatalf("%d rows, %d loaded, %+v: want 412 rows, 410 loaded unchanged, none removed", rep.Rows, rep.Loaded, rep.Counts)
		}
		if len(rep.Errors) != 2 || rep.Errors[0].Row != 10 || rep.Errors[0].Column != "household_no" || rep.Errors[1].Row != 413 {
			t.Fatalf("errors %+v: want rows 10 and 413, column household_no", rep.Errors)
		}
	})
}
