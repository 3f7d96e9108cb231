package abc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"aidmall/bizday"
	"aidmall/money"
	"aidmall/orders"
)

func bundleStatement(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "yichuan-dingbian-2019", "statement-abc.jsonl"))
	if err != nil {
		t.Skipf("bundle statement not present: %v", err)
	}
	return b
}

// Every line of the real bundle's statement parses; the counts and money are checked
// against an independent reading of the same file (generic JSON, no adapter code).
func TestParseStatement_bundle_every_line_parses(t *testing.T) {
	t.Parallel()
	raw := bundleStatement(t)
	events, bad, err := ParseStatement(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range bad {
		t.Errorf("bundle line refused: %v", e)
	}
	lines := bytes.Split(bytes.TrimRight(raw, "\n"), []byte("\n"))
	if len(events) != len(lines) {
		t.Fatalf("%d events from %d lines", len(events), len(lines))
	}
	wantType := map[string]orders.EventType{"ORDER_CONFIRMED": orders.EventAccepted, "ITEM_SHIPPED": orders.EventShipped,
		"ITEM_DELIVERED": orders.EventDelivered, "ITEM_REFUNDED": orders.EventRefunded, "ORDER_CANCELLED": orders.EventCancelled}
	var refunds, gotRefunds money.Fen
	var delivered, gotDelivered int64
	for i, l := range lines {
		var g map[string]any
		if err := json.Unmarshal(l, &g); err != nil {
			t.Fatal(err)
		}
		ev := events[i]
		if string(ev.EventID) != g["eventId"] || ev.Type != wantType[g["eventType"].(string)] || string(ev.OutOrderNo) != g["partnerOrderNo"] ||
			ev.MallOrderNo != g["mallOrderNo"] || ev.Source != "statement" || ev.Mall != Code {
			t.Errorf("line %d: %+v from %s", i+1, ev, l)
		}
		if ev.OccurredAt.Format("2006-01-02T15:04:05-07:00") != g["occurredAt"] {
			t.Errorf("line %d: occurred at %v, file says %v", i+1, ev.OccurredAt, g["occurredAt"])
		}
		if g["lineNo"] == nil && ev.LineNo != 0 {
			t.Errorf("line %d: null lineNo read as %d", i+1, ev.LineNo)
		}
		refunds += money.Fen(g["refundFen"].(float64))
		gotRefunds += ev.RefundFen
		if g["eventType"] == "ITEM_DELIVERED" {
			delivered += int64(g["quantity"].(float64))
		}
		if ev.Type == orders.EventDelivered {
			gotDelivered += ev.Quantity
		}
	}
	if gotRefunds != refunds || refunds == 0 {
		t.Errorf("refunds %v, file has %v", gotRefunds, refunds)
	}
	if gotDelivered != delivered || delivered == 0 {
		t.Errorf("delivered units %d, file has %d", gotDelivered, delivered)
	}
}

const goodLine = `{"eventId":"EVT-1","eventType":"ITEM_SHIPPED","occurredAt":"2019-03-05T12:00:00+08:00","partnerOrderNo":"AM1","mallOrderNo":"ABC1","lineNo":2,"quantity":5,"refundFen":0}`

func TestParseStatement_bad_lines_are_reported_by_number_and_the_rest_kept(t *testing.T) {
	t.Parallel()
	line := func(from, to string) string { return strings.Replace(goodLine, from, to, 1) }
	for _, tc := range []struct {
		name   string
		line   string
		column string
		reason string // when set, the reason said, in a clerk's words
	}{
		{"not_json", `EVT-1,ITEM_SHIPPED`, "", ""},
		{"json_array", `[1,2]`, "", ""},
		{"two_objects_on_one_line", goodLine + ` {}`, "", ""},
		{"unknown_event_type", line("ITEM_SHIPPED", "ITEM_LOST"), "eventType", ""},
		{"missing_event_id", line(`"eventId":"EVT-1",`, ""), "eventId", ""},
		{"empty_partner_order_no", line(`"AM1"`, `""`), "partnerOrderNo", ""},
		{"time_without_offset", line("2019-03-05T12:00:00+08:00", "2019-03-05T12:00:00"), "occurredAt", ""},
		{"date_only", line("2019-03-05T12:00:00+08:00", "2019-03-05"), "occurredAt", ""},
		{"quantity_as_string", line(`"quantity":5`, `"quantity":"5"`), "quantity", "wrong type (text, want a whole number)"},
		{"quantity_fractional", line(`"quantity":5`, `"quantity":5.5`), "quantity", "wrong type (a number with a fraction or out of range, want a whole number)"},
		{"refund_as_true", line(`"refundFen":0`, `"refundFen":true`), "refundFen", "wrong type (true or false, want a whole number)"},
		{"item_event_without_line", line(`"lineNo":2`, `"lineNo":null`), "lineNo", ""},
		{"item_event_with_line_zero", line(`"lineNo":2`, `"lineNo":0`), "lineNo", ""},
		{"shipped_zero_units", line(`"quantity":5`, `"quantity":0`), "", ""},
		{"refund_on_a_shipment", line(`"refundFen":0`, `"refundFen":100`), "refundFen", ""},
		{"refund_without_amount", line("ITEM_SHIPPED", "ITEM_REFUNDED"), "", ""},
		{"negative_refund", strings.Replace(line("ITEM_SHIPPED", "ITEM_REFUNDED"), `"refundFen":0`, `"refundFen":-100`, 1), "", ""},
		{"line_on_a_whole_order_event", line("ITEM_SHIPPED", "ORDER_CANCELLED"), "lineNo", ""},
		{"not_utf8", line("AM1", "AM\xff"), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := goodLine + "\n" + tc.line + "\n" + strings.Replace(goodLine, "EVT-1", "EVT-3", 1) + "\n"
			events, bad, err := ParseStatement(strings.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			if len(bad) != 1 || bad[0].Row != 2 || bad[0].Column != tc.column || bad[0].Reason == "" {
				t.Fatalf("row errors = %+v, want one on row 2, column %q", bad, tc.column)
			}
			if tc.reason != "" && !strings.Contains(bad[0].Reason, tc.reason) {
				t.Errorf("reason %q, want %q", bad[0].Reason, tc.reason)
			}
			if len(events) != 2 || events[0].EventID != "EVT-1" || events[1].EventID != "EVT-3" {
				t.Errorf("events = %+v, want lines 1 and 3", events)
			}
		})
	}
}

func TestParseStatement_layout(t *testing.T) {
	t.Parallel()
	whole := `{"eventId":"EVT-2","eventType":"ORDER_CONFIRMED","occurredAt":"2019-03-05T10:00:00+08:00","partnerOrderNo":"AM1","mallOrderNo":"ABC1","lineNo":0,"quantity":0,"refundFen":0}`
	for _, tc := range []struct {
		name, in string
		want     int
	}{
		{"bom_crlf_blank_lines_and_no_final_newline", "\ufeff" + goodLine + "\r\n\r\n" + whole, 2},
		{"empty_input", "", 0},
		{"whole_order_event_with_zero_line_and_quantity", whole + "\n", 1},
		{"unknown_field_is_ignored", strings.Replace(goodLine, `"refundFen":0`, `"refundFen":0,"carrier":"SF"`, 1), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			events, bad, err := ParseStatement(strings.NewReader(tc.in))
			if err != nil || len(bad) != 0 || len(events) != tc.want {
				t.Errorf("events %d, bad %v, err %v; want %d events", len(events), bad, err, tc.want)
			}
		})
	}

	t.Run("overlong_line_is_skipped_and_counted", func(t *testing.T) {
		t.Parallel()
		long := strings.Replace(goodLine, "EVT-1", "EVT-"+strings.Repeat("9", MaxStatementLine), 1)
		events, bad, err := ParseStatement(strings.NewReader(goodLine + "\n" + long + "\n" + goodLine + "\n"))
		if err != nil || len(events) != 2 || len(bad) != 1 || bad[0].Row != 2 {
			t.Errorf("events %d, bad %v, err %v", len(events), bad, err)
		}
	})
	t.Run("reader_failure_is_an_error", func(t *testing.T) {
		t.Parallel()
		boom := errors.New("disk gone")
		_, _, err := ParseStatement(iotest.ErrReader(boom))
		if !errors.Is(err, boom) {
			t.Errorf("error = %v", err)
		}
	})
}

