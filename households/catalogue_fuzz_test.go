package households

import (
	"bytes"
	"encoding/csv"
	"errors"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// Fuzz targets of the catalogue files (branches, suppliers, products, linkages), on any
// bytes decoded as an import decodes them (UTF-8 or GB18030 CSV). Each asserts, beside
// not panicking:
//   - a file it cannot read at all is a *ParseError, never another error;
//   - refusal with a row number: every data row is either loaded or refused, never both,
//     every refusal names a row of the file and a reason, and a row with a control
//     character (NUL, DEL, C0/C1 but tab and line breaks) is refused;
//   - round trip: the loaded records written back as CSV load again, equal and without
//     a single row error (what was accepted once is accepted again, unchanged).
// Seeds: the bundle's own rows and hostile ones, in testdata/fuzz/<target>.

// decodeForFuzz decodes b as a CSV import does; ok is false (after checking the error's
// type) when the decoder refuses the file as a whole.
func decodeForFuzz(t *testing.T, b []byte) (File, bool) {
	t.Helper()
	f, err := testDecoder.CSV(bytes.NewReader(b))
	if err != nil {
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("decoder error %v (%T) is not a ParseError", err, err)
		}
		return File{}, false
	}
	return f, true
}

// checkRefusals asserts the row-number property of p, parsed from f.
func checkRefusals[T any](t *testing.T, f File, p parsed[T]) {
	t.Helper()
	lines := map[int]bool{}
	for _, r := range f.Rows {
		lines[r.N] = true
	}
	for _, b := range f.BadLines {
		lines[b.Line] = true
	}
	refused := map[int]bool{}
	for _, e := range p.errs {
		if e.Row < 1 || !lines[e.Row] || e.Reason == "" {
			t.Fatalf("refusal without a row of the file or a reason: %+v", e)
		}
		if e.Row <= p.t.headerRow {
			t.Fatalf("refusal of row %d, at or above the header (row %d): %+v", e.Row, p.t.headerRow, e)
		}
		refused[e.Row] = true
	}
	for _, g := range p.good {
		if refused[g.row] {
			t.Fatalf("row %d both loaded and refused", g.row)
		}
	}
	for _, r := range f.Rows {
		for _, c := range r.Cells {
			if strings.ContainsFunc(c, func(ch rune) bool { return unicode.IsControl(ch) && ch != '\t' && ch != '\n' && ch != '\r' }) &&
				r.N > p.t.headerRow && !refused[r.N] {
				t.Fatalf("row %d has a control character in %q and was not refused", r.N, c)
			}
		}
	}
	if got := len(p.good) + len(refused); got != p.rows {
		t.Fatalf("%d rows loaded and %d refused, of %d data rows: a row went unaccounted", len(p.good), len(refused), p.rows)
	}
}

// writeCSV writes header and rows as a UTF-8 CSV file.
func writeCSV(t *testing.T, header []string, rows [][]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(header); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// roundTrip writes the good records of p with row, parses the file again with parse and
// asserts it gives the same records and no row error.
func roundTrip[T any](t *testing.T, p parsed[T], header []string, row func(T) []string, parse func(File) (parsed[T], error)) {
	t.Helper()
	roundTripEq(t, p, header, row, parse, func(a, b []T) bool { return reflect.DeepEqual(a, b) })
}

// roundTripEq is roundTrip with equal deciding whether the records are the same.
func roundTripEq[T any](t *testing.T, p parsed[T], header []string, row func(T) []string, parse func(File) (parsed[T], error), equal func(a, b []T) bool) {
	t.Helper()
	if len(p.good) == 0 {
		return
	}
	rows := make([][]string, len(p.good))
	for i, g := range p.good {
		rows[i] = row(g.v)
	}
	out := writeCSV(t, header, rows)
	f, err := testDecoder.CSV(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("the loaded records written back do not decode: %v\n%s", err, out)
	}
	again, err := parse(f)
	if err != nil {
		t.Fatalf("the loaded records written back do not parse: %v\n%s", err, out)
	}
	if len(again.errs) > 0 {
		t.Fatalf("the loaded records written back are refused: %+v\n%s", again.errs, out)
	}
	got := values(again.good)
	if want := values(p.good); !equal(got, want) {
		t.Fatalf("round trip changed the records:\n got %+v\nwant %+v\n%s", got, want, out)
	}
}

func FuzzParseBranches(f *testing.F) {
	f.Add([]byte("code,name,company,members,budget\nHQ,集团总部机关工会,集团总部,860,928000.00\nS01,第一工程有限公司工会,第一工程有限公司,9120,216000.00\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, ok := decodeForFuzz(t, b)
		if !ok {
			return
		}
		p, err := parseBranches(file)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a ParseError", err)
			}
			return
		}
		checkRefusals(t, file, p)
		for _, g := range p.good {
			if g.v.Members < 0 || g.v.Budget < 0 || g.v.Name == "" || g.v.Code == "" {
				t.Fatalf("bad branch loaded: %+v", g.v)
			}
		}
		roundTrip(t, p, branchColumns, func(b Branch) []string {
			return []string{b.Code, b.Name, b.Company, strconv.Itoa(b.Members), b.Budget.String()}
		}, parseBranches)
	})
}

