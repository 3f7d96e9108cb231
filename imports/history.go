// Package imports is the one way files that people hand over come into aidmall, for the
// CLI (aidmall import …) and the aid office's pages alike: order history (a bundle's
// orders.csv and order_lines.csv, as orders already at their malls), a mall's statement
// file (its events applied through orders.Service, the file audited), and a linkages file
// with its dry run (what it would move in the ledger). Registry and catalogue files go
// through households.Registry, which this package drives for linkages.
//
// It decides nothing itself: the rules are orders.Service's and households.Registry's; it
// reads the files, calls them row by row and reports every bad row with its file, row
// number, field and reason.
package imports

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"aidmall/internal/linecsv"
	"aidmall/money"
	"aidmall/orders"
)

// HistoryLoader loads an order already at its mall; *orders.Service satisfies it.
type HistoryLoader interface {
	LoadHistory(ctx context.Context, caller orders.Caller, h orders.HistoryOrder) (*orders.GroupOrder, bool, error)
}

// HistoryReport says what importing order history did: orders.csv rows read, orders
// loaded, orders already known, and every bad row (of order_lines.csv first, then of
// orders.csv).
type HistoryReport struct {
	Rows, Created, Unchanged int
	Errors                   []RowError
}

// RowError is one bad row of an imported file: its file, its row as a spreadsheet shows
// it (the header is row 1), the order_ref when known, the field(s) at fault ("" when the
// whole row is), and the reason. Err is the domain's error for a refused order (its
// *orders.ValidationError names each bad field), nil otherwise.
type RowError struct {
	File   string
	Row    int
	Ref    string
	Field  string
	Reason string
	Err    error
}

// String is the row error as the CLI prints it ("orders.csv row 3, placed_at: …").
func (e RowError) String() string {
	switch {
	case e.Ref != "":
		return fmt.Sprintf("%s row %d (%s): %s", e.File, e.Row, e.Ref, e.Reason)
	case e.Field != "" && e.File == OrdersFile:
		return fmt.Sprintf("%s row %d, %s: %s", e.File, e.Row, e.Field, e.Reason)
	}
	return fmt.Sprintf("%s row %d: %s", e.File, e.Row, e.Reason)
}

// The order history's two files.
const (
	OrdersFile = "orders.csv"
	LinesFile  = "order_lines.csv"
)

// HistoryFS imports the order history of a bundle folder (its orders.csv and
// order_lines.csv), as History.
func HistoryFS(ctx context.Context, svc HistoryLoader, caller orders.Caller, bundle fs.FS) (HistoryReport, error) {
	of, err := bundle.Open(OrdersFile)
	if err != nil {
		return HistoryReport{}, err
	}
	defer of.Close()
	// A first pass over each file checks that it reads as CSV to its end, so that a
	// truncated or garbled file loads nothing (rather than the orders before the break),
	// and counts each order's lines, so that a file listing one order's lines apart
	// (sorted by SKU, say) still gives every order all its lines: an order waits until
	// all of its lines have been read. Memory: one count per order_ref. A row whose
	// quoting is broken is a row error of its own (its order not loaded), unless it is a
	// line whose order_ref cannot be read: then no order is loaded.
	if _, err := countRecords(bundle, OrdersFile); err != nil {
		return HistoryReport{}, err
	}
	counts, err := countRecords(bundle, LinesFile)
	if err != nil {
		return HistoryReport{}, err
	}
	if len(counts) == 0 {
		return HistoryReport{}, fmt.Errorf("%s: no lines after its header: every order needs its lines (nothing was loaded)", LinesFile)
	}
	lf, err := bundle.Open(LinesFile)
	if err != nil {
		return HistoryReport{}, err
	}
	defer lf.Close()
	return history(ctx, svc, caller, of, lf, counts)
}

// countRecords reads the bundle's CSV file name to its end and counts its records by
// order_ref; the error is the first row that does not read as CSV.
func countRecords(bundle fs.FS, name string) (map[string]int, error) {
	f, err := bundle.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := newCSVRows(f, name)
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for {
		row, rec, err := rows.next()
		if err == io.EOF {
			return counts, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w (nothing was loaded: correct the file and import it again)", err)
		}
		if rec.broken != nil && name == LinesFile && !rec.has("order_ref") {
			return nil, unattributable(row, rec)
		}
		counts[rec.get("order_ref")]++
	}
}

