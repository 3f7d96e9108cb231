// Package registryfile decodes the registry and catalogue files (households.File): CSV
// text in UTF-8 (with or without a byte order mark) or GB18030, CRLF or LF, and XLSX
// workbooks (excelize). It yields rows of text cells with their row numbers as a
// spreadsheet shows them; what the columns mean and which values are good is the
// households package's (its row rules).
package registryfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"aidmall/households"
	"aidmall/internal/linecsv"
)

// MaxBytes is the largest file decoded (256 MiB); a larger one is a *households.ParseError.
const MaxBytes = 256 << 20

// maxBadRecords bounds the CSV records whose quoting is broken before a file is given up
// (a binary file read as CSV).
const maxBadRecords = 1000

// Decoder implements households.FileDecoder.
type Decoder struct{}

var _ households.FileDecoder = Decoder{}

// CSV decodes CSV text; see CSV.
func (Decoder) CSV(r io.Reader) (households.File, error) { return CSV(r) }

// Sheet decodes a workbook's sheet or CSV text; see Sheet.
func (Decoder) Sheet(r io.Reader, sheet string) (households.File, error) { return Sheet(r, sheet) }

func parseError(format string, a ...any) error {
	return &households.ParseError{Reason: fmt.Sprintf(format, a...)}
}

// readAll reads at most MaxBytes of r.
func readAll(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
	if err != nil {
		return nil, parseError("cannot read the file: %v", err)
	}
	if len(b) > MaxBytes {
		return nil, parseError("the file is larger than %d MiB", MaxBytes>>20)
	}
	return b, nil
}

func isXLSX(b []byte) bool      { return bytes.HasPrefix(b, []byte("PK\x03\x04")) }
func isLegacyXLS(b []byte) bool { return bytes.HasPrefix(b, []byte{0xD0, 0xCF, 0x11, 0xE0}) }

// Sheet decodes a file told by its content, not its name: a zip ("PK") is an XLSX
// workbook whose sheet of that name (surrounding spaces ignored) is read; a legacy .xls
// (or encrypted) workbook is refused; anything else is CSV text (see CSV).
func Sheet(r io.Reader, sheet string) (households.File, error) {
	b, err := readAll(r)
	if err != nil {
		return households.File{}, err
	}
	switch {
	case isXLSX(b):
		return xlsx(b, sheet)
	case isLegacyXLS(b):
		return households.File{}, parseError("the file is a legacy .xls workbook (or an encrypted one); save it as .xlsx or CSV")
	}
	return csvText(b)
}

// CSV decodes CSV text in UTF-8 or, when not valid UTF-8, GB18030. Rows are numbered by
// the line on which they start; blank records are left out; a record whose quoting is
// broken is a BadLine of its first line, and the lines after it are read as rows again
// (internal/linecsv: a quoted cell may hold line breaks, an unterminated quote costs its
// own line). A workbook, a UTF-16 file or bytes that are not GB18030 either are a
// *households.ParseError.
func CSV(r io.Reader) (households.File, error) {
	b, err := readAll(r)
	if err != nil {
		return households.File{}, err
	}
	if isXLSX(b) {
		return households.File{}, parseError("the file is a spreadsheet (XLSX), want CSV text")
	}
	return csvText(b)
}

// decodeText turns the bytes of a text file into a string: valid UTF-8 (with or without
// a byte order mark) is taken as UTF-8, anything else is decoded as GB18030.
func decodeText(b []byte) (string, error) {
	if bytes.HasPrefix(b, []byte{0xFF, 0xFE}) || bytes.HasPrefix(b, []byte{0xFE, 0xFF}) {
		return "", parseError("the file is UTF-16; save it as UTF-8 or GB18030 CSV")
	}
	b = bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF"))
	if utf8.Valid(b) {
		return string(b), nil
	}
	d, err := simplifiedchinese.GB18030.NewDecoder().Bytes(b)
	if err != nil {
		return "", parseError("unreadable encoding: the file is neither UTF-8 nor GB18030 text")
	}
	if at := bytes.IndexRune(d, utf8.RuneError); at >= 0 {
		// Neither encoding reads it: the error names the line to look at.
		if line := utf8UntilLine(b); line > 0 {
			return "", encodingError(line, utf8Before)
		}
		return "", encodingError(1+bytes.Count(d[:at], []byte("\n")), "the file is neither UTF-8 nor GB18030 text there (a row pasted from another file?)")
	}
	return string(d), nil
}

