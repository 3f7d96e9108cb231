package households

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
)

const hhHeader = "户编号,户主姓名,证件号码,家庭人口数,县(市、区),乡(镇),行政村,贫困户属性,脱贫年度,联系电话\n"

// goodRow is a valid household row (ID from the bundle).
const goodRow = "06300101001,曹明根,610630197302274514,4,宜川县,丹州街道,南沟村,一般贫困户,2018,18966800067\n"

func TestParseHouseholdRows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		row  string // one data row (row 2)
		want []RowError
	}{
		{"good_row_has_no_error", goodRow, nil},
		{"members_13_is_out_of_range", "06300101001,曹明根,610630197302274514,13,宜川县,丹州街道,南沟村,一般贫困户,2018,18966800067\n",
			[]RowError{{2, "家庭人口数", "13", "13 is out of range 1–12"}}},
		{"members_zero_is_out_of_range", "06300101001,曹明根,610630197302274514,0,宜川县,丹州街道,南沟村,一般贫困户,,\n",
			[]RowError{{2, "家庭人口数", "0", "0 is out of range 1–12"}}},
		{"members_not_a_number", "06300101001,曹明根,610630197302274514,四,宜川县,丹州街道,南沟村,一般贫困户,,\n",
			[]RowError{{2, "家庭人口数", "四", "not a whole number, want 1–12"}}},
		{"every_bad_column_is_reported", "06300101001,,61063019730227451X,,宜川县,,南沟村,贫困户,1999,12345\n",
			[]RowError{
				{2, "户主姓名", "", "empty, a value is required"},
				{2, "证件号码", "610630********451X", "check character is X, want 4"},
				{2, "家庭人口数", "", "empty, want a whole number 1–12"},
				{2, "乡(镇)", "", "empty, a value is required"},
				{2, "贫困户属性", "贫困户", "unknown, want 一般贫困户, 低保贫困户 or 特困供养贫困户"},
				{2, "脱贫年度", "1999", "1999 is out of range 2014–2020"},
				{2, "联系电话", "*****", "not a phone number: want 11 digits starting with 1, or a landline like 0911-4119289"},
			}},
		{"exit_year_after_now_is_refused", "06300101001,曹明根,610630197302274514,4,宜川县,丹州街道,南沟村,一般贫困户,2021,\n",
			[]RowError{{2, "脱贫年度", "2021", "2021 is out of range 2014–2020"}}},
		{"garbage_phone_is_refused_masked", "06300101001,曹明根,610630197302274514,4,宜川县,丹州街道,南沟村,一般贫困户,,call me maybe\n",
			[]RowError{{2, "联系电话", "cal******aybe", "not a phone number: want 11 digits starting with 1, or a landline like 0911-4119289"}}},
		{"household_number_with_space_is_not_a_code", "0630 0101001,曹明根,610630197302274514,4,宜川县,丹州街道,南沟村,一般贫困户,,\n",
			[]RowError{{2, "户编号", "0630 0101001", "not a household number: want digits only (up to 40, leading zeros kept)"}}},
		{"household_number_with_letters_is_refused", "Y0630101001,曹明根,610630197302274514,4,宜川县,丹州街道,南沟村,一般贫困户,,\n",
			[]RowError{{2, "户编号", "Y0630101001", "not a household number: want digits only (up to 40, leading zeros kept)"}}},
		{"full_width_digits_are_a_household_number", "０６３００１０１００１,曹明根,610630197302274514,4,宜川县,丹州街道,南沟村,一般贫困户,2018,18966800067\n", nil},
		{"extra_cell_is_refused", "06300101001,曹明根,610630197302274514,4,宜川县,丹州街道,南沟村,一般贫困户,,,\n",
			[]RowError{{2, "column 11", "", "extra cells: the row has 11 cells, the header 10"}}},
		{"short_row_reports_missing_cells", "06300101001,曹明根,610630197302274514,4,宜川县\n",
			[]RowError{{2, "乡(镇)", "", "missing cells: the row has 5 cells, the header 10"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hs, errs, err := parseHouseholdsFile("t.csv", strings.NewReader(hhHeader+tt.row), testNow)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(errs, tt.want) {
				t.Errorf("row errors:\n got %#v\nwant %#v", errs, tt.want)
			}
			if wantGood := len(tt.want) == 0; (len(hs) == 1) != wantGood {
				t.Errorf("%d households loaded, want %v", len(hs), wantGood)
			}
		})
	}
}

