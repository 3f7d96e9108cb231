package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// TestReportCommandFormats runs `aidmall report benefit` as a person and a script would:
// the default is an aligned text table; --format json is the API's JSON; --format csv
// --out writes a UTF-8 file with a BOM and Chinese headers; --format xlsx --out writes a
// workbook with a cover sheet. stderr carries no JSON log line (a person's commands log
// text, at warn unless -v), and an unknown format is refused before any work.
func TestReportCommandFormats(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "aidmall.db")
	env := func(k string) string {
		if k == "AIDMALL_DATA_DIR" {
			return dir
		}
		return ""
	}
	cli := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, append([]string{"--db", db}, args...), env, &out, &errOut)
		return out.String(), errOut.String(), err
	}
	if _, stderr, err := cli("import", "bundle", filepath.Join("..", "..", "examples", "yichuan-dingbian-2019")); err != nil {
		t.Fatalf("import: %v\n%s", err, stderr)
	}
	report := []string{"report", "benefit", "--from", "2019-01-01", "--to", "2019-12-31"}
	table, stderr, err := cli(report...)
	if err != nil || !strings.Contains(table, "受益户数 households") || strings.Contains(stderr, `{"time"`) {
		t.Fatalf("table: %v\nstdout:\n%s\nstderr:\n%s", err, table, stderr)
	}
	js, _, err := cli(append(report, "--format", "json")...)
	var decoded map[string]any
	if err != nil || json.Unmarshal([]byte(js), &decoded) != nil || decoded["totals"] == nil {
		t.Fatalf("json: %v\n%s", err, js)
	}
	csvFile := filepath.Join(dir, "benefit.csv")
	if _, stderr, err := cli(append(report, "--format", "csv", "--out", csvFile)...); err != nil {
		t.Fatalf("csv: %v %s", err, stderr)
	}
	b, err := os.ReadFile(csvFile)
	if err != nil || !bytes.HasPrefix(b, []byte("\uFEFF县,名称,受益户数,受益人数,净额\r\n")) && !bytes.HasPrefix(b, []byte("\uFEFF县,名称,受益户数,受益人数,净额\n")) {
		t.Fatalf("csv file %v: %q", err, b[:min(len(b), 80)])
	}
	xlsxFile := filepath.Join(dir, "benefit.xlsx")
	if _, stderr, err := cli(append(report, "--format", "xlsx", "--out", xlsxFile, "--by", "month")...); err != nil {
		t.Fatalf("xlsx: %v %s", err, stderr)
	}
	f, err := excelize.OpenFile(xlsxFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if sheets := f.GetSheetList(); len(sheets) != 2 || sheets[0] != "封面" || sheets[1] != "按月份" {
		t.Fatalf("sheets %q", sheets)
	}
	if _, _, err := cli(append(report, "--format", "pdf")...); err == nil || !strings.Contains(err.Error(), "--format") {
		t.Fatalf("--format pdf: %v", err)
	}
}
