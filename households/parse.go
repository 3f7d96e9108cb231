package households

import (
	"fmt"
	"sort"
	"strings"
	"unicode"

	"golang.org/x/text/width"
)

// RowError is one problem of one row of a registry file: the row is not loaded. A row with
// several bad columns has one RowError per bad column.
type RowError struct {
	// Row is the 1-based row of the file as a spreadsheet user sees it: the header is row 1
	// (or the row it is on, below a title row); blank rows count; for CSV, the line on
	// which the record starts.
	Row int `json:"row"`
	// Column is the header name as written in the file (trimmed).
	Column string `json:"column"`
	// Value is the offending cell, trimmed; for personal data (name, ID number, phone) it
	// is masked (MaskName, MaskID, MaskPhone), never in clear.
	Value  string `json:"value,omitempty"`
	Reason string `json:"reason"` // what is wrong, e.g. "check character is 4, want 7"
}

// String returns "row 7, 证件号码: check character is 5, want 7".
func (e RowError) String() string {
	return fmt.Sprintf("row %d, %s: %s", e.Row, e.Column, e.Reason)
}

// ParseError is a problem of a whole file: a missing or repeated header column, a missing
// sheet, an encoding that is neither UTF-8 nor GB18030, an unreadable spreadsheet. Nothing
// of such a file is loaded.
type ParseError struct {
	File   string // the file name when known
	Reason string
}

func (e *ParseError) Error() string {
	if e.File == "" {
		return e.Reason
	}
	return e.File + ": " + e.Reason
}

// sortRowErrors orders row errors by row, keeping the column order within a row.
func sortRowErrors(errs []RowError) {
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Row < errs[j].Row })
}

// table is a registry file read into rows of text cells, with its header.
type table struct {
	header    []string       // header names as written (trimmed), by column index
	headerRow int            // the row number of the header
	index     map[string]int // canonical header name → column index
	rows      []tableRow
	sheet     bool           // rows from a workbook sheet (File.Sheet)
	byName    map[string]int // column name as the row rules ask for it → index (col)
}

// tableRow is one data row: its spreadsheet row number and cells.
type tableRow struct {
	n       int
	cells   []string
	numeric map[int]bool // XLSX only: columns whose cell is stored as a number
}

// numbered is a parsed record with the row it came from.
type numbered[T any] struct {
	row int
	v   T
}

func values[T any](ns []numbered[T]) []T {
	out := make([]T, len(ns))
	for i, n := range ns {
		out[i] = n.v
	}
	return out
}

