package households

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync/atomic"
)

// References answers which suppliers and households the store knows; a
// LinkageStreamStore gives one that reads inside its import transaction.
type References interface {
	HouseholdsExist(ctx context.Context, nos []HouseholdNo) (map[HouseholdNo]bool, error)
	SuppliersExist(ctx context.Context, codes []string) (map[string]bool, error)
}

// LinkageStreamStore is a RegistryStore that stores a linkages file as it is read: the
// whole file in ONE transaction (all or nothing), written batch by batch. next gives the
// next batch of good linkages (nil at the end; an empty batch is not the end), checking
// their suppliers and households through refs, which must read in that transaction.
// After the last batch, done gives the import's ImportInfo (for the audit entry), whether
// to keep what was written (false rolls it all back and the counts are zero) and inFile,
// non-nil when the file is each of its suppliers' whole set: the supplier's stored
// linkages for which inFile is false are then removed (UpsertLinkages's prune). The
// ledger of changed suppliers is worked out again, as UpsertLinkages does.
// adapters/sqlstore's Store implements it.
type LinkageStreamStore interface {
	ImportLinkageStream(ctx context.Context, next func(refs References) ([]Linkage, error),
		done func() (info ImportInfo, keep bool, inFile func(Linkage) bool)) (Counts, error)
}

// CSVStreamDecoder is a FileDecoder that also decodes CSV text row by row (a workbook
// refused, as CSV refuses it); a Registry whose decoder is one reads linkages files as a
// stream when its store is a LinkageStreamStore.
type CSVStreamDecoder interface {
	CSVRows(r io.Reader) (RowSource, error)
}

// linkageBatch is how many linkages are checked against the store and written together.
const linkageBatch = 512

// linkagesSeen is what the duplicate check of a linkages file keeps of its rows: per
// (supplier_code, household_no, type, valid_from) the row that first had it, packed
// without pointers (supplier codes numbered, household numbers packNo's, days as
// numbers): about 40 bytes a row. A key whose household number does not pack is kept as
// a string. Once the file is read it is also the file's set of keys (has), which
// pruning asks.
type linkagesSeen struct {
	suppliers map[string]uint32
	keys      map[linkageSeenKey]int32
	long      map[string]int32
}

type linkageSeenKey struct {
	no       uint64
	supplier uint32
	day      uint32 // year*512 + month*32 + day
	typ      uint8
}

func newLinkagesSeen() *linkagesSeen {
	return &linkagesSeen{suppliers: map[string]uint32{}, keys: map[linkageSeenKey]int32{}, long: map[string]int32{}}
}

// key packs l's key; add numbers a supplier not seen before, else such a key is not packed
// (ok false).
func (s *linkagesSeen) key(l Linkage, add bool) (k linkageSeenKey, long string, ok bool) {
	sup, known := s.suppliers[l.SupplierCode]
	if !known {
		if !add {
			return k, "", false
		}
		sup = uint32(len(s.suppliers))
		s.suppliers[l.SupplierCode] = sup
	}
	var typ uint8
	switch l.Type {
	case LinkProducePurchase:
		typ = 1
	case LinkShareholding:
		typ = 2
	case LinkEmployment:
		typ = 3
	case LinkLandLease:
		typ = 4
	}
	day := packDay(l.ValidFrom.String())
	no, packed := packNo(string(l.HouseholdNo))
	if !packed || typ == 0 || day == 0 {
		return k, l.SupplierCode + "\x00" + string(l.HouseholdNo) + "\x00" + string(l.Type) + "\x00" + l.ValidFrom.String(), true
	}
	return linkageSeenKey{no: no, supplier: sup, day: day, typ: typ}, "", true
}

// packDay packs a YYYY-MM-DD day; 0 for anything else.
func packDay(d string) uint32 {
	if len(d) != 10 || d[4] != '-' || d[7] != '-' {
		return 0
	}
	y, err1 := strconv.ParseUint(d[:4], 10, 16)
	m, err2 := strconv.ParseUint(d[5:7], 10, 8)
	dd, err3 := strconv.ParseUint(d[8:], 10, 8)
	if err1 != nil || err2 != nil || err3 != nil || m > 15 || dd > 31 {
		return 0
	}
	return uint32(y*512 + m*32 + dd)
}

