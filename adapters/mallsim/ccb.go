package mallsim

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"

	"aidmall/adapters/ccb"
	"aidmall/bizday"
	spec "aidmall/internal/wire"
	"aidmall/money"
	"aidmall/orders"
)

// CCB windows (ccb-mall.md "Requests"): timestamps within 10 minutes of the mall clock,
// nonces unused for 15 minutes.
const (
	ccbTimestampWindow = 10 * time.Minute
	ccbNonceWindow     = 15 * time.Minute
)

// ccbRetryWaits is the spec's schedule after a failed notification (ccb-mall.md
// "Notifications"): 8 tries in all.
var ccbRetryWaits = [...]time.Duration{4 * time.Minute, 10 * time.Minute, 10 * time.Minute,
	time.Hour, 2 * time.Hour, 6 * time.Hour, 15 * time.Hour}

// CCB result codes (ccb-mall.md "Responses").
const (
	ccbOK        = "10000"
	ccbParam     = "40001"
	ccbSign      = "40002"
	ccbStale     = "40003"
	ccbDuplicate = "40004"
	ccbPrice     = "40005"
	ccbAmount    = "40006"
	ccbShipped   = "40010"
	ccbNotFound  = "40404"
)

var ccbMsg = map[string]string{
	ccbOK: "Success", ccbParam: "Invalid Parameter", ccbSign: "Invalid Signature",
	ccbStale: "Stale Request", ccbDuplicate: "Duplicate Out Order No", ccbPrice: "Price Mismatch",
	ccbAmount: "Amount Mismatch", ccbShipped: "Order Shipped", ccbNotFound: "Order Not Found",
}

// ccbError is a refusal: code, sub_code, sub_msg.
type ccbError struct{ code, sub, msg string }

func (e *ccbError) Error() string { return e.code + " " + e.sub + ": " + e.msg }

func ccbInvalid(f string, a ...any) *ccbError {
	return &ccbError{ccbParam, "INVALID_PARAMETER", fmt.Sprintf(f, a...)}
}

func ccbMissing(f string, a ...any) *ccbError {
	return &ccbError{ccbParam, "MISSING_PARAMETER", fmt.Sprintf(f, a...)}
}

// ccbParams lists the request parameters of ccb-mall.md "Requests" and whether each is
// required on every method (notify_url: create only).
var ccbParams = map[string]bool{
	"app_id": true, "method": true, "charset": true, "sign_type": true, "timestamp": true,
	"nonce": true, "version": true, "notify_url": false, "biz_content": true, "sign": true,
}

// ccbWire is the CCB mall's protocol.
type ccbWire struct{ m *mall }

func (w *ccbWire) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /gateway", w.gateway)
}

func (w *ccbWire) schedule() []time.Duration {
	return append([]time.Duration(nil), ccbRetryWaits[:]...)
}

