package mallsim

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/bizday"
	mallpkg "aidmall/malls"
	"aidmall/money"
	"aidmall/orders"
)

// step is an expected scripted event, written from testdata/bundle by hand: sorted by
// (occurred_at, id), the repeated rows kept once.
type step struct {
	id     string
	typ    orders.EventType
	line   int
	qty    int64
	refund money.Fen
	at     string // Beijing time
}

var testScript = map[orders.Mall]map[string][]step{
	ccb.Code: {
		"T-CCB-1": {
			{"NT1-0001", orders.EventAccepted, 0, 0, 0, "2019-05-06 09:00:05"},
			{"NT1-0002", orders.EventShipped, 1, 10, 0, "2019-05-06 16:00:00"}, // same time as NT1-0003: id decides
			{"NT1-0003", orders.EventShipped, 2, 5, 0, "2019-05-06 16:00:00"},
			{"NT1-0004", orders.EventDelivered, 1, 8, 0, "2019-05-08 11:20:00"}, // partial delivery
			{"NT1-0005", orders.EventDelivered, 2, 5, 0, "2019-05-08 11:25:00"},
			{"NT1-0006", orders.EventRefunded, 2, 1, 4200, "2019-05-10 09:00:00"},
		},
		"T-CCB-2": {
			{"NT2-0001", orders.EventAccepted, 0, 0, 0, "2019-05-07 10:00:03"},
			{"NT2-0002", orders.EventCancelled, 0, 0, 0, "2019-05-07 13:00:00"},
		},
	},
	abc.Code: {
		"T-ABC-1": {
			{"EVT-T3-01", orders.EventAccepted, 0, 0, 0, "2019-12-30 15:00:07"},
			{"EVT-T3-02", orders.EventShipped, 1, 10, 0, "2019-12-31 10:00:00"},
			{"EVT-T3-03", orders.EventDelivered, 1, 10, 0, "2020-01-01 00:00:01"}, // crosses the year
			{"EVT-T3-04", orders.EventRefunded, 1, 2, 13800, "2020-01-03 11:30:00"},
		},
		"T-ABC-2": nil, // in orders.csv, nothing in the statement
	},
}

func beijing(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04:05", s, bizday.Beijing)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func checkSteps(t *testing.T, got []orders.FulfilmentEvent, want []step) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d events %q, want %d", len(got), types(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if string(g.EventID) != w.id || g.Type != w.typ || g.LineNo != w.line || g.Quantity != w.qty || g.RefundFen != w.refund ||
			!g.OccurredAt.Equal(beijing(t, w.at)) {
			t.Errorf("event %d: %s %s line %d qty %d refund %s at %s; want %+v", i, g.EventID, g.Type, g.LineNo, g.Quantity,
				g.RefundFen, g.OccurredAt.In(bizday.Beijing).Format(time.DateTime), w)
		}
	}
}

func TestLoadScript_small_bundle_orders_dedupes_and_assigns(t *testing.T) {
	t.Parallel()
	s, err := LoadScript(os.DirFS("testdata/bundle"))
	if err != nil {
		t.Fatalf("LoadScript: %v", err)
	}
	for m, refs := range testScript {
		if got := s.OrderRefs(m); len(got) != len(refs) {
			t.Errorf("%s order refs %q, want %d", m, got, len(refs))
		}
		for ref, want := range refs {
			t.Run(ref, func(t *testing.T) {
				got, ok := s.Events(m, ref)
				if !ok {
					t.Fatalf("%s %s not scripted", m, ref)
				}
				checkSteps(t, got, want)
			})
		}
	}
	if _, ok := s.Events(abc.Code, "T-CCB-1"); ok {
		t.Error("a CCB order is scripted at ABC")
	}
	if s.Len(ccb.Code) != 8 || s.Len(abc.Code) != 4 {
		t.Errorf("Len ccb %d abc %d, want 8 and 4 distinct events", s.Len(ccb.Code), s.Len(abc.Code))
	}
}

