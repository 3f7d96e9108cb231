// Package xlsxreport writes any report (a reports.Document) as an XLSX workbook with
// excelize: a cover sheet (封面) with the report's title, parameters, headline indicators
// and the time it was made (Beijing), then one sheet per breakdown with Chinese headers in a
// frozen first row, one row per slice and the 合计 row.
//
// Money is a number, never text: the cell holds the yuan amount written from the integer
// fen (money.Fen.String, "1234.56", so no float arithmetic) and shows as #,##0.00. A
// percentage is a number too: the exact decimal fraction of the report's percentage
// (reports.Value.Fraction, "0.1235") shown as 0.00%.
package xlsxreport

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"aidmall/bizday"
	"aidmall/reports"
)

// MoneyFormat is the number format of every money cell.
const MoneyFormat = "#,##0.00"

// PercentFormat is the number format of every percentage cell: the cell holds the exact
// decimal fraction (0.1235) and shows 12.35%.
const PercentFormat = "0.00%"

// CoverSheet is the name of the first sheet.
const CoverSheet = "封面"

// Write writes d as an XLSX workbook to w; made is the time the report was made, shown on
// the cover in Beijing time. It returns excelize's or the writer's error.
func Write(w io.Writer, d reports.Document, made time.Time) error {
	f := excelize.NewFile()
	defer f.Close()
	st, err := newStyles(f)
	if err != nil {
		return err
	}
	if err := f.SetSheetName("Sheet1", CoverSheet); err != nil {
		return err
	}
	if err := writeCover(f, st, d, made); err != nil {
		return err
	}
	used := map[string]bool{CoverSheet: true}
	for i, t := range d.Tables {
		name := sheetName(t.Name, i, used)
		if _, err := f.NewSheet(name); err != nil {
			return err
		}
		if err := writeTable(f, st, name, t); err != nil {
			return fmt.Errorf("sheet %s: %w", name, err)
		}
	}
	f.SetActiveSheet(0)
	return f.Write(w)
}

type styles struct {
	header, money, int, percent, totalText, totalMoney, totalInt, totalPercent, title int
}

func newStyles(f *excelize.File) (styles, error) {
	var s styles
	moneyFmt, percentFmt := MoneyFormat, PercentFormat
	bold := &excelize.Font{Bold: true}
	top := []excelize.Border{{Type: "top", Color: "000000", Style: 1}}
	for _, x := range []struct {
		dst *int
		st  excelize.Style
	}{
		{&s.header, excelize.Style{Font: bold, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}},
			Border: []excelize.Border{{Type: "bottom", Color: "000000", Style: 1}}}},
		{&s.money, excelize.Style{CustomNumFmt: &moneyFmt}},
		{&s.int, excelize.Style{NumFmt: 1}}, // "0"
		{&s.percent, excelize.Style{CustomNumFmt: &percentFmt}},
		{&s.totalPercent, excelize.Style{Font: bold, Border: top, CustomNumFmt: &percentFmt}},
		{&s.totalText, excelize.Style{Font: bold, Border: top}},
		{&s.totalMoney, excelize.Style{Font: bold, Border: top, CustomNumFmt: &moneyFmt}},
		{&s.totalInt, excelize.Style{Font: bold, Border: top, NumFmt: 1}},
		{&s.title, excelize.Style{Font: &excelize.Font{Bold: true, Size: 14}}},
	} {
		id, err := f.NewStyle(&x.st)
		if err != nil {
			return s, err
		}
		*x.dst = id
	}
	return s, nil
}

// setValue writes one cell: text as a string (codes such as 610630 stay text), a count as
// an integer, money as the number written from its fen in the money format, a percentage
// as its exact fraction in the percent format (an absent one leaves the cell empty).
func setValue(f *excelize.File, st styles, sheet, cell string, v reports.Value, total bool) error {
	var err error
	style := 0
	switch v.Kind() {
	case reports.KindMoney:
		// "1234.56" from the integer fen: excelize stores it as the number's text.
		err = f.SetCellDefault(sheet, cell, v.Fen().String())
		style = pick(total, st.totalMoney, st.money)
	case reports.KindInt:
		err = f.SetCellInt(sheet, cell, v.Int())
		style = pick(total, st.totalInt, st.int)
	case reports.KindPercent:
		style = pick(total, st.totalPercent, st.percent)
		if !v.IsEmpty() {
			// "0.1235" from the report's "12.35" by moving the decimal point: no float.
			err = f.SetCellDefault(sheet, cell, v.Fraction())
		}
	default:
		err = f.SetCellStr(sheet, cell, v.String())
		if total {
			style = st.totalText
		}
	}
	if err != nil || style == 0 {
		return err
	}
	return f.SetCellStyle(sheet, cell, cell, style)
}