// firstRow returns the row that first had l's key, recording row when none did.
func (s *linkagesSeen) firstRow(l Linkage, row int) (int, bool) {
	k, long, _ := s.key(l, true)
	if long != "" {
		if first, dup := s.long[long]; dup {
			return int(first), true
		}
		s.long[long] = int32(row)
		return 0, false
	}
	if first, dup := s.keys[k]; dup {
		return int(first), true
	}
	s.keys[k] = int32(row)
	return 0, false
}

// has reports whether a row of the file had l's key.
func (s *linkagesSeen) has(l Linkage) bool {
	k, long, ok := s.key(l, false)
	switch {
	case !ok:
		return false
	case long != "":
		_, found := s.long[long]
		return found
	}
	_, found := s.keys[k]
	return found
}

// streamHeader reads the first rows of src up to the header (newTable's rules: the first
// of the first headerSearchRows non-blank rows that names every required column). It
// returns the table, the rows read (t.rows; those above the header are not data) and the
// lines that could not be split met on the way.
func streamHeader(src RowSource, required []string, name string) (*table, []tableRow, []BadLine, error) {
	var (
		head []tableRow
		bad  []BadLine
	)
	for len(head) < headerSearchRows {
		row, b, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, nil, err
		}
		if b != nil {
			bad = append(bad, *b)
			continue
		}
		tr := fileRow(row)
		if tr.blank() {
			continue
		}
		head = append(head, tr)
		if len(missingColumns(tr.cells, required)) == 0 {
			break
		}
	}
	t, err := newTable(head, required)
	if err != nil {
		if pe, ok := err.(*ParseError); ok && pe.File == "" {
			pe.File = name
		}
		return nil, nil, nil, err
	}
	t.sheet = src.Sheet()
	pending := t.rows
	t.rows = nil
	return t, pending, bad, nil
}

