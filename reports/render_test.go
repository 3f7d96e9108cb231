package reports

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"

	"aidmall/households"
	"aidmall/money"
	"aidmall/orders"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the renderers' output")

// sampleBenefit is a county report over two counties with Chinese labels, a refund and
// unattributed money: the figures follow from the rows by §3 (checked in TestCompute).
func sampleBenefit() Benefit {
	rows := []LedgerRow{
		lr("06300101001", "2019-03-10", 22667), lr("06300101002", "2019-03-10", 22667),
		lr("06300101003", "2019-03-10", 22666),
		lr("06300101001", "2019-04-01", -2267), lr("06300101002", "2019-04-01", -2267),
		lr("06300101003", "2019-04-01", -2266),
		lr("08250101001", "2019-05-02", 13600, county("610825"), funding(orders.FundingEmployeePays)),
		lr("", "2019-06-18", 4500, county("610825"), funding(orders.FundingExternal)),
		lr("08250101002", "2019-07-01", 100, county("610826")),
		lr("08250101002", "2019-07-02", -100, county("610826")),
	}
	members := map[households.HouseholdNo]int{"06300101001": 4, "06300101002": 3, "06300101003": 5, "08250101001": 2, "08250101002": 6}
	labels := map[string]string{"610630": "宜川县", "610825": "定边县"}
	return Compute(rows, members, labels, year2019(ByCounty))
}

func TestRenderersGolden(t *testing.T) {
	t.Parallel()
	renderers := []struct {
		file  string
		write func(io.Writer, Benefit) error
	}{
		{"benefit.table.golden", WriteTable},
		{"benefit.csv.golden", WriteCSV},
		{"benefit.json.golden", WriteJSON},
	}
	for _, r := range renderers {
		t.Run(r.file, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if err := r.write(&buf, sampleBenefit()); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", r.file)
			if *update {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./reports -run Golden -update to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Fatalf("%s differs (go test ./reports -run Golden -update to accept):\n--- got\n%s\n--- want\n%s", path, buf.Bytes(), want)
			}
		})
	}
}

func TestWriteJSONReadsBack(t *testing.T) {
	t.Parallel()
	b := sampleBenefit()
	var buf bytes.Buffer
	if err := WriteJSON(&buf, b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"purchased_amount": "612.00"`) {
		t.Fatalf("money must be a yuan string with two decimals:\n%s", buf.String())
	}
	var back Benefit
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, b) {
		t.Fatalf("JSON does not read back:\n got  %+v\n want %+v", back, b)
	}
}

func TestWriteJSONEmptyRowsIsAnArray(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := WriteJSON(&buf, Benefit{By: ByMonth}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"rows": []`) {
		t.Fatalf("rows should be [] not null:\n%s", buf.String())
	}
}