func pick(total bool, a, b int) int {
	if total {
		return a
	}
	return b
}

func writeCover(f *excelize.File, st styles, d reports.Document, made time.Time) error {
	sh := CoverSheet
	row := 1
	put := func(a string, b reports.Value) error {
		if err := f.SetCellStr(sh, cellName(1, row), a); err != nil {
			return err
		}
		if err := setValue(f, st, sh, cellName(2, row), b, false); err != nil {
			return err
		}
		row++
		return nil
	}
	section := func(title string) error {
		row++
		c := cellName(1, row)
		if err := f.SetCellStr(sh, c, title); err != nil {
			return err
		}
		row++
		return f.SetCellStyle(sh, c, c, st.header)
	}
	title := d.Title
	if title == "" {
		title = d.Report
	}
	if err := f.SetCellStr(sh, "A1", title); err != nil {
		return err
	}
	if err := f.SetCellStyle(sh, "A1", "A1", st.title); err != nil {
		return err
	}
	row = 2
	if err := section("参数"); err != nil {
		return err
	}
	for _, p := range d.Params {
		if err := put(p.Title, p.Value); err != nil {
			return err
		}
	}
	if err := section("主要指标"); err != nil {
		return err
	}
	for _, h := range d.Headline {
		if err := put(h.Title, h.Value); err != nil {
			return err
		}
	}
	row++
	stamp := made.In(bizday.Beijing).Format("2006-01-02 15:04:05") + " (" + reports.Timezone + ")"
	if err := put("制表时间", reports.Text(stamp)); err != nil {
		return err
	}
	if err := f.SetColWidth(sh, "A", "A", 18); err != nil {
		return err
	}
	return f.SetColWidth(sh, "B", "B", 30)
}

func writeTable(f *excelize.File, st styles, sh string, t reports.Table) error {
	widths := make([]int, len(t.Columns))
	for j, c := range t.Columns {
		cell := cellName(j+1, 1)
		if err := f.SetCellStr(sh, cell, c.Title); err != nil {
			return err
		}
		widths[j] = textWidth(c.Title)
	}
	if len(t.Columns) > 0 {
		if err := f.SetCellStyle(sh, "A1", cellName(len(t.Columns), 1), st.header); err != nil {
			return err
		}
	}
	rows := t.Rows
	if t.Total != nil {
		rows = append(rows[:len(rows):len(rows)], t.Total)
	}
	for i, r := range rows {
		total := t.Total != nil && i == len(rows)-1
		for j, v := range r {
			if err := setValue(f, st, sh, cellName(j+1, i+2), v, total); err != nil {
				return err
			}
			widths[j] = max(widths[j], textWidth(v.String())+2*btoi(v.Kind() == reports.KindMoney))
		}
	}
	for j, w := range widths {
		col, _ := excelize.ColumnNumberToName(j + 1)
		if err := f.SetColWidth(sh, col, col, float64(min(max(w+2, 8), 60))); err != nil {
			return err
		}
	}
	return f.SetPanes(sh, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// textWidth approximates a column's width in characters: two for a CJK character.
func textWidth(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x2E80 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

func cellName(col, row int) string {
	c, _ := excelize.CoordinatesToCellName(col, row)
	return c
}

// sheetName makes a valid, unique sheet name from name: at most 31 characters, none of
// : \ / ? * [ ], never empty ("表2").
func sheetName(name string, i int, used map[string]bool) string {
	name = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`:\/?*[]`, r) {
			return '_'
		}
		return r
	}, strings.TrimSpace(name))
	name = strings.Trim(name, "'")
	if name == "" {
		name = fmt.Sprintf("表%d", i+1)
	}
	trim := func(s string, n int) string {
		for utf8.RuneCountInString(s) > n {
			_, size := utf8.DecodeLastRuneInString(s)
			s = s[:len(s)-size]
		}
		return s
	}
	base := trim(name, 31)
	name = base
	for k := 2; used[name]; k++ {
		suffix := fmt.Sprintf("(%d)", k)
		name = trim(base, 31-len(suffix)) + suffix
	}
	used[name] = true
	return name
}