// gateway answers POST /gateway: envelope, signature, freshness, then the method.
func (w *ccbWire) gateway(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, 1<<20))
	if err != nil {
		w.fail(rw, ccbInvalid("body unreadable or over 1 MiB"))
		return
	}
	params, cerr := w.m.verifyCCBRequest(r.Header.Get("Content-Type"), body)
	if cerr != nil {
		w.fail(rw, cerr)
		return
	}
	switch params["method"] {
	case "mall.order.create":
		c, cerr := w.m.parseCCBCreate(params["biz_content"])
		if cerr != nil {
			w.fail(rw, cerr)
			return
		}
		v, created, err := w.m.create(c, params["notify_url"])
		if errors.Is(err, errConflict) {
			w.fail(rw, &ccbError{ccbDuplicate, "DUPLICATE_OUT_ORDER_NO",
				fmt.Sprintf("out_order_no %s exists with other content (mall_order_no %s)", v.OutOrderNo, v.MallOrderNo)})
			return
		}
		w.ok(rw, ccbOrderData{v.MallOrderNo, v.OutOrderNo, v.Status})
		if created {
			w.m.start(c.OutOrderNo) // after the answer is flushed
		}
	case "mall.order.query":
		var q struct {
			OutOrderNo *string `json:"out_order_no"`
		}
		if cerr := ccbOrderNo(params["biz_content"], &q, &q.OutOrderNo); cerr != nil {
			w.fail(rw, cerr)
			return
		}
		v, err := w.m.query(*q.OutOrderNo)
		if err != nil {
			w.fail(rw, &ccbError{ccbNotFound, "ORDER_NOT_FOUND", "no order " + *q.OutOrderNo})
			return
		}
		w.ok(rw, ccbQueryData(v))
	case "mall.order.cancel":
		var q struct {
			OutOrderNo *string `json:"out_order_no"`
			Reason     string  `json:"reason"`
		}
		if cerr := ccbOrderNo(params["biz_content"], &q, &q.OutOrderNo); cerr != nil {
			w.fail(rw, cerr)
			return
		}
		v, err := w.m.cancel(*q.OutOrderNo, q.Reason)
		switch {
		case errors.Is(err, errNotFound):
			w.fail(rw, &ccbError{ccbNotFound, "ORDER_NOT_FOUND", "no order " + *q.OutOrderNo})
		case errors.Is(err, errShipped):
			w.fail(rw, &ccbError{ccbShipped, "ORDER_SHIPPED", fmt.Sprintf("order %s has shipped", *q.OutOrderNo)})
		default:
			w.ok(rw, ccbOrderData{v.MallOrderNo, v.OutOrderNo, v.Status})
		}
	}
}

// verifyCCBRequest checks a gateway request's envelope (ccb-mall.md "Requests" and
// "Signing") and returns its parameters. In order: form body with only the spec's
// parameters, each once and non-empty (40001); charset, sign_type, version and method
// (40001); app_id (40002 UNKNOWN_APP_ID); the RSA2 signature over every non-empty
// parameter except sign (40002 INVALID_SIGNATURE); timestamp within 10 minutes (40003
// STALE_TIMESTAMP); nonce 16–32 characters (40001) unused in 15 minutes (40003
// NONCE_REUSED) — a nonce is used up only by a request whose signature verifies.
func (m *mall) verifyCCBRequest(contentType string, body []byte) (map[string]string, *ccbError) {
	if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, ccbInvalid("Content-Type must be application/x-www-form-urlencoded")
	}
	if !utf8.Valid(body) {
		return nil, ccbInvalid("body is not UTF-8")
	}
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, ccbInvalid("body is not form-encoded: %v", err)
	}
	params := map[string]string{}
	for k, vs := range values {
		if _, known := ccbParams[k]; !known {
			return nil, ccbInvalid("unknown parameter %q", k)
		}
		if len(vs) != 1 {
			return nil, ccbInvalid("parameter %s given %d times", k, len(vs))
		}
		if vs[0] == "" {
			return nil, ccbMissing("parameter %s is empty", k)
		}
		params[k] = vs[0]
	}
	for k, required := range ccbParams {
		if required && params[k] == "" {
			return nil, ccbMissing("parameter %s is missing", k)
		}
	}
	switch {
	case params["charset"] != "utf-8":
		return nil, ccbInvalid("charset must be utf-8")
	case params["sign_type"] != ccb.SignType:
		return nil, ccbInvalid("sign_type must be RSA2")
	case params["version"] != "1.0":
		return nil, ccbInvalid("version must be 1.0")
	}
	switch params["method"] {
	case "mall.order.create":
		if params["notify_url"] == "" {
			return nil, ccbMissing("parameter notify_url is missing")
		}
		if !spec.AbsoluteHTTPURL(params["notify_url"]) {
			return nil, ccbInvalid("notify_url must be an absolute http(s) URL")
		}
	case "mall.order.query", "mall.order.cancel":
		if params["notify_url"] != "" {
			return nil, ccbInvalid("notify_url is for mall.order.create only")
		}
	default:
		return nil, ccbInvalid("unknown method %q", params["method"])
	}
	if params["app_id"] != m.sim.opt.CCBAppID {
		return nil, &ccbError{ccbSign, "UNKNOWN_APP_ID", fmt.Sprintf("unknown app_id %q", params["app_id"])}
	}
	if err := ccb.Verify(&m.sim.opt.Keys.CCBPartner.PublicKey, ccb.SigningString(params, "sign"), params["sign"]); err != nil {
		return nil, &ccbError{ccbSign, "INVALID_SIGNATURE", "signature does not verify"}
	}
	ts, err := time.ParseInLocation(ccb.TimeLayout, params["timestamp"], bizday.Beijing)
	if err != nil {
		return nil, ccbInvalid("timestamp must be yyyy-MM-dd HH:mm:ss")
	}
	if d := m.now().Sub(ts); d > ccbTimestampWindow || d < -ccbTimestampWindow {
		return nil, &ccbError{ccbStale, "STALE_TIMESTAMP", fmt.Sprintf("timestamp %s is %s off the mall clock", params["timestamp"], d.Round(time.Second))}
	}
	if !spec.ValidNonce(params["nonce"]) {
		return nil, ccbInvalid("nonce must be 16-32 printable characters")
	}
	if !m.checkNonce(params["nonce"], ccbNonceWindow) {
		return nil, &ccbError{ccbStale, "NONCE_REUSED", fmt.Sprintf("nonce %q seen in the last 15 minutes", params["nonce"])}
	}
	return params, nil
}

