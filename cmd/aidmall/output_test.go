package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"aidmall/orders"
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
	if quarter, _, err := cli("report", "benefit", "--quarter", "2019Q1", "--format", "json"); err != nil || !strings.Contains(quarter, `"to": "2019-03-31"`) {
		t.Fatalf("benefit --quarter: %v\n%s", err, quarter)
	}

	// The report set writes through the same output: a table for people, the API's JSON,
	// CSV with the Chinese header, XLSX with a cover and the report's sheet.
	ind := []string{"report", "indicators", "--year", "2019"}
	table, _, err = cli(ind...)
	if err != nil || !strings.Contains(table, "消费帮扶指标 indicators") || !strings.Contains(table, "购买金额 purchased_amount") || !strings.Contains(table, "集团合计") {
		t.Fatalf("indicators table: %v\n%s", err, table)
	}
	js, _, err = cli(append(ind, "--format", "json")...)
	decoded = nil
	if err != nil || json.Unmarshal([]byte(js), &decoded) != nil || decoded["group"] == nil || decoded["branches"] == nil {
		t.Fatalf("indicators json: %v\n%s", err, js)
	}
	for _, c := range []struct {
		args   []string
		header string
	}{
		{ind, "\uFEFF工会单位,名称,购买金额,帮助销售金额,受益户数,受益人数,预算,已使用,使用比例"},
		{[]string{"report", "breakdown", "--by", "county,month", "--year", "2019", "--compare"}, "\uFEFF县,县名称,月份,月份名称,受益户数"},
		{[]string{"report", "suppliers", "--quarter", "2019Q1"}, "\uFEFF供应商,名称,县,受益户数"},
		{[]string{"report", "unattributed", "--year", "2019"}, "\uFEFF供应商,名称,县,签收金额"},
		{[]string{"report", "spending", "--month", "2019-03"}, "\uFEFF工会单位,名称,月份,下单金额"},
	} {
		file := filepath.Join(dir, c.args[1]+".csv")
		if _, stderr, err := cli(append(c.args, "--format", "csv", "--out", file)...); err != nil {
			t.Fatalf("%s csv: %v %s", c.args[1], err, stderr)
		}
		if b, err := os.ReadFile(file); err != nil || !bytes.HasPrefix(b, []byte(c.header)) {
			t.Errorf("%s csv %v: %q, want %q…", c.args[1], err, b[:min(len(b), 120)], c.header)
		}
	}
	indXLSX := filepath.Join(dir, "indicators.xlsx")
	if _, stderr, err := cli(append(ind, "--format", "xlsx", "--out", indXLSX)...); err != nil {
		t.Fatalf("indicators xlsx: %v %s", err, stderr)
	}
	fi, err := excelize.OpenFile(indXLSX)
	if err != nil {
		t.Fatal(err)
	}
	defer fi.Close()
	if sheets := fi.GetSheetList(); len(sheets) != 2 || sheets[0] != "封面" || sheets[1] != "按工会单位" {
		t.Fatalf("indicators sheets %q", sheets)
	}
	if _, _, err := cli(append(ind, "--format", "pdf")...); err == nil || !strings.Contains(err.Error(), "--format") {
		t.Fatalf("indicators --format pdf: %v", err)
	}
	// A year whose days no report covers is --year's fault, as an unreadable one is.
	for _, y := range []string{"1900", "9999", "19"} {
		if _, _, err := cli("report", "indicators", "--year", y); err == nil || !strings.HasPrefix(err.Error(), "--year: ") || jsonPointer.MatchString(err.Error()) {
			t.Fatalf("indicators --year %s: %v, want --year named", y, err)
		}
	}
	// A bad period or dimension is named by the flag to change, as typed, not by the
	// API's JSON pointer; it stays a validation error (its exit status).
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"benefit", "--from", "2019-13-01", "--to", "2019-12-31"}, "--from: "},
		{[]string{"benefit", "--from", "2019-01-01"}, "--to: "},
		{[]string{"benefit", "--from", "2019-12-01", "--to", "2019-01-31"}, "--to: "},
		{[]string{"benefit", "--year", "2019", "--by", "planet"}, "--by: "},
		{[]string{"benefit", "--year", "2019", "--by", "county,month"}, "--by: report benefit breaks down by one dimension, not "},
		{[]string{"breakdown", "--year", "2019", "--by", "county,county"}, "--by: "},
		{[]string{"breakdown", "--month", "2019-13", "--by", "county"}, "--month: "},
		{[]string{"suppliers", "--quarter", "2019Q5"}, "--quarter: "},
		// The period's own words name flags too; a complaint common to two flags is said
		// once; a period missing altogether is no one flag's fault.
		{[]string{"benefit", "--from", "2019-12-01", "--to", "2019-01-31"}, "--to: 2019-01-31 is before --from 2019-12-01"},
		{[]string{"benefit", "--from", "2019-01-01"}, "--to: required with --from "},
		{[]string{"benefit", "--year", "2019", "--month", "2019-03", "--by", "county"}, "--month, --year: give one of --from/--to, --month, --quarter or --year, not --month and --year"},
		{[]string{"benefit", "--by", "county"}, "give a period: --from and --to (YYYY-MM-DD), --month (YYYY-MM), --quarter (YYYYQn) or --year (YYYY)"},
	} {
		_, _, err := cli(append([]string{"report"}, c.args...)...)
		if err == nil || !strings.HasPrefix(err.Error(), c.flag) || jsonPointer.MatchString(err.Error()) || !errors.Is(err, orders.ErrInvalid) {
			t.Errorf("report %s: %v; want a validation error beginning %q and no JSON pointer", strings.Join(c.args, " "), err, c.flag)
		}
		if err != nil && strings.Count(err.Error(), "give one of") > 1 {
			t.Errorf("report %s: %v; the same complaint is said more than once", strings.Join(c.args, " "), err)
		}
	}
	if _, _, err := cli("budget", "list", "--year", "-1"); err == nil || !strings.HasPrefix(err.Error(), "--year: ") || jsonPointer.MatchString(err.Error()) {
		t.Errorf("budget list --year -1: %v; want --year named, no JSON pointer", err)
	}
	// A flag value that is not of its flag's type is said in the flag's words, not Go's.
	for _, c := range []struct{ cmd, flag, value string }{
		{"budget list", "--year", "2019x"},
		{"bench", "--duration", "3x"},
	} {
		_, _, err := cli(append(strings.Fields(c.cmd), c.flag, c.value)...)
		if err == nil || !strings.HasPrefix(err.Error(), c.flag+`: "`+c.value+`" is not a`) || strings.Contains(err.Error(), "strconv") || strings.Contains(err.Error(), "time: ") {
			t.Errorf("%s %s %s: %v; want %s named with what it must be", c.cmd, c.flag, c.value, err, c.flag)
		}
	}
}

