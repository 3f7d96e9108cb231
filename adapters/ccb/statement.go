package ccb

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"aidmall/malls"
	"aidmall/orders"
)

// statementHeader is the header row of the daily statement (ccb-mall.md, "Daily
// statement"), in the spec's order: notify_id, notify_type, out_order_no, mall_order_no,
// line_no, quantity, amount (yuan), occurred_at (Beijing time).
var statementHeader = [...]string{"通知编号", "事件类型", "商户订单号", "商城订单号", "行号", "数量", "退款金额", "发生时间"}

// columnOf maps a notification field name to its statement column.
var columnOf = map[string]string{
	"notify_id": "通知编号", "notify_type": "事件类型", "out_order_no": "商户订单号",
	"mall_order_no": "商城订单号", "line_no": "行号", "quantity": "数量", "amount": "退款金额",
	"occurred_at": "发生时间",
}

// maxStatementLine is the longest statement line read (64 KiB); a longer one is a bad
// row. A real line is about 100 bytes.
const maxStatementLine = 64 << 10

// ParseStatement reads a CCB daily statement: CSV, GB18030-encoded (a leading byte-order
// mark is skipped), CRLF or LF line ends, the header row statementHeader (columns matched by
// name, in any order; extra columns ignored), then one row per event. Blank lines are
// skipped. Events are returned in file order with Mall "ccb" and Source "statement",
// repeats included (a statement may repeat events already notified). Each bad row is
// reported as a malls.RowError and left out; the good rows are still returned. Field rules are
// those of Verifier.Parse; occurred_at is Beijing time. A file of any size is read
// (ScanStatement streams it; this gathers its events).
//
// The error is non-nil only when the file as a whole cannot be read: a read error, no
// header row, or a header lacking one of the spec's columns.
func ParseStatement(r io.Reader) ([]orders.FulfilmentEvent, []malls.RowError, error) {
	var (
		events []orders.FulfilmentEvent
		bad    []malls.RowError
	)
	err := ScanStatement(r, func(ev orders.FulfilmentEvent) error { events = append(events, ev); return nil },
		func(e malls.RowError) { bad = append(bad, e) })
	if err != nil {
		return nil, nil, err
	}
	return events, bad, nil
}

// ScanStatement reads a statement as ParseStatement does, as a stream of any size (one
// line held at a time, decoded from GB18030 as it is read): each good row's event is
// given to each in file order (an error from each stops the reading and is returned),
// each bad row to bad. A header error comes before any event.
func ScanStatement(r io.Reader, each func(orders.FulfilmentEvent) error, bad func(malls.RowError)) error {
	br := bufio.NewReaderSize(transform.NewReader(r, simplifiedchinese.GB18030.NewDecoder()), 64<<10)
	col := map[string]int{}
	header := false
	for row := 1; ; row++ {
		raw, err := br.ReadSlice('\n')
		long := false
		for errors.Is(err, bufio.ErrBufferFull) { // a line over the buffer: a bad row, its rest skipped
			long = true
			_, err = br.ReadSlice('\n')
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("ccb statement: read: %w", err)
		}
		line := strings.TrimSuffix(strings.TrimSuffix(string(raw), "\n"), "\r")
		if row == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		switch {
		case long && !header:
			return fmt.Errorf("ccb statement: header row %d is longer than %d bytes", row, maxStatementLine)
		case long:
			bad(malls.RowError{Mall: Code, Row: row, Reason: fmt.Sprintf("longer than %d bytes", maxStatementLine)})
		case strings.TrimSpace(line) == "":
		case !header:
			cells, err := splitCSV(line)
			if err != nil {
				return fmt.Errorf("ccb statement: header row %d: %v", row, err)
			}
			for j, h := range cells {
				h = strings.TrimSpace(h)
				if _, dup := col[h]; !dup {
					col[h] = j
				}
			}
			for _, h := range statementHeader {
				if _, ok := col[h]; !ok {
					return fmt.Errorf("ccb statement: header row %d lacks column %s (is the file GB18030?)", row, h)
				}
			}
			header = true
		default:
			if ev, e := statementRow(line, row, col); e != nil {
				bad(*e)
			} else if err := each(ev); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) {
			if !header {
				return errors.New("ccb statement: no header row")
			}
			return nil
		}
	}
}

// statementRow reads one event row of the statement whose columns are col.
func statementRow(line string, row int, col map[string]int) (orders.FulfilmentEvent, *malls.RowError) {
	cells, err := splitCSV(line)
	if err != nil {
		return orders.FulfilmentEvent{}, &malls.RowError{Mall: Code, Row: row, Reason: err.Error()}
	}
	if len(cells) < len(statementHeader) {
		return orders.FulfilmentEvent{}, &malls.RowError{Mall: Code, Row: row, Reason: fmt.Sprintf("%d fields, want %d", len(cells), len(statementHeader))}
	}
	get := func(h string) string {
		if j := col[h]; j < len(cells) {
			return strings.TrimSpace(cells[j])
		}
		return ""
	}
	re := rawEvent{
		NotifyID: get("通知编号"), NotifyType: get("事件类型"),
		OutOrderNo: get("商户订单号"), MallOrderNo: get("商城订单号"),
		LineNo: get("行号"), Quantity: get("数量"), Amount: get("退款金额"),
		OccurredAt: get("发生时间"),
	}
	ev, ferr := re.event("statement")
	if ferr != nil {
		return orders.FulfilmentEvent{}, &malls.RowError{Mall: Code, Row: row, Column: columnOf[ferr.field], Reason: ferr.reason}
	}
	return ev, nil
}

// splitCSV reads one CSV record from line. Statement fields never hold line breaks, so each
// line is read on its own: a quoting error stays in its row.
func splitCSV(line string) ([]string, error) {
	cr := csv.NewReader(strings.NewReader(line))
	cr.FieldsPerRecord = -1
	rec, err := cr.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("bad CSV: %v", pe.Err)
		}
		return nil, fmt.Errorf("bad CSV: %v", err)
	}
	if _, err := cr.Read(); err != io.EOF {
		return nil, errors.New("bad CSV: a quoted field spans lines")
	}
	return rec, nil
}
