package imports_test

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/imports"
	"aidmall/orders"
)

// recordingLoader keeps the orders given to it (their lines), storing nothing; onLoad,
// when set, is called with each.
type recordingLoader struct {
	got    map[string][]orders.HistoryLine
	onLoad func(h orders.HistoryOrder)
}

func (l *recordingLoader) LoadHistory(_ context.Context, _ orders.Caller, h orders.HistoryOrder) (*orders.GroupOrder, bool, error) {
	if l.onLoad != nil {
		l.onLoad(h)
	}
	if len(h.Lines) == 0 {
		return nil, false, orders.Errorf(orders.ErrInvalid, "an order needs lines")
	}
	_, known := l.got[h.OrderRef]
	l.got[h.OrderRef] = h.Lines
	return nil, !known, nil
}

// genFile is a CSV file made as it is read, row i by row(i) for i in [0, n) after its
// header; produced counts the rows read whole.
type genFile struct {
	header   string
	row      func(i int) string
	n, i     int
	produced int
	buf      []byte
}

func (f *genFile) Read(p []byte) (int, error) {
	if f.buf == nil && f.i == 0 {
		f.buf = []byte(f.header + "\n")
	}
	for len(f.buf) < len(p) && f.i < f.n {
		f.buf = append(f.buf, f.row(f.i)+"\n"...)
		f.i++
	}
	if len(f.buf) == 0 {
		return 0, io.EOF
	}
	k := copy(p, f.buf)
	f.produced += strings.Count(string(f.buf[:k]), "\n")
	f.buf = f.buf[k:]
	return k, nil
}

const (
	ordersHeader = "order_ref,branch_code,mall,funding,placed_at,delivery_mode,out_order_no,mall_order_no"
	linesHeader  = "order_ref,line_no,sku,quantity,unit_price"
)

func orderRow(ref string) string {
	return ref + ",HQ,ccb,union_funds,2019-03-01T10:00:00+08:00,bulk,AM" + ref + ",CCB" + ref
}

// Order history of 10,000 orders of 3 lines each is loaded order by order while both
// files are read: the lines read and not yet given to their order never exceed what the
// CSV reader's buffer holds, whatever the length of the files; every order gets its lines.
func TestHistoryHoldsABoundedNumberOfLines(t *testing.T) {
	t.Parallel()
	const n, per = 10000, 3
	ref := func(i int) string { return fmt.Sprintf("R%06d", i) }
	of := &genFile{header: ordersHeader, n: n, row: func(i int) string { return orderRow(ref(i)) }}
	lf := &genFile{header: linesHeader, n: n * per, row: func(i int) string {
		return fmt.Sprintf("%s,%d,P1,%d,68.00", ref(i/per), i%per+1, i%7+1)
	}}
	given, most := 0, 0
	l := &recordingLoader{got: map[string][]orders.HistoryLine{}, onLoad: func(h orders.HistoryOrder) {
		given += len(h.Lines)
		most = max(most, lf.produced-1-given) // the header is no line
	}}
	rep, err := imports.History(context.Background(), l, orders.Caller{}, of, lf)
	if err != nil || rep.Rows != n || rep.Created != n || len(rep.Errors) != 0 {
		t.Fatalf("err %v, %d rows, %d created, errors %v", err, rep.Rows, rep.Created, rep.Errors)
	}
	for i := range n {
		if got := l.got[ref(i)]; len(got) != per || got[per-1].LineNo != per {
			t.Fatalf("order %s: lines %+v", ref(i), got)
		}
	}
	// csv.Reader reads ahead 4 KiB: about 170 lines of 24 bytes, and one order's lines.
	if bound := 4096/20 + per; most > bound {
		t.Fatalf("%d lines in flight at most, want at most %d", most, bound)
	}
	t.Logf("at most %d lines in flight", most)
}

