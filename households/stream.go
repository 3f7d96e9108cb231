package households

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
)

// RowSource is a registry file decoded row by row, so that a file of a million rows is
// never held whole (adapters/registryfile's Rows). Next returns the next non-blank row,
// or a line that could not be split into cells (a BadLine, with a zero FileRow); io.EOF
// at the end; any other error (a *ParseError: an encoding that turns out unreadable half
// way) stops the import, and nothing of the file is stored.
type RowSource interface {
	Next() (FileRow, *BadLine, error)
	// Sheet is File.Sheet: the rows come from a workbook's sheet.
	Sheet() bool
}

// StreamDecoder is a FileDecoder that also decodes a file row by row; a Registry whose
// decoder is one reads household files as a stream.
type StreamDecoder interface {
	SheetRows(r io.Reader, sheet string) (RowSource, error)
}

// HouseholdStreamStore is a RegistryStore that stores households as they come: the whole
// file still in ONE transaction (all or nothing), written batch by batch. next gives the
// next batch (nil at the end); after the last one, done gives the import's ImportInfo
// (for the audit entry the store appends, as for UpsertHouseholds) and whether to keep
// what was written: false rolls it all back (a strict import that found a bad row) and the
// counts are zero. adapters/sqlstore's Store implements it.
type HouseholdStreamStore interface {
	ImportHouseholds(ctx context.Context, next func() ([]SealedHousehold, error), done func() (ImportInfo, bool)) (Counts, error)
}

// fileSource is a decoded File read as a RowSource.
type fileSource struct {
	f    File
	i, j int
}

func (s *fileSource) Sheet() bool { return s.f.Sheet }

func (s *fileSource) Next() (FileRow, *BadLine, error) {
	if s.i < len(s.f.Rows) {
		s.i++
		return s.f.Rows[s.i-1], nil, nil
	}
	if s.j < len(s.f.BadLines) {
		s.j++
		return FileRow{}, &s.f.BadLines[s.j-1], nil
	}
	return FileRow{}, nil, io.EOF
}

// ImportHeapLimit is the Go heap a household import of a million rows fits in: its
// duplicate checks keep about 60 bytes a row, and the rest is batches in flight and the
// garbage of sealing, which Go's default GC pacing (GOGC=100) lets grow to twice the live
// heap. The import commands set it as the process's soft memory limit
// (debug.SetMemoryLimit, unless GOMEMLIMIT says otherwise), so that with SQLite's 64 MiB
// import cache a 1M-row import stays under 300 MB of RSS.
const ImportHeapLimit = 128 << 20

// sealBatch is how many households are sealed and written together.
const sealBatch = 512

// sealJob is one batch of good households on its way to the store: sealed by a worker,
// its result sent on done (one value) so that the writer takes batches in file order.
type sealJob struct {
	in   []Household
	out  []SealedHousehold
	err  error
	done chan struct{}
}

