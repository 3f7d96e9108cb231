package ccb_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"aidmall/adapters/ccb"
	"aidmall/money"
	"aidmall/orders"
)

const stmtHeader = "通知编号,事件类型,商户订单号,商城订单号,行号,数量,退款金额,发生时间"

func gb18030(t testing.TB, s string) []byte {
	t.Helper()
	b, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func bundleStatement(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "yichuan-dingbian-2019", "statement-ccb.csv"))
	if err != nil {
		t.Fatalf("the repository's bundle copy is missing: %v", err)
	}
	return b
}

func TestParseStatementBundle(t *testing.T) {
	t.Parallel()
	raw := bundleStatement(t)
	// Count the rows without the parser: every line ends with CRLF, the first is the header.
	lines := strings.Split(strings.TrimSuffix(string(raw), "\r\n"), "\r\n")
	rows := lines[1:]
	ids := map[string]int{}
	for _, r := range rows {
		ids[strings.SplitN(r, ",", 2)[0]]++
	}

	evs, bad, err := ccb.ParseStatement(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 0 {
		t.Fatalf("%d bad rows in the bundle, first %v", len(bad), bad[0])
	}
	if len(evs) != len(rows) {
		t.Fatalf("%d events, the file has %d rows", len(evs), len(rows))
	}
	seen := map[orders.MallEventID]int{}
	for i, e := range evs {
		if e.Mall != ccb.Code || e.Source != "statement" {
			t.Fatalf("event %d: mall %q source %q", i, e.Mall, e.Source)
		}
		if string(e.EventID) != strings.SplitN(rows[i], ",", 2)[0] {
			t.Fatalf("event %d is %s, file order has %s", i, e.EventID, rows[i])
		}
		seen[e.EventID]++
	}
	repeated := 0
	for id, n := range ids {
		if seen[orders.MallEventID(id)] != n {
			t.Errorf("%s: %d events, %d rows", id, seen[orders.MallEventID(id)], n)
		}
		if n > 1 {
			repeated++
		}
	}
	if repeated == 0 {
		t.Error("expected the bundle to repeat some events (the README says statements may)")
	}

	// The row "N20190108101245001259,order.refunded,AM20181220101522000002,CCB20181220000163,1,6,408.00,2019-01-08 10:12:45".
	var refund *orders.FulfilmentEvent
	for i := range evs {
		if evs[i].EventID == "N20190108101245001259" {
			refund = &evs[i]
		}
	}
	if refund == nil {
		t.Fatal("refund N20190108101245001259 not found")
	}
	if refund.Type != orders.EventRefunded || refund.LineNo != 1 || refund.Quantity != 6 || refund.RefundFen != money.Fen(40800) ||
		refund.OutOrderNo != "AM20181220101522000002" || refund.MallOrderNo != "CCB20181220000163" ||
		refund.OccurredAt.Format("2006-01-02 15:04:05 -0700") != "2019-01-08 10:12:45 +0800" {
		t.Errorf("refund = %+v", *refund)
	}
}

func TestParseStatementEncodingAndLayout(t *testing.T) {
	t.Parallel()
	body := stmtHeader + "\r\nN1,order.accepted,AM1,CCB1,,,,2019-03-12 10:00:00\r\nN2,order.shipped,AM1,CCB1,1,5,,2019-03-13 10:00:00\r\n"
	tests := []struct {
		name    string
		raw     []byte
		want    int
		wantErr bool
	}{
		{"gb18030_crlf_is_read", gb18030(t, body), 2, false},
		{"gb18030_lf_is_read", gb18030(t, strings.ReplaceAll(body, "\r\n", "\n")), 2, false},
		{"no_final_newline_is_read", gb18030(t, strings.TrimSuffix(body, "\r\n")), 2, false},
		{"byte_order_mark_is_skipped", append(gb18030(t, "\ufeff"), gb18030(t, body)...), 2, false},
		{"blank_lines_are_skipped", gb18030(t, strings.ReplaceAll(body, "\r\n", "\r\n\r\n")), 2, false},
		{"columns_in_another_order_are_matched_by_name", gb18030(t,
			"发生时间,通知编号,事件类型,商户订单号,商城订单号,行号,数量,退款金额\n2019-03-12 10:00:00,N1,order.accepted,AM1,CCB1,,,\n"), 1, false},
		{"header_only_is_an_empty_day", gb18030(t, stmtHeader+"\r\n"), 0, false},
		{"utf8_file_is_refused_not_misread", []byte(body), 0, true},
		{"empty_file_is_refused", nil, 0, true},
		{"header_lacking_a_column_is_refused", gb18030(t, "通知编号,事件类型\r\nN1,order.accepted\r\n"), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			evs, bad, err := ccb.ParseStatement(bytes.NewReader(tt.raw))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("no error; events %v", evs)
				}
				return
			}
			if err != nil || len(bad) != 0 || len(evs) != tt.want {
				t.Fatalf("ParseStatement = %d events, bad %v, err %v; want %d events", len(evs), bad, err, tt.want)
			}
		})
	}
}

