package registryfile_test

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"aidmall/adapters/registryfile"
	"aidmall/households"
)

// checkFile asserts what any decoded file promises the row rules: rows numbered from 1
// upwards, strictly increasing, none blank, every cell valid UTF-8, Numeric (when set)
// one mark per cell.
func checkFile(t *testing.T, f households.File) {
	t.Helper()
	last := 0
	for _, r := range f.Rows {
		if r.N <= last {
			t.Fatalf("row %d after row %d", r.N, last)
		}
		last = r.N
		if !slices.ContainsFunc(r.Cells, func(c string) bool { return strings.TrimSpace(c) != "" }) {
			t.Fatalf("blank row %d kept: %q", r.N, r.Cells)
		}
		for _, c := range r.Cells {
			if !utf8.ValidString(c) {
				t.Fatalf("row %d: cell %q is not UTF-8", r.N, c)
			}
		}
		if r.Numeric != nil && len(r.Numeric) != len(r.Cells) {
			t.Fatalf("row %d: %d numeric marks for %d cells", r.N, len(r.Numeric), len(r.Cells))
		}
	}
	rows := map[int]bool{}
	for _, r := range f.Rows {
		rows[r.N] = true
	}
	for _, b := range f.BadLines {
		if b.Line < 1 || b.Reason == "" {
			t.Fatalf("bad line without a line or reason: %+v", b)
		}
		if rows[b.Line] {
			t.Fatalf("line %d is both a row and a bad line", b.Line)
		}
	}
}

// FuzzCSVWholeAndStream feeds any bytes to CSV (a whole file) and CSVRows (a stream):
// they refuse the same files with a *households.ParseError and read the others alike,
// row for row and bad line for bad line, each keeping checkFile's promises.
func FuzzCSVWholeAndStream(f *testing.F) {
	f.Add([]byte("户编号,姓名\r\n001,\"张三\r\n002,李四\r\n"))
	f.Add([]byte("\xEF\xBB\xBFa,b\n1,\"x\ny\",2\n3,4\"5\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		whole, werr := registryfile.CSV(bytes.NewReader(b))
		var stream households.File
		src, serr := registryfile.CSVRows(bytes.NewReader(b))
		if serr == nil {
			stream, serr = drain(src)
		}
		if werr != nil || serr != nil {
			if werr == nil || serr == nil {
				// The stream tells the encoding by its first 64 KiB, and a byte order mark
				// makes it UTF-8; the whole file is UTF-8 only when all of it (after the
				// mark) is. There they may differ on the encoding, and only there.
				if len(b) > 64<<10 || bytes.HasPrefix(b, []byte("\xEF\xBB\xBF")) {
					return
				}
				t.Fatalf("whole file: %v; stream: %v", werr, serr)
			}
			asParseError(t, werr)
			asParseError(t, serr)
			return
		}
		checkFile(t, whole)
		checkFile(t, stream)
		if !reflect.DeepEqual(whole.Rows, stream.Rows) || !reflect.DeepEqual(whole.BadLines, stream.BadLines) {
			t.Fatalf("whole file %+v\nstream     %+v", whole, stream)
		}
	})
}

func asParseError(t *testing.T, err error) {
	t.Helper()
	var pe *households.ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *households.ParseError", err, err)
	}
}