// ccbCreate is the mall.order.create biz_content; pointers tell missing from zero.
type ccbCreate struct {
	OutOrderNo   *string         `json:"out_order_no"`
	BuyerRef     *string         `json:"buyer_ref"`
	BuyerName    *string         `json:"buyer_name"`
	DeliveryMode *string         `json:"delivery_mode"`
	ShipTo       *wireContact    `json:"ship_to"`
	Lines        []ccbCreateLine `json:"lines"`
	TotalAmount  *string         `json:"total_amount"`
}

type ccbCreateLine struct {
	LineNo     *int            `json:"line_no"`
	ItemID     *string         `json:"item_id"`
	Quantity   *int64          `json:"quantity"`
	UnitPrice  *string         `json:"unit_price"`
	Recipients []wireRecipient `json:"recipients"`
}

// wireContact and wireRecipient are ship_to/shipTo and recipients in both malls' bodies.
type wireContact struct {
	Name    *string `json:"name"`
	Phone   *string `json:"phone"`
	Address *string `json:"address"`
}

type wireRecipient struct {
	Name     *string `json:"name"`
	Phone    *string `json:"phone"`
	Address  *string `json:"address"`
	Quantity *int64  `json:"quantity"`
}

var (
	ccbOutOrderNoRE = regexp.MustCompile(`^[A-Za-z0-9]{1,32}$`)
	yuanRE          = regexp.MustCompile(`^(0|[1-9][0-9]{0,14})\.[0-9]{2}$`)
)

