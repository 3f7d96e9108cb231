package ccb

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"aidmall/bizday"
	"aidmall/internal/wire"
	"aidmall/malls"
	"aidmall/money"
	"aidmall/orders"
)

// Gateway methods (ccb-mall.md, "Requests").
const (
	MethodCreate = "mall.order.create"
	MethodQuery  = "mall.order.query"
	MethodCancel = "mall.order.cancel"
)

// Result codes the adapter treats specially (ccb-mall.md, "Responses").
const (
	CodeSuccess     = "10000"
	CodeUnavailable = "20000" // the only retryable code
	CodeDuplicate   = "40004" // out_order_no reused with other content
	CodeShipped     = "40010" // cancel refused: a line has shipped
	CodeNotFound    = "40404" // order not found
)

const (
	defaultTimeout   = 10 * time.Second
	maxResponseBytes = 1 << 20
	nonceLen         = 24
)

// Config configures a Client. BaseURL, AppID, PartnerKey and MallKey are required.
type Config struct {
	// BaseURL is the mall's root URL (http or https, no query); the gateway is
	// {BaseURL}/gateway and statements are {BaseURL}/statements/{yyyy-MM-dd}.
	BaseURL string
	// AppID is the partner id the mall gave us (e.g. 2019031200000001).
	AppID string
	// PartnerKey signs requests (RSA 2048, PKCS#8 on disk).
	PartnerKey *rsa.PrivateKey
	// MallKey verifies responses (RSA, PKIX on disk).
	MallKey *rsa.PublicKey
	// HTTP sends the requests. Default: a client with a 10 s timeout that does not follow
	// redirects (a redirect answer is a final error).
	HTTP *http.Client
	// Now is the clock for request timestamps (sent in Beijing time; the mall rejects one
	// more than 10 minutes off its own clock). Default: time.Now.
	Now func() time.Time
	// Nonce returns a request nonce: 16–32 printable ASCII characters, not reused within
	// 15 minutes. Default: 24 characters of [A-Za-z0-9] from crypto/rand.
	Nonce func() string
}

// Client is the CCB mall partner API client (ccb-mall.md). It implements orders.MallClient
// and is safe for concurrent use. It never retries by itself: every error says, through
// (*orders.MallError).Retryable, whether the caller may try the same call again.
type Client struct {
	cfg     Config
	baseURL string
}

var _ orders.MallClient = (*Client)(nil)

// New returns a Client for cfg, filling the defaults documented on Config. It fails when
// BaseURL is not an absolute http(s) URL or AppID, PartnerKey or MallKey is missing.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return nil, fmt.Errorf("ccb: base URL %q is not an absolute http(s) URL", cfg.BaseURL)
	}
	switch {
	case cfg.AppID == "":
		return nil, errors.New("ccb: empty app id")
	case cfg.PartnerKey == nil:
		return nil, errors.New("ccb: nil partner private key")
	case cfg.MallKey == nil:
		return nil, errors.New("ccb: nil mall public key")
	}
	if cfg.HTTP == nil {
		cfg.HTTP = wire.NewHTTPClient(defaultTimeout)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Nonce == nil {
		cfg.Nonce = randomNonce
	}
	return &Client{cfg: cfg, baseURL: strings.TrimRight(cfg.BaseURL, "/")}, nil
}

// Mall returns Code.
func (c *Client) Mall() orders.Mall { return Code }

type wireContact struct {
	Name    string `json:"name"`
	Phone   string `json:"phone"`
	Address string `json:"address"`
}

type wireRecipient struct {
	Name     string `json:"name"`
	Phone    string `json:"phone"`
	Address  string `json:"address"`
	Quantity int64  `json:"quantity"`
}

type wireLine struct {
	LineNo     int             `json:"line_no"`
	ItemID     string          `json:"item_id"`
	Quantity   int64           `json:"quantity"`
	UnitPrice  string          `json:"unit_price"`
	Recipients []wireRecipient `json:"recipients,omitempty"`
}