// FuzzSheetBytes feeds any bytes to Sheet, the decoder of an uploaded household file (a
// workbook or CSV text, told by its content): it never panics, refuses with a
// *households.ParseError, and what it reads keeps the rows' promises (checkFile). Seeds:
// a real workbook, one cut short, zip and OLE headers, text in both encodings.
func FuzzSheetBytes(f *testing.F) {
	f.Add(workbook(f, "户", [][]string{{"户编号", "姓名"}, {"", ""}, {"06300101001", "张三"}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := registryfile.Sheet(bytes.NewReader(b), "户")
		if err != nil {
			asParseError(t, err)
			return
		}
		checkFile(t, file)
	})
}

// FuzzSheetRoundTrip writes cells (rows split on '\n', cells on '\t') as text into a
// workbook with excelize and reads it back with Sheet: every non-blank row comes back at
// its own row number, with its cells as written up to its last non-empty one, none of
// them marked numeric (they were stored as text, even "0630" or "1e3").
func FuzzSheetRoundTrip(f *testing.F) {
	f.Add("户编号\t姓名\n\n06300101001\t张三\n0630\t1e3\t\t")
	f.Fuzz(func(t *testing.T, text string) {
		if !utf8.ValidString(text) || len(text) > 4096 {
			return
		}
		var rows [][]string
		for _, line := range strings.Split(text, "\n") {
			cells := strings.Split(xmlText(line), "\t")
			rows = append(rows, cells)
		}
		if len(rows) > 200 {
			return
		}
		b := workbook(t, "户", rows)
		file, err := registryfile.Sheet(bytes.NewReader(b), "户")
		var want []households.FileRow
		for i, cells := range rows {
			last := -1
			for j, c := range cells {
				if c != "" {
					last = j
				}
			}
			if !slices.ContainsFunc(cells, func(c string) bool { return strings.TrimSpace(c) != "" }) {
				continue
			}
			want = append(want, households.FileRow{N: i + 1, Cells: cells[:last+1]})
		}
		if len(want) == 0 {
			if err == nil {
				t.Fatalf("a sheet of blank rows read as %+v", file.Rows)
			}
			asParseError(t, err)
			return
		}
		if err != nil {
			t.Fatalf("workbook of %q refused: %v", rows, err)
		}
		checkFile(t, file)
		if len(file.Rows) != len(want) {
			t.Fatalf("%d rows read, want %d:\n got %+v\nwant %+v", len(file.Rows), len(want), file.Rows, want)
		}
		for i, r := range file.Rows {
			if r.N != want[i].N || !slices.Equal(r.Cells, want[i].Cells) {
				t.Fatalf("row %d read as %d %q, want %d %q", i, r.N, r.Cells, want[i].N, want[i].Cells)
			}
			if slices.Contains(r.Numeric, true) {
				t.Fatalf("row %d: text cells marked numeric: %v", r.N, r.Numeric)
			}
		}
	})
}

// xmlText keeps the characters an XLSX cell can hold (XML 1.0's Char production, less
// '\r', which XML parsers turn into '\n'); a spreadsheet cannot carry the others, so the
// round trip is asked only of these.
func xmlText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n':
			return r
		case r < 0x20, r == 0xFFFE, r == 0xFFFF, r >= 0xD800 && r <= 0xDFFF:
			return -1
		}
		return r
	}, s)
}

// workbook writes rows of text cells into sheet of a new workbook, as Excel would.
func workbook(t testing.TB, sheet string, rows [][]string) []byte {
	t.Helper()
	wb := excelize.NewFile()
	defer wb.Close()
	if err := wb.SetSheetName("Sheet1", sheet); err != nil {
		t.Fatal(err)
	}
	for i, row := range rows {
		for j, c := range row {
			if c == "" {
				continue
			}
			cell, err := excelize.CoordinatesToCellName(j+1, i+1)
			if err != nil {
				t.Fatal(err)
			}
			// OOXML reads "_xHHHH_" in a cell as the character U+HHHH; Excel writes a
			// literal "_x" as "_x005F_x". excelize does not, so the test does.
			if err := wb.SetCellStr(sheet, cell, strings.ReplaceAll(c, "_x", "_x005F_x")); err != nil {
				t.Fatal(err)
			}
		}
	}
	var buf bytes.Buffer
	if err := wb.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A cell holding OOXML's escape of a control character reads as that character: the
// XLSX reader can hand the row rules a NUL (as a GB18030 or UTF-8 text file can), so
// refusing control characters is the row rules' job, not the decoder's.
func TestSheet_escapedControlCharactersReadAsThemselves(t *testing.T) {
	t.Parallel()
	wb := excelize.NewFile()
	defer wb.Close()
	if err := wb.SetCellStr("Sheet1", "A1", "张_x0000_三"); err != nil { // raw, as a crafted file would hold it
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := wb.Write(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := registryfile.Sheet(bytes.NewReader(buf.Bytes()), "Sheet1")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Rows) != 1 || f.Rows[0].Cells[0] != "张\x00三" {
		t.Fatalf("rows %+v, want one cell 张\\x00三", f.Rows)
	}
}
