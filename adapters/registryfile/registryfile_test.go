package registryfile_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"aidmall/adapters/registryfile"
	"aidmall/households"
)

func TestCSV(t *testing.T) {
	t.Parallel()
	gb, err := simplifiedchinese.GB18030.NewEncoder().String("户编号,姓名\r\n001,张三\r\n")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      string
		rows    []households.FileRow
		bad     []int  // lines that could not be split
		refusal string // "" when decoded
	}{
		{"utf8_rows_numbered_by_line_blank_lines_counted", "a,b\n\n1,2\n", []households.FileRow{{N: 1, Cells: []string{"a", "b"}}, {N: 3, Cells: []string{"1", "2"}}}, nil, ""},
		{"byte_order_mark_is_dropped", "\xEF\xBB\xBFa\n", []households.FileRow{{N: 1, Cells: []string{"a"}}}, nil, ""},
		{"gb18030_is_decoded", gb, []households.FileRow{{N: 1, Cells: []string{"户编号", "姓名"}}, {N: 2, Cells: []string{"001", "张三"}}}, nil, ""},
		{"multi_line_record_numbered_by_its_first_line", "a\n\"x\ny\"\nz\n", []households.FileRow{{N: 1, Cells: []string{"a"}}, {N: 2, Cells: []string{"x\ny"}}, {N: 4, Cells: []string{"z"}}}, nil, ""},
		{"utf16_is_refused", "\xFF\xFEa\x00", nil, nil, "UTF-16"},
		{"workbook_is_refused", "PK\x03\x04rest", nil, nil, "XLSX"},
		{"neither_utf8_nor_gb18030_is_refused", "a\n\x81\x20\n", nil, nil, "encoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := registryfile.CSV(strings.NewReader(tt.in))
			if tt.refusal != "" {
				var pe *households.ParseError
				if !errors.As(err, &pe) || !strings.Contains(pe.Reason, tt.refusal) {
					t.Fatalf("CSV = %v, want a ParseError mentioning %q", err, tt.refusal)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(f.Rows, tt.rows) {
				t.Errorf("rows %+v\nwant %+v", f.Rows, tt.rows)
			}
		})
	}
}

