package reports

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/width"

	"aidmall/money"
)

// WriteJSON writes b as indented JSON (two spaces) followed by a newline: days as
// "YYYY-MM-DD", money as yuan strings with two decimals ("680.00"), rows as [] when there
// are none. It returns the writer's error.
func WriteJSON(w io.Writer, b Benefit) error {
	if b.Rows == nil {
		b.Rows = []Row{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(b)
}

// WriteCSV writes b's rows as UTF-8 CSV (RFC 4180, no byte-order mark): a header row
// key,label,households,people,net_amount, one record per row in key order, then one total
// record with an empty key, label "合计", the totals' households and people (the period as
// a whole: not the sum of the rows) and the net of all rows. Money is in yuan with two
// decimals ("680.00", "-68.00"). It returns the writer's error.
func WriteCSV(w io.Writer, b Benefit) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"key", "label", "households", "people", "net_amount"}); err != nil {
		return err
	}
	var net money.Fen
	for _, r := range b.Rows {
		net += r.NetAmount
		if err := cw.Write([]string{r.Key, r.Label, strconv.Itoa(r.Households), strconv.Itoa(r.People), r.NetAmount.String()}); err != nil {
			return err
		}
	}
	if err := cw.Write([]string{"", "合计", strconv.Itoa(b.Totals.Households), strconv.Itoa(b.Totals.People), net.String()}); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// WriteTable writes b as a plain-text report for a terminal or a fixed-width printout:
// the period, zone and dimension, the totals, then the rows as an aligned table. Columns
// are aligned by display width: East Asian wide and fullwidth characters (县, Ａ) count as
// two columns (golang.org/x/text/width), combining marks as none. Numbers are right-
// aligned, money in yuan with two decimals. It returns the writer's error.
func WriteTable(w io.Writer, b Benefit) error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "受益统计 Benefit report\n")
	writeGrid(&sb, [][]string{
		{"期间 period", fmt.Sprintf("%s .. %s (%s)", b.From, b.To, b.Timezone)},
		{"维度 by", string(b.By)},
	}, []bool{false, false})
	sb.WriteString("\n")
	t := b.Totals
	writeGrid(&sb, [][]string{
		{"受益户数 households", strconv.Itoa(t.Households)},
		{"受益人口 people", strconv.Itoa(t.People)},
		{"购买金额 purchased (yuan)", t.PurchasedAmount.String()},
		{"帮助销售金额 helped to sell (yuan)", t.HelpedSellAmount.String()},
		{"未归属金额 unattributed (yuan)", t.UnattributedAmount.String()},
		{"签收金额 delivered (yuan)", t.DeliveredAmount.String()},
		{"退款金额 refunded (yuan)", t.RefundedAmount.String()},
	}, []bool{false, true})
	sb.WriteString("\n")
	grid := [][]string{{string(b.By), "名称 label", "户数 households", "人口 people", "净额 net (yuan)"}}
	for _, r := range b.Rows {
		grid = append(grid, []string{r.Key, r.Label, strconv.Itoa(r.Households), strconv.Itoa(r.People), r.NetAmount.String()})
	}
	writeGrid(&sb, grid, []bool{false, false, true, true, true})
	_, err := io.WriteString(w, sb.String())
	return err
}

// writeGrid writes cells in columns padded to their widest cell (display width), two
// spaces apart; right[i] right-aligns column i. Trailing spaces are trimmed.
func writeGrid(sb *strings.Builder, cells [][]string, right []bool) {
	widths := make([]int, len(right))
	for _, row := range cells {
		for i, c := range row {
			widths[i] = max(widths[i], displayWidth(c))
		}
	}
	for _, row := range cells {
		var line strings.Builder
		for i, c := range row {
			if i > 0 {
				line.WriteString("  ")
			}
			pad := strings.Repeat(" ", widths[i]-displayWidth(c))
			if right[i] {
				line.WriteString(pad + c)
			} else {
				line.WriteString(c + pad)
			}
		}
		sb.WriteString(strings.TrimRight(line.String(), " "))
		sb.WriteString("\n")
	}
}

// displayWidth returns the number of terminal columns s takes: 2 for East Asian wide and
// fullwidth characters, 0 for combining marks and format characters, 1 otherwise
// (ambiguous-width characters are taken as narrow, as most terminals outside CJK locales do).
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		case width.LookupRune(r).Kind() == width.EastAsianWide, width.LookupRune(r).Kind() == width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}