type createBiz struct {
	OutOrderNo   string       `json:"out_order_no"`
	BuyerRef     string       `json:"buyer_ref"`
	BuyerName    string       `json:"buyer_name"`
	DeliveryMode string       `json:"delivery_mode"`
	ShipTo       *wireContact `json:"ship_to,omitempty"`
	Lines        []wireLine   `json:"lines"`
	TotalAmount  string       `json:"total_amount"`
}

type orderData struct {
	MallOrderNo string `json:"mall_order_no"`
	OutOrderNo  string `json:"out_order_no"`
	Status      string `json:"status"`
}

// Create places req at the mall (method mall.order.create). The biz_content carries
// out_order_no, buyer_ref, buyer_name, delivery_mode, ship_to (left out when req.ShipTo is
// empty), the lines (line_no, item_id, quantity, unit_price in yuan with exactly two
// decimals, recipients on per_recipient orders only) and total_amount (req.Total in yuan,
// as given: the mall checks it is the lines' sum); notify_url is sent on create only. The
// mall is idempotent on out_order_no: the same content again returns the existing order.
//
// Errors are *orders.MallError: a request the mall would refuse as malformed (invalid
// out_order_no, buyer_ref over 64 characters, no notify URL, no lines, a non-positive
// line number or quantity, a negative price, recipients on a bulk order) is refused
// locally without a call, final, wrapping orders.ErrInvalid; mall codes as for every call
// (see Query); 40004 wraps orders.ErrConflict.
func (c *Client) Create(ctx context.Context, req orders.CreateRequest) (orders.CreateResult, error) {
	biz, err := c.createBiz(req)
	if err != nil {
		return orders.CreateResult{}, err
	}
	data, err := c.call(ctx, MethodCreate, biz, req.NotifyURL)
	if err != nil {
		return orders.CreateResult{}, err
	}
	var d orderData
	if err := json.Unmarshal(data, &d); err != nil || d.MallOrderNo == "" {
		return orders.CreateResult{}, c.unreadable(MethodCreate, "data lacks mall_order_no")
	}
	if d.OutOrderNo != "" && orders.OutOrderNo(d.OutOrderNo) != req.OutOrderNo {
		return orders.CreateResult{}, &orders.MallError{Mall: Code, HTTPStatus: http.StatusOK,
			Message: fmt.Sprintf("create of %s answered for out_order_no %s", req.OutOrderNo, d.OutOrderNo)}
	}
	return orders.CreateResult{MallOrderNo: d.MallOrderNo, Status: d.Status}, nil
}

func (c *Client) createBiz(req orders.CreateRequest) (createBiz, error) {
	bad := func(f string, a ...any) error {
		return &orders.MallError{Mall: Code, Message: "not sent: " + fmt.Sprintf(f, a...), Err: orders.ErrInvalid}
	}
	switch {
	case !Limits.ValidOutOrderNo(req.OutOrderNo):
		return createBiz{}, bad("out_order_no %q is not 1-%d letters and digits", req.OutOrderNo, Limits.OutOrderNoMax)
	case utf8.RuneCountInString(req.BuyerRef) > Limits.OrderRefMax:
		return createBiz{}, bad("buyer_ref is over %d characters", Limits.OrderRefMax)
	case !req.DeliveryMode.Valid():
		return createBiz{}, bad("delivery_mode %q", req.DeliveryMode)
	case !wire.AbsoluteHTTPURL(req.NotifyURL):
		return createBiz{}, bad("notify_url %q is not an absolute http(s) URL", req.NotifyURL)
	case len(req.Lines) == 0:
		return createBiz{}, bad("no lines")
	case req.Total < 0:
		return createBiz{}, bad("negative total")
	}
	b := createBiz{
		OutOrderNo:   string(req.OutOrderNo),
		BuyerRef:     req.BuyerRef,
		BuyerName:    req.BuyerName,
		DeliveryMode: string(req.DeliveryMode),
		TotalAmount:  req.Total.String(),
	}
	if req.ShipTo != (orders.ShipTo{}) {
		b.ShipTo = &wireContact{Name: req.ShipTo.Name, Phone: req.ShipTo.Phone, Address: req.ShipTo.Address}
	}
	for i, l := range req.Lines {
		switch {
		case l.LineNo <= 0:
			return createBiz{}, bad("lines[%d]: line_no %d", i, l.LineNo)
		case l.Quantity <= 0:
			return createBiz{}, bad("lines[%d]: quantity %d", i, l.Quantity)
		case l.UnitPrice < 0:
			return createBiz{}, bad("lines[%d]: negative unit price", i)
		case len(l.Recipients) > 0 && req.DeliveryMode != orders.DeliveryPerRecipient:
			return createBiz{}, bad("lines[%d]: recipients on a %s order", i, req.DeliveryMode)
		}
		w := wireLine{LineNo: l.LineNo, ItemID: l.ItemID, Quantity: l.Quantity, UnitPrice: l.UnitPrice.String()}
		for _, r := range l.Recipients {
			w.Recipients = append(w.Recipients, wireRecipient{Name: r.Name, Phone: r.Phone, Address: r.Address, Quantity: r.Quantity})
		}
		b.Lines = append(b.Lines, w)
	}
	return b, nil
}

