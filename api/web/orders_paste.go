package web

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// pastedRow is one recipient read from rows pasted from a spreadsheet, with its row
// number in the pasted text (1-based, blank rows counted) so that a bad row can be named.
type pastedRow struct {
	Row                  int
	Name, Phone, Address string
	Quantity             int64
	Err                  string // why the row cannot be read; "" when it can
}

// parsePasted reads recipients pasted from a spreadsheet: one per row, name, phone,
// address and quantity separated by tabs (Excel, WPS) or commas (a CSV, or typed by hand;
// an address with commas in it keeps them, the quantity being the last cell). Blank rows
// are skipped and a first row of headers (姓名…) is recognised and skipped. Every row that
// cannot be read is returned with Err set, in Chinese.
func parsePasted(text string) []pastedRow {
	var out []pastedRow
	first := true
	for i, raw := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		line := strings.TrimSpace(strings.TrimPrefix(raw, "\ufeff"))
		if line == "" {
			continue
		}
		cells := splitRow(strings.TrimRight(raw, "\r"))
		if first {
			first = false
			if h := strings.ToLower(cells[0]); strings.Contains(h, "姓名") || strings.Contains(h, "收件人") || h == "name" {
				continue
			}
		}
		r := pastedRow{Row: i + 1}
		if len(cells) < 4 {
			r.Err = fmt.Sprintf("应有姓名、电话、地址、数量 4 列，这一行只有 %d 列", len(cells))
			out = append(out, r)
			continue
		}
		r.Name, r.Phone = cells[0], cells[1]
		r.Address = strings.Join(cells[2:len(cells)-1], "，")
		qty := strings.TrimSpace(cells[len(cells)-1])
		n, err := strconv.ParseInt(qty, 10, 64)
		switch {
		case r.Name == "" || r.Phone == "" || r.Address == "":
			r.Err = "姓名、电话、地址都要填写"
		case err != nil || n <= 0:
			r.Err = fmt.Sprintf("数量“%s”不是正整数", truncate(qty, 20))
		default:
			r.Quantity = n
		}
		out = append(out, r)
	}
	return out
}

// splitRow splits one pasted row into trimmed cells: on tabs when it has any, else on
// commas (ASCII or full-width).
func splitRow(row string) []string {
	var cells []string
	if strings.Contains(row, "\t") {
		cells = strings.Split(row, "\t")
	} else {
		cells = strings.Split(strings.ReplaceAll(row, "，", ","), ",")
	}
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	// A spreadsheet row often ends in empty cells: they are not columns.
	for len(cells) > 0 && cells[len(cells)-1] == "" {
		cells = cells[:len(cells)-1]
	}
	if len(cells) == 0 {
		return []string{""}
	}
	return cells
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
