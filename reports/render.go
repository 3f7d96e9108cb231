package reports

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"
	"golang.org/x/text/width"
)

// WriteJSON writes b as indented JSON (two spaces) followed by a newline: days as
// "YYYY-MM-DD", money as yuan strings with two decimals ("680.00"), rows as [] when there
// are none. It returns the writer's error.
func WriteJSON(w io.Writer, b Benefit) error {
	if b.Rows == nil {
		b.Rows = []Row{}
	}
	return WriteJSONValue(w, b)
}

// WriteJSONValue writes any report as indented JSON (two spaces, no HTML escaping)
// followed by a newline, with its own field names. It returns the writer's error.
func WriteJSONValue(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Charset is the encoding of a CSV file.
type Charset string

const (
	// UTF8BOM is UTF-8 preceded by a byte-order mark (EF BB BF), so that Excel on a Chinese
	// Windows opens the file as UTF-8 instead of GBK. The default.
	UTF8BOM Charset = "utf-8"
	// GB18030 is the Chinese national encoding (a superset of GBK), for tools that expect
	// the Windows code page; every character of Unicode has a form in it.
	GB18030 Charset = "gb18030"
)

// ParseCharset reads a charset name: "utf-8"/"utf8" (with BOM) or "gb18030", any case;
// "" is UTF8BOM.
func ParseCharset(s string) (Charset, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "utf-8", "utf8":
		return UTF8BOM, nil
	case "gb18030":
		return GB18030, nil
	}
	return "", fmt.Errorf("unknown charset %q: want utf-8 or gb18030", s)
}

// CSVOptions choose a CSV file's encoding and headers.
type CSVOptions struct {
	Charset Charset // "" is UTF8BOM
	// English writes the English headers (the JSON field names: households, net_amount)
	// instead of the Chinese ones (受益户数, 净额), for scripts; the data are the same.
	English bool
}

// WriteCSV writes b's document as CSV with the default options (UTF-8 with a BOM, Chinese
// headers): see WriteCSVDocument.
func WriteCSV(w io.Writer, b Benefit) error {
	return WriteCSVDocument(w, b.Document(), CSVOptions{})
}

// WriteCSVDocument writes d as CSV (RFC 4180) in o's charset. Each table comes first as a
// header row, its rows and its 合计 row (so the first line of the file is the first table's
// header); tables after the first are preceded by an empty line and their name. Then, after
// an empty line, the parameters and the headline indicators as label,value records, so the
// headline totals are in every file. Every record is padded to the width of the widest
// table, so strict readers read the file too. Money is yuan with two decimals ("680.00").
// It returns the writer's error.
func WriteCSVDocument(w io.Writer, d Document, o CSVOptions) error {
	var out io.Writer = w
	var enc io.WriteCloser
	switch o.Charset {
	case "", UTF8BOM:
		if _, err := io.WriteString(w, "\uFEFF"); err != nil {
			return err
		}
	case GB18030:
		enc = transform.NewWriter(w, simplifiedchinese.GB18030.NewEncoder())
		out = enc
	default:
		return fmt.Errorf("reports: unknown CSV charset %q", o.Charset)
	}
	width := 2
	for _, t := range d.Tables {
		width = max(width, len(t.Columns))
	}
	pad := func(rec []string) []string {
		for len(rec) < width {
			rec = append(rec, "")
		}
		return rec
	}
	label := func(name, title string) string {
		if o.English {
			return name
		}
		return title
	}
	cw := csv.NewWriter(out)
	for i, t := range d.Tables {
		if i > 0 {
			cw.Write(pad(nil))
			cw.Write(pad([]string{t.Name}))
		}
		head := make([]string, len(t.Columns))
		for j, c := range t.Columns {
			head[j] = label(c.Name, c.Title)
		}
		cw.Write(pad(head))
		for _, r := range t.Rows {
			cw.Write(pad(cells(r)))
		}
		if t.Total != nil {
			cw.Write(pad(cells(t.Total)))
		}
	}
	// The parameters and headline indicators follow the tables; a document without any
	// (a page's table) ends with its table.
	if fields := append(append([]Field{}, d.Params...), d.Headline...); len(fields) > 0 {
		if len(d.Tables) > 0 {
			cw.Write(pad(nil))
		}
		cw.Write(pad([]string{label("indicator", "指标"), label("value", "数值")}))
		for _, f := range fields {
			cw.Write(pad([]string{label(f.Name, f.Title), f.Value.String()}))
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	if enc != nil {
		return enc.Close()
	}
	return nil
}

func cells(vs []Value) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.String()
	}
	return out
}

// WriteTable writes b as a plain-text report for a terminal: see WriteText.
func WriteTable(w io.Writer, b Benefit) error {
	return WriteText(w, b.Document())
}

// WriteText writes d as a plain-text report for a terminal or a fixed-width printout: the
// title, the parameters, the headline indicators, then each table (with its 合计 row) aligned.
// Labels and headers are Chinese then English. Columns are aligned by display width: East
// Asian wide and fullwidth characters (县, Ａ) count as two columns (golang.org/x/text/width),
// combining marks as none. Numbers are right-aligned, money in yuan with two decimals. It
// returns the writer's error.
func WriteText(w io.Writer, d Document) error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s\n", bilingual(d.Title, d.Report))
	fields := func(fs []Field) {
		grid := make([][]string, 0, len(fs))
		numbers := false
		for _, f := range fs {
			grid = append(grid, []string{bilingual(f.Title, f.Name), f.Value.String()})
			numbers = numbers || f.Value.IsNumber()
		}
		writeGrid(&sb, grid, []bool{false, numbers})
	}
	fields(d.Params)
	if len(d.Headline) > 0 {
		sb.WriteString("\n")
		fields(d.Headline)
	}
	for _, t := range d.Tables {
		sb.WriteString("\n")
		if len(d.Tables) > 1 {
			sb.WriteString(t.Name + "\n")
		}
		head := make([]string, len(t.Columns))
		right := make([]bool, len(t.Columns))
		for j, c := range t.Columns {
			head[j] = bilingual(c.Title, c.Name)
			right[j] = c.Kind != KindText
		}
		grid := [][]string{head}
		for _, r := range t.Rows {
			grid = append(grid, cells(r))
		}
		if t.Total != nil {
			grid = append(grid, cells(t.Total))
		}
		writeGrid(&sb, grid, right)
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

// bilingual is "户数 households", or one of them when the other is empty or the same.
func bilingual(zh, en string) string {
	switch {
	case zh == "" || zh == en:
		return en
	case en == "":
		return zh
	}
	return zh + " " + en
}

// writeGrid writes cells in columns padded to their widest cell (display width), two
// spaces apart; right[i] right-aligns column i. Trailing spaces are trimmed.
func writeGrid(sb *strings.Builder, cells [][]string, right []bool) {
	widths := make([]int, len(right))
	for _, row := range cells {
		for i, c := range row {
			widths[i] = max(widths[i], DisplayWidth(c))
		}
	}
	for _, row := range cells {
		var line strings.Builder
		for i, c := range row {
			if i > 0 {
				line.WriteString("  ")
			}
			pad := strings.Repeat(" ", widths[i]-DisplayWidth(c))
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

// DisplayWidth returns the number of terminal columns s takes: 2 for East Asian wide and
// fullwidth characters, 0 for combining marks and format characters, 1 otherwise
// (ambiguous-width characters are taken as narrow, as most terminals outside CJK locales do).
func DisplayWidth(s string) int {
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