func TestParseHouseholdsLenientInput(t *testing.T) {
	t.Parallel()
	// Columns shuffled, full-width brackets and spaces in headers, an extra column, a
	// blank line, lowercase x, full-width digits, a mobile written +86 138-0000-0000, a
	// landline with brackets, 脱贫年度 written 2019年.
	in := " 联系电话 ,户编号,备注,户主姓名,证件号码,家庭人口数,县（市、区）,乡（镇）,行政村,贫困户属性,脱贫年度\r\n" +
		"+86 138-0000-0000,001,无,张三,11010519491231002x,３,宜川县,丹州街道,南沟村,低保贫困户,2019年\r\n" +
		"\r\n" +
		"(0911)4119289,002,,李四,610630197302274514,1,宜川县,丹州街道,南沟村,特困供养贫困户,\r\n"
	hs, errs, err := parseHouseholdsFile("t.csv", strings.NewReader(in), testNow)
	if err != nil || len(errs) != 0 {
		t.Fatalf("errors %v, %v", errs, err)
	}
	want := []Household{
		{No: "001", HeadName: "张三", IDNumber: "11010519491231002X", Members: 3, County: "宜川县", Township: "丹州街道",
			Village: "南沟村", Attribute: AttrSubsidy, ExitYear: 2019, Phone: "13800000000"},
		{No: "002", HeadName: "李四", IDNumber: "610630197302274514", Members: 1, County: "宜川县", Township: "丹州街道",
			Village: "南沟村", Attribute: AttrSupported, Phone: "0911-4119289"},
	}
	if !reflect.DeepEqual(hs, want) {
		t.Errorf("got %#v\nwant %#v", hs, want)
	}
}

func TestParseHouseholdsRowNumbersCountBlankLines(t *testing.T) {
	t.Parallel()
	// A spreadsheet shows the blank line as row 3, so the bad row is row 4.
	in := hhHeader + goodRow + "\n" + strings.Replace(goodRow, ",4,", ",,", 1)
	_, errs, err := parseHouseholdsFile("t.csv", strings.NewReader(in), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 2 || errs[0].Row != 4 || errs[1].Row != 4 {
		t.Errorf("errors %+v, want the empty member count and the duplicate on row 4", errs)
	}
}

func TestParseHouseholdsFileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"missing_column", []byte("户编号,户主姓名,证件号码,家庭人口数,县(市、区),乡(镇),行政村,贫困户属性,脱贫年度\n"), "t.csv: missing header column 联系电话"},
		{"repeated_column", []byte(strings.TrimSuffix(hhHeader, "\n") + ",户编号\n"), "t.csv: column 户编号 appears twice (columns 1 and 11)"},
		{"empty_file", nil, "t.csv: the file is empty: no header row"},
		{"neither_utf8_nor_gb18030", []byte("\xff\xfe\xfd\x80\x80"), "t.csv: the file is UTF-16; save it as UTF-8 or GB18030 CSV"},
		{"a_line_not_utf8_in_utf8_text", []byte(hhHeader + "\x80\xff,\n"), "t.csv: unreadable encoding at row 2: the file is UTF-8 text before it and this row is not"},
		{"invalid_gb18030_bytes", []byte("a,b\nc,d\n\x80\xff,\n"), "t.csv: unreadable encoding at row 3: the file is neither UTF-8 nor GB18030 text there"},
		{"legacy_xls", []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, "t.csv: the file is a legacy .xls workbook (or an encrypted one); save it as .xlsx or CSV"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := parseHouseholdsFile("t.csv", bytes.NewReader(tt.in), testNow)
			var pe *ParseError
			if !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got %v, want a ParseError starting %q", err, tt.want)
			}
		})
	}
}

func TestParseHouseholdsGB18030Detected(t *testing.T) {
	t.Parallel()
	utf := hhHeader + goodRow
	gb, err := simplifiedchinese.GB18030.NewEncoder().String(utf)
	if err != nil {
		t.Fatal(err)
	}
	a, _, errA := parseHouseholdsFile("utf8.csv", strings.NewReader(utf), testNow)
	b, _, errB := parseHouseholdsFile("gb.csv", strings.NewReader(gb), testNow)
	if errA != nil || errB != nil || len(a) != 1 || !reflect.DeepEqual(a, b) || b[0].HeadName != "曹明根" {
		t.Errorf("utf8 %+v %v; gb18030 %+v %v", a, errA, b, errB)
	}
}

