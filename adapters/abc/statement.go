package abc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"aidmall/malls"
	"aidmall/orders"
)

// MaxStatementLine is the longest statement line ParseStatement reads (64 KiB); a longer
// one is reported as a malls.RowError and skipped. A real line is about 250 bytes.
const MaxStatementLine = 64 << 10

// ParseStatement reads an ABC daily statement (对账单; abc-mall.md "Daily statement"):
// JSON Lines, UTF-8, one notification body per line (without attempt). A UTF-8 byte-order
// mark, CRLF line ends and blank lines are tolerated. Each good line becomes a
// FulfilmentEvent with Mall abc and Source "statement", in file order; repeated events are
// kept (the statement may repeat what was notified; the store dedupes on event id). Each
// bad line (not UTF-8, not one JSON object, a field missing or wrong; see decodeEvent)
// becomes a malls.RowError and the rest are still read. The error is only for a failing reader.
func ParseStatement(r io.Reader) ([]orders.FulfilmentEvent, []malls.RowError, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		events []orders.FulfilmentEvent
		bad    []malls.RowError
	)
	for row := 1; ; row++ {
		line, tooLong, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return events, bad, fmt.Errorf("abc: statement line %d: %w", row, err)
		}
		if errors.Is(err, io.EOF) && len(line) == 0 && !tooLong {
			return events, bad, nil
		}
		if row == 1 {
			line = bytes.TrimPrefix(line, []byte("\ufeff"))
		}
		switch trimmed := bytes.TrimSpace(line); {
		case tooLong:
			bad = append(bad, malls.RowError{Mall: Code, Row: row, Reason: fmt.Sprintf("longer than %d bytes", MaxStatementLine)})
		case len(trimmed) == 0:
		case !utf8.Valid(trimmed):
			bad = append(bad, malls.RowError{Mall: Code, Row: row, Reason: "not UTF-8"})
		default:
			ev, field, derr := decodeEvent(trimmed, "statement")
			if derr != nil {
				reason := derr.Error()
				var fe *fieldError
				if errors.As(derr, &fe) {
					reason = fe.reason
				}
				bad = append(bad, malls.RowError{Mall: Code, Row: row, Column: field, Reason: reason})
				break
			}
			events = append(events, ev)
		}
		if errors.Is(err, io.EOF) {
			return events, bad, nil
		}
	}
}

// readLine reads up to and excluding the next '\n'. tooLong reports a line over
// MaxStatementLine, whose rest is discarded. err is io.EOF at the end of input (line may
// then hold a last line without '\n').
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(chunk) > MaxStatementLine+2 { // +2 for "\r\n"
				tooLong, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		switch {
		case err == nil:
			return bytes.TrimSuffix(line, []byte("\n")), tooLong, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return line, tooLong, err
		}
	}
}