// Lines listed before their order (orders.csv in another order) wait for it; a line of an
// order whose lines came earlier, apart from them, is a row error of order_lines.csv; an
// order with a line that does not read is not loaded at all (never with part of its
// lines), on every row that lists it; errors come lines first, then orders, each in row
// order.
func TestHistoryLinesOutOfOrder(t *testing.T) {
	t.Parallel()
	ordersCSV := ordersHeader + "\n" + orderRow("B") + "\n" + orderRow("A") + "\n" + orderRow("A") + "\n" + "C,HQ,ccb,union_funds,yesterday,bulk,x,y\n"
	linesCSV := linesHeader + "\nA,1,P1,2,68.00\nA,2,P2,1,x\nB,1,P1,3,68.00\nA,3,P1,1,68.00\nC,1,P1,1,68.00\n"
	l := &recordingLoader{got: map[string][]orders.HistoryLine{}}
	rep, err := imports.History(context.Background(), l, orders.Caller{}, strings.NewReader(ordersCSV), strings.NewReader(linesCSV))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 4 || rep.Created != 1 || rep.Unchanged != 0 {
		t.Errorf("report %+v: want 4 rows, 1 created (B), none unchanged", rep)
	}
	if got, ok := l.got["A"]; ok {
		t.Errorf("A loaded with lines %+v: want it not loaded (its line 2 does not read)", got)
	}
	if got := l.got["B"]; len(got) != 1 || got[0].Quantity != 3 {
		t.Errorf("B's lines %+v", got)
	}
	var where []string
	for _, e := range rep.Errors {
		where = append(where, fmt.Sprintf("%s:%d:%s", e.File, e.Row, e.Field))
	}
	want := []string{"order_lines.csv:3:unit_price", "order_lines.csv:5:order_ref", "orders.csv:3:", "orders.csv:4:", "orders.csv:5:placed_at"}
	if !reflect.DeepEqual(where, want) {
		t.Errorf("errors %v, want %v", where, want)
	}
}

// wholeFileHistory is the order history import as it was before streaming: both files
// read whole, lines by order_ref. The reference of FuzzHistory.
func wholeFileHistory(ordersCSV, linesCSV string) (map[string][]orders.HistoryLine, imports.HistoryReport, error) {
	l := &recordingLoader{got: map[string][]orders.HistoryLine{}}
	var rep imports.HistoryReport
	os, err := imports.ReadCSV(strings.NewReader(ordersCSV), imports.OrdersFile)
	if err != nil {
		return nil, rep, err
	}
	ls, err := imports.ReadCSV(strings.NewReader(linesCSV), imports.LinesFile)
	if err != nil {
		return nil, rep, err
	}
	lines := map[string][]orders.HistoryLine{}
	bad := 0
	badRef := map[string]bool{} // an order with a line that does not read is not loaded
	for _, li := range ls {
		// A whole number as strconv reads one ("00" is 0, "1x" is none).
		no, err1 := strconv.Atoi(li["line_no"])
		q, err2 := strconv.ParseInt(li["quantity"], 10, 64)
		if err1 != nil || err2 != nil || li["unit_price"] != "68.00" {
			bad++
			badRef[li["order_ref"]] = true
			continue
		}
		lines[li["order_ref"]] = append(lines[li["order_ref"]], orders.HistoryLine{LineNo: no, SKU: li["sku"], Quantity: q, UnitPrice: 6800})
	}
	rep.Errors = make([]imports.RowError, bad)
	for _, o := range os {
		rep.Rows++
		if badRef[o["order_ref"]] {
			continue
		}
		if _, c, err := l.LoadHistory(context.Background(), orders.Caller{}, orders.HistoryOrder{OrderRef: o["order_ref"], Lines: lines[o["order_ref"]]}); err == nil && c {
			rep.Created++
		}
	}
	return l.got, rep, nil
}

