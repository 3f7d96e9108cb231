package ccb_test

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"

	"aidmall/bizday"
)

// fakeMall is a CCB mall written from ccb-mall.md for these tests: it checks the envelope,
// the partner's signature, the timestamp window and nonces, validates create biz_content
// strictly, keeps orders, and signs every answer with the mall key. Faults are armed per
// test through its fields.
type fakeMall struct {
	t          testing.TB
	appID      string
	mallKey    *rsa.PrivateKey
	partnerPub *rsa.PublicKey
	now        func() time.Time
	catalogue  map[string]string // item_id → listed price, yuan

	srv *httptest.Server

	mu         sync.Mutex
	orders     map[string]*fakeOrder
	nonces     map[string]bool
	requests   []map[string]string // every gateway request's parameters, in order
	busy       int                 // answer 20000 to this many calls
	fail5xx    int                 // answer HTTP 502 to this many calls
	throttle   int                 // answer an unsigned HTTP 429 to this many calls
	retryAfter string              // the Retry-After header of every answer, when set
	hang       bool                // never answer (until the client gives up)
	signWith   *rsa.PrivateKey     // sign answers with this key instead of the mall's
	tamperData bool                // change data after signing it
	statements map[string][]byte   // day → raw file
}

type fakeOrder struct {
	mallNo  string
	content string // canonical biz_content (re-encoded), the idempotency key's content
	status  string
	lines   []fakeLine
}

type fakeLine struct {
	no       int
	shipped  int64
	quantity int64
}

func newFakeMall(t testing.TB, now func() time.Time) *fakeMall {
	ks := testKeys(t)
	m := &fakeMall{
		t: t, appID: "2019031200000001", mallKey: ks.mall, partnerPub: &ks.partner.PublicKey, now: now,
		catalogue:  map[string]string{"CCB-YC-APL-05": "68.00", "CCB-DB-HJ-250": "45.50"},
		orders:     map[string]*fakeOrder{},
		nonces:     map[string]bool{},
		statements: map[string][]byte{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /gateway", m.gateway)
	mux.HandleFunc("GET /statements/{day}", func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		b, ok := m.statements[r.PathValue("day")]
		m.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/csv; charset=GB18030")
		w.Write(b)
	})
	m.srv = httptest.NewServer(mux)
	t.Cleanup(m.srv.Close)
	return m
}

func (m *fakeMall) lastRequest() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.requests) == 0 {
		m.t.Fatal("the fake mall saw no request")
	}
	return m.requests[len(m.requests)-1]
}

// ship marks qty units of a line shipped, as the mall's warehouse would.
func (m *fakeMall) ship(outOrderNo string, line int, qty int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.orders[outOrderNo]
	for i := range o.lines {
		if o.lines[i].no == line {
			o.lines[i].shipped += qty
		}
	}
	o.status = "SHIPPED"
}

