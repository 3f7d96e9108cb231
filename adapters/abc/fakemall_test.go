package abc

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
)

// keys is a partner and a mall SM2 key pair.
type keys struct {
	partner, mall *sm2.PrivateKey
}

func newKeys(t testing.TB) keys {
	t.Helper()
	p, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	m, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return keys{partner: p, mall: m}
}

const testAppID = "ABC2019031200000001"

// fakeMall is an ABC mall written from abc-mall.md for these tests: it checks the request
// envelope and signature, keeps orders in memory, and signs its answers. Faults are
// injected with hook, which may answer a request itself.
type fakeMall struct {
	t          testing.TB
	keys       keys
	listed     map[string]int64 // skuId -> listed price, fen
	clock      func() time.Time
	signWith   *sm2.PrivateKey // answers are signed with this key; nil: unsigned
	tsSkew     time.Duration   // added to answers' timestamps
	hook       func(w http.ResponseWriter, r *http.Request) bool
	srv        *httptest.Server
	mu         sync.Mutex
	orders     map[string]*fakeOrder
	nonces     map[string]bool
	seq        int
	lastCreate []byte // raw body of the last create
	statements map[string]string
}

type fakeOrder struct {
	content string // the order without notifyUrl, canonical JSON
	mallNo  string
	status  string
	items   []fakeItem
}

type fakeItem struct {
	LineNo       *int    `json:"lineNo"`
	SkuID        *string `json:"skuId"`
	Quantity     *int64  `json:"quantity"`
	UnitPriceFen *int64  `json:"unitPriceFen"`
	Recipients   []struct {
		Name     string `json:"name"`
		Phone    string `json:"phone"`
		Address  string `json:"address"`
		Quantity int64  `json:"quantity"`
	} `json:"recipients"`
	shipped int64
}

type fakeCreate struct {
	PartnerOrderNo *string `json:"partnerOrderNo"`
	BuyerRef       *string `json:"buyerRef"`
	BuyerName      *string `json:"buyerName"`
	DeliveryMode   *string `json:"deliveryMode"`
	ShipTo         *struct {
		Name    string `json:"name"`
		Phone   string `json:"phone"`
		Address string `json:"address"`
	} `json:"shipTo"`
	Items     []fakeItem `json:"items"`
	TotalFen  *int64     `json:"totalFen"`
	NotifyURL *string    `json:"notifyUrl"`
}

func newFakeMall(t testing.TB, k keys) *fakeMall {
	t.Helper()
	m := &fakeMall{t: t, keys: k, signWith: k.mall, clock: time.Now,
		listed: map[string]int64{"ABC-770031": 6800, "ABC-770045": 12800},
		orders: map[string]*fakeOrder{}, nonces: map[string]bool{}, statements: map[string]string{}}
	m.srv = httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *fakeMall) answer(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	key, skew := m.signWith, m.tsSkew // set before the first request, never after
	if key != nil {
		ts := strconv.FormatInt(m.clock().Add(skew).UnixMilli(), 10)
		nonce := NewNonce()
		sig, err := Sign(key, SigningString("RESPONSE", r.RequestURI, ts, nonce, body))
		if err != nil {
			m.t.Errorf("fake mall: sign: %v", err)
		}
		w.Header().Set(HeaderAppID, testAppID)
		w.Header().Set(HeaderTimestamp, ts)
		w.Header().Set(HeaderNonce, nonce)
		w.Header().Set(HeaderSignature, sig)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body)
}

func (m *fakeMall) fail(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	b, _ := json.Marshal(map[string]string{"code": code, "message": msg})
	m.answer(w, r, status, b)
}

func (m *fakeMall) ok(w http.ResponseWriter, r *http.Request, status int, data any) {
	b, _ := json.Marshal(map[string]any{"code": "0000", "message": "OK", "data": data})
	m.answer(w, r, status, b)
}

func (m *fakeMall) serve(w http.ResponseWriter, r *http.Request) {
	if m.hook != nil && m.hook(w, r) {
		return
	}
	if strings.HasPrefix(r.URL.Path, "/statements/") {
		m.mu.Lock()
		s, ok := m.statements[strings.TrimPrefix(r.URL.Path, "/statements/")]
		m.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		io.WriteString(w, s)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		m.fail(w, r, 400, "BAD_REQUEST", "body")
		return
	}
	for _, h := range []string{HeaderAppID, HeaderTimestamp, HeaderNonce, HeaderSignature} {
		if len(r.Header.Values(h)) != 1 {
			m.fail(w, r, 400, "BAD_REQUEST", "header "+h)
			return
		}
	}
	if r.Method == http.MethodPost && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		m.fail(w, r, 400, "BAD_REQUEST", "content type")
		return
	}
	if r.Method == http.MethodGet && len(body) > 0 {
		m.fail(w, r, 400, "BAD_REQUEST", "GET with a body")
		return
	}
	ts, nonce := r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderNonce)
	if r.Header.Get(HeaderAppID) != testAppID ||
		Verify(&m.keys.partner.PublicKey, SigningString(r.Method, r.RequestURI, ts, nonce, body), r.Header.Get(HeaderSignature)) != nil {
		m.fail(w, r, 401, "BAD_SIGNATURE", "signature does not verify")
		return
	}
	ms, _ := strconv.ParseInt(ts, 10, 64)
	if d := m.clock().Sub(time.UnixMilli(ms)); d > 5*time.Minute || d < -5*time.Minute {
		m.fail(w, r, 401, "STALE_REQUEST", "timestamp")
		return
	}
	m.mu.Lock()
	seen := m.nonces[nonce]
	m.nonces[nonce] = true
	m.mu.Unlock()
	if seen || len(nonce) < 16 || len(nonce) > 32 {
		m.fail(w, r, 401, "STALE_REQUEST", "nonce")
		return
	}
	rest, found := strings.CutPrefix(r.URL.Path, "/open/v2/orders")
	switch {
	case found && rest == "" && r.Method == http.MethodPost:
		m.create(w, r, body)
	case found && strings.HasSuffix(rest, "/cancel") && r.Method == http.MethodPost:
		m.cancel(w, r, strings.TrimSuffix(strings.TrimPrefix(rest, "/"), "/cancel"), body)
	case found && r.Method == http.MethodGet:
		m.query(w, r, strings.TrimPrefix(rest, "/"))
	default:
		m.fail(w, r, 404, "NOT_FOUND", "no such endpoint")
	}
}