// Orders whose buyer_ref is a bundle order replay its statement events with the scripted
// ids, times, lines and amounts and the live order numbers; the statements serve them by
// Beijing day.
func TestScriptedReplay_sends_bundle_events_and_serves_statements(t *testing.T) {
	t.Parallel()
	script, err := LoadScript(os.DirFS("testdata/bundle"))
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, Options{Script: script, ReplayGap: time.Millisecond}, nil)
	ctx := context.Background()
	live := map[string]orders.CreateResult{}
	no := map[string]string{}
	for m, refs := range testScript {
		i := 0
		for ref := range refs {
			i++
			no[ref] = fmt.Sprintf("AMLIVE%s%016d", strings.ToUpper(string(m)), i)
			res, err := r.clients[m].Create(ctx, r.order(t, m, no[ref], ref))
			if err != nil {
				t.Fatalf("create %s: %v", ref, err)
			}
			live[ref] = res
		}
	}
	r.waitIdle(t)
	for m, refs := range testScript {
		for ref, want := range refs {
			got := r.hook.acked(m, no[ref])
			checkSteps(t, got, want)
			for _, e := range got {
				if e.MallOrderNo != live[ref].MallOrderNo {
					t.Errorf("%s carries mall order %s, live order is %s", e.EventID, e.MallOrderNo, live[ref].MallOrderNo)
				}
			}
		}
	}

	v, err := r.ccb.Query(ctx, orders.OutOrderNo(no["T-CCB-1"]))
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != "PARTIALLY_DELIVERED" || v.Lines[0].Delivered != 8 || v.Lines[1].Delivered != 5 || v.Lines[1].Refunded != 4200 {
		t.Errorf("T-CCB-1 after replay: %+v", v)
	}
	if v, err := r.ccb.Query(ctx, orders.OutOrderNo(no["T-CCB-2"])); err != nil || v.Status != "CANCELLED" {
		t.Errorf("T-CCB-2 after a scripted cancel: %+v %v", v, err)
	}
	if v, err := r.abc.Query(ctx, orders.OutOrderNo(no["T-ABC-2"])); err != nil || v.Status != "CREATED" {
		t.Errorf("T-ABC-2 with an empty script: %+v %v, want CREATED", v, err)
	}

	stmt := []struct {
		mall orders.Mall
		day  string
		ids  string
	}{
		{ccb.Code, "2019-05-06", "NT1-0001 NT1-0002 NT1-0003"},
		{ccb.Code, "2019-05-07", "NT2-0001 NT2-0002"},
		{ccb.Code, "2019-05-10", "NT1-0006"},
		{ccb.Code, "2019-05-09", ""},
		{abc.Code, "2019-12-31", "EVT-T3-02"}, // EVT-T3-03 is 2019-12-31 in UTC, not in Beijing
		{abc.Code, "2020-01-01", "EVT-T3-03"},
		{abc.Code, "2020-01-03", "EVT-T3-04"},
	}
	for _, c := range stmt {
		var evs []orders.FulfilmentEvent
		var rows []mallpkg.RowError
		var err error
		if c.mall == ccb.Code {
			evs, rows, err = r.ccb.Statement(ctx, bizday.MustParse(c.day))
		} else {
			evs, rows, err = r.abc.Statement(ctx, bizday.MustParse(c.day))
		}
		bad := len(rows)
		if err != nil || bad != 0 {
			t.Fatalf("%s statement %s: %v, %d bad rows", c.mall, c.day, err, bad)
		}
		var ids []string
		for _, e := range evs {
			ids = append(ids, string(e.EventID))
			if e.Type == orders.EventRefunded && e.RefundFen == 0 {
				t.Errorf("%s statement %s: refund %s without amount", c.mall, c.day, e.EventID)
			}
			if !strings.HasPrefix(string(e.OutOrderNo), "AMLIVE") {
				t.Errorf("statement event %s names order %s, want the live one", e.EventID, e.OutOrderNo)
			}
		}
		if got := strings.Join(ids, " "); got != c.ids {
			t.Errorf("%s statement %s: %q, want %q", c.mall, c.day, got, c.ids)
		}
	}
}

// Every statement event of the real bundle belongs to one of its orders; counted here
// without the adapters' parsers.
func TestLoadScript_real_bundle_assigns_every_event(t *testing.T) {
	t.Parallel()
	dir := "../../examples/yichuan-dingbian-2019"
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("bundle not present: %v", err)
	}
	s, err := LoadScript(os.DirFS(dir))
	if err != nil {
		t.Fatalf("LoadScript: %v", err)
	}
	refOf := map[string]string{}
	f, err := os.Open(dir + "/orders.csv")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs[1:] {
		refOf[rec[6]] = rec[0]
	}
	want := map[orders.Mall]map[string]bool{ccb.Code: {}, abc.Code: {}}
	cf, err := os.Open(dir + "/statement-ccb.csv")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(simplifiedchinese.GB18030.NewDecoder().Reader(cf))
	for sc.Scan() {
		if id, _, _ := strings.Cut(sc.Text(), ","); id != "通知编号" && id != "" {
			want[ccb.Code][id] = true
		}
	}
	cf.Close()
	af, err := os.ReadFile(dir + "/statement-abc.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(af)), "\n") {
		var e struct{ EventID string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		want[abc.Code][e.EventID] = true
	}
	for _, m := range malls {
		if s.Len(m) != len(want[m]) || len(want[m]) == 0 {
			t.Errorf("%s: %d scripted events, the statement has %d distinct ids", m, s.Len(m), len(want[m]))
		}
		for _, ref := range s.OrderRefs(m) {
			evs, _ := s.Events(m, ref)
			for i, e := range evs {
				if refOf[string(e.OutOrderNo)] != ref {
					t.Errorf("%s event %s of %s is under order %s", m, e.EventID, e.OutOrderNo, ref)
				}
				if !want[m][string(e.EventID)] {
					t.Errorf("%s event %s is not in the statement", m, e.EventID)
				}
				if i > 0 && eventLess(e, evs[i-1]) {
					t.Errorf("%s order %s: %s replays before %s", m, ref, evs[i-1].EventID, e.EventID)
				}
			}
		}
	}
}

