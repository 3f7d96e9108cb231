package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"aidmall/adapters/xlsxreport"
	"aidmall/reports"
)

// reportFormatHelp is the part of every report command's help about its output.
const reportFormatHelp = `Output (--format): table (default: aligned text for people), json (the API's JSON, same
field names), csv (UTF-8 with a byte-order mark so Excel reads it; --charset gb18030 for
GB18030; Chinese headers, --headers en for the English field names; the table, its 合计 row,
then the parameters and headline totals) or xlsx (a cover sheet and one sheet per
breakdown). --out FILE writes to a file; xlsx is never written to a terminal.`

// reportOutput is the output flags every report command shares: --format, --out,
// --charset and --headers.
type reportOutput struct {
	format, out, charset, headers string
}

func (o *reportOutput) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.format, "format", "table", "table|json|csv|xlsx")
	cmd.Flags().StringVarP(&o.out, "out", "o", "", "write to this file instead of stdout")
	cmd.Flags().StringVar(&o.charset, "charset", "utf-8", "CSV encoding: utf-8 (with BOM) or gb18030")
	cmd.Flags().StringVar(&o.headers, "headers", "zh", "CSV headers: zh (Chinese) or en (JSON field names)")
}

// check refuses unknown values, and xlsx bound for a terminal, before any work is done.
func (o *reportOutput) check(g *globals) error {
	switch o.format {
	case "table", "json", "csv", "xlsx":
	default:
		return fmt.Errorf("--format must be table, json, csv or xlsx")
	}
	if _, err := reports.ParseCharset(o.charset); err != nil {
		return fmt.Errorf("--charset: %w", err)
	}
	if o.headers != "zh" && o.headers != "en" {
		return fmt.Errorf("--headers must be zh or en")
	}
	if o.format == "xlsx" && o.out == "" && isTerminal(g.stdout) {
		return fmt.Errorf("--format xlsx writes a binary workbook: give --out FILE.xlsx (or redirect stdout to a file)")
	}
	return nil
}

// write renders rep (any report: reports.DocumentOf lays it out) in the chosen format to
// --out or stdout. A file is written whole or not at all (a temporary file renamed).
func (o *reportOutput) write(g *globals, name string, rep any) (err error) {
	w := g.stdout
	var tmp *os.File
	if o.out != "" {
		tmp, err = os.CreateTemp(filepath.Dir(o.out), "."+filepath.Base(o.out)+".*")
		if err != nil {
			return err
		}
		defer func() {
			if err != nil {
				tmp.Close()
				os.Remove(tmp.Name())
			}
		}()
		w = tmp
	}
	if err := o.render(w, name, rep); err != nil {
		return err
	}
	if tmp == nil {
		return nil
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), o.out); err != nil {
		return err
	}
	fmt.Fprintf(g.stderr, "%s written to %s\n", strings.ToUpper(o.format), o.out)
	return nil
}

func (o *reportOutput) render(w io.Writer, name string, rep any) error {
	if o.format == "json" {
		return reports.WriteJSONValue(w, rep)
	}
	doc, err := reports.DocumentOf(rep, name)
	if err != nil {
		return err
	}
	switch o.format {
	case "csv":
		cs, _ := reports.ParseCharset(o.charset)
		return reports.WriteCSVDocument(w, doc, reports.CSVOptions{Charset: cs, English: o.headers == "en"})
	case "xlsx":
		return xlsxreport.Write(w, doc, time.Now())
	}
	return reports.WriteText(w, doc)
}