// History loads orders.csv (ordersCSV) and order_lines.csv (linesCSV) as orders already
// placed at their malls (orders.Service.LoadHistory, as caller), so that the malls'
// statements can be applied to them. Each bad order is reported with its orders.csv row
// and the others are loaded; a line that does not read is reported and its order is not
// loaded (an order is never stored with part of its lines). A row whose quoting is broken
// (internal/linecsv: an unterminated quote, a stray one) is such a bad row, and the rows
// after it are read; but a line broken before its order_ref cannot be given to an order,
// and stops the import. So does a row of order_lines.csv with another number of cells
// than the header (which order it belongs to cannot be told); in orders.csv such a row is
// a row error like the others. The error is that, a file that cannot be read as CSV, or a
// failure of the store; the report then
// holds what was done before it. HistoryFS reads both files to their end first, so there
// such a file loads nothing.
//
// Both files are read as streams, never whole: orders one by one, each with its lines,
// which order_lines.csv must list together (one order's lines one after another, as the
// malls' exports and aidmall gen write them); a line of an order whose lines came
// earlier, apart from it, is a row error and left out. Lines read ahead of their order
// wait for it, so memory stays a few orders' lines when both files list the orders in
// the same order, and the lines read ahead when not; besides, the order_refs of the
// lines read so far are kept (to tell lines apart from their order's). HistoryFS (the
// CLI's import of a folder) reads order_lines.csv twice and lifts the "together" rule.
func History(ctx context.Context, svc HistoryLoader, caller orders.Caller, ordersCSV, linesCSV io.Reader) (HistoryReport, error) {
	return history(ctx, svc, caller, ordersCSV, linesCSV, nil)
}

// history is History; with counts (each order_ref's number of records in linesCSV, from a
// first pass) an order's lines need not be listed together: an order is loaded once all
// of its lines have been read.
func history(ctx context.Context, svc HistoryLoader, caller orders.Caller, ordersCSV, linesCSV io.Reader, counts map[string]int) (HistoryReport, error) {
	var rep HistoryReport
	oc, err := newCSVRows(ordersCSV, OrdersFile)
	if err != nil {
		return rep, err
	}
	lc, err := newCSVRows(linesCSV, LinesFile)
	if err != nil {
		return rep, err
	}
	lines := &lineGroups{rows: lc, pending: map[string]orderLines{}, closed: map[string]bool{}, rep: &rep,
		counts: counts, seen: map[string]int{}, taken: map[string]bool{}, bad: map[string][]int{}}
	defer func() { sortHistoryErrors(rep.Errors) }() // sorted in place: the report returned shares them
	var prev struct {
		ref string
		orderLines
	}
	for {
		row, o, err := oc.next()
		if err == io.EOF {
			// The lines of no order are read to the end for their errors, and not kept.
			for !lines.eof {
				if err := lines.group(); err != nil {
					return rep, err
				}
				clear(lines.pending)
			}
			return rep, nil
		}
		if err != nil {
			return rep, err
		}
		rep.Rows++
		if o.cells != "" {
			rep.Errors = append(rep.Errors, RowError{File: OrdersFile, Row: row, Reason: o.cells, Err: orders.ErrInvalid})
			continue
		}
		ref := o.get("order_ref")
		if o.broken != nil {
			rep.Errors = append(rep.Errors, o.brokenError(OrdersFile, row))
			continue
		}
		var ls orderLines
		if ref == prev.ref && rep.Rows > 1 {
			ls = prev.orderLines // the same order again, next to itself
		} else if ls, err = lines.of(ref); err != nil {
			return rep, err
		}
		prev.ref, prev.orderLines = ref, ls
		if rows := lines.bad[ref]; len(rows) > 0 {
			rep.Errors = append(rep.Errors, RowError{File: OrdersFile, Row: row, Ref: ref,
				Reason: fmt.Sprintf("not loaded: its lines in %s (%s) do not read; correct them and import again", LinesFile, rowsText(rows)),
				Err:    orders.ErrInvalid})
			continue
		}
		placed, err := time.Parse(time.RFC3339, o.get("placed_at"))
		if err != nil {
			rep.Errors = append(rep.Errors, RowError{File: OrdersFile, Row: row, Field: "placed_at", Reason: "want RFC 3339 with an offset"})
			continue
		}
		_, created, err := svc.LoadHistory(ctx, caller, orders.HistoryOrder{
			OrderRef: ref, BranchCode: o.get("branch_code"), Mall: orders.Mall(o.get("mall")), Funding: orders.Funding(o.get("funding")),
			DeliveryMode: orders.DeliveryMode(o.get("delivery_mode")), PlacedAt: placed, OutOrderNo: orders.OutOrderNo(o.get("out_order_no")),
			MallOrderNo: o.get("mall_order_no"), Lines: ls.lines,
		})
		switch {
		case err != nil && (errors.Is(err, orders.ErrInvalid) || errors.Is(err, orders.ErrConflict)):
			rep.Errors = append(rep.Errors, historyErrors(row, ref, ls.rows, err)...)
		case err != nil:
			return rep, err
		case created:
			rep.Created++
		default:
			rep.Unchanged++
		}
	}
}