// parseCCBCreate reads a mall.order.create biz_content (ccb-mall.md): strict JSON (unknown
// fields, wrong types and trailing data are 40001), out_order_no 1–32 letters and digits,
// buyer_ref 1–64 characters, buyer_name, delivery_mode bulk (needs ship_to, no recipients)
// or per_recipient (recipients add up to the line's quantity, or ship_to), lines with
// unique positive line_no, positive quantity and a yuan unit_price with 2 decimals; then
// every item listed at its unit_price (40005 ITEM_NOT_LISTED / PRICE_MISMATCH) and
// total_amount the sum of quantity × unit_price (40006 AMOUNT_MISMATCH).
func (m *mall) parseCCBCreate(biz string) (content, *ccbError) {
	var c ccbCreate
	if err := decodeStrict([]byte(biz), &c); err != nil {
		return content{}, ccbInvalid("biz_content: %v", err)
	}
	if c.OutOrderNo == nil || c.BuyerRef == nil || c.BuyerName == nil || c.DeliveryMode == nil || c.TotalAmount == nil || c.Lines == nil {
		return content{}, ccbMissing("biz_content needs out_order_no, buyer_ref, buyer_name, delivery_mode, lines and total_amount")
	}
	if !ccbOutOrderNoRE.MatchString(*c.OutOrderNo) {
		return content{}, ccbInvalid("out_order_no must be 1-32 letters and digits")
	}
	total, ok := parseYuan2(*c.TotalAmount)
	if !ok {
		return content{}, ccbInvalid("total_amount %q is not yuan with 2 decimals", *c.TotalAmount)
	}
	o := order0{outOrderNo: *c.OutOrderNo, buyerRef: *c.BuyerRef, buyerName: *c.BuyerName, total: total, shipTo: c.ShipTo}
	switch *c.DeliveryMode {
	case "bulk":
		o.mode = orders.DeliveryBulk
	case "per_recipient":
		o.mode = orders.DeliveryPerRecipient
	default:
		return content{}, ccbInvalid("delivery_mode must be bulk or per_recipient")
	}
	for i, l := range c.Lines {
		if l.LineNo == nil || l.ItemID == nil || l.Quantity == nil || l.UnitPrice == nil {
			return content{}, ccbMissing("lines[%d] needs line_no, item_id, quantity and unit_price", i)
		}
		price, ok := parseYuan2(*l.UnitPrice)
		if !ok {
			return content{}, ccbInvalid("lines[%d].unit_price %q is not yuan with 2 decimals", i, *l.UnitPrice)
		}
		o.lines = append(o.lines, line0{no: *l.LineNo, item: *l.ItemID, qty: *l.Quantity, price: price, recipients: l.Recipients})
	}
	ct, err := o.check()
	if err != nil {
		return content{}, ccbInvalid("biz_content: %v", err)
	}
	for i, l := range ct.Lines {
		listed, ok := m.listed[l.ItemID]
		if !ok {
			return content{}, &ccbError{ccbPrice, "ITEM_NOT_LISTED", fmt.Sprintf("lines[%d]: item_id %s is not listed", i, l.ItemID)}
		}
		if listed != l.UnitPrice {
			return content{}, &ccbError{ccbPrice, "PRICE_MISMATCH", fmt.Sprintf("lines[%d]: unit_price %s, listed price of %s is %s", i, l.UnitPrice, l.ItemID, listed)}
		}
	}
	if sum := ct.sum(); sum != ct.Total {
		return content{}, &ccbError{ccbAmount, "AMOUNT_MISMATCH", fmt.Sprintf("total_amount %s, lines add up to %s", ct.Total, sum)}
	}
	return ct, nil
}

// parseYuan2 reads a yuan amount with exactly two decimals ("68.00").
func parseYuan2(s string) (money.Fen, bool) {
	if !yuanRE.MatchString(s) {
		return 0, false
	}
	f, err := money.ParseYuan(s)
	return f, err == nil
}

// ccbOrderNo decodes a query/cancel biz_content and checks its out_order_no.
func ccbOrderNo(biz string, v any, no **string) *ccbError {
	if err := decodeStrict([]byte(biz), v); err != nil {
		return ccbInvalid("biz_content: %v", err)
	}
	if *no == nil {
		return ccbMissing("biz_content.out_order_no is missing")
	}
	if !ccbOutOrderNoRE.MatchString(**no) {
		return ccbInvalid("out_order_no must be 1-32 letters and digits")
	}
	return nil
}

type ccbOrderData struct {
	MallOrderNo string `json:"mall_order_no"`
	OutOrderNo  string `json:"out_order_no"`
	Status      string `json:"status"`
}

type ccbLineData struct {
	LineNo            int    `json:"line_no"`
	ItemID            string `json:"item_id"`
	Quantity          int64  `json:"quantity"`
	UnitPrice         string `json:"unit_price"`
	Status            string `json:"status"`
	ShippedQuantity   int64  `json:"shipped_quantity"`
	DeliveredQuantity int64  `json:"delivered_quantity"`
	RefundedQuantity  int64  `json:"refunded_quantity"`
	RefundedAmount    string `json:"refunded_amount"`
}