func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("trailing data")
	}
	return nil
}

func (m *fakeMall) create(w http.ResponseWriter, r *http.Request, body []byte) {
	m.mu.Lock()
	m.lastCreate = body
	m.mu.Unlock()
	var c fakeCreate
	if err := strictDecode(body, &c); err != nil {
		m.fail(w, r, 400, "BAD_REQUEST", err.Error())
		return
	}
	if c.PartnerOrderNo == nil || c.BuyerRef == nil || c.BuyerName == nil || c.DeliveryMode == nil ||
		c.TotalFen == nil || c.NotifyURL == nil || len(c.Items) == 0 {
		m.fail(w, r, 400, "BAD_REQUEST", "field missing")
		return
	}
	if *c.DeliveryMode != "BULK" && *c.DeliveryMode != "PER_RECIPIENT" || *c.DeliveryMode == "BULK" && c.ShipTo == nil {
		m.fail(w, r, 400, "BAD_REQUEST", "deliveryMode/shipTo")
		return
	}
	var sum int64
	for _, it := range c.Items {
		if it.LineNo == nil || it.SkuID == nil || it.Quantity == nil || it.UnitPriceFen == nil {
			m.fail(w, r, 400, "BAD_REQUEST", "item field missing")
			return
		}
		price, ok := m.listed[*it.SkuID]
		if !ok {
			m.fail(w, r, 422, "ITEM_NOT_LISTED", *it.SkuID)
			return
		}
		if price != *it.UnitPriceFen {
			m.fail(w, r, 422, "PRICE_MISMATCH", fmt.Sprintf("%s listed at %d", *it.SkuID, price))
			return
		}
		sum += price * *it.Quantity
	}
	if sum != *c.TotalFen {
		m.fail(w, r, 422, "AMOUNT_MISMATCH", "total")
		return
	}
	c.NotifyURL = nil
	content, _ := json.Marshal(c)
	m.mu.Lock()
	defer m.mu.Unlock()
	no := *c.PartnerOrderNo
	if o, ok := m.orders[no]; ok {
		if o.content != string(content) {
			m.fail(w, r, 409, "ORDER_CONFLICT", "different content")
			return
		}
		m.ok(w, r, 200, map[string]string{"mallOrderNo": o.mallNo, "partnerOrderNo": no, "status": o.status})
		return
	}
	m.seq++
	o := &fakeOrder{content: string(content), mallNo: fmt.Sprintf("ABC88120190312%05d", m.seq), status: "CREATED", items: c.Items}
	m.orders[no] = o
	m.ok(w, r, 201, map[string]string{"mallOrderNo": o.mallNo, "partnerOrderNo": no, "status": o.status})
}

func (m *fakeMall) query(w http.ResponseWriter, r *http.Request, no string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.orders[no]
	if !ok {
		m.fail(w, r, 404, "NOT_FOUND", "no order "+no)
		return
	}
	var items []map[string]any
	for _, it := range o.items {
		st := "CREATED"
		if it.shipped > 0 {
			st = "SHIPPED"
		}
		items = append(items, map[string]any{"lineNo": *it.LineNo, "skuId": *it.SkuID, "quantity": *it.Quantity,
			"status": st, "shippedQuantity": it.shipped, "deliveredQuantity": 0, "refundedFen": 0})
	}
	m.ok(w, r, 200, map[string]any{"mallOrderNo": o.mallNo, "partnerOrderNo": no, "status": o.status, "items": items})
}

func (m *fakeMall) cancel(w http.ResponseWriter, r *http.Request, no string, body []byte) {
	var c struct {
		Reason *string `json:"reason"`
	}
	if err := strictDecode(body, &c); err != nil || c.Reason == nil {
		m.fail(w, r, 400, "BAD_REQUEST", "reason")
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.orders[no]
	if !ok {
		m.fail(w, r, 404, "NOT_FOUND", "no order "+no)
		return
	}
	for _, it := range o.items {
		if it.shipped > 0 {
			m.fail(w, r, 409, "ALREADY_SHIPPED", "order has shipped")
			return
		}
	}
	o.status = "CANCELLED"
	m.ok(w, r, 200, map[string]string{"mallOrderNo": o.mallNo, "partnerOrderNo": no, "status": o.status})
}

// ship marks every line of order no as shipped.
func (m *fakeMall) ship(no string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.orders[no].items {
		m.orders[no].items[i].shipped = *m.orders[no].items[i].Quantity
	}
	m.orders[no].status = "SHIPPED"
}

// client returns a Client for m with the given HTTP client (nil: the default).
func (m *fakeMall) client(t testing.TB, hc *http.Client) *Client {
	t.Helper()
	c, err := New(Config{BaseURL: m.srv.URL, AppID: testAppID, PartnerKey: m.keys.partner,
		MallKey: &m.keys.mall.PublicKey, HTTP: hc})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
