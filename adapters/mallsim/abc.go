package mallsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"aidmall/adapters/abc"
	"aidmall/bizday"
	spec "aidmall/internal/wire"
	"aidmall/money"
	"aidmall/orders"
)

// ABC windows (abc-mall.md "Signing"): timestamps within 5 minutes, nonces unused for 10.
const (
	abcTimestampWindow = 5 * time.Minute
	abcNonceWindow     = 10 * time.Minute
)

// abcReply is an answer before it is signed and written.
type abcReply struct {
	status      int
	body        []byte
	contentType string // default application/json; charset=utf-8
	after       func() // runs once the answer is written and flushed
}

func abcOK(status int, data any) abcReply {
	b, _ := spec.MarshalJSON(struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Data    any    `json:"data"`
	}{"0000", "OK", data})
	return abcReply{status: status, body: b}
}

func abcErr(status int, code, msg string) abcReply {
	b, _ := spec.MarshalJSON(struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}{code, msg})
	return abcReply{status: status, body: b}
}

func abcBadRequest(f string, a ...any) abcReply {
	return abcErr(http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf(f, a...))
}

// abcWire is the ABC mall's protocol.
type abcWire struct{ m *mall }

func (w *abcWire) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /open/v2/orders", w.api(w.create))
	mux.HandleFunc("GET /open/v2/orders/{no}", w.api(w.query))
	mux.HandleFunc("POST /open/v2/orders/{no}/cancel", w.api(w.cancel))
	mux.HandleFunc("/open/v2/", w.api(func(*http.Request, []byte) abcReply {
		return abcErr(http.StatusNotFound, "NOT_FOUND", "no such endpoint")
	}))
}

// schedule is the spec's (abc-mall.md "Notifications"): 1 min doubling, at most 12 tries,
// so 11 waits of 1, 2, 4 … 1024 minutes.
func (w *abcWire) schedule() []time.Duration {
	waits := make([]time.Duration, 11)
	for i := range waits {
		waits[i] = time.Minute << i
	}
	return waits
}

// api authenticates a request, runs h and writes its signed answer.
func (w *abcWire) api(h func(r *http.Request, body []byte) abcReply) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		body, rep, ok := w.m.verifyABCRequest(rw, r)
		if ok {
			rep = h(r, body)
		}
		if rep.status >= 400 {
			w.m.reject(strconv.Itoa(rep.status), string(rep.body))
		}
		w.write(rw, r.RequestURI, rep)
	}
}

// write signs rep with the mall key — method line RESPONSE, the request URI as received
// (abc-mall.md "Signing") — writes and flushes it, then runs rep.after.
func (w *abcWire) write(rw http.ResponseWriter, requestURI string, rep abcReply) {
	if rep.after != nil {
		defer rep.after() // also when the answer could not be written: the order exists
	}
	ts := strconv.FormatInt(w.m.now().UnixMilli(), 10)
	nonce := abc.NewNonce()
	sig, err := abc.Sign(w.m.sim.opt.Keys.ABCMall, abc.SigningString(abc.MethodResponse, requestURI, ts, nonce, rep.body))
	if err != nil {
		http.Error(rw, "internal error", http.StatusInternalServerError)
		return
	}
	h := rw.Header()
	if rep.contentType == "" {
		rep.contentType = "application/json; charset=utf-8"
	}
	h.Set("Content-Type", rep.contentType)
	h.Set(abc.HeaderAppID, w.m.sim.opt.ABCAppID)
	h.Set(abc.HeaderTimestamp, ts)
	h.Set(abc.HeaderNonce, nonce)
	h.Set(abc.HeaderSignature, sig)
	rw.WriteHeader(rep.status)
	rw.Write(rep.body)
	if f, ok := rw.(http.Flusher); ok {
		f.Flush()
	}
}