type ccbOrder struct {
	MallOrderNo string        `json:"mall_order_no"`
	OutOrderNo  string        `json:"out_order_no"`
	BuyerRef    string        `json:"buyer_ref"`
	Status      string        `json:"status"`
	TotalAmount string        `json:"total_amount"`
	CreatedAt   string        `json:"created_at"`
	Lines       []ccbLineData `json:"lines"`
}

// ccbQueryData is the mall.order.query answer: the order with its lines' states, amounts in
// yuan, created_at Beijing time.
func ccbQueryData(v orderView) ccbOrder {
	d := ccbOrder{MallOrderNo: v.MallOrderNo, OutOrderNo: v.OutOrderNo, BuyerRef: v.BuyerRef, Status: v.Status,
		TotalAmount: v.Total.String(), CreatedAt: v.CreatedAt.In(bizday.Beijing).Format(ccb.TimeLayout), Lines: []ccbLineData{}}
	for _, l := range v.Lines {
		d.Lines = append(d.Lines, ccbLineData{
			LineNo: l.LineNo, ItemID: l.ItemID, Quantity: l.Quantity, UnitPrice: l.UnitPrice.String(), Status: l.Status,
			ShippedQuantity: l.Shipped, DeliveredQuantity: l.Delivered, RefundedQuantity: l.RefundedQty,
			RefundedAmount: l.RefundedFen.String(),
		})
	}
	return d
}

// ok answers code 10000 with data.
func (w *ccbWire) ok(rw http.ResponseWriter, data any) { w.write(rw, ccbOK, data) }

// fail answers a refusal: HTTP 200, the code, data {sub_code, sub_msg}.
func (w *ccbWire) fail(rw http.ResponseWriter, e *ccbError) {
	w.m.reject(e.code+" "+e.sub, e.msg)
	w.write(rw, e.code, struct {
		SubCode string `json:"sub_code"`
		SubMsg  string `json:"sub_msg"`
	}{e.sub, e.msg})
}

// write sends {"code","msg","data","sign"}: sign is the RSA2 signature of the data object's
// JSON text exactly as sent (ccb-mall.md "Responses"). The answer is flushed before write
// returns, so fulfilment can start after it.
func (w *ccbWire) write(rw http.ResponseWriter, code string, data any) {
	raw, err := spec.MarshalJSON(data)
	if err != nil {
		http.Error(rw, "internal error", http.StatusInternalServerError)
		return
	}
	sign, err := ccb.Sign(w.m.sim.opt.Keys.CCBMall, string(raw))
	if err != nil {
		http.Error(rw, "internal error", http.StatusInternalServerError)
		return
	}
	body, _ := spec.MarshalJSON(struct {
		Code string          `json:"code"`
		Msg  string          `json:"msg"`
		Data json.RawMessage `json:"data"`
		Sign string          `json:"sign"`
	}{code, ccbMsg[code], raw, sign})
	rw.Header().Set("Content-Type", "application/json; charset=utf-8")
	rw.WriteHeader(http.StatusOK)
	rw.Write(body)
	if f, ok := rw.(http.Flusher); ok {
		f.Flush()
	}
}

// ccbNotifyTypes spells event types as notify_type values (ccb-mall.md "Notifications").
var ccbNotifyTypes = map[orders.EventType]string{
	orders.EventAccepted: "order.accepted", orders.EventShipped: "order.shipped",
	orders.EventDelivered: "order.delivered", orders.EventRefunded: "order.refunded",
	orders.EventCancelled: "order.cancelled",
}