type queryLine struct {
	LineNo            int    `json:"line_no"`
	Status            string `json:"status"`
	ShippedQuantity   int64  `json:"shipped_quantity"`
	DeliveredQuantity int64  `json:"delivered_quantity"`
	RefundedAmount    string `json:"refunded_amount"`
}

type queryData struct {
	MallOrderNo string      `json:"mall_order_no"`
	OutOrderNo  string      `json:"out_order_no"`
	Status      string      `json:"status"`
	Lines       []queryLine `json:"lines"`
}

// Query returns the mall's view of the order outOrderNo (method mall.order.query): its
// numbers, status (ACCEPTED, SHIPPED, DELIVERED, CANCELLED, …) and per line the status,
// shipped_quantity, delivered_quantity and refunded_amount (yuan, converted to fen).
//
// Errors, for every gateway call, are *orders.MallError:
//   - code 20000, HTTP 5xx and 429, timeouts and transport errors: Retryable, with the
//     answer's Retry-After when it sent one (see call);
//   - a response whose sign does not verify over the data text as sent, or that cannot be
//     read: Retryable, Err wrapping ErrBadSignature when the signature failed. Such an
//     answer is treated like no answer (a transport fault): the mall may have acted, and
//     every gateway call is safe to repeat (create is idempotent on out_order_no, query
//     reads, a second cancel succeeds);
//   - every 4xxxx code and any other HTTP status: final, with Code, SubCode and Message
//     (sub_msg) as the mall gave them; 40404 sets NotFound and wraps orders.ErrNotFound,
//     40004 wraps orders.ErrConflict, 40010 wraps orders.ErrNotAllowed.
func (c *Client) Query(ctx context.Context, outOrderNo orders.OutOrderNo) (orders.MallOrderView, error) {
	data, err := c.call(ctx, MethodQuery, map[string]string{"out_order_no": string(outOrderNo)}, "")
	if err != nil {
		return orders.MallOrderView{}, err
	}
	var d queryData
	if err := json.Unmarshal(data, &d); err != nil {
		return orders.MallOrderView{}, c.unreadable(MethodQuery, err.Error())
	}
	v := orders.MallOrderView{MallOrderNo: d.MallOrderNo, OutOrderNo: orders.OutOrderNo(d.OutOrderNo), Status: d.Status}
	for _, l := range d.Lines {
		var refunded money.Fen
		if l.RefundedAmount != "" {
			if refunded, err = money.ParseYuan(l.RefundedAmount); err != nil {
				return orders.MallOrderView{}, c.unreadable(MethodQuery, fmt.Sprintf("line %d refunded_amount %q", l.LineNo, l.RefundedAmount))
			}
		}
		v.Lines = append(v.Lines, orders.MallLineView{
			LineNo: l.LineNo, Status: l.Status, Shipped: l.ShippedQuantity, Delivered: l.DeliveredQuantity, Refunded: refunded,
		})
	}
	return v, nil
}

