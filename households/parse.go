package households

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
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

// MaxFileBytes is the largest registry file the parsers read (256 MiB); a larger one is a
// ParseError.
const MaxFileBytes = 256 << 20

// table is a registry file read into rows of text cells, with its header.
type table struct {
	header    []string       // header names as written (trimmed), by column index
	headerRow int            // the row number of the header
	index     map[string]int // canonical header name → column index
	rows      []tableRow
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
	t    *table
	r    tableRow
	errs []RowError
}

func (t *table) reader(r tableRow) *rowReader { return &rowReader{t: t, r: r} }

// col returns the index of a column; every column asked for was required by newTable.
func (rr *rowReader) col(name string) int { return rr.t.index[canonHeader(name)] }

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

// readAll reads at most MaxFileBytes of r.
func readAll(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, &ParseError{Reason: "cannot read the file: " + err.Error()}
	}
	if len(b) > MaxFileBytes {
		return nil, &ParseError{Reason: fmt.Sprintf("the file is larger than %d MiB", MaxFileBytes>>20)}
	}
	return b, nil
}

// decodeText turns the bytes of a text file into a string: valid UTF-8 (with or without
// a byte order mark) is taken as UTF-8, anything else is decoded as GB18030. Bytes that
// are not GB18030 either, or a UTF-16 file, are a *ParseError.
func decodeText(b []byte) (string, error) {
	if bytes.HasPrefix(b, []byte{0xFF, 0xFE}) || bytes.HasPrefix(b, []byte{0xFE, 0xFF}) {
		return "", &ParseError{Reason: "the file is UTF-16; save it as UTF-8 or GB18030 CSV"}
	}
	b = bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF"))
	if utf8.Valid(b) {
		return string(b), nil
	}
	d, err := simplifiedchinese.GB18030.NewDecoder().Bytes(b)
	if err != nil || bytes.ContainsRune(d, utf8.RuneError) {
		return "", &ParseError{Reason: "unreadable encoding: the file is neither UTF-8 nor GB18030 text"}
	}
	return string(d), nil
}

// maxBadRecords bounds the CSV records the reader cannot split before it gives up on a
// file (a binary file read as CSV).
const maxBadRecords = 1000

// readCSV reads a CSV file in UTF-8 or GB18030, CRLF or LF, into a table whose header
// is the first non-blank record. Rows are numbered by the line on which they start, so
// that they match what a spreadsheet shows. Records that cannot be split (bad quoting)
// are row errors of the first column.
func readCSV(r io.Reader, required []string) (*table, []RowError, error) {
	b, err := readAll(r)
	if err != nil {
		return nil, nil, err
	}
	if bytes.HasPrefix(b, []byte("PK\x03\x04")) {
		return nil, nil, &ParseError{Reason: "the file is a spreadsheet (XLSX), want CSV text"}
	}
	text, err := decodeText(b)
	if err != nil {
		return nil, nil, err
	}
	cr := csv.NewReader(strings.NewReader(text))
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	var (
		rows []tableRow
		bad  []RowError
	)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) || len(bad) >= maxBadRecords {
				return nil, nil, &ParseError{Reason: "unreadable CSV: " + err.Error()}
			}
			bad = append(bad, RowError{Row: pe.StartLine, Reason: "the line cannot be split into columns: " + pe.Err.Error()})
			continue
		}
		line, _ := cr.FieldPos(0)
		if row := (tableRow{n: line, cells: rec}); !row.blank() {
			rows = append(rows, row)
		}
	}
	t, err := newTable(rows, required)
	if err != nil {
		return nil, nil, err
	}
	var pre []RowError // unsplittable lines after the header
	for _, b := range bad {
		if b.Row > t.headerRow {
			b.Column = t.header[0]
			pre = append(pre, b)
		}
	}
	return t, pre, nil
}