// ccbNotifyParams builds a notification's parameters, signed: line_no and quantity only on
// line events, amount (yuan) on order.refunded only, logistics_no on order.shipped only;
// the signature covers every non-empty parameter except sign and sign_type.
func (m *mall) ccbNotifyParams(e orders.FulfilmentEvent, sentAt time.Time) (url.Values, error) {
	p := map[string]string{
		"notify_id":     string(e.EventID),
		"notify_type":   ccbNotifyTypes[e.Type],
		"notify_time":   sentAt.In(bizday.Beijing).Format(ccb.TimeLayout),
		"occurred_at":   e.OccurredAt.In(bizday.Beijing).Format(ccb.TimeLayout),
		"app_id":        m.sim.opt.CCBAppID,
		"out_order_no":  string(e.OutOrderNo),
		"mall_order_no": e.MallOrderNo,
		"sign_type":     ccb.SignType,
	}
	if e.Type != orders.EventAccepted && e.Type != orders.EventCancelled {
		p["line_no"] = strconv.Itoa(e.LineNo)
		p["quantity"] = strconv.FormatInt(e.Quantity, 10)
	}
	if e.Type == orders.EventRefunded {
		p["amount"] = e.RefundFen.String()
	}
	if e.Type == orders.EventShipped && e.LogisticsNo != "" {
		p["logistics_no"] = e.LogisticsNo
	}
	sign, err := ccb.Sign(m.sim.opt.Keys.CCBMall, ccb.SigningString(p, "sign", "sign_type"))
	if err != nil {
		return nil, err
	}
	p["sign"] = sign
	v := url.Values{}
	for k, s := range p {
		v.Set(k, s)
	}
	return v, nil
}

// notify posts one attempt. Acknowledged only by HTTP 200 with the body exactly "success".
func (w *ccbWire) notify(ctx context.Context, target string, e orders.FulfilmentEvent, _ int, forged bool) error {
	form, err := w.m.ccbNotifyParams(e, w.m.now())
	if err != nil {
		return err
	}
	if forged {
		// A real RSA signature, over other content.
		sign, err := ccb.Sign(w.m.sim.opt.Keys.CCBMall, "forged&"+form.Get("sign"))
		if err != nil {
			return err
		}
		form.Set("sign", sign)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	resp, err := w.m.sim.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, []byte("success")) {
		return fmt.Errorf("answer %d %q, want 200 \"success\"", resp.StatusCode, body)
	}
	return nil
}

// statement writes the CCB daily statement: GB18030 CSV, CRLF, the spec's Chinese header.
func (w *ccbWire) statement(rw http.ResponseWriter, _ *http.Request, events []orders.FulfilmentEvent) {
	var buf bytes.Buffer
	if err := writeCCBStatement(&buf, events); err != nil {
		http.Error(rw, "internal error", http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "text/csv; charset=GB18030")
	rw.Write(buf.Bytes())
}

// ccbStatementHeader is the header row of ccb-mall.md "Daily statement".
var ccbStatementHeader = []string{"通知编号", "事件类型", "商户订单号", "商城订单号", "行号", "数量", "退款金额", "发生时间"}

// writeCCBStatement writes events as ccb-mall.md "Daily statement": header
// 通知编号,事件类型,商户订单号,商城订单号,行号,数量,退款金额,发生时间, GB18030, CRLF;
// 行号 and 数量 empty on whole-order events, 退款金额 (yuan) on refunds only.
func writeCCBStatement(out io.Writer, events []orders.FulfilmentEvent) error {
	enc := simplifiedchinese.GB18030.NewEncoder().Writer(out)
	cw := csv.NewWriter(enc)
	cw.UseCRLF = true
	if err := cw.Write(ccbStatementHeader); err != nil {
		return err
	}
	for _, e := range events {
		var line, qty, amount string
		if e.Type != orders.EventAccepted && e.Type != orders.EventCancelled {
			line, qty = strconv.Itoa(e.LineNo), strconv.FormatInt(e.Quantity, 10)
		}
		if e.Type == orders.EventRefunded {
			amount = e.RefundFen.String()
		}
		if err := cw.Write([]string{string(e.EventID), ccbNotifyTypes[e.Type], string(e.OutOrderNo), e.MallOrderNo, line, qty, amount,
			e.OccurredAt.In(bizday.Beijing).Format(ccb.TimeLayout)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
