package households_test

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"testing"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/households"
)

// linkageFile is a linkages.csv of n rows made as it is read: produced counts the rows
// handed out so far.
type linkageFile struct {
	n, next  int
	produced atomic.Int64
	buf      []byte
}

func (f *linkageFile) Read(p []byte) (int, error) {
	for len(f.buf) < len(p) && f.next <= f.n {
		if f.next == 0 {
			f.buf = append(f.buf, "supplier_code,household_no,type,weight,valid_from,valid_to\n"...)
		} else {
			f.buf = fmt.Appendf(f.buf, "S1,%s,employment,1.5,2019-01-01,\n", streamNo(f.next))
		}
		f.next++
	}
	if len(f.buf) == 0 {
		return 0, io.EOF
	}
	k := copy(p, f.buf)
	// A row counts as produced once its last byte has been read.
	for _, c := range f.buf[:k] {
		if c == '\n' {
			f.produced.Add(1)
		}
	}
	f.buf = f.buf[k:]
	return k, nil
}

func streamNo(i int) string { return fmt.Sprintf("9%010d", i) }

// inFlight is a store that, at each batch it takes, notes how many rows the file has
// handed out beyond those the store has been given: the rows the import holds.
type inFlight struct {
	*sqlstore.Store
	file    *linkageFile
	taken   int64
	batches int
	most    int64
}

func (s *inFlight) ImportLinkageStream(ctx context.Context, next func(households.References) ([]households.Linkage, error),
	done func() (households.ImportInfo, bool, func(households.Linkage) bool)) (households.Counts, error) {
	return s.Store.ImportLinkageStream(ctx, func(refs households.References) ([]households.Linkage, error) {
		ls, err := next(refs)
		s.taken += int64(len(ls))
		if len(ls) > 0 {
			s.batches++
		}
		s.most = max(s.most, s.file.produced.Load()-1-s.taken) // the header is no row
		return ls, err
	}, done)
}

// A linkages file of 20,000 rows is read and stored batch by batch: the import never holds
// more than a few batches of rows (rows read from the file and not yet given to the
// store), whatever the file's length; then all of them are stored.
func TestLinkageImportHoldsABoundedNumberOfRows(t *testing.T) {
	t.Parallel()
	const rows = 20000
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ctx := context.Background()
		st := sqltest.Store(t, db)
		sqltest.Seed(t, st)
		nos := make([]string, rows)
		for i := range nos {
			nos[i] = streamNo(i + 1)
		}
		seedBareHouseholds(t, db, nos)
		file := &linkageFile{n: rows}
		store := &inFlight{Store: st, file: file}
		rep, err := newTestRegistry(t, store).Import(ctx, households.KindLinkages, "linkages.csv", file, true)
		if err != nil || rep.Refused || rep.Loaded != rows || rep.Counts.Inserted != rows {
			t.Fatalf("err %v, refused %v, loaded %d, %+v: want %d inserted", err, rep.Refused, rep.Loaded, rep.Counts, rows)
		}
		// The bound: the batches queued and being checked (4 × 512) and what the 64 KiB
		// read-ahead of the decoder holds (about 40 bytes a row).
		const bound = 4*512 + 64<<10/30
		if store.batches < rows/512 || store.most > bound {
			t.Fatalf("%d batches, at most %d rows in flight: want at least %d batches and at most %d rows", store.batches, store.most, rows/512, bound)
		}
		t.Logf("%d batches, at most %d rows in flight", store.batches, store.most)

		// The first half again is S1's whole set: its rows are unchanged and every other
		// linkage of S1 (the second half's, in later batches, and the seeded ones) removed.
		rep, err = newTestRegistry(t, st).Import(ctx, households.KindLinkages, "linkages.csv", &linkageFile{n: rows / 2}, true)
		var s1 int
		if err == nil {
			err = db.QueryRow(`SELECT count(*) FROM linkages WHERE supplier_code = 'S1'`).Scan(&s1)
		}
		if err != nil || rep.Counts.Unchanged != rows/2 || rep.Counts.Inserted+rep.Counts.Updated != 0 || rep.Counts.Removed < rows/2 || s1 != rows/2 {
			t.Fatalf("half again: err %v, %+v, S1 has %d: want %d unchanged, the rest removed", err, rep.Counts, s1, rows/2)
		}
	})
}