func TestParseStatementBadRows(t *testing.T) {
	t.Parallel()
	const good1 = "N1,order.shipped,AM1,CCB1,1,5,,2019-03-13 10:00:00"
	const good2 = "N3,order.delivered,AM1,CCB1,1,5,,2019-03-14 10:00:00"
	tests := []struct {
		name, row, column string
	}{
		{"unknown_event_type", "N2,order.lost,AM1,CCB1,1,5,,2019-03-13 11:00:00", "事件类型"},
		{"line_number_not_a_number", "N2,order.shipped,AM1,CCB1,一,5,,2019-03-13 11:00:00", "行号"},
		{"line_event_without_line_number", "N2,order.delivered,AM1,CCB1,,5,,2019-03-13 11:00:00", "行号"},
		{"quantity_not_a_whole_number", "N2,order.shipped,AM1,CCB1,1,2.5,,2019-03-13 11:00:00", "数量"},
		{"refund_without_amount", "N2,order.refunded,AM1,CCB1,1,1,,2019-03-13 11:00:00", "退款金额"},
		{"refund_amount_not_yuan", "N2,order.refunded,AM1,CCB1,1,1,¥4,2019-03-13 11:00:00", "退款金额"},
		{"time_not_beijing_layout", "N2,order.shipped,AM1,CCB1,1,5,,2019/03/13 11:00", "发生时间"},
		{"missing_notify_id", ",order.shipped,AM1,CCB1,1,5,,2019-03-13 11:00:00", "通知编号"},
		{"missing_out_order_no", "N2,order.shipped,,CCB1,1,5,,2019-03-13 11:00:00", "商户订单号"},
		{"too_few_fields", "N2,order.shipped,AM1", ""},
		{"broken_quoting", `N2,"order.shipped,AM1,CCB1,1,5,,2019-03-13 11:00:00`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			raw := gb18030(t, strings.Join([]string{stmtHeader, good1, tt.row, good2}, "\r\n")+"\r\n")
			evs, bad, err := ccb.ParseStatement(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if len(bad) != 1 || bad[0].Row != 3 || bad[0].Column != tt.column || bad[0].Reason == "" {
				t.Fatalf("bad rows = %+v, want one at row 3 column %q", bad, tt.column)
			}
			if len(evs) != 2 || evs[0].EventID != "N1" || evs[1].EventID != "N3" {
				t.Fatalf("good rows = %+v, want N1 and N3", evs)
			}
			if !strings.Contains(bad[0].Error(), "row 3") {
				t.Errorf("Error() = %q does not name the row", bad[0].Error())
			}
		})
	}
}

// FuzzParseStatement checks that ParseStatement never panics and that whatever it returns
// is consistent: valid statement events, bad rows after the header, no more results than
// lines.
func FuzzParseStatement(f *testing.F) {
	f.Add(gb18030(f, stmtHeader+"\r\nN1,order.refunded,AM1,CCB1,1,2,42.00,2019-03-12 09:00:00\r\n"))
	f.Add(gb18030(f, stmtHeader+"\nN1,order.accepted,AM1,CCB1,,,,2019-03-12 09:00:00\nN2,\"x\n"))
	f.Add(gb18030(f, stmtHeader+"\r\nN1,order.shipped,AM1,CCB1,99999999999999999999,1,,2019-02-30 09:00:00\r\n"))
	f.Add([]byte{0x81, 0x30, 0x81, 0x30, 0xff, '\r', '\n', ','})
	f.Add([]byte(""))
	raw := bundleStatement(f)
	f.Add(raw[:min(len(raw), 2000)])
	f.Fuzz(func(t *testing.T, raw []byte) {
		evs, bad, err := ccb.ParseStatement(bytes.NewReader(raw))
		if err != nil {
			if len(evs) != 0 || len(bad) != 0 {
				t.Fatal("results returned with a whole-file error")
			}
			return
		}
		lines := bytes.Count(raw, []byte("\n")) + 1
		if len(evs)+len(bad) > lines {
			t.Fatalf("%d events and %d bad rows from %d lines", len(evs), len(bad), lines)
		}
		for _, e := range evs {
			if verr := e.Validate(); verr != nil || e.Source != "statement" || e.Mall != ccb.Code {
				t.Fatalf("invalid event %+v: %v", e, verr)
			}
		}
		for _, b := range bad {
			if b.Row < 2 || b.Reason == "" {
				t.Fatalf("bad row %+v", b)
			}
		}
	})
}