// xlsxFile builds a workbook with one sheet; numeric cells are written as numbers.
func xlsxFile(t *testing.T, sheet string, rows [][]any) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow(sheet, cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func hhHeaderCells() []any {
	var out []any
	for _, h := range householdColumns {
		out = append(out, h)
	}
	return out
}

func TestParseHouseholdsXLSX(t *testing.T) {
	t.Parallel()
	t.Run("numbers_stored_as_numbers_are_refused_where_text_matters", func(t *testing.T) {
		t.Parallel()
		b := xlsxFile(t, HouseholdSheet, [][]any{
			hhHeaderCells(),
			{"06300101001", "曹明根", "610630197302274514", 4, "宜川县", "丹州街道", "南沟村", AttrGeneral, 2018, 18966800067},
			{6300101002, "郝锁", "610630196208106130", 2, "宜川县", "丹州街道", "南沟村", AttrGeneral, 2019, "18730682312"},
			{"06300101003", "田玲芳", 610630198309207562, 2, "宜川县", "丹州街道", "南沟村", AttrGeneral, nil, nil},
		})
		hs, errs, err := parseHouseholdsFile("t.xlsx", bytes.NewReader(b), testNow)
		if err != nil {
			t.Fatal(err)
		}
		want := []RowError{
			{3, "户编号", "6300101002", "stored as a number, so leading zeros may be lost: format the column as text"},
			{4, "证件号码", "610630********7562", "stored as a number, which keeps only 15 digits: format the column as text"},
		}
		if !reflect.DeepEqual(errs, want) {
			t.Errorf("row errors:\n got %#v\nwant %#v", errs, want)
		}
		// A phone or member count stored as a number is fine.
		if len(hs) != 1 || hs[0].Phone != "18966800067" || hs[0].Members != 4 || hs[0].ExitYear != 2018 {
			t.Errorf("households %+v", hs)
		}
	})
	t.Run("title_row_above_header_is_skipped_and_rows_keep_their_numbers", func(t *testing.T) {
		t.Parallel()
		b := xlsxFile(t, HouseholdSheet, [][]any{
			{"宜川县建档立卡贫困户信息表"},
			hhHeaderCells(),
			{"06300101001", "曹明根", "610630197302274514", 4, "宜川县", "丹州街道", "南沟村", AttrGeneral, 2018, nil},
			{},
			{"06300101002", "郝锁", "610630196208106130", 13, "宜川县", "丹州街道", "南沟村", AttrGeneral, nil, nil},
		})
		hs, errs, err := parseHouseholdsFile("t.xlsx", bytes.NewReader(b), testNow)
		if err != nil {
			t.Fatal(err)
		}
		want := []RowError{{5, "家庭人口数", "13", "13 is out of range 1–12"}}
		if len(hs) != 1 || !reflect.DeepEqual(errs, want) {
			t.Errorf("%d households, errors %#v; want 1 and %#v", len(hs), errs, want)
		}
	})
	t.Run("wrong_sheet_is_a_file_error", func(t *testing.T) {
		t.Parallel()
		b := xlsxFile(t, "Sheet1", [][]any{hhHeaderCells()})
		_, _, err := parseHouseholdsFile("t.xlsx", bytes.NewReader(b), testNow)
		var pe *ParseError
		if !errors.As(err, &pe) || err.Error() != "t.xlsx: no sheet 建档立卡贫困户信息 in the workbook (it has Sheet1)" {
			t.Errorf("got %v", err)
		}
	})
	t.Run("truncated_zip_is_a_file_error", func(t *testing.T) {
		t.Parallel()
		b := xlsxFile(t, HouseholdSheet, [][]any{hhHeaderCells()})
		_, _, err := parseHouseholdsFile("t.xlsx", bytes.NewReader(b[:len(b)/2]), testNow)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("got %v, want a ParseError", err)
		}
	})
}