func FuzzParseSuppliers(f *testing.F) {
	f.Add([]byte("code,name,uscc,county_code,kind\nYC01,宜川县丹州红苹果专业合作社,93610630MA5FP0YD9M,610630,cooperative\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, ok := decodeForFuzz(t, b)
		if !ok {
			return
		}
		p, err := parseSuppliers(file)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a ParseError", err)
			}
			return
		}
		checkRefusals(t, file, p)
		for _, g := range p.good {
			if ValidateUSCC(g.v.USCC) != nil || len(g.v.CountyCode) != 6 {
				t.Fatalf("bad supplier loaded: %+v", g.v)
			}
		}
		roundTrip(t, p, supplierColumns, func(s Supplier) []string {
			return []string{s.Code, s.Name, s.USCC, s.CountyCode, string(s.Kind)}
		}, parseSuppliers)
	})
}

func FuzzParseProducts(f *testing.F) {
	f.Add([]byte("sku,name,category,spec,unit,supplier_code,aid_cert_no,ccb_item_id,ccb_price,abc_item_id,abc_price_fen\n" +
		"YC-APL-5KG-DZ,宜川苹果 红富士 5kg礼盒装（单果80mm+）,apple,5kg/箱,箱,YC01,FPCP-610630-2019-0017,CCB-YC-APL-05,68.00,ABC-770031,6900\n" +
		"YC-APL-5KG-HK,壶口塬红富士苹果 5kg礼盒,apple,5kg/箱,箱,YC02,FPCP-610630-2019-0019,CCB-YC-APL-05H,72.00,,\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, ok := decodeForFuzz(t, b)
		if !ok {
			return
		}
		p, err := parseProducts(file, nil)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a ParseError", err)
			}
			return
		}
		checkRefusals(t, file, p)
		lcs, err := listingColumnsOf(p.t, nil)
		if err != nil {
			t.Fatalf("listing columns of a parsed file: %v", err)
		}
		var malls []string
		for _, lc := range lcs {
			malls = append(malls, lc.mall)
		}
		sort.Strings(malls)
		header := append([]string{}, productColumns...)
		for _, m := range malls {
			header = append(header, m+"_item_id", m+"_price")
		}
		for _, g := range p.good {
			for m, l := range g.v.Listings {
				if l.Price <= 0 || l.ItemID == "" || !slices.Contains(malls, m) {
					t.Fatalf("bad listing %s loaded: %+v", m, g.v)
				}
			}
		}
		roundTrip(t, p, header, func(p Product) []string {
			row := []string{p.SKU, p.Name, string(p.Category), p.Spec, p.Unit, p.SupplierCode, p.AidCertNo}
			for _, m := range malls {
				if l, ok := p.Listings[m]; ok {
					row = append(row, l.ItemID, l.Price.String())
				} else {
					row = append(row, "", "")
				}
			}
			return row
		}, func(f File) (parsed[Product], error) { return parseProducts(f, nil) })
	})
}

func FuzzParseLinkagesRoundTrip(f *testing.F) {
	f.Add([]byte("supplier_code,household_no,type,weight,valid_from,valid_to\nDB01,08250101001,produce_purchase,2,2016-06-27,2021-08-09\nDB01,08250101002,produce_purchase,1,2016-12-10,\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, ok := decodeForFuzz(t, b)
		if !ok {
			return
		}
		p, err := parseLinkages(file)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a ParseError", err)
			}
			return
		}
		checkRefusals(t, file, p)
		roundTripEq(t, p, linkageColumns, func(l Linkage) []string {
			to := ""
			if !l.ValidTo.IsZero() {
				to = l.ValidTo.String()
			}
			return []string{l.SupplierCode, string(l.HouseholdNo), string(l.Type), l.Weight.String(), l.ValidFrom.String(), to}
		}, parseLinkages, func(a, b []Linkage) bool {
			return slices.EqualFunc(a, b, func(x, y Linkage) bool {
				w := x.Weight.Equal(y.Weight)
				x.Weight = y.Weight
				return w && reflect.DeepEqual(x, y)
			})
		})
	})
}

// A control character in any cell of a registry or catalogue file refuses that row, with
// its row number and column and without repeating the value; the other rows load.
func TestControlCharactersRefuseTheRow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, cell string
		refused    bool
	}{
		{"nul", "集团总部\x00工会", true},
		{"bell", "集团\a总部", true},
		{"delete", "集团总部\x7f", true},
		{"c1_next_line", "集团总部\u0085", true},
		{"tab_and_line_break_of_a_spreadsheet_cell", "集团总部\n机关\t工会", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			text := "code,name,company,members,budget\nHQ,\"" + tt.cell + "\",集团总部,860,928000.00\nS01,第一工程有限公司工会,第一工程有限公司,9120,216000.00\n"
			bs, errs, err := parseCSVFile(ParseBranches, strings.NewReader(text))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.refused {
				if len(errs) != 0 || len(bs) != 2 || bs[0].Name != strings.TrimSpace(tt.cell) {
					t.Fatalf("loaded %+v, errors %+v; want both rows, the name as written", bs, errs)
				}
				return
			}
			if len(errs) != 1 || errs[0].Row != 2 || errs[0].Column != "name" || !strings.Contains(errs[0].Reason, "control character") || errs[0].Value != "" {
				t.Fatalf("errors %+v, want one at row 2, column name, naming a control character and not repeating the value", errs)
			}
			if len(bs) != 1 || bs[0].Code != "S01" {
				t.Fatalf("loaded %+v, want only S01", bs)
			}
		})
	}
}