// The streaming import gives every order the lines the whole-file import gave it, for
// files whose lines are listed together by order and whose orders are each listed once
// (the lines' cells limited to what the reference reads alike: integers and 68.00).
func FuzzHistory(f *testing.F) {
	f.Add("A\nB\nC", "A,1,2\nA,2,3\nB,1,1\nC,1,x")
	f.Add("B\nA", "A,1,2\nB,1,1\nB,2,1")
	f.Add("A", "")
	f.Add("A\nB", "C,1,1\nB,1,1")
	f.Fuzz(func(t *testing.T, refs, lines string) {
		seen := map[string]bool{}
		ordersCSV := ordersHeader + "\n"
		for _, r := range strings.Split(refs, "\n") {
			if r == "" || seen[r] || strings.ContainsAny(r, "\",\r") {
				return
			}
			seen[r] = true
			ordersCSV += orderRow(r) + "\n"
		}
		linesCSV := linesHeader + "\n"
		done, last := map[string]bool{}, ""
		for _, l := range strings.Split(lines, "\n") {
			if l == "" {
				continue
			}
			c := strings.Split(l, ",")
			if len(c) != 3 || strings.ContainsAny(l, "\"\r") || c[0] == "" {
				return
			}
			if c[0] != last && done[c[0]] {
				return // not listed together
			}
			done[c[0]], last = true, c[0]
			linesCSV += c[0] + "," + c[1] + ",P1," + c[2] + ",68.00\n"
		}
		want, wantRep, werr := wholeFileHistory(ordersCSV, linesCSV)
		l := &recordingLoader{got: map[string][]orders.HistoryLine{}}
		rep, err := imports.History(context.Background(), l, orders.Caller{}, strings.NewReader(ordersCSV), strings.NewReader(linesCSV))
		if (err != nil) != (werr != nil) {
			t.Fatalf("error %v, whole-file %v", err, werr)
		}
		if err != nil {
			return
		}
		if !reflect.DeepEqual(l.got, want) || rep.Rows != wantRep.Rows || rep.Created != wantRep.Created {
			t.Fatalf("got %+v (%+v), whole-file %+v (%+v)", l.got, rep, want, wantRep)
		}
		var lineErrs int
		for _, e := range rep.Errors {
			if e.File == imports.LinesFile {
				lineErrs++
			}
		}
		if lineErrs != len(wantRep.Errors) {
			t.Fatalf("%d line errors, whole-file %d", lineErrs, len(wantRep.Errors))
		}
	})
}

// From a bundle folder (the CLI's import), an order's lines may be listed apart (a file
// sorted by SKU): every order gets all its lines, in file order, and no row is an error.
func TestHistoryFSLinesApart(t *testing.T) {
	t.Parallel()
	ordersCSV := ordersHeader + "\n" + orderRow("A") + "\n" + orderRow("B") + "\n"
	linesCSV := linesHeader + "\nA,1,P1,2,68.00\nB,1,P1,3,68.00\nA,2,P2,1,30.00\nB,2,P2,4,30.00\nA,3,P3,5,10.00\n"
	bundle := fstest.MapFS{imports.OrdersFile: {Data: []byte(ordersCSV)}, imports.LinesFile: {Data: []byte(linesCSV)}}
	l := &recordingLoader{got: map[string][]orders.HistoryLine{}}
	rep, err := imports.HistoryFS(context.Background(), l, orders.Caller{}, bundle)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) != 0 || rep.Created != 2 {
		t.Fatalf("report %+v: want 2 orders created and no error", rep)
	}
	qty := func(ls []orders.HistoryLine) []int64 {
		var q []int64
		for _, l := range ls {
			q = append(q, l.Quantity)
		}
		return q
	}
	if got := qty(l.got["A"]); !reflect.DeepEqual(got, []int64{2, 1, 5}) {
		t.Errorf("A's quantities %v: want [2 1 5]", got)
	}
	if got := qty(l.got["B"]); !reflect.DeepEqual(got, []int64{3, 4}) {
		t.Errorf("B's quantities %v: want [3 4]", got)
	}
}