// historyErrors are the row errors of an order orders.LoadHistory refused (err), read
// from orders.csv row row with its lines read from order_lines.csv rows lineRows: a
// problem of one of its lines (a field at /lines/i/…: an unknown SKU, no quantity) is
// that line's row of order_lines.csv, where it is corrected, naming the
// order's row; any other problem, or a refusal of the whole order, is its orders.csv row.
func historyErrors(row int, ref string, lineRows []int, err error) []RowError {
	var ve *orders.ValidationError
	if !errors.As(err, &ve) {
		return []RowError{{File: OrdersFile, Row: row, Ref: ref, Reason: err.Error(), Err: err}}
	}
	var out []RowError
	var rest []orders.FieldError
	for _, f := range ve.Fields {
		ptr := strings.TrimPrefix(f.Pointer, "/lines/")
		idx, column, _ := strings.Cut(ptr, "/") // the domain's field names are the file's columns
		i, convErr := strconv.Atoi(idx)
		if ptr == f.Pointer || convErr != nil || i < 0 || i >= len(lineRows) {
			rest = append(rest, f)
			continue
		}
		reason := f.Detail
		if column != "" {
			reason = column + ": " + reason
		}
		out = append(out, RowError{File: LinesFile, Row: lineRows[i], Ref: ref,
			Reason: fmt.Sprintf("%s; the order (%s row %d) is not loaded", reason, OrdersFile, row), Err: err})
	}
	if len(rest) > 0 || len(out) == 0 {
		e := err
		if len(out) > 0 {
			e = &orders.ValidationError{Fields: rest}
		}
		out = append(out, RowError{File: OrdersFile, Row: row, Ref: ref, Reason: e.Error(), Err: err})
	}
	return out
}

// sortHistoryErrors puts the errors of order_lines.csv first, then those of orders.csv,
// each in row order (as they were when the lines were read first, whole).
func sortHistoryErrors(errs []RowError) {
	sort.SliceStable(errs, func(i, j int) bool {
		if (errs[i].File == LinesFile) != (errs[j].File == LinesFile) {
			return errs[i].File == LinesFile
		}
		return errs[i].Row < errs[j].Row
	})
}

// csvRows reads a UTF-8 CSV with a header row by row (name is the file's, for errors),
// through linecsv: a row whose quoting is broken is given back as such (csvRecord.broken)
// and the rows after it are read.
type csvRows struct {
	r      *linecsv.Reader
	name   string
	header []string
	// cellsPerRow: a row with another number of cells than the header is that row's
	// error (orders.csv: the order is not loaded, the others are), not the file's. In
	// order_lines.csv it stays the file's: which order such a line belongs to cannot be
	// told (a cell missing before order_ref shifts it), so no order could be known to have
	// all its lines.
	cellsPerRow bool
}

func newCSVRows(r io.Reader, name string) (*csvRows, error) {
	lr := linecsv.NewReader(r)
	rec, err := lr.Read()
	switch {
	case err == io.EOF:
		return nil, fmt.Errorf("%s: the file is empty: no header row", name)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", name, err)
	case rec.Err != nil:
		return nil, fmt.Errorf("%s row %d, the header: %s", name, rec.Line, rec.Err.Reason())
	}
	return &csvRows{r: lr, name: name, header: rec.Cells, cellsPerRow: name == OrdersFile}, nil
}

