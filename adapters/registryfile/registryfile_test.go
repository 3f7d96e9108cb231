package registryfile_test

import (
	"bytes"
	"errors"
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