// verifyABCRequest checks a request (abc-mall.md "Signing"): the four X-Abc-* headers once
// each, a body of at most 1 MiB, application/json on POST and no body on GET, the
// timestamp in Unix milliseconds and the nonce 16–32 characters (400 BAD_REQUEST); the
// app id (401 BAD_SIGNATURE); the SM2 signature over method, request URI as sent,
// timestamp, nonce and SM3 of the body (401 BAD_SIGNATURE); the timestamp within 5 minutes
// and the nonce unused for 10 (401 STALE_REQUEST) — a nonce is used up only by a request
// whose signature verifies.
func (m *mall) verifyABCRequest(rw http.ResponseWriter, r *http.Request) ([]byte, abcReply, bool) {
	for _, h := range []string{abc.HeaderAppID, abc.HeaderTimestamp, abc.HeaderNonce, abc.HeaderSignature} {
		if vs := r.Header.Values(h); len(vs) != 1 || vs[0] == "" {
			return nil, abcBadRequest("header %s missing or repeated", h), false
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, 1<<20))
	if err != nil {
		return nil, abcBadRequest("body unreadable or over 1 MiB"), false
	}
	if r.Method == http.MethodPost {
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			return nil, abcBadRequest("Content-Type must be application/json"), false
		}
	} else if len(body) > 0 {
		return nil, abcBadRequest("%s carries no body", r.Method), false
	}
	ts, nonce := r.Header.Get(abc.HeaderTimestamp), r.Header.Get(abc.HeaderNonce)
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || ms <= 0 || strconv.FormatInt(ms, 10) != ts {
		return nil, abcBadRequest("%s must be Unix milliseconds", abc.HeaderTimestamp), false
	}
	if !spec.ValidNonce(nonce) {
		return nil, abcBadRequest("%s must be 16-32 printable characters", abc.HeaderNonce), false
	}
	if id := r.Header.Get(abc.HeaderAppID); id != m.sim.opt.ABCAppID {
		return nil, abcErr(http.StatusUnauthorized, "BAD_SIGNATURE", fmt.Sprintf("unknown app id %q", id)), false
	}
	s := abc.SigningString(r.Method, r.RequestURI, ts, nonce, body)
	if err := abc.Verify(&m.sim.opt.Keys.ABCPartner.PublicKey, s, r.Header.Get(abc.HeaderSignature)); err != nil {
		return nil, abcErr(http.StatusUnauthorized, "BAD_SIGNATURE", "signature does not verify"), false
	}
	if d := m.now().Sub(time.UnixMilli(ms)); d > abcTimestampWindow || d < -abcTimestampWindow {
		return nil, abcErr(http.StatusUnauthorized, "STALE_REQUEST", fmt.Sprintf("timestamp %s is %s off the mall clock", ts, d.Round(time.Second))), false
	}
	if !m.checkNonce(nonce, abcNonceWindow) {
		return nil, abcErr(http.StatusUnauthorized, "STALE_REQUEST", fmt.Sprintf("nonce %q seen in the last 10 minutes", nonce)), false
	}
	return body, abcReply{}, true
}

// abcCreate is the create body; pointers tell missing from zero.
type abcCreate struct {
	PartnerOrderNo *string         `json:"partnerOrderNo"`
	BuyerRef       *string         `json:"buyerRef"`
	BuyerName      *string         `json:"buyerName"`
	DeliveryMode   *string         `json:"deliveryMode"`
	ShipTo         *wireContact    `json:"shipTo"`
	Items          []abcCreateItem `json:"items"`
	TotalFen       *int64          `json:"totalFen"`
	NotifyURL      *string         `json:"notifyUrl"`
}

type abcCreateItem struct {
	LineNo       *int            `json:"lineNo"`
	SkuID        *string         `json:"skuId"`
	Quantity     *int64          `json:"quantity"`
	UnitPriceFen *int64          `json:"unitPriceFen"`
	Recipients   []wireRecipient `json:"recipients"`
}

var abcOrderNoRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// parseABCCreate reads a create body (abc-mall.md "Requests"): strict JSON, partnerOrderNo
// 1–64 letters, digits, '-' or '_', the shared rules of order0.check, notifyUrl an
// absolute http(s) URL (400 BAD_REQUEST); every skuId listed (422 ITEM_NOT_LISTED) at
// unitPriceFen (422 PRICE_MISMATCH); totalFen the sum (422 AMOUNT_MISMATCH). It returns
// the content and the notify URL.
func (m *mall) parseABCCreate(body []byte) (content, string, *abcReply) {
	fail := func(r abcReply) (content, string, *abcReply) { return content{}, "", &r }
	var c abcCreate
	if err := decodeStrict(body, &c); err != nil {
		return fail(abcBadRequest("body: %v", err))
	}
	if c.PartnerOrderNo == nil || c.BuyerRef == nil || c.BuyerName == nil || c.DeliveryMode == nil ||
		c.Items == nil || c.TotalFen == nil || c.NotifyURL == nil {
		return fail(abcBadRequest("body needs partnerOrderNo, buyerRef, buyerName, deliveryMode, items, totalFen and notifyUrl"))
	}
	if !abcOrderNoRE.MatchString(*c.PartnerOrderNo) {
		return fail(abcBadRequest("partnerOrderNo must be 1-64 letters, digits, '-' or '_'"))
	}
	if !spec.AbsoluteHTTPURL(*c.NotifyURL) {
		return fail(abcBadRequest("notifyUrl must be an absolute http(s) URL"))
	}
	o := order0{outOrderNo: *c.PartnerOrderNo, buyerRef: *c.BuyerRef, buyerName: *c.BuyerName,
		total: fen(*c.TotalFen), shipTo: c.ShipTo}
	switch *c.DeliveryMode {
	case "BULK":
		o.mode = orders.DeliveryBulk
	case "PER_RECIPIENT":
		o.mode = orders.DeliveryPerRecipient
	default:
		return fail(abcBadRequest("deliveryMode must be BULK or PER_RECIPIENT"))
	}
	for i, it := range c.Items {
		if it.LineNo == nil || it.SkuID == nil || it.Quantity == nil || it.UnitPriceFen == nil {
			return fail(abcBadRequest("items[%d] needs lineNo, skuId, quantity and unitPriceFen", i))
		}
		o.lines = append(o.lines, line0{no: *it.LineNo, item: *it.SkuID, qty: *it.Quantity, price: fen(*it.UnitPriceFen), recipients: it.Recipients})
	}
	ct, err := o.check()
	if err != nil {
		return fail(abcBadRequest("body: %v", err))
	}
	for i, l := range ct.Lines {
		listed, ok := m.listed[l.ItemID]
		if !ok {
			return fail(abcErr(http.StatusUnprocessableEntity, "ITEM_NOT_LISTED", fmt.Sprintf("items[%d]: skuId %s is not listed", i, l.ItemID)))
		}
		if listed != l.UnitPrice {
			return fail(abcErr(http.StatusUnprocessableEntity, "PRICE_MISMATCH",
				fmt.Sprintf("items[%d]: unitPriceFen %d, listed price of %s is %d", i, l.UnitPrice, l.ItemID, listed)))
		}
	}
	if sum := ct.sum(); sum != ct.Total {
		return fail(abcErr(http.StatusUnprocessableEntity, "AMOUNT_MISMATCH", fmt.Sprintf("totalFen %d, items add up to %d", ct.Total, sum)))
	}
	return ct, *c.NotifyURL, nil
}

type abcOrderData struct {
	MallOrderNo    string `json:"mallOrderNo"`
	PartnerOrderNo string `json:"partnerOrderNo"`
	Status         string `json:"status"`
}

// create answers POST /open/v2/orders: 201 on the first create, 200 with the existing
// order for the same content, 409 ORDER_CONFLICT for other content; fulfilment starts
// after a 201 is written.
func (w *abcWire) create(_ *http.Request, body []byte) abcReply {
	c, notifyURL, bad := w.m.parseABCCreate(body)
	if bad != nil {
		return *bad
	}
	v, created, err := w.m.create(c, notifyURL)
	if errors.Is(err, errConflict) {
		return abcErr(http.StatusConflict, "ORDER_CONFLICT",
			fmt.Sprintf("partnerOrderNo %s exists with other content (mallOrderNo %s)", v.OutOrderNo, v.MallOrderNo))
	}
	if !created {
		return abcOK(http.StatusOK, abcOrderData{v.MallOrderNo, v.OutOrderNo, v.Status})
	}
	rep := abcOK(http.StatusCreated, abcOrderData{v.MallOrderNo, v.OutOrderNo, v.Status})
	rep.after = func() { w.m.start(c.OutOrderNo) }
	return rep
}