// canonHeader is the form in which header names are compared: BOM and all white space
// removed, full-width forms folded (（ → (), letters lowercased.
func canonHeader(s string) string {
	s = foldWidth(s)
	var b strings.Builder
	for _, r := range s {
		if unicode.IsSpace(r) || r == '\uFEFF' {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// foldWidth folds full-width ASCII forms (１２３, ＡＢＣ, （）) to their narrow forms.
func foldWidth(s string) string { return width.Fold.String(s) }

// headerSearchRows is how many leading non-blank rows may precede the header: exports
// often carry a title row (宜川县建档立卡贫困户信息表) or a note above it.
const headerSearchRows = 10

// newTable builds a table from the non-blank rows of a file. The header is the first of
// the first headerSearchRows rows that names every required column (rows above it are
// ignored); the rows after it are the data. It fails with a *ParseError when no such row
// exists (naming the columns the first row lacks) or a column appears twice.
func newTable(all []tableRow, required []string) (*table, error) {
	if len(all) == 0 {
		return nil, &ParseError{Reason: "the file is empty: no header row"}
	}
	at := 0
	for i := 0; i < len(all) && i < headerSearchRows; i++ {
		if len(missingColumns(all[i].cells, required)) == 0 {
			at = i
			break
		}
	}
	header := all[at].cells
	if missing := missingColumns(header, required); len(missing) > 0 {
		return nil, &ParseError{Reason: "missing header column " + strings.Join(missing, ", ") +
			"; the header row must name the columns " + strings.Join(required, ",")}
	}
	t := &table{header: make([]string, len(header)), index: map[string]int{}, rows: all[at+1:], headerRow: all[at].n}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\uFEFF"))
		t.header[i] = h
		c := canonHeader(h)
		if c == "" {
			continue
		}
		if j, dup := t.index[c]; dup {
			return nil, &ParseError{Reason: fmt.Sprintf("column %s appears twice (columns %d and %d)", h, j+1, i+1)}
		}
		t.index[c] = i
	}
	return t, nil
}

// missingColumns returns the required columns that header does not name.
func missingColumns(header, required []string) []string {
	have := map[string]bool{}
	for _, h := range header {
		have[canonHeader(h)] = true
	}
	var missing []string
	for _, r := range required {
		if !have[canonHeader(r)] {
			missing = append(missing, r)
		}
	}
	return missing
}

// rowReader reads the cells of one row by column name and collects its row errors.
type rowReader struct {
	t     *table
	r     tableRow
	errs  []RowError
	warns []RowError // what an office would check but not refuse
}

// warn records a warning on column name of the row: reported, the row still loads.
func (rr *rowReader) warn(name, value, reason string) {
	rr.warns = append(rr.warns, RowError{Row: rr.r.n, Column: rr.t.header[rr.col(name)], Value: value, Reason: reason})
}

func (t *table) reader(r tableRow) *rowReader { return &rowReader{t: t, r: r} }

// col returns the index of a column; every column asked for was required by newTable.
func (rr *rowReader) col(name string) int {
	if i, ok := rr.t.byName[name]; ok {
		return i
	}
	i := rr.t.index[canonHeader(name)]
	if rr.t.byName == nil {
		rr.t.byName = map[string]int{}
	}
	rr.t.byName[name] = i // names are the package's constants: fold each once, not per cell
	return i
}

// get returns the trimmed text of a cell ("" when the row is short).
func (rr *rowReader) get(name string) string {
	i := rr.col(name)
	if i >= len(rr.r.cells) {
		return ""
	}
	return strings.TrimSpace(rr.r.cells[i])
}

// numeric reports whether the cell is stored as a number in a spreadsheet.
func (rr *rowReader) numeric(name string) bool { return rr.r.numeric[rr.col(name)] }

// fail records a problem of column name with its (already masked if personal) value.
func (rr *rowReader) fail(name, value, reason string) {
	rr.errs = append(rr.errs, RowError{Row: rr.r.n, Column: rr.t.header[rr.col(name)], Value: value, Reason: reason})
}

// required returns the cell, recording "empty" when it is.
func (rr *rowReader) required(name string) (string, bool) {
	v := rr.get(name)
	if v == "" {
		rr.fail(name, "", "empty, a value is required")
		return "", false
	}
	return v, true
}

// blank reports whether every cell of the row is empty.
func (r tableRow) blank() bool {
	for _, c := range r.cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// controls reports a row with a control character in a cell (NUL, DEL, the C0 and C1
// controls; tab, line feed and carriage return are a spreadsheet's own and pass) as a row
// error of its first such cell: such a value cannot be stored on PostgreSQL, nor shown or
// sent to a mall as it stands. The value is not repeated (it may be personal data).
func (t *table) controls(r tableRow) (RowError, bool) {
	for i, c := range r.cells {
		for _, ch := range c {
			if unicode.IsControl(ch) && ch != '\t' && ch != '\n' && ch != '\r' {
				col := fmt.Sprintf("column %d", i+1)
				if i < len(t.header) {
					col = t.header[i]
				}
				return RowError{Row: r.n, Column: col,
					Reason: fmt.Sprintf("contains the control character U+%04X: remove it", ch)}, false
			}
		}
	}
	return RowError{}, true
}

// shape reports a row whose cells do not line up with the header, as a row error: a text
// row with fewer cells than the header (cells are missing, so the ones after may be
// shifted), or any row with a cell beyond the header's last column (a stray separator or
// a shifted row). An office refuses such a row rather than guess which cell is which.
func (t *table) shape(r tableRow) (RowError, bool) {
	n, h := len(r.cells), len(t.header)
	if !t.sheet && n < h {
		return RowError{Row: r.n, Column: t.header[n],
			Reason: fmt.Sprintf("missing cells: the row has %d cells, the header %d", n, h)}, false
	}
	for i := h; i < n; i++ {
		if !t.sheet || strings.TrimSpace(r.cells[i]) != "" {
			return RowError{Row: r.n, Column: fmt.Sprintf("column %d", i+1), Value: strings.TrimSpace(r.cells[i]),
				Reason: fmt.Sprintf("extra cells: the row has %d cells, the header %d", n, h)}, false
		}
	}
	return RowError{}, true
}
