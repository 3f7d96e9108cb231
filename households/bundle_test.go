package households

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"aidmall/money"
)

// bundleDir is the module's copy of the real data bundle (never edited).
const bundleDir = "../examples/yichuan-dingbian-2019"

func openBundle(t testing.TB, name string) *os.File {
	t.Helper()
	f, err := os.Open(filepath.Join(bundleDir, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func readBundle(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(bundleDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bundleHouseholdErrors are the rows of the registry export that are bad on purpose
// (data/README.md), found by reading households.csv (GB18030, 630 data rows):
//   - row 97, household 06300203011: ID 610630198207058794 has weighted sum 294 ≡ 8
//     (mod 11), so its check character must be 7, not 4;
//   - row 250 repeats 户编号 06300501009 of row 231 (another head, another ID): the later
//     row is the error;
//   - row 550, household 08250501004, has an empty 家庭人口数.
//
// Everything else is valid, including 17 landline phones (0911-…, 0912-…) and 34 empty ones.
var bundleHouseholdErrors = []RowError{
	{Row: 97, Column: "证件号码", Value: "610630********8794", Reason: "check character is 4, want 7"},
	{Row: 250, Column: "户编号", Reason: "duplicate 户编号 06300501009, first in row 231"},
	{Row: 550, Column: "家庭人口数", Reason: "empty, want a whole number 1–12"},
}

func TestBundleHouseholdsCSVAndXLSX(t *testing.T) {
	t.Parallel()
	csvHH, csvErrs, err := parseHouseholdsFile("households.csv", openBundle(t, "households.csv"), testNow)
	if err != nil {
		t.Fatal(err)
	}
	xlsxHH, xlsxErrs, err := parseHouseholdsFile("households.xlsx", openBundle(t, "households.xlsx"), testNow)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("csv_reports_exactly_the_bad_rows", func(t *testing.T) {
		if !reflect.DeepEqual(csvErrs, bundleHouseholdErrors) {
			t.Errorf("csv row errors:\n got %#v\nwant %#v", csvErrs, bundleHouseholdErrors)
		}
	})
	t.Run("xlsx_reports_exactly_the_bad_rows", func(t *testing.T) {
		if !reflect.DeepEqual(xlsxErrs, bundleHouseholdErrors) {
			t.Errorf("xlsx row errors:\n got %#v\nwant %#v", xlsxErrs, bundleHouseholdErrors)
		}
	})
	t.Run("both_yield_the_same_627_good_households", func(t *testing.T) {
		if len(csvHH) != 630-3 {
			t.Errorf("csv: %d good households, want 627", len(csvHH))
		}
		if !reflect.DeepEqual(csvHH, xlsxHH) {
			t.Error("csv and xlsx households differ")
		}
	})
	t.Run("first_row_read_as_written", func(t *testing.T) {
		// Row 2 of both files.
		want := Household{No: "06300101001", HeadName: "曹明根", IDNumber: "610630197302274514", Members: 4,
			County: "宜川县", Township: "丹州街道", Village: "南沟村", Attribute: AttrGeneral, ExitYear: 2018, Phone: "18966800067"}
		if csvHH[0] != want {
			t.Errorf("first household %+v, want %+v", csvHH[0], want)
		}
	})
	t.Run("leading_zeros_and_landlines_kept", func(t *testing.T) {
		for _, h := range csvHH {
			if !strings.HasPrefix(string(h.No), "0") {
				t.Fatalf("household number %q lost its leading zero", h.No)
			}
			if h.No == "06300201021" && h.Phone != "0911-4119289" {
				t.Errorf("landline of 06300201021 = %q, want 0911-4119289", h.Phone)
			}
		}
	})
	t.Run("first_of_a_duplicate_is_kept", func(t *testing.T) {
		for _, h := range csvHH {
			if h.No == "06300501009" && h.IDNumber != "610630198902117728" {
				t.Errorf("kept %s, want the row-231 household (ID 610630198902117728)", h.IDNumber)
			}
		}
	})
}

func TestBundleHouseholdsCSVInUTF8IsTheSame(t *testing.T) {
	t.Parallel()
	raw := readBundle(t, "households.csv")
	utf, err := simplifiedchinese.GB18030.NewDecoder().Bytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(utf, raw) {
		t.Fatal("the bundle's households.csv is expected to be GB18030, not UTF-8")
	}
	want, wantErrs, err := parseHouseholdsFile("households.csv", bytes.NewReader(raw), testNow)
	if err != nil {
		t.Fatal(err)
	}
	variants := map[string][]byte{
		"utf8_crlf":     utf,
		"utf8_bom_lf":   append([]byte("\xEF\xBB\xBF"), bytes.ReplaceAll(utf, []byte("\r\n"), []byte("\n"))...),
		"gb18030_lf":    bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n")),
		"utf8_no_final": bytes.TrimRight(utf, "\r\n"),
	}
	for name, b := range variants {
		got, gotErrs, err := parseHouseholdsFile("households.csv", bytes.NewReader(b), testNow)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotErrs, wantErrs) {
			t.Errorf("%s: %d households, %d errors; want %d, %d", name, len(got), len(gotErrs), len(want), len(wantErrs))
		}
	}
}

func TestBundleCatalogue(t *testing.T) {
	t.Parallel()
	t.Run("branches", func(t *testing.T) {
		t.Parallel()
		bs, errs, err := parseCSVFile(ParseBranches, openBundle(t, "branches.csv"))
		if err != nil || len(errs) != 0 || len(bs) != 19 {
			t.Fatalf("%d branches, errors %v, %v; want 19 and none", len(bs), errs, err)
		}
		want := Branch{Code: "HQ", Name: "集团总部机关工会", Company: "集团总部", Members: 860, Budget: 928000_00}
		if bs[0] != want {
			t.Errorf("first branch %+v, want %+v", bs[0], want)
		}
	})
	t.Run("suppliers", func(t *testing.T) {
		t.Parallel()
		ss, errs, err := parseCSVFile(ParseSuppliers, openBundle(t, "suppliers.csv"))
		if err != nil || len(errs) != 0 || len(ss) != 10 {
			t.Fatalf("%d suppliers, errors %v, %v; want 10 and none", len(ss), errs, err)
		}
		if ss[6].Kind != SupplierHousehold || ss[7].CountyCode != "610825" {
			t.Errorf("YC07 kind %s, DB01 county %s", ss[6].Kind, ss[7].CountyCode)
		}
	})
	t.Run("products_with_unlisted_malls", func(t *testing.T) {
		t.Parallel()
		ps, errs, err := parseCSVFile(parseProductsAnyMall, openBundle(t, "products.csv"))
		if err != nil || len(errs) != 0 || len(ps) != 15 {
			t.Fatalf("%d products, errors %v, %v; want 15 and none", len(ps), errs, err)
		}
		by := map[string]Product{}
		for _, p := range ps {
			by[p.SKU] = p
		}
		// YC-WKN-500G-HH: ccb_price 39.80 yuan = 3980 fen, not listed at ABC.
		if id, price, ok := by["YC-WKN-500G-HH"].Listing("ccb"); !ok || id != "CCB-YC-WKN-500" || price != money.Fen(3980) {
			t.Errorf("YC-WKN-500G-HH at ccb: %s %d %v", id, price, ok)
		}
		if _, _, ok := by["YC-WKN-500G-HH"].Listing("abc"); ok {
			t.Error("YC-WKN-500G-HH listed at abc, its abc columns are empty")
		}
		// YC-PEP-250G-ZS: abc_price_fen 3990, not listed at CCB.
		if _, price, ok := by["YC-PEP-250G-ZS"].Listing("abc"); !ok || price != 3990 {
			t.Errorf("YC-PEP-250G-ZS at abc: %d %v", price, ok)
		}
		if _, _, ok := by["YC-PEP-250G-ZS"].Listing("ccb"); ok {
			t.Error("YC-PEP-250G-ZS listed at ccb")
		}
	})
	t.Run("linkages", func(t *testing.T) {
		t.Parallel()
		ls, errs, err := parseCSVFile(ParseLinkages, openBundle(t, "linkages.csv"))
		if err != nil || len(errs) != 0 || len(ls) != 412 {
			t.Fatalf("%d linkages, errors %v, %v; want 412 and none", len(ls), errs, err)
		}
		// Row 2: DB01,08250101001,produce_purchase,2,2016-06-27,2021-08-09.
		l := ls[0]
		if l.HouseholdNo != "08250101001" || l.Weight.String() != "2" || l.ValidFrom.String() != "2016-06-27" || l.ValidTo.String() != "2021-08-09" {
			t.Errorf("first linkage %+v", l)
		}
		// Row 3 has an empty valid_to: open-ended.
		if !ls[1].ValidTo.IsZero() {
			t.Errorf("second linkage valid_to %s, want open-ended", ls[1].ValidTo)
		}
	})
}
