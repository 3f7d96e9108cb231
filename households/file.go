package households

import (
	"errors"
	"fmt"
	"io"
)

// A File is a registry file decoded into rows of text cells: what the row rules of this
// package read. adapters/registryfile decodes the file formats (CSV in UTF-8 or GB18030,
// XLSX workbooks); this package never sees bytes.
type File struct {
	// Rows are the file's non-blank rows in order.
	Rows []FileRow
	// BadLines are CSV records whose quoting is broken, each at the line it starts on (the
	// decoder reads on at the line after it); a bad line below the header is a row error
	// of the file.
	BadLines []BadLine
	// Sheet is set for a workbook's sheet: a row's cells end at its last non-empty one, so
	// a row shorter than the header only has empty cells at its end. A text file's row
	// carries every cell it was written with: shorter or longer than the header is a row
	// error.
	Sheet bool
}

// FileRow is one row of a File.
type FileRow struct {
	// N is the 1-based row as a spreadsheet user sees it: blank rows count; for CSV, the
	// line on which the record starts.
	N     int
	Cells []string
	// Numeric marks the cells stored as numbers in a workbook (their leading zeros may be
	// lost); nil for text files.
	Numeric []bool
}

// BadLine is a CSV record that could not be split into cells: its quoting is broken.
type BadLine struct {
	Line   int
	Cell   int // the 1-based cell at which the quoting breaks; 0 when not known
	Reason string
}

// FileDecoder decodes registry files (adapters/registryfile implements it). Its errors
// for a file it cannot read at all (an unreadable encoding or workbook, a missing sheet,
// a file too large) are *ParseError.
type FileDecoder interface {
	// CSV decodes CSV text.
	CSV(r io.Reader) (File, error)
	// Sheet decodes a workbook's sheet, or CSV text when the file is no workbook.
	Sheet(r io.Reader, sheet string) (File, error)
}

// WithFileDecoder sets how a Registry decodes the files it imports (required to import).
func WithFileDecoder(d FileDecoder) RegistryOption { return func(r *Registry) { r.decoder = d } }

// testDecoder is the decoder of a Registry built without WithFileDecoder in this package's
// tests (set by them); nil otherwise.
var testDecoder FileDecoder

var errNoDecoder = errors.New("households: the Registry has no file decoder (WithFileDecoder)")

// rows turns a File's rows into the table rows the row rules read.
func (f File) rows() []tableRow {
	out := make([]tableRow, 0, len(f.Rows))
	for _, r := range f.Rows {
		row := tableRow{n: r.N, cells: r.Cells}
		for i, num := range r.Numeric {
			if num {
				if row.numeric == nil {
					row.numeric = map[int]bool{}
				}
				row.numeric[i] = true
			}
		}
		if !row.blank() {
			out = append(out, row)
		}
	}
	return out
}

// readCSV builds the table of a decoded file whose header is the first row naming the
// required columns; lines below the header that could not be split are row errors of the
// first column.
func readCSV(f File, required []string) (*table, []RowError, error) {
	t, err := newTable(f.rows(), required)
	if err != nil {
		return nil, nil, err
	}
	t.sheet = f.Sheet
	var pre []RowError
	for _, b := range f.BadLines {
		if b.Line > t.headerRow {
			pre = append(pre, t.badLine(b))
		}
	}
	return t, pre, nil
}

// badLine is the row error of a line below the header that could not be split, in the
// column of the cell where its quoting breaks (the first column when not known).
func (t *table) badLine(b BadLine) RowError {
	col := t.header[0]
	switch {
	case b.Cell > len(t.header) || b.Cell > 0 && t.header[b.Cell-1] == "":
		col = fmt.Sprintf("column %d", b.Cell)
	case b.Cell > 0:
		col = t.header[b.Cell-1]
	}
	return RowError{Row: b.Line, Column: col, Reason: b.Reason}
}