func TestNormalizePhone(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"13800000000", "13800000000"},
		{"138 0000 0000", "13800000000"},
		{"+8613800000000", "13800000000"},
		{"8613800000000", "13800000000"},
		{"１３８００００００００", "13800000000"},
		{"0911-4119289", "0911-4119289"},
		{"09114119289", "0911-4119289"},
		{"(0912)4940346", "0912-4940346"},
		{"010-62345678转123", "010-62345678-123"},
		{"4119289", "4119289"},
		{"12345678901", ""}, // no mobile network starts 12
		{"1380000000", ""},  // 10 digits
		{"0911-0119289", ""},
		{"abc", ""},
		{"0", ""},
	}
	for _, tt := range tests {
		got, err := NormalizePhone(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("NormalizePhone(%q) = %q, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestParseCatalogueRowErrors(t *testing.T) {
	t.Parallel()
	type parseFn func(string) ([]RowError, int, error)
	branches := func(s string) ([]RowError, int, error) {
		v, e, err := parseCSVFile(ParseBranches, strings.NewReader(s))
		return e, len(v), err
	}
	suppliers := func(s string) ([]RowError, int, error) {
		v, e, err := parseCSVFile(ParseSuppliers, strings.NewReader(s))
		return e, len(v), err
	}
	products := func(s string) ([]RowError, int, error) {
		v, e, err := parseCSVFile(parseProductsAnyMall, strings.NewReader(s))
		return e, len(v), err
	}
	linkages := func(s string) ([]RowError, int, error) {
		v, e, err := parseCSVFile(ParseLinkages, strings.NewReader(s))
		return e, len(v), err
	}
	const (
		bh = "code,name,company,members,budget\n"
		sh = "code,name,uscc,county_code,kind\n"
		ph = "sku,name,category,spec,unit,supplier_code,aid_cert_no,ccb_item_id,ccb_price,abc_item_id,abc_price_fen\n"
		lh = "supplier_code,household_no,type,weight,valid_from,valid_to\n"
	)
	tests := []struct {
		name  string
		parse parseFn
		in    string
		good  int
		want  []RowError
	}{
		{"branch_budget_with_three_decimals", branches, bh + "HQ,总部工会,总部,860,928000.005\n", 0,
			[]RowError{{2, "budget", "928000.005", "not an amount in yuan with at most 2 decimals"}}},
		{"branch_negative_members_and_budget", branches, bh + "HQ,总部工会,总部,-1,-5\n", 0,
			[]RowError{{2, "members", "-1", "not a whole number, want 0–10000000"}, {2, "budget", "-5", "negative budget"}}},
		{"branch_code_repeated_is_error_of_later_row", branches, bh + "HQ,a,b,1,1\nS01,c,d,2,2\nHQ,e,f,3,3\n", 2,
			[]RowError{{4, "code", "", "duplicate branch code HQ, first in row 2"}}},
		{"supplier_uscc_check_lowercase_folded", suppliers, sh + "YC05,塬上果业,91610630ma087b336h,610630,enterprise\n", 1, nil},
		{"supplier_uscc_wrong_check", suppliers, sh + "YC05,塬上果业,91610630MA087B3367,610630,enterprise\n", 0,
			[]RowError{{2, "uscc", "91610630MA087B3367", "check character is 7, want H"}}},
		{"supplier_bad_county_and_kind", suppliers, sh + "YC05,塬上果业,91610630MA087B336H,61063,farm\n", 0,
			[]RowError{{2, "county_code", "61063", "not a six-digit GB/T 2260 division code"}, {2, "kind", "farm", "unknown kind, want cooperative, enterprise or household"}}},
		{"supplier_same_uscc_twice", suppliers, sh + "A,a,91610630MA087B336H,610630,enterprise\nB,b,91610630MA087B336H,610630,enterprise\n", 1,
			[]RowError{{3, "uscc", "", "duplicate USCC 91610630MA087B336H, first in row 2"}}},
		{"product_unlisted_at_both_malls_is_fine", products, ph + "S1,苹果,apple,5kg/箱,箱,YC01,,,,,\n", 1, nil},
		{"product_price_without_item_id", products, ph + "S1,苹果,apple,5kg/箱,箱,YC01,,,68.00,ABC-1,0\n", 0,
			[]RowError{{2, "ccb_item_id", "", "empty while ccb_price is set: a listed SKU needs both"}, {2, "abc_price_fen", "0", "a listed price must be above zero"}}},
		{"product_fen_with_decimals_and_unknown_category", products, ph + "S1,苹果,pear,5kg/箱,箱,YC01,,CCB-1,68.001,ABC-1,69.00\n", 0,
			[]RowError{{2, "category", "pear", "unknown category, want apple, peppercorn or walnut"},
				{2, "ccb_price", "68.001", "not a price: want an amount in yuan with at most 2 decimals"},
				{2, "abc_price_fen", "69.00", "not a price: want a whole number of fen"}}},
		{"linkage_weight_rules", linkages, lh +
			"YC01,001,employment,0,2019-01-01,\n" +
			"YC01,002,employment,1.23456,2019-01-01,\n" +
			"YC01,003,employment,1e2,2019-01-01,\n" +
			"YC01,004,employment,1.23450,2019-01-01,\n", 1,
			[]RowError{{2, "weight", "0", "not positive"}, {3, "weight", "1.23456", "more than 4 decimal places"}, {4, "weight", "1e2", "not a decimal number"}}},
		{"linkage_dates_and_type", linkages, lh +
			"YC01,001,gift,1,2019-02-30,\n" +
			"YC01,002,land_lease,1,2019-03-01,2019-03-01\n" +
			"YC01,003,land_lease,1,2019/03/01,\n", 0,
			[]RowError{{2, "type", "gift", "unknown type, want produce_purchase, shareholding, employment or land_lease"},
				{2, "valid_from", "2019-02-30", "not a date: want YYYY-MM-DD"},
				{3, "valid_to", "2019-03-01", "not after valid_from 2019-03-01 (valid_to is exclusive)"},
				{4, "valid_from", "2019/03/01", "not a date: want YYYY-MM-DD"}}},
		{"linkage_same_key_twice", linkages, lh + "YC01,001,employment,1,2019-01-01,\nYC01,001,employment,2,2019-01-01,2020-01-01\nYC01,001,employment,2,2019-06-01,\n", 2,
			[]RowError{{3, "valid_from", "2019-01-01", "duplicate linkage (supplier_code, household_no, type, valid_from), first in row 2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			errs, good, err := tt.parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(errs, tt.want) {
				t.Errorf("row errors:\n got %#v\nwant %#v", errs, tt.want)
			}
			if good != tt.good {
				t.Errorf("%d good records, want %d", good, tt.good)
			}
		})
	}
}

func TestParseCatalogueFileErrors(t *testing.T) {
	t.Parallel()
	_, _, err := parseCSVFile(ParseLinkages, strings.NewReader("supplier_code,household_no,type,weight\nYC01,001,employment,1\n"))
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Reason != "missing header column valid_from, valid_to; the header row must name the columns supplier_code,household_no,type,weight,valid_from,valid_to" {
		t.Errorf("got %v", err)
	}
	_, _, err = parseCSVFile(ParseBranches, bytes.NewReader(xlsxFile(t, "Sheet1", [][]any{{"code"}})))
	if !errors.As(err, &pe) || pe.Reason != "the file is a spreadsheet (XLSX), want CSV text" {
		t.Errorf("xlsx given as branches.csv: %v", err)
	}
}

func FuzzParseHouseholdsCSV(f *testing.F) {
	f.Add([]byte(hhHeader + goodRow))
	f.Add([]byte(hhHeader + goodRow + goodRow))
	f.Add([]byte(hhHeader + "\"06300101001,\"\"x\",,,,\r\n"))
	f.Add([]byte(hhHeader + "\x80\xff\n"))
	f.Add([]byte("PK\x03\x04garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		hs, errs, err := parseHouseholdsFile("f.csv", bytes.NewReader(b), testNow)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a ParseError", err)
			}
			return
		}
		seen := map[HouseholdNo]bool{}
		for _, h := range hs {
			if ValidateResidentIDAt(h.IDNumber, testNow) != nil || h.Members < 1 || h.Members > 12 || h.No == "" || seen[h.No] {
				t.Fatalf("bad household loaded: %+v", h)
			}
			seen[h.No] = true
		}
		for _, e := range errs {
			if e.Row < 1 || e.Reason == "" {
				t.Fatalf("row error without row or reason: %+v", e)
			}
		}
	})
}