// importHouseholdStream reads a household file row by row (the row rules of
// parseHouseholds: one header, the same duplicate checks), seals the good rows in
// batches on a small pool of workers while the store writes the batches before them in
// file order, and fills rep as importRecords does. sum gives the file's SHA-256 once it
// has been read to its end.
func (r *Registry) importHouseholdStream(ctx context.Context, rep *Report, name string, src RowSource, strict bool, sum func() (string, error)) error {
	st, ok := r.store.(HouseholdStreamStore)
	if !ok {
		st = collectingStore{r.store}
	}
	t, pending, bad, err := streamHeader(src, householdColumns, name)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		errs, warns []RowError
		rows, good  int
		readErr     error
		seen        = newHouseholdsSeen()
		now         = r.now()
		jobs        = make(chan *sealJob)
		order       = make(chan *sealJob, 2*runtime.GOMAXPROCS(0))
		wg          sync.WaitGroup
	)
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			for j := range jobs {
				for _, h := range j.in {
					s, err := SealHousehold(r.sealer, h)
					if err != nil {
						j.err = err
						break
					}
					j.out = append(j.out, s)
				}
				close(j.done)
			}
		})
	}
	// The reader: rows are checked in file order; good rows go to the sealers in batches,
	// and each batch to the writer in order. Once a strict import has a bad row nothing
	// more is sealed: it will be rolled back; the rows are still read for the report.
	go func() {
		defer func() { close(jobs); close(order) }()
		var batch []Household
		send := func() bool {
			if len(batch) == 0 || (strict && len(errs) > 0) {
				batch = nil
				return true
			}
			j := &sealJob{in: batch, done: make(chan struct{})}
			batch = make([]Household, 0, sealBatch)
			select {
			case order <- j:
			case <-ctx.Done():
				return false
			}
			select {
			case jobs <- j:
				return true
			case <-ctx.Done():
				return false
			}
		}
		check := func(tr tableRow) {
			rows++
			if tr.n <= t.headerRow {
				rows-- // a row above the header is not data
				return
			}
			if e, ok := t.shape(tr); !ok {
				errs = append(errs, e)
				return
			}
			if e, ok := t.controls(tr); !ok {
				errs = append(errs, e)
				return
			}
			rr := t.reader(tr)
			h := rr.household(seen, now)
			if len(rr.errs) > 0 {
				errs = append(errs, rr.errs...)
				return
			}
			good++
			warns = append(warns, rr.warns...)
			batch = append(batch, h)
		}
		badLine := func(b BadLine) {
			if b.Line > t.headerRow {
				rows++
				errs = append(errs, t.badLine(b))
			}
		}
		for _, b := range bad {
			badLine(b)
		}
		for _, tr := range pending {
			check(tr)
		}
		for {
			if len(batch) >= sealBatch && !send() {
				return
			}
			if r.progress != nil && rows%sealBatch == 0 {
				r.progress(rows)
			}
			row, b, err := src.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				readErr = err
				return
			}
			if b != nil {
				badLine(*b)
				continue
			}
			if tr := fileRow(row); !tr.blank() {
				check(tr)
			}
		}
		if r.progress != nil {
			r.progress(rows)
		}
		send()
	}()
	defer wg.Wait()
	next := func() ([]SealedHousehold, error) {
		j, ok := <-order
		if !ok {
			if readErr != nil {
				return nil, readErr
			}
			return nil, ctx.Err()
		}
		<-j.done
		return j.out, j.err
	}
	refused := false
	done := func() (ImportInfo, bool) {
		sortRowErrors(errs)
		s, err := sum()
		if err != nil {
			readErr = err
		}
		refused = strict && len(errs) > 0
		return ImportInfo{Kind: KindHouseholds, File: name, SHA256: s, Rows: rows, Rejected: rejectedRows(errs)}, !refused && readErr == nil && good > 0
	}
	c, err := st.ImportHouseholds(ctx, next, done)
	cancel()
	for range order { // let the reader finish when the store stopped early
	}
	if err == nil {
		err = readErr
	}
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) || errors.Is(err, readErr) {
			return err
		}
		return fmt.Errorf("store households: %w", err)
	}
	rep.Rows, rep.Errors, rep.Warnings, rep.Refused = rows, errs, warns, refused
	if rep.Errors == nil {
		rep.Errors = []RowError{}
	}
	if rep.Warnings == nil {
		rep.Warnings = []RowError{}
	}
	if !refused {
		rep.Loaded, rep.Counts = good, c
	}
	return nil
}

// fileRow is a decoded row as the row rules read it (File.rows).
func fileRow(r FileRow) tableRow {
	row := tableRow{n: r.N, cells: r.Cells}
	for i, num := range r.Numeric {
		if num {
			if row.numeric == nil {
				row.numeric = map[int]bool{}
			}
			row.numeric[i] = true
		}
	}
	return row
}

// collectingStore gives a store without HouseholdStreamStore the file's households in one
// UpsertHouseholds call, as before streaming.
type collectingStore struct{ RegistryStore }

func (c collectingStore) ImportHouseholds(ctx context.Context, next func() ([]SealedHousehold, error), done func() (ImportInfo, bool)) (Counts, error) {
	var all []SealedHousehold
	for {
		b, err := next()
		if err != nil {
			return Counts{}, err
		}
		if b == nil {
			break
		}
		all = append(all, b...)
	}
	info, keep := done()
	if !keep || len(all) == 0 {
		return Counts{}, nil
	}
	return c.UpsertHouseholds(withImport(ctx, info), all)
}