// next returns the next record with its row as a spreadsheet shows it (the header is row
// 1, blank lines count); io.EOF at the end. A row with another number of cells than the
// header is an error: the file's (it is not what it says), or with cellsPerRow the row's
// (csvRecord.cells, none of its cells kept: none can be trusted at its column).
func (c *csvRows) next() (int, csvRecord, error) {
	rec, err := c.r.Read()
	if err == io.EOF {
		return 0, csvRecord{}, io.EOF
	}
	if err != nil {
		return 0, csvRecord{}, fmt.Errorf("%s: %w", c.name, err)
	}
	if rec.Err == nil && len(rec.Cells) != len(c.header) {
		if c.cellsPerRow {
			return rec.Line, csvRecord{header: c.header, cells: fmt.Sprintf("the row is not read: it has %d cells and the header %d (a cell holding a comma is written inside quotes)",
				len(rec.Cells), len(c.header))}, nil
		}
		return 0, csvRecord{}, fmt.Errorf("%s row %d: wrong number of fields: the row has %d cells, the header %d", c.name, rec.Line, len(rec.Cells), len(c.header))
	}
	return rec.Line, csvRecord{header: c.header, rec: rec.Cells, broken: rec.Err}, nil
}

// csvRecord is one record read by its header's column names.
type csvRecord struct {
	header, rec []string
	// broken is set when the row's quoting is broken: rec then holds the cells read
	// before the one at fault.
	broken *linecsv.QuoteError
	// cells is set when the row has another number of cells than the header (csvRows'
	// cellsPerRow): why it is not read; rec is then empty.
	cells string
}

// get returns the column named name; "" when the record is shorter (ReadCSV's maps: the
// last column of that name the record has).
func (r csvRecord) get(name string) string {
	for i := min(len(r.header), len(r.rec)) - 1; i >= 0; i-- {
		if r.header[i] == name {
			return r.rec[i]
		}
	}
	return ""
}

// has says whether the record holds the column named name (a broken one may not).
func (r csvRecord) has(name string) bool {
	for i := min(len(r.header), len(r.rec)) - 1; i >= 0; i-- {
		if r.header[i] == name {
			return true
		}
	}
	return false
}

// brokenError is the row error of a record whose quoting is broken: at the column where
// it breaks, with the order_ref when it was read before that.
func (r csvRecord) brokenError(file string, row int) RowError {
	e := RowError{File: file, Row: row, Reason: r.broken.Reason()}
	if c := r.broken.Cell; c <= len(r.header) {
		e.Field = r.header[c-1]
	}
	if r.has("order_ref") {
		e.Ref = r.get("order_ref")
	}
	return e
}

// unattributable is the error of an order_lines.csv row whose quoting breaks before its
// order_ref: its order cannot be told, so no order can be known to have all its lines.
func unattributable(row int, rec csvRecord) error {
	return fmt.Errorf("%s row %d: %s; its order_ref cannot be read, so no order is loaded: correct the file and import it again", LinesFile, row, rec.broken.Reason())
}

// lineGroups reads order_lines.csv one order's lines at a time.
type lineGroups struct {
	rows    *csvRows
	peek    *csvRecord // the record read after the last group, not yet in one
	peekRow int
	eof     bool
	pending map[string]orderLines // groups read, their orders not yet
	closed  map[string]bool       // order_refs whose lines have been read
	rep     *HistoryReport
	// With counts (HistoryFS's first pass), an order's lines may be apart: seen counts
	// the records read of each order_ref, and its lines are complete at counts[ref];
	// taken marks the orders already given their lines.
	counts map[string]int
	seen   map[string]int
	taken  map[string]bool
	// bad lists the order_lines.csv rows of each order_ref that could not be read: such
	// an order is not loaded (never with some of its lines), and is reported.
	bad map[string][]int
}

// orderLines are an order's lines as read, with the order_lines.csv row of each.
type orderLines struct {
	lines []orders.HistoryLine
	rows  []int
}

// of returns the lines of order ref, reading the file up to them (none when it has none).
func (g *lineGroups) of(ref string) (orderLines, error) {
	for !g.complete(ref) && !g.eof {
		if err := g.group(); err != nil {
			return orderLines{}, err
		}
	}
	ls := g.pending[ref]
	delete(g.pending, ref)
	g.taken[ref] = true
	return ls, nil
}

// complete says whether every line of order ref has been read.
func (g *lineGroups) complete(ref string) bool {
	if g.counts != nil {
		return g.seen[ref] >= g.counts[ref]
	}
	return g.closed[ref]
}