// importLinkageStream reads a linkages file row by row (ParseLinkages's rules), checks
// each batch of good rows' suppliers and households in the store's transaction (a row
// naming an unknown one is a row error, as importLinkages makes it) and has st write the
// good ones batch by batch while the file is still being read, and fills rep as
// importLinkages does: all or nothing, and a file with any bad row never prunes. sum gives
// the file's SHA-256 once it has been read to its end. At most a few batches of rows are
// in memory, besides the keys of the duplicate check (linkagesSeen).
func (r *Registry) importLinkageStream(ctx context.Context, rep *Report, name string, src RowSource, strict bool,
	sum func() (string, error), st LinkageStreamStore) error {
	t, pending, bad, err := streamHeader(src, linkageColumns, name)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		errs, warns []RowError // the reader's, in row order
		refErrs     []RowError // the writer's: unknown suppliers and households, in row order
		rows        int
		loaded      int
		readErr     error
		anyBad      atomic.Bool
		seen        = newLinkagesSeen()
		batches     = make(chan []numbered[Linkage], 2)
		suppliers   = map[string]bool{} // known or not, as the store said
		col         = parsed[Linkage]{t: t}.column
	)
	go func() {
		defer close(batches)
		batch := make([]numbered[Linkage], 0, linkageBatch)
		send := func() bool {
			if len(batch) == 0 {
				return true
			}
			select {
			case batches <- batch:
			case <-ctx.Done():
				return false
			}
			batch = make([]numbered[Linkage], 0, linkageBatch)
			return true
		}
		fail := func(e ...RowError) {
			errs = append(errs, e...)
			anyBad.Store(true)
		}
		check := func(tr tableRow) {
			if tr.n <= t.headerRow {
				return // a row above the header is not data
			}
			rows++
			if e, ok := t.shape(tr); !ok {
				fail(e)
				return
			}
			if e, ok := t.controls(tr); !ok {
				fail(e)
				return
			}
			rr := t.reader(tr)
			l := rr.linkage(seen)
			if len(rr.errs) > 0 {
				fail(rr.errs...)
				return
			}
			warns = append(warns, rr.warns...)
			batch = append(batch, numbered[Linkage]{row: tr.n, v: l})
		}
		badLine := func(b BadLine) {
			if b.Line > t.headerRow {
				rows++
				fail(t.badLine(b))
			}
		}
		for _, b := range bad {
			badLine(b)
		}
		for _, tr := range pending {
			check(tr)
		}
		for {
			if len(batch) >= linkageBatch && !send() {
				return
			}
			if r.progress != nil && rows%linkageBatch == 0 {
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
	next := func(refs References) ([]Linkage, error) {
		b, ok := <-batches
		if !ok {
			if readErr != nil {
				return nil, readErr
			}
			return nil, ctx.Err()
		}
		var askSup []string
		askNo := make([]HouseholdNo, 0, len(b))
		nos := map[HouseholdNo]bool{}
		for _, g := range b {
			if _, asked := suppliers[g.v.SupplierCode]; !asked && !contains(askSup, g.v.SupplierCode) {
				askSup = append(askSup, g.v.SupplierCode)
			}
			if !nos[g.v.HouseholdNo] {
				nos[g.v.HouseholdNo] = true
				askNo = append(askNo, g.v.HouseholdNo)
			}
		}
		if len(askSup) > 0 {
			sort.Strings(askSup)
			known, err := refs.SuppliersExist(ctx, askSup)
			if err != nil {
				return nil, fmt.Errorf("look up suppliers: %w", err)
			}
			for _, s := range askSup {
				suppliers[s] = known[s]
			}
		}
		sort.Slice(askNo, func(i, j int) bool { return askNo[i] < askNo[j] })
		known, err := refs.HouseholdsExist(ctx, askNo)
		if err != nil {
			return nil, fmt.Errorf("look up households: %w", err)
		}
		good := make([]Linkage, 0, len(b))
		for _, g := range b {
			ok := true
			if !suppliers[g.v.SupplierCode] {
				refErrs = append(refErrs, RowError{Row: g.row, Column: col("supplier_code"), Value: g.v.SupplierCode, Reason: errUnknownSupplier})
				ok = false
			}
			if !known[g.v.HouseholdNo] {
				refErrs = append(refErrs, RowError{Row: g.row, Column: col("household_no"), Value: string(g.v.HouseholdNo), Reason: errUnknownHousehold})
				ok = false
			}
			if ok {
				good = append(good, g.v)
			}
		}
		loaded += len(good)
		if strict && (anyBad.Load() || len(refErrs) > 0) {
			return []Linkage{}, nil // it will be rolled back: nothing more is written
		}
		return good, nil
	}
	refused := false
	done := func() (ImportInfo, bool, func(Linkage) bool) {
		errs = append(errs, refErrs...)
		sortRowErrors(errs)
		s, err := sum()
		if err != nil {
			readErr = err
		}
		refused = strict && len(errs) > 0
		var inFile func(Linkage) bool
		if len(errs) == 0 {
			inFile = seen.has
		}
		return ImportInfo{Kind: KindLinkages, File: name, SHA256: s, Rows: rows, Rejected: rejectedRows(errs)},
			!refused && readErr == nil && loaded > 0, inFile
	}
	c, err := st.ImportLinkageStream(ctx, next, done)
	cancel()
	for range batches { // let the reader finish when the store stopped early
	}
	if err == nil {
		err = readErr
	}
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) || errors.Is(err, readErr) {
			return err
		}
		return fmt.Errorf("store linkages: %w", err)
	}
	rep.Rows, rep.Errors, rep.Warnings, rep.Refused = rows, errs, warns, refused
	if rep.Errors == nil {
		rep.Errors = []RowError{}
	}
	if rep.Warnings == nil {
		rep.Warnings = []RowError{}
	}
	if len(rep.Errors) > 0 && !strict {
		rep.Note = "the file has bad rows, so no linkage was removed: fix them and import again to replace the suppliers' sets"
	}
	if !refused {
		rep.Loaded, rep.Counts = loaded, c
	}
	return nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