// A domain error reaches the terminal as its own message, not the chain of wraps behind it.
func TestDescribeShowsTheDomainMessage(t *testing.T) {
	t.Parallel()
	inner := &orders.Error{Kind: orders.ErrNotFound, Message: `branch "NOPE" not found`, Err: errors.New(`branch "NOPE": not found`)}
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("set budget: %w", inner), `branch "NOPE" not found`},
		{errors.New("--year: not a year"), "--year: not a year"},
	}
	for _, tc := range tests {
		if got := describe(tc.err); got != tc.want {
			t.Errorf("describe(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// A mistyped subcommand of a command group fails (exit 1), as a mistyped command does; a
// script must not pass on `aidmall rollups verfy`. The group alone prints its help.
func TestUnknownSubcommandIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := func(string) string { return "" }
	for _, args := range [][]string{{"rollups", "verfy"}, {"report", "planet"}, {"users", "frobnicate"}, {"import", "household"}, {"frobnicate"}} {
		var out, errOut bytes.Buffer
		err := run(ctx, args, env, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), "unknown") {
			t.Errorf("aidmall %s: %v, want an unknown command error", strings.Join(args, " "), err)
		}
	}
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"rollups"}, env, &out, &errOut); err != nil || !strings.Contains(out.String(), "verify") {
		t.Errorf("aidmall rollups: %v, %q; want its help", err, out.String())
	}
}

// A command given too few or too many arguments says its usage line: what to give.
func TestWrongArgumentCountSaysUsage(t *testing.T) {
	t.Parallel()
	env := func(string) string { return "" }
	for _, c := range []struct {
		args  []string
		usage string
	}{
		{[]string{"household", "provenance"}, "usage: aidmall household provenance NO"},
		{[]string{"import", "statement"}, "usage: aidmall import statement FILE"},
		{[]string{"import", "households", "a.csv", "b.csv"}, "usage: aidmall import households FILE"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), c.args, env, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), c.usage) {
			t.Errorf("aidmall %s: %v; want it to say %q", strings.Join(c.args, " "), err, c.usage)
		}
	}
}

// jsonPointer finds an API parameter named by its JSON pointer (/from) in a message.
var jsonPointer = regexp.MustCompile(`(^|[\s(])/[a-z]`)

// A database URL of an unsupported kind is blamed on where it came from: --db, or the
// DATABASE_URL of the environment.
func TestBadDatabaseURLNamesItsSource(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"report", "indicators", "--year", "2019", "--db", "mysql://x/y"}, nil, "--db: unsupported database"},
		{[]string{"report", "indicators", "--year", "2019"}, map[string]string{"DATABASE_URL": "mysql://x/y"}, "config: DATABASE_URL: unsupported database"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), c.args, func(k string) string { return c.env[k] }, &out, &errOut)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("aidmall %s (env %v): %v; want it to begin %q", strings.Join(c.args, " "), c.env, err, c.want)
		}
	}
}