// TestWriteCSVOpensWithChineseHeaders reads each CSV variant back as a spreadsheet user's
// tool would: the UTF-8 file starts with a BOM and, once decoded, its header row is the
// Chinese one; the GB18030 file decodes (x/text) to the same records; the English variant
// has the JSON field names. Each carries every row, the 合计 row with the report's own
// totals, and the headline totals.
func TestWriteCSVOpensWithChineseHeaders(t *testing.T) {
	t.Parallel()
	b := sampleBenefit()
	for _, tc := range []struct {
		name   string
		opts   CSVOptions
		header string
		decode func(t *testing.T, raw []byte) string
	}{
		{"utf8_bom", CSVOptions{}, "县,名称,受益户数,受益人数,净额", func(t *testing.T, raw []byte) string {
			if !bytes.HasPrefix(raw, []byte{0xEF, 0xBB, 0xBF}) {
				t.Fatalf("no UTF-8 BOM: % x", raw[:min(len(raw), 8)])
			}
			s, _, err := transform.Bytes(unicode.BOMOverride(unicode.UTF8.NewDecoder()), raw)
			if err != nil {
				t.Fatal(err)
			}
			return string(s)
		}},
		{"gb18030", CSVOptions{Charset: GB18030}, "县,名称,受益户数,受益人数,净额", func(t *testing.T, raw []byte) string {
			if utf8.Valid(raw) {
				t.Fatalf("GB18030 file is valid UTF-8: not encoded")
			}
			s, err := simplifiedchinese.GB18030.NewDecoder().Bytes(raw)
			if err != nil {
				t.Fatal(err)
			}
			return string(s)
		}},
		{"english", CSVOptions{English: true}, "key,label,households,people,net_amount", func(t *testing.T, raw []byte) string {
			return strings.TrimPrefix(string(raw), "\uFEFF")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if err := WriteCSVDocument(&buf, b.Document(), tc.opts); err != nil {
				t.Fatal(err)
			}
			recs, err := csv.NewReader(strings.NewReader(tc.decode(t, buf.Bytes()))).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) < len(b.Rows)+2 || strings.Join(recs[0], ",") != tc.header {
				t.Fatalf("want header %q, %d rows and a total; got %q", tc.header, len(b.Rows), recs)
			}
			var sum money.Fen
			for i, r := range b.Rows {
				rec := recs[i+1]
				got, err := money.ParseYuan(rec[4])
				if err != nil || rec[0] != r.Key || rec[1] != r.Label || got != r.NetAmount {
					t.Fatalf("record %q does not carry row %+v", rec, r)
				}
				sum += got
			}
			total := recs[len(b.Rows)+1]
			if total[0] != "" || total[1] != "合计" || total[2] != strconv.Itoa(b.Totals.Households) || total[3] != strconv.Itoa(b.Totals.People) || total[4] != sum.String() {
				t.Fatalf("total record %q: want the totals' households and people and the sum %s", total, sum)
			}
			headline := map[string]string{}
			for _, rec := range recs[len(b.Rows)+2:] {
				headline[rec[0]] = rec[1]
			}
			purchased, helped := "购买金额", "帮助销售金额"
			if tc.opts.English {
				purchased, helped = "purchased_amount", "helped_sell_amount"
			}
			if headline[purchased] != b.Totals.PurchasedAmount.String() || headline[helped] != b.Totals.HelpedSellAmount.String() {
				t.Fatalf("headline totals %q: want purchased %s and helped to sell %s", headline, b.Totals.PurchasedAmount, b.Totals.HelpedSellAmount)
			}
		})
	}
}

func TestDisplayWidth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s    string
		want int
	}{
		{"ascii_is_one_column", "610630", 6},
		{"han_is_two_columns", "宜川县", 6},
		{"mixed", "户数 households", 15},
		{"fullwidth_latin_is_two_columns", "ＡＢ", 4},
		{"combining_mark_takes_no_column", "e\u0301", 1},
		{"empty", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := DisplayWidth(tc.s); got != tc.want {
				t.Fatalf("DisplayWidth(%q) = %d, want %d", tc.s, got, tc.want)
			}
		})
	}
}

func TestWriteTableAlignsWideCharacters(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := WriteTable(&buf, sampleBenefit()); err != nil {
		t.Fatal(err)
	}
	// In the rows table every line ends its net column at the same display column.
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	var table []string
	for i, l := range lines {
		if strings.HasPrefix(l, "县 key") {
			table = lines[i:]
		}
	}
	if len(table) != 5 {
		t.Fatalf("want a header, 3 rows and a total:\n%s", buf.String())
	}
	for _, l := range table {
		if DisplayWidth(l) != DisplayWidth(table[0]) {
			t.Fatalf("line %q is %d columns wide, header %d:\n%s", l, DisplayWidth(l), DisplayWidth(table[0]), buf.String())
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestRenderersReturnWriteErrors(t *testing.T) {
	t.Parallel()
	for name, write := range map[string]func(io.Writer, Benefit) error{"table": WriteTable, "csv": WriteCSV, "json": WriteJSON} {
		if err := write(failingWriter{}, sampleBenefit()); err == nil {
			t.Errorf("%s: no error from a failing writer", name)
		}
	}
}

func TestCSVOfATableAloneEndsWithIt(t *testing.T) {
	d := Document{Report: "orders", Tables: []Table{{Name: "订单", Columns: []Column{{Name: "ref", Title: "单号"}, {Name: "total", Title: "金额", Kind: KindMoney}},
		Rows: [][]Value{{Text("K13"), Money(6800)}}}}}
	var b strings.Builder
	if err := WriteCSVDocument(&b, d, CSVOptions{Charset: UTF8BOM}); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "\uFEFF单号,金额\nK13,68.00\n"; got != want {
		t.Fatalf("CSV %q, want %q (no empty indicators block after the table)", got, want)
	}
}