type abcItemData struct {
	LineNo            int    `json:"lineNo"`
	SkuID             string `json:"skuId"`
	Quantity          int64  `json:"quantity"`
	UnitPriceFen      int64  `json:"unitPriceFen"`
	Status            string `json:"status"`
	ShippedQuantity   int64  `json:"shippedQuantity"`
	DeliveredQuantity int64  `json:"deliveredQuantity"`
	RefundedQuantity  int64  `json:"refundedQuantity"`
	RefundedFen       int64  `json:"refundedFen"`
}

type abcOrder struct {
	MallOrderNo    string        `json:"mallOrderNo"`
	PartnerOrderNo string        `json:"partnerOrderNo"`
	BuyerRef       string        `json:"buyerRef"`
	Status         string        `json:"status"`
	TotalFen       int64         `json:"totalFen"`
	CreatedAt      string        `json:"createdAt"`
	Items          []abcItemData `json:"items"`
}

// query answers GET /open/v2/orders/{no}: the order with its items' states (fen; times
// RFC 3339 +08:00), or 404 NOT_FOUND.
func (w *abcWire) query(r *http.Request, _ []byte) abcReply {
	no := r.PathValue("no")
	if !abcOrderNoRE.MatchString(no) {
		return abcBadRequest("partnerOrderNo must be 1-64 letters, digits, '-' or '_'")
	}
	v, err := w.m.query(no)
	if err != nil {
		return abcErr(http.StatusNotFound, "NOT_FOUND", "no order "+no)
	}
	d := abcOrder{MallOrderNo: v.MallOrderNo, PartnerOrderNo: v.OutOrderNo, BuyerRef: v.BuyerRef, Status: v.Status,
		TotalFen: int64(v.Total), CreatedAt: v.CreatedAt.In(bizday.Beijing).Format(time.RFC3339), Items: []abcItemData{}}
	for _, l := range v.Lines {
		d.Items = append(d.Items, abcItemData{LineNo: l.LineNo, SkuID: l.ItemID, Quantity: l.Quantity,
			UnitPriceFen: int64(l.UnitPrice), Status: l.Status, ShippedQuantity: l.Shipped,
			DeliveredQuantity: l.Delivered, RefundedQuantity: l.RefundedQty, RefundedFen: int64(l.RefundedFen)})
	}
	return abcOK(http.StatusOK, d)
}

// cancel answers POST /open/v2/orders/{no}/cancel with body {"reason":…}: 200, or 404
// NOT_FOUND, or 409 ALREADY_SHIPPED once an item has shipped.
func (w *abcWire) cancel(r *http.Request, body []byte) abcReply {
	no := r.PathValue("no")
	if !abcOrderNoRE.MatchString(no) {
		return abcBadRequest("partnerOrderNo must be 1-64 letters, digits, '-' or '_'")
	}
	var c struct {
		Reason *string `json:"reason"`
	}
	if err := decodeStrict(body, &c); err != nil {
		return abcBadRequest("body: %v", err)
	}
	reason := ""
	if c.Reason != nil {
		reason = *c.Reason
	}
	v, err := w.m.cancel(no, reason)
	switch {
	case errors.Is(err, errNotFound):
		return abcErr(http.StatusNotFound, "NOT_FOUND", "no order "+no)
	case errors.Is(err, errShipped):
		return abcErr(http.StatusConflict, "ALREADY_SHIPPED", fmt.Sprintf("order %s has shipped", no))
	}
	return abcOK(http.StatusOK, abcOrderData{v.MallOrderNo, v.OutOrderNo, v.Status})
}

// abcEventTypes spells event types as eventType values (abc-mall.md "Notifications").
var abcEventTypes = map[orders.EventType]string{
	orders.EventAccepted: "ORDER_CONFIRMED", orders.EventShipped: "ITEM_SHIPPED",
	orders.EventDelivered: "ITEM_DELIVERED", orders.EventRefunded: "ITEM_REFUNDED",
	orders.EventCancelled: "ORDER_CANCELLED",
}

