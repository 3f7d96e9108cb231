package linecsv_test

import (
	"encoding/csv"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"aidmall/internal/linecsv"
)

// readAll reads every record of text.
func readAll(t *testing.T, text string) []linecsv.Record {
	t.Helper()
	r := linecsv.NewReader(strings.NewReader(text))
	var out []linecsv.Record
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		out = append(out, rec)
	}
}

// got is a record as the table below writes it: "3:a|b" (line 3, cells a and b) or
// "3!2" (line 3 broken at cell 2).
func got(recs []linecsv.Record) []string {
	var out []string
	for _, r := range recs {
		if r.Err != nil {
			out = append(out, itoa(r.Line)+"!"+itoa(r.Err.Cell))
			continue
		}
		out = append(out, itoa(r.Line)+":"+strings.Join(r.Cells, "|"))
	}
	return out
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + itoa(n%10)
}

func TestRead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"plain_rows_numbered_by_line", "a,b\n1,2\n", []string{"1:a|b", "2:1|2"}},
		{"blank_lines_skipped_and_counted", "a\n\n\nb\n", []string{"1:a", "4:b"}},
		{"crlf_line_ends", "a,b\r\n1,2\r\n", []string{"1:a|b", "2:1|2"}},
		{"no_line_end_at_the_end", "a\nb", []string{"1:a", "2:b"}},
		{"byte_order_mark_dropped", "\xEF\xBB\xBFa,b\n1,2\n", []string{"1:a|b", "2:1|2"}},
		{"quoted_cells_with_commas_and_doubled_quotes", "\"a,b\",\"say \"\"hi\"\"\",\"\"\n", []string{"1:a,b|say \"hi\"|"}},
		{"trailing_comma_is_an_empty_cell", "a,\n", []string{"1:a|"}},
		{"quoted_cell_across_lines_is_one_record", "a\n\"x\ny\",z\nb\n", []string{"1:a", "2:x\ny|z", "4:b"}},
		{"quoted_cell_across_crlf_lines_reads_lf", "\"x\r\ny\"\r\nb\r\n", []string{"1:x\ny", "3:b"}},
		{"unterminated_quote_in_the_middle_costs_its_line", "a,b\n1,\"2\n3,4\n5,6\n", []string{"1:a|b", "2!2", "3:3|4", "4:5|6"}},
		{"unterminated_quote_at_the_last_row", "a,b\n1,2\n3,\"4\n", []string{"1:a|b", "2:1|2", "3!2"}},
		{"unterminated_quote_meeting_a_later_quoted_cell", "a,b\n1,\"2\n3,\"4\",5\n6,7\n", []string{"1:a|b", "2!2", "3:3|4|5", "4:6|7"}},
		{"bare_quote_in_an_unquoted_cell", "a,b\n1,2\"3\n4,5\n", []string{"1:a|b", "2!2", "3:4|5"}},
		{"text_after_the_closing_quote", "a,b\n\"1\"x,2\n3,4\n", []string{"1:a|b", "2!1", "3:3|4"}},
		{"leading_space_before_a_quote_is_a_bare_quote", "a, \"b\"\n", []string{"1!2"}},
		{"broken_first_line_then_good_ones", "\"a\nb\nc\n", []string{"1!1", "2:b", "3:c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			recs := readAll(t, tt.in)
			if g := got(recs); !reflect.DeepEqual(g, tt.want) {
				t.Fatalf("records %q\nwant %q", g, tt.want)
			}
			accounted(t, tt.in, recs)
		})
	}
}

// A broken record keeps the cells read before the one at fault, and says what is wrong.
func TestBrokenRecordSaysWhatIsWrong(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, problem string }{
		{"A1,\"x\nA2,y\n", "opens the cell and is not closed"},
		{"A1,x\"y\n", "does not start with one"},
		{"A1,\"x\"y\n", "text follows the cell's closing quote (\")"},
		{"A1,\"x" + strings.Repeat("\nr", linecsv.MaxLines) + "\"\n", "not closed within 32 lines"},
		{"A1,\"x\nA2,\"y\",z\n", "is not closed (the next quote, on line 2, has text after it)"},
	}
	for _, tt := range tests {
		recs := readAll(t, tt.in)
		e := recs[0].Err
		if e == nil || e.Line != 1 || e.Cell != 2 || !strings.HasSuffix(e.Problem, tt.problem) || !reflect.DeepEqual(recs[0].Cells, []string{"A1"}) {
			t.Fatalf("%q: first record %+v (err %+v), want line 1 broken at cell 2 (%q) after cell A1", tt.in, recs[0], e, tt.problem)
		}
		accounted(t, tt.in, recs)
	}
}