// reply writes the spec's envelope; data is indented on purpose so that only a client
// verifying the bytes exactly as sent can pass.
func (m *fakeMall) reply(w http.ResponseWriter, code, msg string, data any) {
	text, err := json.MarshalIndent(data, "", "  ")
	if err != nil {
		m.t.Error(err)
	}
	key := m.mallKey
	if m.signWith != nil {
		key = m.signWith
	}
	sign := rsaSign(m.t, key, string(text))
	if m.tamperData {
		text = bytes.Replace(text, []byte("ACCEPTED"), []byte("DELIVERED"), 1)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"code":%q,"msg":%q,"data":%s,"sign":%q}`, code, msg, text, sign)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(b.Bytes())
}

func (m *fakeMall) fail(w http.ResponseWriter, code, sub, detail string) {
	m.reply(w, code, sub, map[string]string{"sub_code": sub, "sub_msg": detail})
}

var yuanRE = regexp.MustCompile(`^(0|[1-9][0-9]*)\.[0-9]{2}$`)

func (m *fakeMall) gateway(w http.ResponseWriter, r *http.Request) {
	// Read the body first: only then does net/http notice a client that went away.
	body, _ := io.ReadAll(r.Body)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.hang {
		m.mu.Unlock()
		<-r.Context().Done()
		m.mu.Lock()
		return
	}
	if m.retryAfter != "" {
		w.Header().Set("Retry-After", m.retryAfter)
	}
	if m.throttle > 0 {
		m.throttle--
		http.Error(w, "too many requests", http.StatusTooManyRequests)
		return
	}
	if m.fail5xx > 0 {
		m.fail5xx--
		http.Error(w, "bad gateway", http.StatusBadGateway)
		return
	}
	if m.busy > 0 {
		m.busy--
		m.fail(w, "20000", "SYSTEM_BUSY", "try later")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		m.fail(w, "40001", "INVALID_PARAMETER", "content type")
		return
	}
	values, err := url.ParseQuery(string(body))
	if err != nil {
		m.fail(w, "40001", "INVALID_PARAMETER", "form")
		return
	}
	p := map[string]string{}
	for k, vs := range values {
		if len(vs) != 1 {
			m.fail(w, "40001", "INVALID_PARAMETER", k+" repeated")
			return
		}
		p[k] = vs[0]
	}
	m.requests = append(m.requests, p)
	for _, k := range []string{"app_id", "method", "charset", "sign_type", "timestamp", "nonce", "version", "biz_content", "sign"} {
		if p[k] == "" {
			m.fail(w, "40001", "MISSING_PARAMETER", k)
			return
		}
	}
	_, hasNotify := p["notify_url"]
	switch {
	case p["charset"] != "utf-8" || p["sign_type"] != "RSA2" || p["version"] != "1.0":
		m.fail(w, "40001", "INVALID_PARAMETER", "charset, sign_type or version")
		return
	case (p["method"] == "mall.order.create") != hasNotify:
		m.fail(w, "40001", "INVALID_PARAMETER", "notify_url is for create only, and required there")
		return
	case p["app_id"] != m.appID:
		m.fail(w, "40002", "UNKNOWN_APP_ID", p["app_id"])
		return
	case !rsaVerify(m.partnerPub, specSigningString(p), p["sign"]):
		m.fail(w, "40002", "INVALID_SIGNATURE", "sign")
		return
	}
	ts, err := time.ParseInLocation("2006-01-02 15:04:05", p["timestamp"], bizday.Beijing)
	if err != nil {
		m.fail(w, "40001", "INVALID_PARAMETER", "timestamp")
		return
	}
	if d := m.now().Sub(ts); d > 10*time.Minute || d < -10*time.Minute {
		m.fail(w, "40003", "STALE_TIMESTAMP", "timestamp off by "+d.String())
		return
	}
	if n := len(p["nonce"]); n < 16 || n > 32 || m.nonces[p["nonce"]] {
		m.fail(w, "40003", "NONCE_REUSED", "nonce")
		return
	}
	m.nonces[p["nonce"]] = true

	switch p["method"] {
	case "mall.order.create":
		m.create(w, p["biz_content"])
	case "mall.order.query":
		var q struct {
			OutOrderNo string `json:"out_order_no"`
		}
		if !m.decode(w, p["biz_content"], &q) {
			return
		}
		o, ok := m.orders[q.OutOrderNo]
		if !ok {
			m.fail(w, "40404", "ORDER_NOT_FOUND", q.OutOrderNo)
			return
		}
		type line struct {
			LineNo    int    `json:"line_no"`
			Status    string `json:"status"`
			Shipped   int64  `json:"shipped_quantity"`
			Delivered int64  `json:"delivered_quantity"`
			Refunded  string `json:"refunded_amount"`
		}
		var lines []line
		for _, l := range o.lines {
			st := "ACCEPTED"
			if l.shipped > 0 {
				st = "SHIPPED"
			}
			lines = append(lines, line{l.no, st, l.shipped, 0, "0.00"})
		}
		m.reply(w, "10000", "Success", map[string]any{
			"mall_order_no": o.mallNo, "out_order_no": q.OutOrderNo, "status": o.status, "lines": lines})
	case "mall.order.cancel":
		var c struct {
			OutOrderNo string `json:"out_order_no"`
			Reason     string `json:"reason"`
		}
		if !m.decode(w, p["biz_content"], &c) {
			return
		}
		o, ok := m.orders[c.OutOrderNo]
		if !ok {
			m.fail(w, "40404", "ORDER_NOT_FOUND", c.OutOrderNo)
			return
		}
		for _, l := range o.lines {
			if l.shipped > 0 {
				m.fail(w, "40010", "ORDER_SHIPPED", "line shipped")
				return
			}
		}
		o.status = "CANCELLED"
		m.reply(w, "10000", "Success", map[string]string{"mall_order_no": o.mallNo, "out_order_no": c.OutOrderNo, "status": o.status})
	default:
		m.fail(w, "40001", "INVALID_PARAMETER", "method")
	}
}

func (m *fakeMall) decode(w http.ResponseWriter, text string, v any) bool {
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		m.fail(w, "40001", "INVALID_PARAMETER", "biz_content: "+err.Error())
		return false
	}
	return true
}

type fakeContact struct {
	Name    string `json:"name"`
	Phone   string `json:"phone"`
	Address string `json:"address"`
}

type fakeCreate struct {
	OutOrderNo   string       `json:"out_order_no"`
	BuyerRef     string       `json:"buyer_ref"`
	BuyerName    string       `json:"buyer_name"`
	DeliveryMode string       `json:"delivery_mode"`
	ShipTo       *fakeContact `json:"ship_to"`
	Lines        []struct {
		LineNo     int    `json:"line_no"`
		ItemID     string `json:"item_id"`
		Quantity   int64  `json:"quantity"`
		UnitPrice  string `json:"unit_price"`
		Recipients []struct {
			fakeContact
			Quantity int64 `json:"quantity"`
		} `json:"recipients"`
	} `json:"lines"`
	TotalAmount string `json:"total_amount"`
}

// fen reads a yuan string with exactly two decimals.
func fen(s string) int64 {
	var y, f int64
	fmt.Sscanf(s, "%d.%d", &y, &f)
	return y*100 + f
}

func (m *fakeMall) create(w http.ResponseWriter, biz string) {
	var c fakeCreate
	if !m.decode(w, biz, &c) {
		return
	}
	if c.OutOrderNo == "" || c.BuyerRef == "" || c.BuyerName == "" || len(c.Lines) == 0 ||
		(c.DeliveryMode != "bulk" && c.DeliveryMode != "per_recipient") || !yuanRE.MatchString(c.TotalAmount) {
		m.fail(w, "40001", "INVALID_PARAMETER", "biz_content")
		return
	}
	var sum int64
	var lines []fakeLine
	for _, l := range c.Lines {
		if !yuanRE.MatchString(l.UnitPrice) || l.Quantity < 1 || l.LineNo < 1 {
			m.fail(w, "40001", "INVALID_PARAMETER", "line")
			return
		}
		if len(l.Recipients) > 0 && c.DeliveryMode == "bulk" {
			m.fail(w, "40001", "INVALID_PARAMETER", "recipients on a bulk order")
			return
		}
		listed, ok := m.catalogue[l.ItemID]
		if !ok {
			m.fail(w, "40005", "ITEM_NOT_LISTED", l.ItemID)
			return
		}
		if listed != l.UnitPrice {
			m.fail(w, "40005", "PRICE_MISMATCH", fmt.Sprintf("%s is listed at %s", l.ItemID, listed))
			return
		}
		sum += l.Quantity * fen(l.UnitPrice)
		lines = append(lines, fakeLine{no: l.LineNo, quantity: l.Quantity})
	}
	if sum != fen(c.TotalAmount) {
		m.fail(w, "40006", "AMOUNT_MISMATCH", "total")
		return
	}
	canon, _ := json.Marshal(c)
	if o, ok := m.orders[c.OutOrderNo]; ok {
		if o.content != string(canon) {
			m.fail(w, "40004", "DUPLICATE_OUT_ORDER_NO", c.OutOrderNo)
			return
		}
		m.reply(w, "10000", "Success", map[string]string{"mall_order_no": o.mallNo, "out_order_no": c.OutOrderNo, "status": o.status})
		return
	}
	o := &fakeOrder{mallNo: fmt.Sprintf("CCB20190312%06d", len(m.orders)+123), content: string(canon), status: "ACCEPTED", lines: lines}
	m.orders[c.OutOrderNo] = o
	m.reply(w, "10000", "Success", map[string]string{"mall_order_no": o.mallNo, "out_order_no": c.OutOrderNo, "status": o.status})
}
