// Package linecsv reads CSV text (RFC 4180: comma-separated, cells quoted with '"', a
// quote inside a quoted cell written twice) record by record, so that a record whose
// quoting is broken costs its own line and no more. encoding/csv reads an unterminated
// quote to the end of the file as one cell (or, with LazyQuotes, as one long record):
// every good row after it is lost. Here such a record is given back as a broken one
// (Record.Err) and reading resumes at the physical line after the one it started on.
//
// What a file may hold: the registry and catalogue files (households, linkages, branches,
// suppliers, products) and the order history (orders.csv, order_lines.csv) are written
// one record a line, but a cell saved from a spreadsheet may hold a line break (Excel's
// Alt+Enter in a name or an address; households' row rules accept line breaks in a cell),
// and a spreadsheet writes such a cell quoted across lines. So a quoted cell MAY span
// lines, up to MaxLines lines for the whole record: enough for any name, address or note,
// and a bound on what a quote that is never closed costs (those lines are read again).
// A record is broken when:
//   - a quoted cell is not closed before the end of the file or within MaxLines lines;
//   - text follows a cell's closing quote on its line ("ab"c);
//   - an unquoted cell holds a quote (ab"c): written by hand or cut from a quoted cell.
//
// The last two are what encoding/csv without LazyQuotes refuses too; on text it reads
// without an error (and no record longer than MaxLines lines) this package reads the same
// records. A rare unterminated quote can still meet a later quote that closes it cleanly
// (one followed by a comma or the line's end): the lines between then read as one record
// with too few cells, which the row rules refuse as one row. Either way every physical
// line is in exactly one record (good or broken) or blank.
//
// Line ends are LF or CRLF ("\r\n" in a quoted cell reads as "\n"); a UTF-8 byte order
// mark at the start is dropped; empty lines between records are skipped (their numbers
// still count). The text must already be decoded (UTF-8): the caller decodes GB18030.
package linecsv

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MaxLines is the most physical lines one record may span (a quoted cell holding line
// breaks): a quote not closed within them makes the record broken.
const MaxLines = 32

// Record is one record of the text, or the first line of a broken one.
type Record struct {
	// Line is the 1-based physical line the record starts on (the row a spreadsheet
	// shows, blank lines counted).
	Line int
	// Lines is how many physical lines it spans: 1, or more when a quoted cell holds line
	// breaks. A broken record is its first line alone: reading resumes after it.
	Lines int
	// Cells are its cells; for a broken record, the cells read before the one at fault.
	Cells []string
	// Err is non-nil when the record's quoting is broken; Text is then its line as read
	// (for what is asked of the text itself, such as its encoding).
	Err  *QuoteError
	Text string
}

// QuoteError says where and how the quoting of a record is broken.
type QuoteError struct {
	Line    int    // the record's first line
	Cell    int    // the 1-based cell at fault
	Problem string // what is wrong with that cell, in plain words
}

func (e *QuoteError) Error() string {
	return fmt.Sprintf("line %d, cell %d: %s", e.Line, e.Cell, e.Problem)
}

// Reason is the row error of a broken record, for the person who fixes the file: that
// the row is not read, why, and how such a cell is written.
func (e *QuoteError) Reason() string {
	return "the row is not read: its quoting is broken: " + e.Problem +
		`; a cell holding a comma, a quote or a line break is written inside quotes, each of its quotes doubled ("")`
}

// Reader reads records from CSV text.
type Reader struct {
	br      *bufio.Reader
	pending []string // lines read and not yet in a record: pending[0] is line next
	next    int      // the number of pending[0]
	eof     bool     // the text is read to its end (pending may still hold lines)
	started bool     // the byte order mark has been looked for
	buf     []byte   // a line longer than br's buffer
	cells   int      // the cells of the last record: the next one's capacity
}

// NewReader returns a Reader of r. It reads ahead what encoding/csv does (bufio's 4 KiB),
// and holds besides the lines of the record being read.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReader(r), next: 1}
}

