package ccb

import (
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

// maxStatementBytes bounds a statement file (a year of one group's events is ~60 KB).
const maxStatementBytes = 64 << 20

// ParseStatement reads a CCB daily statement: CSV, GB18030-encoded (a leading byte-order
// mark is skipped), CRLF or LF line ends, the header row statementHeader (columns matched by
// name, in any order; extra columns ignored), then one row per event. Blank lines are
// skipped. Events are returned in file order with Mall "ccb" and Source "statement",
// repeats included (a statement may repeat events already notified). Each bad row is
// reported as a malls.RowError and left out; the good rows are still returned. Field rules are
// those of Verifier.Parse; occurred_at is Beijing time.
//
// The error is non-nil only when the file as a whole cannot be read: a read error, more than
// 64 MiB, no header row, or a header lacking one of the spec's columns.
func ParseStatement(r io.Reader) ([]orders.FulfilmentEvent, []malls.RowError, error) {
	dec := transform.NewReader(io.LimitReader(r, maxStatementBytes+1), simplifiedchinese.GB18030.NewDecoder())
	b, err := io.ReadAll(dec)
	if err != nil {
		return nil, nil, fmt.Errorf("ccb statement: read: %w", err)
	}
	if len(b) > maxStatementBytes { // decoded text is at least as long as the bytes read
		return nil, nil, errors.New("ccb statement: file over 64 MiB")
	}
	text := strings.TrimPrefix(string(b), "\ufeff")
	lines := strings.Split(text, "\n")

	col := map[string]int{}
	var events []orders.FulfilmentEvent
	var bad []malls.RowError
	header := false
	for i, line := range lines {
		row := i + 1
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		cells, err := splitCSV(line)
		if !header {
			if err != nil {
				return nil, nil, fmt.Errorf("ccb statement: header row %d: %v", row, err)
			}
			for j, h := range cells {
				h = strings.TrimSpace(h)
				if _, dup := col[h]; !dup {
					col[h] = j
				}
			}
			for _, h := range statementHeader {
				if _, ok := col[h]; !ok {
					return nil, nil, fmt.Errorf("ccb statement: header row %d lacks column %s (is the file GB18030?)", row, h)
				}
			}
			header = true
			continue
		}
		if err != nil {
			bad = append(bad, malls.RowError{Mall: Code, Row: row, Reason: err.Error()})
			continue
		}
		if len(cells) < len(statementHeader) {
			bad = append(bad, malls.RowError{Mall: Code, Row: row, Reason: fmt.Sprintf("%d fields, want %d", len(cells), len(statementHeader))})
			continue
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
			bad = append(bad, malls.RowError{Mall: Code, Row: row, Column: columnOf[ferr.field], Reason: ferr.reason})
			continue
		}
		events = append(events, ev)
	}
	if !header {
		return nil, nil, errors.New("ccb statement: no header row")
	}
	return events, bad, nil
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