// group reads the next order's lines (consecutive records of one order_ref).
func (g *lineGroups) group() error {
	var ref string
	var ls orderLines
	first := true
	for {
		if g.peek == nil {
			row, rec, err := g.rows.next()
			if err == io.EOF {
				g.eof = true
				break
			}
			if err != nil {
				return err
			}
			if rec.broken != nil && !rec.has("order_ref") {
				return unattributable(row, rec)
			}
			g.peek, g.peekRow = &rec, row
		}
		r := g.peek.get("order_ref")
		if first {
			ref, first = r, false
		} else if r != ref {
			break
		}
		rec, row := *g.peek, g.peekRow
		g.peek = nil
		g.seen[ref]++
		if g.closed[ref] && (g.counts == nil || g.taken[ref]) {
			g.rep.Errors = append(g.rep.Errors, RowError{File: LinesFile, Row: row, Field: "order_ref",
				Reason: fmt.Sprintf("the lines of order %s are not together: list each order's lines one after another", ref)})
			g.bad[ref] = append(g.bad[ref], row)
			continue
		}
		if rec.broken != nil {
			g.rep.Errors = append(g.rep.Errors, rec.brokenError(LinesFile, row))
			g.bad[ref] = append(g.bad[ref], row)
			continue
		}
		no, err1 := strconv.Atoi(rec.get("line_no"))
		q, err2 := strconv.ParseInt(rec.get("quantity"), 10, 64)
		p, err3 := money.ParseYuan(rec.get("unit_price"))
		if err1 != nil || err2 != nil || err3 != nil {
			var fields, reasons []string
			for j, e := range []error{err1, err2, err3} {
				if e != nil {
					f := []string{"line_no", "quantity", "unit_price"}[j]
					fields = append(fields, f)
					want := "a whole number"
					if f == "unit_price" {
						want = "an amount in yuan with at most 2 decimals"
					}
					reasons = append(reasons, fmt.Sprintf("%s %q is not %s", f, rec.get(f), want))
				}
			}
			g.rep.Errors = append(g.rep.Errors, RowError{File: LinesFile, Row: row, Ref: ref, Field: strings.Join(fields, ", "), Reason: strings.Join(reasons, "; ")})
			g.bad[ref] = append(g.bad[ref], row)
			continue
		}
		ls.lines = append(ls.lines, orders.HistoryLine{LineNo: no, SKU: rec.get("sku"), Quantity: q, UnitPrice: p})
		ls.rows = append(ls.rows, row)
	}
	if first {
		return nil // the end of the file
	}
	if !g.closed[ref] || (g.counts != nil && !g.taken[ref]) {
		g.closed[ref] = true
		if ls.lines != nil {
			p := g.pending[ref]
			g.pending[ref] = orderLines{lines: append(p.lines, ls.lines...), rows: append(p.rows, ls.rows...)}
		}
	}
	return nil
}

// Write prints the report as the CLI does, name being what was imported (a folder).
func (r HistoryReport) Write(w io.Writer, name string) {
	errs := "errors"
	if len(r.Errors) == 1 {
		errs = "error"
	}
	fmt.Fprintf(w, "%s (orders): %d orders, %d loaded, %d already known; %d %s\n", name, r.Rows, r.Created, r.Unchanged, len(r.Errors), errs)
	for _, e := range r.Errors {
		fmt.Fprintln(w, "  "+e.String())
	}
}

// ReadCSV reads a UTF-8 CSV with a header into maps keyed by column name (name is the
// file's, for errors), for the tools that only look at a bundle's rows (the demo's orders,
// a bundle's budget year). It reads as the imports do (linecsv): a row shorter than the
// header leaves the missing columns absent, cells past the header are ignored, and a row
// whose quoting is broken is left out, so that one bad row does not hide the others; the
// import of the same file names those rows. Only a header that cannot be read is an error.
func ReadCSV(r io.Reader, name string) ([]map[string]string, error) {
	cr := linecsv.NewReader(r)
	head, err := cr.Read()
	if err == nil && head.Err != nil {
		err = head.Err
	}
	if err != nil {
		return nil, fmt.Errorf("%s header: %w", name, err)
	}
	var out []map[string]string
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if rec.Err != nil {
			continue
		}
		m := make(map[string]string, len(head.Cells))
		for i, h := range head.Cells {
			if i < len(rec.Cells) {
				m[h] = rec.Cells[i]
			}
		}
		out = append(out, m)
	}
}

// rowsText says rows as "row 4" or "rows 4, 7, 9".
func rowsText(rows []int) string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = strconv.Itoa(r)
	}
	if len(rows) == 1 {
		return "row " + out[0]
	}
	return "rows " + strings.Join(out, ", ")
}