func TestSheet(t *testing.T) {
	t.Parallel()
	wb := excelize.NewFile()
	defer wb.Close()
	if err := wb.SetSheetName("Sheet1", " 户 "); err != nil {
		t.Fatal(err)
	}
	for i, row := range [][]any{{"title"}, {}, {"no", "n"}, {"001", 612630}} {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := wb.SetSheetRow(" 户 ", cell, &row); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := wb.Write(&buf); err != nil {
		t.Fatal(err)
	}
	t.Run("sheet_rows_keep_spreadsheet_numbers_and_number_cells_are_marked", func(t *testing.T) {
		f, err := registryfile.Sheet(bytes.NewReader(buf.Bytes()), "户")
		if err != nil {
			t.Fatal(err)
		}
		want := []households.FileRow{
			{N: 1, Cells: []string{"title"}},
			{N: 3, Cells: []string{"no", "n"}},
			{N: 4, Cells: []string{"001", "612630"}, Numeric: []bool{false, true}},
		}
		if !reflect.DeepEqual(f.Rows, want) {
			t.Errorf("rows %+v\nwant %+v", f.Rows, want)
		}
	})
	t.Run("missing_sheet_is_refused", func(t *testing.T) {
		if _, err := registryfile.Sheet(bytes.NewReader(buf.Bytes()), "other"); err == nil || !strings.Contains(err.Error(), "no sheet other") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("legacy_xls_is_refused", func(t *testing.T) {
		if _, err := registryfile.Sheet(bytes.NewReader([]byte{0xD0, 0xCF, 0x11, 0xE0, 0}), "户"); err == nil || !strings.Contains(err.Error(), ".xls") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("text_is_read_as_csv", func(t *testing.T) {
		f, err := registryfile.Sheet(strings.NewReader("a\n"), "户")
		if err != nil || len(f.Rows) != 1 || f.Rows[0].Cells[0] != "a" {
			t.Fatalf("%+v %v", f, err)
		}
	})
}

// A record whose quoting is broken is one bad line, at the line it starts on and the cell
// where it breaks, and the lines after it are rows again: an unterminated quote does not
// swallow the rest of the file. The same for a whole file (CSV), a stream (CSVRows) and
// a household file told by its content (SheetRows), in every encoding and line end a
// registry export comes in.
func TestBrokenQuotingCostsItsOwnLine(t *testing.T) {
	t.Parallel()
	gb := func(s string) string {
		b, err := simplifiedchinese.GB18030.NewEncoder().String(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	type bad struct{ line, cell int }
	rows := func(rs ...any) []households.FileRow {
		var out []households.FileRow
		for i := 0; i < len(rs); i += 2 {
			out = append(out, households.FileRow{N: rs[i].(int), Cells: strings.Split(rs[i+1].(string), "|")})
		}
		return out
	}
	const hh = "户编号,户主姓名,家庭人口数\n"
	tests := []struct {
		name string
		in   string
		rows []households.FileRow
		bad  []bad
	}{
		{"unterminated_quote_in_the_middle", hh + "001,张三,4\n002,\"李四,3\n003,王五,2\n004,赵六,1\n",
			rows(1, "户编号|户主姓名|家庭人口数", 2, "001|张三|4", 4, "003|王五|2", 5, "004|赵六|1"), []bad{{3, 2}}},
		{"unterminated_quote_at_the_last_row", hh + "001,张三,4\n002,李四,\"3\n",
			rows(1, "户编号|户主姓名|家庭人口数", 2, "001|张三|4"), []bad{{3, 3}}},
		{"unterminated_quote_without_a_line_end", hh + "001,\"张三,4",
			rows(1, "户编号|户主姓名|家庭人口数"), []bad{{2, 2}}},
		{"bare_quote_in_an_unquoted_cell", hh + "001,张\"三,4\n002,李四,3\n",
			rows(1, "户编号|户主姓名|家庭人口数", 3, "002|李四|3"), []bad{{2, 2}}},
		{"text_after_a_closing_quote", hh + "\"001\"x,张三,4\n002,李四,3\n",
			rows(1, "户编号|户主姓名|家庭人口数", 3, "002|李四|3"), []bad{{2, 1}}},
		{"two_unterminated_quotes_meeting_each_other", hh + "001,\"张三,4\n002,\"李四,3\n003,王五,2\n",
			rows(1, "户编号|户主姓名|家庭人口数", 4, "003|王五|2"), []bad{{2, 2}, {3, 2}}},
		{"crlf_line_ends", strings.ReplaceAll(hh+"001,\"张三,4\n002,李四,3\n", "\n", "\r\n"),
			rows(1, "户编号|户主姓名|家庭人口数", 3, "002|李四|3"), []bad{{2, 2}}},
		{"byte_order_mark", "\xEF\xBB\xBF" + hh + "001,\"张三,4\n002,李四,3\n",
			rows(1, "户编号|户主姓名|家庭人口数", 3, "002|李四|3"), []bad{{2, 2}}},
		{"gb18030_crlf_as_the_county_exports", gb(strings.ReplaceAll(hh+"001,张三,4\n002,\"李四,3\n003,王五,2\n", "\n", "\r\n")),
			rows(1, "户编号|户主姓名|家庭人口数", 2, "001|张三|4", 4, "003|王五|2"), []bad{{3, 2}}},
		{"quoted_cell_with_a_line_break_is_one_row", hh + "001,\"张\r\n三\",4\r\n002,李四,3\r\n",
			rows(1, "户编号|户主姓名|家庭人口数", 2, "001|张\n三|4", 4, "002|李四|3"), nil},
	}
	decoders := []struct {
		name string
		read func(string) (households.File, error)
	}{
		{"whole", func(s string) (households.File, error) { return registryfile.CSV(strings.NewReader(s)) }},
		{"stream", func(s string) (households.File, error) {
			src, err := registryfile.CSVRows(strings.NewReader(s))
			if err != nil {
				return households.File{}, err
			}
			return drain(src)
		}},
		{"sheet_stream", func(s string) (households.File, error) {
			src, err := registryfile.SheetRows(strings.NewReader(s), households.HouseholdSheet)
			if err != nil {
				return households.File{}, err
			}
			return drain(src)
		}},
	}
	for _, tt := range tests {
		for _, d := range decoders {
			t.Run(tt.name+"/"+d.name, func(t *testing.T) {
				t.Parallel()
				f, err := d.read(tt.in)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(f.Rows, tt.rows) {
					t.Errorf("rows %+v\nwant %+v", f.Rows, tt.rows)
				}
				var got []bad
				for _, b := range f.BadLines {
					got = append(got, bad{b.Line, b.Cell})
					if !strings.Contains(b.Reason, "quot") {
						t.Errorf("bad line %d: reason %q does not say the quoting is broken", b.Line, b.Reason)
					}
				}
				if !reflect.DeepEqual(got, tt.bad) {
					t.Errorf("bad lines %v, want %v", got, tt.bad)
				}
			})
		}
	}
}

// drain reads a RowSource to its end as a File.
func drain(src households.RowSource) (households.File, error) {
	f := households.File{Sheet: src.Sheet()}
	for {
		row, b, err := src.Next()
		switch {
		case errors.Is(err, io.EOF):
			return f, nil
		case err != nil:
			return f, err
		case b != nil:
			f.BadLines = append(f.BadLines, *b)
		default:
			f.Rows = append(f.Rows, row)
		}
	}
}

// A file in one encoding with a row pasted from another is refused whole (text decoded in
// the wrong encoding mostly reads as other, valid characters, so other rows may be wrong
// unseen), and the error names the row to look at: streamed (CSVRows) or read whole (CSV).
func TestARowInAnotherEncodingIsNamed(t *testing.T) {
	t.Parallel()
	gb := func(s string) []byte {
		b, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var gbFile, utfFile bytes.Buffer
	gbFile.Write(gb("户编号,户主姓名\n"))
	utfFile.WriteString("户编号,户主姓名\n")
	for i := 2; i <= 10; i++ {
		gbFile.Write(gb(fmt.Sprintf("%d,张三丰\n", i)))
		utfFile.WriteString(fmt.Sprintf("%d,张三丰\n", i))
	}
	gbFile.WriteString("11,王小明 \xe2\x82\n") // UTF-8, its last rune cut: not GB18030 either
	utfFile.Write(gb("11,王小明\n"))
	for _, c := range []struct {
		name string
		file []byte
		want string
	}{
		{"gb18030_file_with_a_utf8_row", gbFile.Bytes(), "unreadable encoding at row 11: the file begins as GB18030 text and this row is not GB18030"},
		{"utf8_file_with_a_gb18030_row", utfFile.Bytes(), "unreadable encoding at row 11: the file is UTF-8 text before it and this row is not"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rows, err := registryfile.CSVRows(bytes.NewReader(c.file))
			for err == nil {
				_, _, err = rows.Next()
			}
			if errors.Is(err, io.EOF) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("streamed: %v, want %q", err, c.want)
			}
			if _, err := registryfile.CSV(bytes.NewReader(c.file)); err == nil || !strings.Contains(err.Error(), "unreadable encoding at row 11") {
				t.Errorf("read whole: %v, want the error at row 11", err)
			}
		})
	}
}
