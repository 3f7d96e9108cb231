package registryfile

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"aidmall/households"
	"aidmall/internal/linecsv"
)

var (
	_ households.StreamDecoder    = Decoder{}
	_ households.CSVStreamDecoder = Decoder{}
)

// sniffBytes is how much of a text file tells its encoding: valid UTF-8 there is UTF-8,
// anything else GB18030.
const sniffBytes = 64 << 10

// SheetRows decodes a file as Sheet does, row by row (households.RowSource): CSV text is
// read as a stream of any size, never whole; an XLSX workbook (a zip, read whole by
// excelize) is decoded as Sheet and then given row by row. The encoding of text is told
// by its first 64 KiB (a byte order mark, valid UTF-8, else GB18030); a later line that
// is not in that encoding stops the file with a *households.ParseError, as an unreadable
// encoding does.
func (Decoder) SheetRows(r io.Reader, sheet string) (households.RowSource, error) {
	return SheetRows(r, sheet)
}

// SheetRows is Decoder.SheetRows.
func SheetRows(r io.Reader, sheet string) (households.RowSource, error) {
	br := bufio.NewReaderSize(r, sniffBytes)
	head, err := br.Peek(sniffBytes)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, parseError("cannot read the file: %v", err)
	}
	if isXLSX(head) {
		f, err := Sheet(br, sheet)
		if err != nil {
			return nil, err
		}
		return &fileRows{f: f}, nil
	}
	return textRows(br, head)
}

// CSVRows decodes CSV text as CSV does, row by row (households.RowSource), as a stream
// of any size: a workbook is refused, the encoding told as SheetRows tells it.
func (Decoder) CSVRows(r io.Reader) (households.RowSource, error) { return CSVRows(r) }

// CSVRows is Decoder.CSVRows.
func CSVRows(r io.Reader) (households.RowSource, error) {
	br := bufio.NewReaderSize(r, sniffBytes)
	head, err := br.Peek(sniffBytes)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, parseError("cannot read the file: %v", err)
	}
	if isXLSX(head) {
		return nil, parseError("the file is a spreadsheet (XLSX), want CSV text")
	}
	return textRows(br, head)
}

// textRows reads br, whose first bytes are head, as CSV text row by row.
func textRows(br *bufio.Reader, head []byte) (households.RowSource, error) {
	switch {
	case isLegacyXLS(head):
		return nil, parseError("the file is a legacy .xls workbook (or an encrypted one); save it as .xlsx or CSV")
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}) || bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return nil, parseError("the file is UTF-16; save it as UTF-8 or GB18030 CSV")
	}
	var text io.Reader = br
	utf := bytes.HasPrefix(head, []byte("\xEF\xBB\xBF")) || validPrefix(head, len(head) < sniffBytes)
	if utf {
		if bytes.HasPrefix(head, []byte("\xEF\xBB\xBF")) {
			_, _ = br.Discard(3)
		}
	} else {
		text = transform.NewReader(br, simplifiedchinese.GB18030.NewDecoder())
	}
	return &csvRows{r: linecsv.NewReader(text), utf8: utf, utf8Until: utf8UntilLine(head)}, nil
}

// validPrefix reports whether b is valid UTF-8, a rune cut off at its end allowed unless
// b is the whole file.
func validPrefix(b []byte, whole bool) bool {
	if utf8.Valid(b) {
		return true
	}
	if whole {
		return false
	}
	for cut := 1; cut < utf8.UTFMax && cut <= len(b); cut++ {
		if utf8.Valid(b[:len(b)-cut]) {
			return true
		}
	}
	return false
}

// csvRows reads CSV records as households.RowSource (csvText drains one for a whole
// file). utf8 says the text was not decoded from GB18030: its cells are checked to be
// UTF-8; a decoded one's for the replacement character of bytes that were not GB18030.
type csvRows struct {
	r    *linecsv.Reader
	utf8 bool
	bad  int
	// utf8Until, for a file read as GB18030, is the line where its first bytes stopped
	// being UTF-8 text (utf8UntilLine; 0: they never looked UTF-8): the line an encoding
	// error names, the rows before it having been UTF-8.
	utf8Until int
}

func (*csvRows) Sheet() bool { return false }

func (c *csvRows) Next() (households.FileRow, *households.BadLine, error) {
	for {
		rec, err := c.r.Read()
		if errors.Is(err, io.EOF) {
			return households.FileRow{}, nil, io.EOF
		}
		if err != nil {
			return households.FileRow{}, nil, parseError("cannot read the file: %v", err)
		}
		text := rec.Cells
		if rec.Err != nil {
			text = []string{rec.Text}
		}
		for _, cell := range text {
			if c.utf8 && !utf8.ValidString(cell) || !c.utf8 && strings.ContainsRune(cell, utf8.RuneError) {
				switch {
				case c.utf8:
					err = encodingError(rec.Line, "the file begins as UTF-8 text and this row is not UTF-8 (a row pasted from a GB18030 file?)")
				case c.utf8Until > 0:
					err = encodingError(c.utf8Until, utf8Before)
				default:
					err = encodingError(rec.Line, "the file begins as GB18030 text and this row is not GB18030 (a row pasted from a UTF-8 file?)")
				}
				return households.FileRow{}, nil, err
			}
		}
		if rec.Err != nil {
			if c.bad >= maxBadRecords {
				return households.FileRow{}, nil, parseError("unreadable CSV: more than %d lines with broken quoting (the last %v)", maxBadRecords, rec.Err)
			}
			c.bad++
			return households.FileRow{}, &households.BadLine{Line: rec.Line, Cell: rec.Err.Cell, Reason: rec.Err.Reason()}, nil
		}
		if blank(rec.Cells) {
			continue
		}
		return households.FileRow{N: rec.Line, Cells: rec.Cells}, nil, nil
	}
}

// fileRows is a decoded workbook sheet given row by row.
type fileRows struct {
	f    households.File
	i, j int
}

func (s *fileRows) Sheet() bool { return s.f.Sheet }

func (s *fileRows) Next() (households.FileRow, *households.BadLine, error) {
	if s.i < len(s.f.Rows) {
		s.i++
		return s.f.Rows[s.i-1], nil, nil
	}
	if s.j < len(s.f.BadLines) {
		s.j++
		return households.FileRow{}, &s.f.BadLines[s.j-1], nil
	}
	return households.FileRow{}, nil, io.EOF
}