// Cancel asks the mall to cancel outOrderNo (method mall.order.cancel) with reason. A
// cancel of an already cancelled order succeeds. Errors as for Query; 40010 ORDER_SHIPPED
// (a line has shipped) is final and wraps orders.ErrNotAllowed.
func (c *Client) Cancel(ctx context.Context, outOrderNo orders.OutOrderNo, reason string) error {
	_, err := c.call(ctx, MethodCancel, map[string]string{"out_order_no": string(outOrderNo), "reason": reason}, "")
	return err
}

// Statement fetches the daily statement of business day day (Beijing) from
// GET {BaseURL}/statements/{yyyy-MM-dd} and parses it with ParseStatement. The statement
// is not signed by the spec: its integrity rests on the transport (use https).
//
// Errors: *orders.MallError for transport errors and timeouts (Retryable), HTTP 5xx
// (Retryable), HTTP 404 (NotFound) and any other non-200 status (final); the
// ParseStatement error, wrapped, when the file cannot be read as a whole. Bad rows come
// back as RowErrors with the good rows.
func (c *Client) Statement(ctx context.Context, day bizday.Day) ([]orders.FulfilmentEvent, []malls.RowError, error) {
	if day.IsZero() {
		return nil, nil, errors.New("ccb: statement: zero day")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.baseURL+"/statements/"+day.String(), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("ccb: statement: %w", err)
	}
	resp, err := c.cfg.HTTP.Do(req)
	if err != nil {
		return nil, nil, &orders.MallError{Mall: Code, Message: "statement " + day.String(), Retryable: true, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
		e := &orders.MallError{Mall: Code, HTTPStatus: resp.StatusCode, Message: "statement " + day.String(),
			Retryable: retryableStatus(resp.StatusCode), RetryAfter: malls.RetryAfterHeader(resp.Header, c.cfg.Now())}
		if !e.Retryable {
			e.RetryAfter = 0
		}
		if resp.StatusCode == http.StatusNotFound {
			e.NotFound, e.Err = true, orders.ErrNotFound
		}
		return nil, nil, e
	}
	evs, bad, err := ParseStatement(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("ccb: statement %s: %w", day, err)
	}
	return evs, bad, nil
}

type envelope struct {
	Code string          `json:"code"`
	Msg  string          `json:"msg"`
	Data json.RawMessage `json:"data"`
	Sign string          `json:"sign"`
}

type errorData struct {
	SubCode string `json:"sub_code"`
	SubMsg  string `json:"sub_msg"`
}

// call sends one signed gateway request and returns the verified data text of a 10000
// answer, or a *orders.MallError (see Query for the classification). Every retryable
// error of a call that got an answer carries the answer's Retry-After header
// (malls.ParseRetryAfter), signed or not: the spec names none, but a gateway or proxy in
// front of the mall may send one with a 429 or 503, and a wait can only delay aidmall.
func (c *Client) call(ctx context.Context, method string, biz any, notifyURL string) (json.RawMessage, error) {
	var ra time.Duration
	data, err := c.exchange(ctx, method, biz, notifyURL, &ra)
	return data, malls.WithRetryAfter(err, ra)
}

// exchange is call's request and answer; *ra receives the answer's Retry-After.
func (c *Client) exchange(ctx context.Context, method string, biz any, notifyURL string, ra *time.Duration) (json.RawMessage, error) {
	bizJSON, err := wire.MarshalJSON(biz)
	if err != nil {
		return nil, &orders.MallError{Mall: Code, Message: method + ": encode biz_content", Err: err}
	}
	nonce := c.cfg.Nonce()
	if !wire.ValidNonce(nonce) {
		return nil, &orders.MallError{Mall: Code, Message: method + ": nonce must be 16-32 printable ASCII characters", Err: orders.ErrInvalid}
	}
	params := map[string]string{
		"app_id":      c.cfg.AppID,
		"method":      method,
		"charset":     "utf-8",
		"sign_type":   SignType,
		"timestamp":   c.cfg.Now().In(bizday.Beijing).Format(TimeLayout),
		"nonce":       nonce,
		"version":     "1.0",
		"biz_content": string(bizJSON),
	}
	if method == MethodCreate {
		params["notify_url"] = notifyURL
	}
	// Requests sign every non-empty parameter but sign itself, sign_type included
	// (ccb-mall.md, "Signing" step 1).
	sign, err := Sign(c.cfg.PartnerKey, SigningString(params, "sign"))
	if err != nil {
		return nil, &orders.MallError{Mall: Code, Message: method + ": sign request", Err: err}
	}
	form := url.Values{}
	for k, v := range params {
		form.Set(k, v)
	}
	form.Set("sign", sign)

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+"/gateway", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, &orders.MallError{Mall: Code, Message: method, Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	req.Header.Set("Accept", "application/json")
	resp, err := c.cfg.HTTP.Do(req)
	if err != nil {
		return nil, &orders.MallError{Mall: Code, Message: method + ": no answer", Retryable: true, Err: err}
	}
	defer resp.Body.Close()
	*ra = malls.RetryAfterHeader(resp.Header, c.cfg.Now())
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, &orders.MallError{Mall: Code, HTTPStatus: resp.StatusCode, Message: method + ": reading answer", Retryable: true, Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &orders.MallError{Mall: Code, HTTPStatus: resp.StatusCode,
			Message: method + ": unexpected HTTP status", Retryable: retryableStatus(resp.StatusCode)}
	}
	if len(body) > maxResponseBytes {
		return nil, c.unreadable(method, "answer over 1 MiB")
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, c.unreadable(method, "answer is not the JSON envelope")
	}
	if len(env.Data) == 0 || bytes.Equal(env.Data, []byte("null")) {
		return nil, &orders.MallError{Mall: Code, HTTPStatus: resp.StatusCode, Message: method + ": answer has no data to verify",
			Retryable: true, Err: fmt.Errorf("%w: no data", ErrBadSignature)}
	}
	if err := Verify(c.cfg.MallKey, string(env.Data), env.Sign); err != nil {
		return nil, &orders.MallError{Mall: Code, HTTPStatus: resp.StatusCode, Message: method + ": answer signature",
			Retryable: true, Err: err}
	}
	if env.Code == CodeSuccess {
		return env.Data, nil
	}
	if env.Code == "" {
		return nil, c.unreadable(method, "answer has no code")
	}
	var ed errorData
	_ = json.Unmarshal(env.Data, &ed) // a verified error without sub fields still has its code
	e := &orders.MallError{Mall: Code, HTTPStatus: resp.StatusCode, Code: env.Code, SubCode: ed.SubCode, Message: ed.SubMsg}
	if e.Message == "" {
		e.Message = env.Msg
	}
	switch env.Code {
	case CodeUnavailable:
		e.Retryable = true
	case CodeNotFound:
		e.NotFound, e.Err = true, orders.ErrNotFound
	case CodeDuplicate:
		e.Err = orders.ErrConflict
	case CodeShipped:
		e.Err = orders.ErrNotAllowed
	}
	e.AlreadyShipped = env.Code == CodeShipped || ed.SubCode == "ORDER_SHIPPED"
	return nil, e
}

// retryableStatus reports whether an HTTP status other than 200 is worth trying again:
// 5xx, and 429 (too many requests: the spec names no such answer, but a gateway in front
// of the mall may give one, and it means "later", never "no").
func retryableStatus(status int) bool {
	return status >= 500 || status == http.StatusTooManyRequests
}

// unreadable is the error for an answer that arrived but cannot be understood: treated
// like no answer, so Retryable.
func (c *Client) unreadable(method, why string) error {
	return &orders.MallError{Mall: Code, HTTPStatus: http.StatusOK, Message: method + ": unreadable answer: " + why, Retryable: true}
}

const nonceAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomNonce returns nonceLen characters of nonceAlphabet from crypto/rand, without
// modulo bias (bytes ≥ 248 are drawn again).
func randomNonce() string {
	out := make([]byte, 0, nonceLen)
	var buf [32]byte
	for len(out) < nonceLen {
		rand.Read(buf[:]) // never fails (crypto/rand, Go ≥ 1.24)
		for _, b := range buf {
			if b < 248 && len(out) < nonceLen {
				out = append(out, nonceAlphabet[b%62])
			}
		}
	}
	return string(out)
}