// A bundle whose order_lines.csv stops reading as CSV half way loads nothing: no order is
// stored with part of its lines, and the error names the row.
func TestHistoryFSUnreadableLinesLoadNothing(t *testing.T) {
	t.Parallel()
	ordersCSV := ordersHeader + "\n" + orderRow("A") + "\n" + orderRow("B") + "\n"
	linesCSV := linesHeader + "\nA,1,P1,2,68.00\nB,1,P1,3,68.00\nA,2,P2\n"
	bundle := fstest.MapFS{imports.OrdersFile: {Data: []byte(ordersCSV)}, imports.LinesFile: {Data: []byte(linesCSV)}}
	l := &recordingLoader{got: map[string][]orders.HistoryLine{}}
	_, err := imports.HistoryFS(context.Background(), l, orders.Caller{}, bundle)
	if err == nil || !strings.Contains(err.Error(), "order_lines.csv row 4") {
		t.Fatalf("error %v: want order_lines.csv row 4 named", err)
	}
	if len(l.got) != 0 {
		t.Fatalf("loaded %v: want nothing", l.got)
	}
	empty := fstest.MapFS{imports.OrdersFile: {Data: []byte(ordersCSV)}, imports.LinesFile: {Data: nil}}
	if _, err := imports.HistoryFS(context.Background(), l, orders.Caller{}, empty); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("empty lines file: error %v, want it called empty", err)
	}
}

// An order_lines.csv with a header and no lines loads nothing and says so, rather than
// refusing every order on its own row.
func TestHistoryFSNoLines(t *testing.T) {
	t.Parallel()
	bundle := fstest.MapFS{imports.OrdersFile: {Data: []byte(ordersHeader + "\n" + orderRow("A") + "\n")}, imports.LinesFile: {Data: []byte(linesHeader + "\n")}}
	l := &recordingLoader{got: map[string][]orders.HistoryLine{}}
	if _, err := imports.HistoryFS(context.Background(), l, orders.Caller{}, bundle); err == nil || !strings.Contains(err.Error(), "no lines") || len(l.got) != 0 {
		t.Fatalf("error %v, loaded %v: want no lines said and nothing loaded", err, l.got)
	}
}

// A row whose quoting is broken costs that row and no more: in orders.csv it is a row
// error and the orders after it load; in order_lines.csv its order (read before the break)
// is not loaded and the others are; a lines row broken before its order_ref refuses the
// import (no order can be known to have all its lines), naming the row. Whole folders
// (HistoryFS) and streams (History) alike.
func TestHistoryBrokenQuotingCostsItsRow(t *testing.T) {
	t.Parallel()
	orderRows := func(rows ...string) string { return ordersHeader + "\n" + strings.Join(rows, "\n") + "\n" }
	good := linesHeader + "\nA,1,P1,2,68.00\nB,1,P1,3,68.00\nC,1,P1,1,68.00\nD,1,P1,1,68.00\n"
	tests := []struct {
		name             string
		ordersCSV, lines string
		loaded           []string
		errs             []string // file:row:field:ref
		refused          string   // the error's text when the import stops
	}{
		{"unterminated_quote_in_orders", orderRows(orderRow("A"), "B,\"HQ,ccb,union_funds,2019-03-01T10:00:00+08:00,bulk,AMB,CCBB", orderRow("C"), orderRow("D")), good,
			[]string{"A", "C", "D"}, []string{"orders.csv:3:branch_code:B"}, ""},
		{"unterminated_quote_at_the_last_order", orderRows(orderRow("A"), orderRow("B"), orderRow("C"), "\"D,HQ,ccb"), good,
			[]string{"A", "B", "C"}, []string{"orders.csv:5:order_ref:"}, ""},
		{"bare_quote_in_orders", orderRows(orderRow("A"), "B,H\"Q,ccb,union_funds,2019-03-01T10:00:00+08:00,bulk,AMB,CCBB", orderRow("C"), orderRow("D")), good,
			[]string{"A", "C", "D"}, []string{"orders.csv:3:branch_code:B"}, ""},
		{"unterminated_quote_in_a_line_after_its_order_ref", orderRows(orderRow("A"), orderRow("B"), orderRow("C"), orderRow("D")),
			linesHeader + "\nA,1,P1,2,68.00\nB,1,\"P1,3,68.00\nC,1,P1,1,68.00\nD,1,P1,1,68.00\n",
			[]string{"A", "C", "D"}, []string{"order_lines.csv:3:sku:B", "orders.csv:3::B"}, ""},
		{"crlf_and_byte_order_mark", "\xEF\xBB\xBF" + strings.ReplaceAll(orderRows(orderRow("A"), "B,\"HQ,ccb", orderRow("C"), orderRow("D")), "\n", "\r\n"),
			strings.ReplaceAll(good, "\n", "\r\n"), []string{"A", "C", "D"}, []string{"orders.csv:3:branch_code:B"}, ""},
		{"a_line_broken_before_its_order_ref_refuses", orderRows(orderRow("A"), orderRow("B"), orderRow("C"), orderRow("D")),
			linesHeader + "\nA,1,P1,2,68.00\n\"B,1,P1,3,68.00\nC,1,P1,1,68.00\nD,1,P1,1,68.00\n",
			nil, nil, "order_lines.csv row 3: the row is not read: its quoting is broken"},
	}
	for _, tt := range tests {
		for _, fromFS := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/folder_%v", tt.name, fromFS), func(t *testing.T) {
				t.Parallel()
				l, rep, err := importHistory(fromFS, tt.ordersCSV, tt.lines)
				if tt.refused != "" {
					if err == nil || !strings.Contains(err.Error(), tt.refused) {
						t.Fatalf("error %v: want %q", err, tt.refused)
					}
					if fromFS && len(l.got) != 0 {
						t.Fatalf("loaded %v: want nothing", l.got)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				var loaded []string
				for ref := range l.got {
					loaded = append(loaded, ref)
				}
				sort.Strings(loaded)
				if !reflect.DeepEqual(loaded, tt.loaded) || rep.Rows != 4 || rep.Created != len(tt.loaded) {
					t.Fatalf("loaded %v, %d rows, %d created: want %v of 4 rows", loaded, rep.Rows, rep.Created, tt.loaded)
				}
				var errs []string
				for _, e := range rep.Errors {
					errs = append(errs, fmt.Sprintf("%s:%d:%s:%s", e.File, e.Row, e.Field, e.Ref))
				}
				if !reflect.DeepEqual(errs, tt.errs) {
					t.Fatalf("errors %v, want %v", errs, tt.errs)
				}
				if e := rep.Errors[0]; e.File == imports.OrdersFile && !strings.Contains(e.Reason, "quoting is broken") {
					t.Fatalf("reason %q: want it to say the quoting is broken", e.Reason)
				}
			})
		}
	}
}