func TestLoadScript_refuses_inconsistent_bundles(t *testing.T) {
	t.Parallel()
	const ordersCSV = "order_ref,mall,out_order_no\nR1,abc,AM1\nR2,ccb,AM2\n"
	const ev = `{"eventId":"E1","eventType":"ORDER_CONFIRMED","occurredAt":"2019-03-01T10:00:00+08:00","partnerOrderNo":"%s","mallOrderNo":"ABC1","lineNo":null,"quantity":null,"refundFen":0}` + "\n"
	cases := []struct {
		name string
		want string // in the error
		fs   fstest.MapFS
	}{
		{"no_orders_csv", "does not exist", fstest.MapFS{"statement-abc.jsonl": {Data: []byte(fmt.Sprintf(ev, "AM1"))}}},
		{"event_of_unknown_order", "AM9 is not in orders.csv for mall abc", fstest.MapFS{"orders.csv": {Data: []byte(ordersCSV)},
			"statement-abc.jsonl": {Data: []byte(fmt.Sprintf(ev, "AM9"))}}},
		{"event_of_an_order_at_the_other_mall", "AM2 is not in orders.csv for mall abc", fstest.MapFS{"orders.csv": {Data: []byte(ordersCSV)},
			"statement-abc.jsonl": {Data: []byte(fmt.Sprintf(ev, "AM2"))}}},
		{"one_id_two_contents", "two contents", fstest.MapFS{"orders.csv": {Data: []byte(ordersCSV)},
			"statement-abc.jsonl": {Data: []byte(fmt.Sprintf(ev, "AM1") + strings.Replace(fmt.Sprintf(ev, "AM1"), "10:00:00", "11:00:00", 1))}}},
		{"bad_statement_row", "row 1", fstest.MapFS{"orders.csv": {Data: []byte(ordersCSV)},
			"statement-abc.jsonl": {Data: []byte("{not json}\n")}}},
		{"unknown_mall", "unknown mall", fstest.MapFS{"orders.csv": {Data: []byte("order_ref,mall,out_order_no\nR1,icbc,AM1\n")}}},
		{"repeated_out_order_no", "AM1 repeated", fstest.MapFS{"orders.csv": {Data: []byte(ordersCSV + "R3,abc,AM1\n")}}},
		{"ccb_statement_not_gb18030_header", "lacks column", fstest.MapFS{"orders.csv": {Data: []byte(ordersCSV)},
			"statement-ccb.csv": {Data: []byte("id,type\n")}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := LoadScript(c.fs)
			if err == nil {
				t.Fatal("LoadScript accepted the bundle")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}
	t.Run("missing_statements_mean_no_events", func(t *testing.T) {
		t.Parallel()
		s, err := LoadScript(fstest.MapFS{"orders.csv": {Data: []byte(ordersCSV)}})
		if err != nil {
			t.Fatal(err)
		}
		if evs, ok := s.Events(abc.Code, "R1"); !ok || len(evs) != 0 {
			t.Fatalf("R1: %v %v, want scripted with no events", evs, ok)
		}
	})
}

// The CCB statement is GB18030 with CRLF and the spec's header, readable by the adapter.
func TestWriteCCBStatement_is_gb18030_with_the_spec_header(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	evs := []orders.FulfilmentEvent{{Mall: ccb.Code, EventID: "N1", Type: orders.EventRefunded, OutOrderNo: "AM1",
		MallOrderNo: "CCB1", LineNo: 2, Quantity: 1, RefundFen: 4200, OccurredAt: beijing(t, "2019-05-10 09:00:00")}}
	if err := writeCCBStatement(&b, evs); err != nil {
		t.Fatal(err)
	}
	text, err := simplifiedchinese.GB18030.NewDecoder().String(b.String())
	if err != nil {
		t.Fatal(err)
	}
	want := "通知编号,事件类型,商户订单号,商城订单号,行号,数量,退款金额,发生时间\r\n" +
		"N1,order.refunded,AM1,CCB1,2,1,42.00,2019-05-10 09:00:00\r\n"
	if text != want {
		t.Fatalf("statement\n%q\nwant\n%q", text, want)
	}
	if b.String() == text {
		t.Fatal("statement is not GB18030-encoded")
	}
}