// encodingError refuses a file for row, not in the file's encoding (what says how): the
// whole file, since text decoded in the wrong encoding mostly reads as other, valid
// characters, so other rows may be wrong unseen. The row is where to look.
func encodingError(row int, what string) error {
	return parseError("unreadable encoding at row %d: %s; save the whole file in one encoding and import it again (nothing of this file was imported)", row, what)
}

// utf8Before is encodingError's account of a UTF-8 file with a row that is not.
const utf8Before = "the file is UTF-8 text before it and this row is not (a row pasted from a GB18030 file?)"

// utf8UntilLine is the line of the first byte of b that is not UTF-8 when the text before
// it is UTF-8 holding more than ASCII (text that looks UTF-8 up to there); 0 otherwise. It
// only names a line for an error: which encoding a file is read in is decided elsewhere.
func utf8UntilLine(b []byte) int {
	wide := false
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			if !wide {
				return 0
			}
			return 1 + bytes.Count(b[:i], []byte("\n"))
		}
		wide = wide || n > 1
		i += n
	}
	return 0
}

func csvText(b []byte) (households.File, error) {
	text, err := decodeText(b)
	if err != nil {
		return households.File{}, err
	}
	rows := &csvRows{r: linecsv.NewReader(strings.NewReader(text)), utf8: true}
	var f households.File
	for {
		row, bad, err := rows.Next()
		switch {
		case errors.Is(err, io.EOF):
			return f, nil
		case err != nil:
			return households.File{}, err
		case bad != nil:
			f.BadLines = append(f.BadLines, *bad)
		default:
			f.Rows = append(f.Rows, row)
		}
	}
}

func blank(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// looksNumeric reports whether a cell's raw text could be a number stored as one (only
// those cells are asked for their type).
func looksNumeric(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789.+-eE", r) {
			return false
		}
	}
	return true
}

// xlsx reads the named sheet of a workbook, marking the cells stored as numbers.
func xlsx(b []byte, sheet string) (households.File, error) {
	wb, err := excelize.OpenReader(bytes.NewReader(b), excelize.Options{
		RawCellValue: true, UnzipSizeLimit: 1 << 30, UnzipXMLSizeLimit: 64 << 20,
	})
	if err != nil {
		return households.File{}, parseError("unreadable XLSX workbook: %v", err)
	}
	defer wb.Close()
	found := ""
	list := wb.GetSheetList()
	for _, s := range list {
		if strings.TrimSpace(s) == sheet {
			found = s
			break
		}
	}
	if found == "" {
		return households.File{}, parseError("no sheet %s in the workbook (it has %s)", sheet, strings.Join(list, ", "))
	}
	it, err := wb.Rows(found)
	if err != nil {
		return households.File{}, parseError("unreadable sheet %s: %v", sheet, err)
	}
	var (
		f = households.File{Sheet: true}
		n int
	)
	for it.Next() {
		n++
		cells, err := it.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			_ = it.Close()
			return households.File{}, parseError("unreadable sheet %s at row %d: %v", sheet, n, err)
		}
		if !blank(cells) {
			f.Rows = append(f.Rows, households.FileRow{N: n, Cells: cells})
		}
	}
	if err := it.Close(); err != nil {
		return households.File{}, parseError("unreadable sheet %s: %v", sheet, err)
	}
	if len(f.Rows) == 0 {
		return households.File{}, parseError("sheet %s is empty: no header row", sheet)
	}
	for i := range f.Rows {
		row := &f.Rows[i]
		for col, v := range row.Cells {
			if !looksNumeric(v) {
				continue
			}
			cell, err := excelize.CoordinatesToCellName(col+1, row.N)
			if err != nil {
				continue
			}
			ct, err := wb.GetCellType(found, cell)
			if err == nil && (ct == excelize.CellTypeNumber || ct == excelize.CellTypeUnset) {
				if row.Numeric == nil {
					row.Numeric = make([]bool, len(row.Cells))
				}
				row.Numeric[col] = true
			}
		}
	}
	return f, nil
}