// Read returns the next record (good or broken); io.EOF at the end of the text, or the
// error of the underlying reader.
func (r *Reader) Read() (Record, error) {
	for {
		if len(r.pending) == 0 {
			ok, err := r.fill()
			if err != nil {
				return Record{}, err
			}
			if !ok {
				return Record{}, io.EOF
			}
		}
		if r.pending[0] == "" { // an empty line between records
			r.consume(1)
			continue
		}
		rec, err := r.parse()
		if err != nil {
			return Record{}, err
		}
		r.consume(rec.Lines)
		return rec, nil
	}
}

// consume drops the first n pending lines.
func (r *Reader) consume(n int) {
	clear(r.pending[:n])
	if n == len(r.pending) {
		r.pending = r.pending[:0] // kept for the next line: no allocation a line
	} else {
		r.pending = r.pending[n:]
	}
	r.next += n
}

// fill reads one more line into pending; false at the end of the text.
func (r *Reader) fill() (bool, error) {
	if r.eof {
		return false, nil
	}
	line, err := r.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		r.buf = append(r.buf[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = r.br.ReadSlice('\n')
			r.buf = append(r.buf, line...)
		}
		line = r.buf
	}
	switch {
	case errors.Is(err, io.EOF):
		r.eof = true
		if len(line) == 0 {
			return false, nil
		}
	case err != nil:
		return false, err
	default:
		line = line[:len(line)-1] // the '\n'
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if !r.started {
		r.started = true
		if len(line) >= 3 && line[0] == 0xEF && line[1] == 0xBB && line[2] == 0xBF {
			line = line[3:]
		}
	}
	r.pending = append(r.pending, string(line))
	return true, nil
}

// parse reads the record that starts at pending[0] (not empty), reading lines on as a
// quoted cell spans them. A broken record is its first line alone.
func (r *Reader) parse() (Record, error) {
	cells := make([]string, 0, max(r.cells, 1))
	li, s, i := 0, r.pending[0], 0
	broken := func(problem string) (Record, error) {
		return Record{Line: r.next, Lines: 1, Cells: cells, Text: r.pending[0],
			Err: &QuoteError{Line: r.next, Cell: len(cells) + 1, Problem: problem}}, nil
	}
	for {
		if i == len(s) || s[i] != '"' {
			// An unquoted cell: up to the next comma or the end of the line.
			cell, rest, more := strings.Cut(s[i:], ",")
			if strings.IndexByte(cell, '"') >= 0 {
				return broken(`the cell holds a quote (") but does not start with one`)
			}
			cells = append(cells, cell)
			if !more {
				break
			}
			i = len(s) - len(rest)
			continue
		}
		// A quoted cell: up to a quote followed by a comma or the end of the line; a
		// doubled quote is one quote; a line end inside is a line break of the cell.
		i++
		var b strings.Builder
		from := i
		for {
			j := strings.IndexByte(s[i:], '"')
			if j < 0 {
				b.WriteString(s[from:])
				b.WriteByte('\n')
				li++
				if li >= MaxLines {
					return broken(fmt.Sprintf(`a quote (") opens the cell and is not closed within %d lines`, MaxLines))
				}
				for li >= len(r.pending) {
					ok, err := r.fill()
					if err != nil {
						return Record{}, err
					}
					if !ok {
						return broken(`a quote (") opens the cell and is not closed`)
					}
				}
				s, i, from = r.pending[li], 0, 0
				continue
			}
			i += j
			if i+1 < len(s) && s[i+1] == '"' { // a doubled quote
				b.WriteString(s[from : i+1])
				i += 2
				from = i
				continue
			}
			break
		}
		// s[i] is the closing quote.
		var cell string
		if b.Len() == 0 {
			cell = s[from:i] // the common case: no doubled quote, on one line
		} else {
			b.WriteString(s[from:i])
			cell = b.String()
		}
		i++
		switch {
		case i == len(s):
			cells = append(cells, cell)
		case s[i] == ',':
			cells = append(cells, cell)
			i++
			continue
		case li > 0:
			// A quote that looked like a cell's end on a later line: the cell's quote
			// was never closed (a multi-line cell ends with a quote, a comma or the line's end).
			return broken(fmt.Sprintf(`a quote (") opens the cell and is not closed (the next quote, on line %d, has text after it)`, r.next+li))
		default:
			return broken(`text follows the cell's closing quote (")`)
		}
		break
	}
	r.cells = len(cells)
	return Record{Line: r.next, Lines: li + 1, Cells: cells}, nil
}