// abcEvent is a notification body; a statement line is the same without attempt. lineNo
// and quantity are null on whole-order events, as the bundle's statement writes them.
type abcEvent struct {
	EventID        string `json:"eventId"`
	EventType      string `json:"eventType"`
	OccurredAt     string `json:"occurredAt"`
	PartnerOrderNo string `json:"partnerOrderNo"`
	MallOrderNo    string `json:"mallOrderNo"`
	LineNo         *int   `json:"lineNo"`
	Quantity       *int64 `json:"quantity"`
	RefundFen      int64  `json:"refundFen"`
	Attempt        int    `json:"attempt,omitempty"`
}

func toABCEvent(e orders.FulfilmentEvent, attempt int) abcEvent {
	a := abcEvent{EventID: string(e.EventID), EventType: abcEventTypes[e.Type],
		OccurredAt:     e.OccurredAt.In(bizday.Beijing).Format(time.RFC3339),
		PartnerOrderNo: string(e.OutOrderNo), MallOrderNo: e.MallOrderNo, Attempt: attempt}
	if e.Type != orders.EventAccepted && e.Type != orders.EventCancelled {
		line, qty := e.LineNo, e.Quantity
		a.LineNo, a.Quantity = &line, &qty
	}
	if e.Type == orders.EventRefunded {
		a.RefundFen = int64(e.RefundFen)
	}
	return a
}

// notify posts one attempt: the JSON body with attempt, signed with the mall key over
// POST and the notify URL's path with query. Acknowledged only by 200 with a JSON object
// whose code is "0000"; if the answer carries X-Abc-Signature it must verify with the
// partner key (method RESPONSE, the same path).
func (w *abcWire) notify(ctx context.Context, target string, e orders.FulfilmentEvent, attempt int, forged bool) error {
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	path := u.RequestURI()
	body, err := spec.MarshalJSON(toABCEvent(e, attempt))
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(w.m.now().UnixMilli(), 10)
	nonce := abc.NewNonce()
	signed := abc.SigningString(http.MethodPost, path, ts, nonce, body)
	if forged {
		signed += "forged" // a real SM2 signature, over other content
	}
	sig, err := abc.Sign(w.m.sim.opt.Keys.ABCMall, signed)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set(abc.HeaderAppID, w.m.sim.opt.ABCAppID)
	req.Header.Set(abc.HeaderTimestamp, ts)
	req.Header.Set(abc.HeaderNonce, nonce)
	req.Header.Set(abc.HeaderSignature, sig)
	resp, err := w.m.sim.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return err
	}
	return w.checkAck(path, resp.StatusCode, resp.Header, rb)
}

// checkAck decides whether an answer to a notification is an acknowledgement.
func (w *abcWire) checkAck(path string, status int, h http.Header, body []byte) error {
	if status != http.StatusOK {
		return fmt.Errorf("answer %d %.100q, want 200", status, body)
	}
	var ack struct {
		Code *string `json:"code"`
	}
	if err := json.Unmarshal(body, &ack); err != nil || ack.Code == nil || *ack.Code != "0000" {
		return fmt.Errorf("answer %.100q is not {\"code\":\"0000\"}", body)
	}
	if sig := h.Get(abc.HeaderSignature); sig != "" {
		s := abc.SigningString(abc.MethodResponse, path, h.Get(abc.HeaderTimestamp), h.Get(abc.HeaderNonce), body)
		if err := abc.Verify(&w.m.sim.opt.Keys.ABCPartner.PublicKey, s, sig); err != nil {
			return fmt.Errorf("acknowledgement signature: %w", err)
		}
	}
	return nil
}

// statement writes the ABC daily statement: JSON Lines, UTF-8, one notification body per
// line without attempt. It is signed like every ABC answer (RESPONSE, the request URI), which
// the adapter checks when present.
func (w *abcWire) statement(rw http.ResponseWriter, r *http.Request, events []orders.FulfilmentEvent) {
	var buf bytes.Buffer
	for _, e := range events {
		b, err := spec.MarshalJSON(toABCEvent(e, 0))
		if err != nil {
			http.Error(rw, "internal error", http.StatusInternalServerError)
			return
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	w.write(rw, r.RequestURI, abcReply{status: http.StatusOK, body: buf.Bytes(), contentType: "application/x-ndjson; charset=utf-8"})
}

// fen converts a wire integer of fen.
func fen(v int64) money.Fen { return money.Fen(v) }