// A row of orders.csv with another number of cells than the header (a cell lost, a comma
// not quoted, a truncated last line) costs that order and no more; in order_lines.csv the
// same refuses the import, naming the row, since its order cannot be told. Whole folders
// (HistoryFS) and streams (History) alike.
func TestHistoryRowOfTheWrongWidth(t *testing.T) {
	t.Parallel()
	good := linesHeader + "\nA,1,P1,2,68.00\nB,1,P1,3,68.00\nC,1,P1,1,68.00\nD,1,P1,1,68.00\n"
	for _, tc := range []struct {
		name, ordersCSV string
		row             int
	}{
		{"a_cell_short", ordersHeader + "\n" + orderRow("A") + "\nB,HQ,ccb,union_funds,2019-03-01T10:00:00+08:00,bulk,AMB\n" + orderRow("C") + "\n" + orderRow("D") + "\n", 3},
		{"a_cell_too_many", ordersHeader + "\n" + orderRow("A") + "\n" + orderRow("B") + ",extra\n" + orderRow("C") + "\n" + orderRow("D") + "\n", 3},
		{"the_last_row_truncated", ordersHeader + "\n" + orderRow("A") + "\n" + orderRow("B") + "\n" + orderRow("C") + "\nD,HQ,cc", 5},
	} {
		for _, fromFS := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/folder_%v", tc.name, fromFS), func(t *testing.T) {
				t.Parallel()
				l, rep, err := importHistory(fromFS, tc.ordersCSV, good)
				if err != nil {
					t.Fatal(err)
				}
				if rep.Rows != 4 || rep.Created != 3 || len(l.got) != 3 || len(rep.Errors) != 1 {
					t.Fatalf("%d rows, %d created, loaded %v, errors %v: want 3 of 4 loaded and one error", rep.Rows, rep.Created, l.got, rep.Errors)
				}
				if e := rep.Errors[0]; e.File != imports.OrdersFile || e.Row != tc.row || !strings.Contains(e.Reason, "cells") {
					t.Fatalf("error %+v: want orders.csv row %d, its cells named", e, tc.row)
				}
			})
		}
	}
	ordersCSV := ordersHeader + "\n" + orderRow("A") + "\n" + orderRow("B") + "\n"
	for _, fromFS := range []bool{true, false} {
		l, _, err := importHistory(fromFS, ordersCSV, linesHeader+"\nA,1,P1,2,68.00\nB,1,P1\n")
		if err == nil || !strings.Contains(err.Error(), "order_lines.csv row 3") || fromFS && len(l.got) != 0 {
			t.Fatalf("folder %v: error %v, loaded %v: want order_lines.csv row 3 named and, from a folder, nothing loaded", fromFS, err, l.got)
		}
	}
}