func TestClientStatement(t *testing.T) {
	t.Parallel()
	m := newFakeMall(t, newKeys(t))
	m.statements["2019-03-05"] = goodLine + "\nnot json\n"
	c := m.client(t, nil)
	events, bad, err := c.Statement(context.Background(), bizday.MustParse("2019-03-05"))
	if err != nil || len(events) != 1 || len(bad) != 1 || bad[0].Row != 2 || events[0].Source != "statement" {
		t.Errorf("statement: %+v %+v %v", events, bad, err)
	}
	_, _, err = c.Statement(context.Background(), bizday.MustParse("2019-03-06"))
	if me := mallError(t, err); !me.NotFound {
		t.Errorf("missing statement: %+v", me)
	}
}

// FuzzParseStatement: never panics; every event it returns is valid and from the
// statement; row numbers are within the input; good lines plus bad lines never exceed
// the lines read.
func FuzzParseStatement(f *testing.F) {
	f.Add([]byte(goodLine + "\n"))
	f.Add([]byte("\ufeff" + goodLine + "\r\n\r\n{}\n[]"))
	f.Add([]byte(`{"eventId":"E","eventType":"ITEM_REFUNDED","occurredAt":"2019-03-05T12:00:00Z","partnerOrderNo":"A","mallOrderNo":"B","lineNo":1,"quantity":null,"refundFen":1}`))
	f.Add([]byte("\n\n\xff\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		events, bad, err := ParseStatement(bytes.NewReader(in))
		if err != nil {
			t.Fatalf("in-memory reader: %v", err)
		}
		lines := bytes.Count(in, []byte("\n")) + 1
		if len(events)+len(bad) > lines {
			t.Fatalf("%d events + %d bad from %d lines", len(events), len(bad), lines)
		}
		for _, e := range events {
			if err := e.Validate(); err != nil || e.Source != "statement" || e.Mall != Code {
				t.Fatalf("invalid event %+v: %v", e, err)
			}
		}
		for _, b := range bad {
			if b.Row < 1 || b.Row > lines || b.Reason == "" {
				t.Fatalf("row error %+v outside %d lines", b, lines)
			}
		}
	})
}
