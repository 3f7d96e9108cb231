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
	var (
		events []orders.FulfilmentEvent
		bad    []malls.RowError
	)
	err := ScanStatement(r, func(ev orders.FulfilmentEvent) error { events = append(events, ev); return nil },
		func(e malls.RowError) { bad = append(bad, e) })
	return events, bad, err
}

// ScanStatement reads a statement as ParseStatement does, as a stream of any size: each
// good line's event is given to each as it is read (an error from each stops the reading
// and is returned), each bad line to bad. Only a line is held at a time.
func ScanStatement(r io.Reader, each func(orders.FulfilmentEvent) error, bad func(malls.RowError)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for row := 1; ; row++ {
		line, tooLong, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("abc: statement line %d: %w", row, err)
		}
		if errors.Is(err, io.EOF) && len(line) == 0 && !tooLong {
			return nil
		}
		if row == 1 {
			line = bytes.TrimPrefix(line, []byte("\ufeff"))
		}
		switch trimmed := bytes.TrimSpace(line); {
		case tooLong:
			bad(malls.RowError{Mall: Code, Row: row, Reason: fmt.Sprintf("longer than %d bytes", MaxStatementLine)})
		case len(trimmed) == 0:
		case !utf8.Valid(trimmed):
			bad(malls.RowError{Mall: Code, Row: row, Reason: "not UTF-8"})
		default:
			ev, field, derr := decodeEvent(trimmed, "statement")
			if derr != nil {
				reason := derr.Error()
				var fe *fieldError
				if errors.As(derr, &fe) {
					reason = fe.reason
				}
				bad(malls.RowError{Mall: Code, Row: row, Column: field, Reason: reason})
				break
			}
			if err := each(ev); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
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
