package ccb_test

import (
	"fmt"
	"io"
	"runtime"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"aidmall/adapters/ccb"
	"aidmall/malls"
	"aidmall/orders"
)

// rowsReader is a GB18030 statement of n event rows made as it is read: a file of any
// size without holding it.
type rowsReader struct {
	n, i int
	buf  []byte
}

func (r *rowsReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.i > r.n {
			return 0, io.EOF
		}
		if r.i == 0 {
			b, err := simplifiedchinese.GB18030.NewEncoder().String("通知编号,事件类型,商户订单号,商城订单号,行号,数量,退款金额,发生时间\r\n")
			if err != nil {
				return 0, err
			}
			r.buf = []byte(b)
		} else { // the rows are ASCII, the same bytes in GB18030
			r.buf = fmt.Appendf(r.buf[:0], "N%020d,order.shipped,AM2019031210000000%06d,CCB20190312000123,1,%d,,2019-03-13 09:40:12\r\n", r.i, r.i%1000000, 1+r.i%50)
		}
		r.i++
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// A statement far over what used to be the limit (64 MiB) streams through: every row
// read, in file order, in the memory of a few rows.
func TestScanStatementStreamsALargeFile(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 100 MB")
	}
	const rows = 1_100_000 // about 100 MB of GB18030 text
	src := &rowsReader{n: rows}
	var (
		n, bad int
		peak   uint64
		ms     runtime.MemStats
	)
	bytesRead := 0
	counted := &countingReader{r: src, n: &bytesRead}
	err := ccb.ScanStatement(counted, func(ev orders.FulfilmentEvent) error {
		n++
		if ev.EventID != orders.MallEventID(fmt.Sprintf("N%020d", n)) {
			return fmt.Errorf("event %d is %s: out of order", n, ev.EventID)
		}
		if n%100_000 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
		return nil
	}, func(malls.RowError) { bad++ })
	if err != nil || n != rows || bad != 0 {
		t.Fatalf("err %v: %d events, %d bad, want %d and none bad", err, n, bad, rows)
	}
	if bytesRead < 100<<20 {
		t.Fatalf("only %d bytes streamed", bytesRead)
	}
	if peak > 32<<20 {
		t.Fatalf("heap in use reached %d MiB reading a %d MiB statement: it is being held", peak>>20, bytesRead>>20)
	}
	t.Logf("%d MiB, %d events, peak heap in use %d MiB", bytesRead>>20, n, peak>>20)
}

type countingReader struct {
	r io.Reader
	n *int
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	*c.n += k
	return k, err
}