func FuzzParseLinkages(f *testing.F) {
	f.Add([]byte("supplier_code,household_no,type,weight,valid_from,valid_to\nDB01,08250101001,produce_purchase,2,2016-06-27,2021-08-09\n"))
	f.Add([]byte("supplier_code,household_no,type,weight,valid_from,valid_to\nDB01,08250101002,employment,0.0001,2016-12-10,\n"))
	f.Add([]byte("supplier_code,household_no,type,weight,valid_from,valid_to\nDB01,x,land_lease,-1,2016-13-10,2015-01-01\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ls, errs, err := parseCSVFile(ParseLinkages, bytes.NewReader(b))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a ParseError", err)
			}
			return
		}
		for _, l := range ls {
			if !l.Weight.IsPositive() || !l.Weight.Round(4).Equal(l.Weight) {
				t.Fatalf("bad weight loaded: %s", l.Weight)
			}
			if l.ValidFrom.IsZero() || (!l.ValidTo.IsZero() && !l.ValidFrom.Before(l.ValidTo)) {
				t.Fatalf("bad interval loaded: %s–%s", l.ValidFrom, l.ValidTo)
			}
			if !l.ActiveOn(l.ValidFrom) {
				t.Fatalf("linkage not active on its first day: %+v", l)
			}
		}
		for _, e := range errs {
			if e.Row < 1 || e.Reason == "" {
				t.Fatalf("row error without row or reason: %+v", e)
			}
		}
	})
}