// A quoted cell of MaxLines-1 line breaks is still one record; the line after a record
// too long is read on its own.
func TestRecordSpanBound(t *testing.T) {
	t.Parallel()
	long := "\"x" + strings.Repeat("\n", linecsv.MaxLines-1) + "\",y\nz\n"
	recs := readAll(t, long)
	if len(recs) != 2 || recs[0].Err != nil || recs[0].Lines != linecsv.MaxLines || recs[1].Line != linecsv.MaxLines+1 {
		t.Fatalf("records %+v: want one of %d lines, then z", recs, linecsv.MaxLines)
	}
}

// A line longer than the reader's buffer reads whole, and the underlying reader's error
// is returned.
func TestLongLinesAndReadErrors(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 200<<10)
	recs := readAll(t, "a,"+long+"\nb\n")
	if len(recs) != 2 || recs[0].Cells[1] != long || recs[1].Line != 2 {
		t.Fatalf("long line read as %d records", len(recs))
	}
	boom := errors.New("boom")
	r := linecsv.NewReader(io.MultiReader(strings.NewReader("a\n\"b\n"), iotest.ErrReader(boom)))
	if rec, err := r.Read(); err != nil || rec.Cells[0] != "a" {
		t.Fatalf("first record %+v %v", rec, err)
	}
	if _, err := r.Read(); !errors.Is(err, boom) {
		t.Fatalf("read error %v, want boom", err)
	}
}

// physicalLines splits text into its lines as the reader numbers them.
func physicalLines(text string) []string {
	lines := strings.Split(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// accounted asserts that every physical line of text is in exactly one record (a good
// one's lines, a broken one's first line) or blank, and that records come in line order.
func accounted(t *testing.T, text string, recs []linecsv.Record) {
	t.Helper()
	lines := physicalLines(text)
	in := make([]int, len(lines)+1)
	last := 0
	for _, r := range recs {
		if r.Line <= last {
			t.Fatalf("record at line %d after one ending at line %d", r.Line, last)
		}
		if r.Lines < 1 || (r.Err != nil && r.Lines != 1) {
			t.Fatalf("record at line %d spans %d lines (broken %v)", r.Line, r.Lines, r.Err != nil)
		}
		if r.Err != nil && (r.Err.Line != r.Line || r.Err.Cell != len(r.Cells)+1 || r.Err.Problem == "") {
			t.Fatalf("broken record %+v: its error does not name its line and the cell after those read", r)
		}
		for l := r.Line; l < r.Line+r.Lines; l++ {
			if l > len(lines) {
				t.Fatalf("record at line %d spans past the last line %d", r.Line, len(lines))
			}
			in[l]++
		}
		last = r.Line + r.Lines - 1
	}
	for l := 1; l <= len(lines); l++ {
		blank := strings.TrimSuffix(lines[l-1], "\r") == "" || (l == 1 && strings.TrimSuffix(lines[0], "\r") == "\xEF\xBB\xBF")
		switch {
		case in[l] > 1:
			t.Fatalf("line %d is in %d records", l, in[l])
		case in[l] == 0 && !blank:
			t.Fatalf("line %d (%q) is in no record", l, lines[l-1])
		}
	}
}

// FuzzRead: on any text the reader never panics, accounts for every physical line once
// (accounted), and on text that encoding/csv (strict quotes) reads without an error and
// whose records span at most MaxLines lines, reads the same records at the same lines.
func FuzzRead(f *testing.F) {
	for _, s := range []string{
		"a,b\n1,2\n", "a,b\r\n1,\"2\r\n3\",4\r\n", "\xEF\xBB\xBFa\n", "1,\"2\n3,4\n", "1,2\"3\n",
		"\"1\"x,2\n", "a,\"\"\"\",b\n\n\nc", "\"a\nb\"\"\nc\",d\n", "a\r", "\r\n\r", "户编号,\"张三\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		recs := readAll(t, text)
		accounted(t, text, recs)
		cr := csv.NewReader(strings.NewReader(strings.TrimPrefix(text, "\xEF\xBB\xBF")))
		cr.FieldsPerRecord = -1
		var want []linecsv.Record
		for {
			rec, err := cr.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return // broken text: encoding/csv is no reference for what follows
			}
			line, _ := cr.FieldPos(0)
			spans := 1
			for _, c := range rec {
				spans += strings.Count(c, "\n")
			}
			if spans > linecsv.MaxLines {
				return
			}
			want = append(want, linecsv.Record{Line: line, Lines: spans, Cells: rec})
		}
		if len(recs) != len(want) {
			t.Fatalf("%d records, encoding/csv %d:\n got %+v\nwant %+v", len(recs), len(want), recs, want)
		}
		for i := range recs {
			if recs[i].Err != nil || recs[i].Line != want[i].Line || recs[i].Lines != want[i].Lines || !reflect.DeepEqual(recs[i].Cells, want[i].Cells) {
				t.Fatalf("record %d: %+v (err %v), encoding/csv %+v", i, recs[i], recs[i].Err, want[i])
			}
		}
	})
}