// importHistory imports ordersCSV and linesCSV as a folder (HistoryFS) or as streams
// (History), into a loader that records what it was given.
func importHistory(fromFS bool, ordersCSV, linesCSV string) (*recordingLoader, imports.HistoryReport, error) {
	l := &recordingLoader{got: map[string][]orders.HistoryLine{}}
	if fromFS {
		rep, err := imports.HistoryFS(context.Background(), l, orders.Caller{}, fstest.MapFS{
			imports.OrdersFile: {Data: []byte(ordersCSV)}, imports.LinesFile: {Data: []byte(linesCSV)}})
		return l, rep, err
	}
	rep, err := imports.History(context.Background(), l, orders.Caller{}, strings.NewReader(ordersCSV), strings.NewReader(linesCSV))
	return l, rep, err
}

// TestHistoryLineProblemNamesItsLine: an order the service refuses for one of its lines
// (an unknown SKU, no quantity) is reported at that line's row of
// order_lines.csv, where it is corrected, with the column and the order's orders.csv row;
// the other orders load. A problem of the order itself stays at its orders.csv row.
func TestHistoryLineProblemNamesItsLine(t *testing.T) {
	t.Parallel()
	st := sqltest.Store(t, sqltest.SQLite(t))
	sqltest.ImportBundle(t, st, sqltest.ExampleBundle())
	svc, err := orders.NewService(st, []orders.MallInfo{{Code: ccb.Code}, {Code: abc.Code}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ordersCSV := ordersHeader + "\n" + orderRow("A") + "\n" + orderRow("B") + "\n" + orderRow("C") + "\n" +
		"D,NO-SUCH-BRANCH,ccb,union_funds,2019-03-01T10:00:00+08:00,bulk,AMD,CCBD\n"
	linesCSV := linesHeader + "\n" +
		"A,1,YC-APL-5KG-DZ,2,68.00\n" +
		"B,1,YC-APL-5KG-DZ,3,68.00\nB,2,NO-SUCH-SKU,1,10.00\n" +
		"C,1,YC-APL-5KG-DZ,0,68.00\n" +
		"D,1,YC-APL-5KG-DZ,1,68.00\n"
	rep, err := imports.History(context.Background(), svc, orders.Caller{Role: orders.RoleAidOffice}, strings.NewReader(ordersCSV), strings.NewReader(linesCSV))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Created != 1 || len(rep.Errors) != 3 {
		t.Fatalf("%d loaded, errors %v: want A loaded and three errors", rep.Created, rep.Errors)
	}
	for i, want := range []struct {
		file    string
		row     int
		ref     string
		reasons []string
	}{
		{imports.LinesFile, 4, "B", []string{"sku: ", "NO-SUCH-SKU", "orders.csv row 3"}},
		{imports.LinesFile, 5, "C", []string{"quantity: ", "orders.csv row 4"}},
		{imports.OrdersFile, 5, "D", []string{"NO-SUCH-BRANCH"}},
	} {
		e := rep.Errors[i]
		if e.File != want.file || e.Row != want.row || e.Ref != want.ref {
			t.Errorf("error %d: %s row %d (%s): want %s row %d (%s)", i, e.File, e.Row, e.Ref, want.file, want.row, want.ref)
		}
		for _, r := range want.reasons {
			if !strings.Contains(e.Reason, r) {
				t.Errorf("error %d: %q does not say %q", i, e.Reason, r)
			}
		}
	}
}
