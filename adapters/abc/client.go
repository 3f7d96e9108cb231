package abc

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emmansun/gmsm/sm2"

	"aidmall/bizday"
	"aidmall/internal/wire"
	"aidmall/malls"
	"aidmall/money"
	"aidmall/orders"
)

// Windows fixed by abc-mall.md "Signing": a timestamp more than 5 minutes off the
// receiver's clock is refused, and so is a nonce seen in the last 10 minutes.
const (
	TimestampWindow = 5 * time.Minute
	NonceWindow     = 10 * time.Minute
)

// DefaultTimeout is the whole-request timeout of the HTTP client New builds when
// Config.HTTP is nil.
const DefaultTimeout = 10 * time.Second

// maxResponse caps how much of an API answer is read (1 MiB); maxStatement caps a daily
// statement (256 MiB, about a million events).
const (
	maxResponse  = 1 << 20
	maxStatement = 256 << 20
)

// Codes the spec names (abc-mall.md "Requests").
const (
	CodeOK             = "0000"
	CodeBadRequest     = "BAD_REQUEST"
	CodeBadSignature   = "BAD_SIGNATURE"
	CodeStaleRequest   = "STALE_REQUEST"
	CodeNotFound       = "NOT_FOUND"
	CodeOrderConflict  = "ORDER_CONFLICT"
	CodeAlreadyShipped = "ALREADY_SHIPPED"
	CodePriceMismatch  = "PRICE_MISMATCH"
	CodeAmountMismatch = "AMOUNT_MISMATCH"
	CodeItemNotListed  = "ITEM_NOT_LISTED"
)

// Config configures a Client. Every field is read once, by New.
type Config struct {
	// BaseURL is the mall's base, e.g. "https://mall.example/api" (http or https, absolute;
	// a trailing slash is ignored). Required.
	BaseURL string
	// AppID is the partner's appId, sent as X-Abc-App-Id. Required.
	AppID string
	// PartnerKey signs requests and notification acknowledgements. Required.
	PartnerKey *sm2.PrivateKey
	// MallKey verifies the mall's response signatures. Required.
	MallKey *ecdsa.PublicKey
	// HTTP sends the requests. Default: a client with a DefaultTimeout (10 s) overall
	// timeout that does not follow redirects.
	HTTP *http.Client
	// Now is the clock for X-Abc-Timestamp and for checking response timestamps.
	// Default: time.Now.
	Now func() time.Time
	// Nonce makes X-Abc-Nonce values; each must be 16–32 printable ASCII characters.
	// Default: 32 lowercase hex characters from crypto/rand.
	Nonce func() string
}

// Client speaks the ABC partner API (abc-mall.md "Requests") and implements
// orders.MallClient. It is safe for concurrent use.
type Client struct {
	base   string // without a trailing slash
	appID  string
	key    *sm2.PrivateKey
	mall   *ecdsa.PublicKey
	http   *http.Client
	now    func() time.Time
	nonce  func() string
	prefix string // the base URL's path, to build request paths
}

var _ orders.MallClient = (*Client)(nil)

// New checks cfg and builds a Client. It returns an error when BaseURL is not an absolute
// http(s) URL, AppID is empty, or PartnerKey or MallKey is nil.
func New(cfg Config) (*Client, error) {
	if cfg.AppID == "" {
		return nil, errors.New("abc: new client: empty app id")
	}
	if cfg.PartnerKey == nil {
		return nil, errors.New("abc: new client: nil partner key")
	}
	if cfg.MallKey == nil {
		return nil, errors.New("abc: new client: nil mall key")
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("abc: new client: base url %q is not an absolute http(s) url", cfg.BaseURL)
	}
	c := &Client{base: base, appID: cfg.AppID, key: cfg.PartnerKey, mall: cfg.MallKey,
		http: cfg.HTTP, now: cfg.Now, nonce: cfg.Nonce, prefix: u.EscapedPath()}
	if c.http == nil {
		c.http = wire.NewHTTPClient(DefaultTimeout)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.nonce == nil {
		c.nonce = NewNonce
	}
	return c, nil
}

// NewNonce returns 32 lowercase hex characters from crypto/rand, a valid X-Abc-Nonce.
func NewNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}

// Mall returns Code.
func (c *Client) Mall() orders.Mall { return Code }

// Wire shapes of abc-mall.md "Requests". Field order follows the spec's example.
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

type wireItem struct {
	LineNo       int             `json:"lineNo"`
	SkuID        string          `json:"skuId"`
	Quantity     int64           `json:"quantity"`
	UnitPriceFen int64           `json:"unitPriceFen"`
	Recipients   []wireRecipient `json:"recipients,omitempty"`
}

type wireCreate struct {
	PartnerOrderNo string       `json:"partnerOrderNo"`
	BuyerRef       string       `json:"buyerRef"`
	BuyerName      string       `json:"buyerName"`
	DeliveryMode   string       `json:"deliveryMode"`
	ShipTo         *wireContact `json:"shipTo,omitempty"`
	Items          []wireItem   `json:"items"`
	TotalFen       int64        `json:"totalFen"`
	NotifyURL      string       `json:"notifyUrl"`
}

type envelope struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

type wireOrder struct {
	MallOrderNo    string `json:"mallOrderNo"`
	PartnerOrderNo string `json:"partnerOrderNo"`
	Status         string `json:"status"`
	Items          []struct {
		LineNo            int    `json:"lineNo"`
		Status            string `json:"status"`
		ShippedQuantity   int64  `json:"shippedQuantity"`
		DeliveredQuantity int64  `json:"deliveredQuantity"`
		RefundedFen       int64  `json:"refundedFen"`
	} `json:"items"`
}

// ValidPartnerOrderNo reports whether s is a valid partnerOrderNo: 1–64 ASCII letters,
// digits, '-' or '_' (abc-mall.md "Requests").
func ValidPartnerOrderNo(s string) bool { return Limits.ValidOutOrderNo(orders.OutOrderNo(s)) }

// createBody converts req to the spec's JSON body; amounts stay integer fen. It returns an
// error wrapping orders.ErrInvalid for what the mall would refuse as BAD_REQUEST anyway.
func createBody(req orders.CreateRequest) ([]byte, error) {
	bad := func(f string, a ...any) ([]byte, error) {
		return nil, fmt.Errorf("%w: %s", orders.ErrInvalid, fmt.Sprintf(f, a...))
	}
	if !ValidPartnerOrderNo(string(req.OutOrderNo)) {
		return bad("partnerOrderNo %q: 1-64 letters, digits, '-' or '_'", req.OutOrderNo)
	}
	if req.BuyerRef == "" || utf8.RuneCountInString(req.BuyerRef) > Limits.OrderRefMax {
		return bad("buyerRef must be 1-%d characters", Limits.OrderRefMax)
	}
	if req.BuyerName == "" || req.NotifyURL == "" {
		return bad("buyerName and notifyUrl are required")
	}
	if len(req.Lines) == 0 {
		return bad("no lines")
	}
	w := wireCreate{PartnerOrderNo: string(req.OutOrderNo), BuyerRef: req.BuyerRef, BuyerName: req.BuyerName,
		TotalFen: int64(req.Total), NotifyURL: req.NotifyURL}
	switch req.DeliveryMode {
	case orders.DeliveryBulk:
		w.DeliveryMode = "BULK"
		w.ShipTo = &wireContact{req.ShipTo.Name, req.ShipTo.Phone, req.ShipTo.Address}
	case orders.DeliveryPerRecipient:
		w.DeliveryMode = "PER_RECIPIENT"
		if req.ShipTo != (orders.ShipTo{}) {
			w.ShipTo = &wireContact{req.ShipTo.Name, req.ShipTo.Phone, req.ShipTo.Address}
		}
	default:
		return bad("delivery mode %q", req.DeliveryMode)
	}
	for _, l := range req.Lines {
		it := wireItem{LineNo: l.LineNo, SkuID: l.ItemID, Quantity: l.Quantity, UnitPriceFen: int64(l.UnitPrice)}
		if len(l.Recipients) > 0 && req.DeliveryMode != orders.DeliveryPerRecipient {
			return bad("line %d: recipients on a bulk order", l.LineNo)
		}
		for _, r := range l.Recipients {
			it.Recipients = append(it.Recipients, wireRecipient{r.Name, r.Phone, r.Address, r.Quantity})
		}
		w.Items = append(w.Items, it)
	}
	return wire.MarshalJSON(w)
}

// Create places req at the mall: POST {base}/open/v2/orders. 201 (first create) and 200
// (the same content again) both succeed and return the mall's order number and status.
// Errors are *orders.MallError (see Client.do for which are Retryable); an invalid
// request is refused before sending with Code BAD_REQUEST and Err orders.ErrInvalid.
func (c *Client) Create(ctx context.Context, req orders.CreateRequest) (orders.CreateResult, error) {
	body, err := createBody(req)
	if err != nil {
		return orders.CreateResult{}, c.localError(err)
	}
	var o wireOrder
	if err := c.do(ctx, http.MethodPost, "/open/v2/orders", body, &o, http.StatusOK, http.StatusCreated); err != nil {
		return orders.CreateResult{}, err
	}
	if orders.OutOrderNo(o.PartnerOrderNo) != req.OutOrderNo || o.MallOrderNo == "" {
		return orders.CreateResult{}, &orders.MallError{Mall: Code, HTTPStatus: http.StatusOK,
			Message: fmt.Sprintf("answer names order %q (mall %q), asked for %q", o.PartnerOrderNo, o.MallOrderNo, req.OutOrderNo)}
	}
	return orders.CreateResult{MallOrderNo: o.MallOrderNo, Status: o.Status}, nil
}

// Query returns the mall's view of an order: GET {base}/open/v2/orders/{partnerOrderNo}.
// Line quantities are units; Refunded is fen. A 404 is a *orders.MallError with NotFound
// set and Err wrapping orders.ErrNotFound.
func (c *Client) Query(ctx context.Context, outOrderNo orders.OutOrderNo) (orders.MallOrderView, error) {
	if !ValidPartnerOrderNo(string(outOrderNo)) {
		return orders.MallOrderView{}, c.localError(fmt.Errorf("%w: partnerOrderNo %q", orders.ErrInvalid, outOrderNo))
	}
	var o wireOrder
	if err := c.do(ctx, http.MethodGet, "/open/v2/orders/"+string(outOrderNo), nil, &o, http.StatusOK); err != nil {
		return orders.MallOrderView{}, err
	}
	v := orders.MallOrderView{MallOrderNo: o.MallOrderNo, OutOrderNo: orders.OutOrderNo(o.PartnerOrderNo), Status: o.Status}
	for _, it := range o.Items {
		v.Lines = append(v.Lines, orders.MallLineView{LineNo: it.LineNo, Status: it.Status,
			Shipped: it.ShippedQuantity, Delivered: it.DeliveredQuantity, Refunded: money.Fen(it.RefundedFen)})
	}
	return v, nil
}

// Cancel asks the mall to cancel: POST {base}/open/v2/orders/{partnerOrderNo}/cancel with
// {"reason":…}. Cancelling a cancelled order succeeds. Once a line has shipped the mall
// answers 409 ALREADY_SHIPPED (final); an unknown order is NotFound.
func (c *Client) Cancel(ctx context.Context, outOrderNo orders.OutOrderNo, reason string) error {
	if !ValidPartnerOrderNo(string(outOrderNo)) {
		return c.localError(fmt.Errorf("%w: partnerOrderNo %q", orders.ErrInvalid, outOrderNo))
	}
	body, err := wire.MarshalJSON(struct {
		Reason string `json:"reason"`
	}{reason})
	if err != nil {
		return c.localError(err)
	}
	return c.do(ctx, http.MethodPost, "/open/v2/orders/"+string(outOrderNo)+"/cancel", body, nil, http.StatusOK)
}

func (c *Client) localError(err error) *orders.MallError {
	return &orders.MallError{Mall: Code, Code: CodeBadRequest, Message: "not sent", Err: err}
}

// do sends one signed request and checks the signed answer. out (if not nil) receives the
// envelope's data on one of the ok statuses.
//
// Errors are *orders.MallError (AlreadyShipped on 409 ALREADY_SHIPPED):
//   - no answer (transport error, timeout, cancelled context): Retryable, HTTPStatus 0;
//   - an answer whose signature does not verify (missing, wrong key, timestamp more than
//     5 minutes off): Retryable (nothing in it can be trusted, and every call is safe to
//     repeat), Err wrapping ErrBadSignature;
//   - 429: Retryable; 5xx and 408: Retryable;
//   - 404: NotFound, Err wrapping orders.ErrNotFound; 400, 401, 409, 422 and any other
//     status: final, with the mall's code and message.
//
// Every retryable error of a call that got an answer carries the answer's Retry-After
// (malls.ParseRetryAfter: seconds or an HTTP date), read before the signature is checked:
// an unsigned 429 still says how long to wait, and a wait can only delay aidmall.
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any, ok ...int) error {
	var ra time.Duration
	err := c.exchange(ctx, method, path, body, out, &ra, ok...)
	return malls.WithRetryAfter(err, ra)
}

// exchange is do's one request and answer; *ra receives the answer's Retry-After.
func (c *Client) exchange(ctx context.Context, method, path string, body []byte, out any, ra *time.Duration, ok ...int) error {
	fail := func(status int, err error, f string, a ...any) *orders.MallError {
		return &orders.MallError{Mall: Code, HTTPStatus: status, Message: fmt.Sprintf(f, a...), Err: err, Retryable: true}
	}
	var rdr io.Reader
	if body != nil {
		rdr = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rdr)
	if err != nil {
		return c.localError(err)
	}
	uri := req.URL.RequestURI()
	ts := strconv.FormatInt(c.now().UnixMilli(), 10)
	nonce := c.nonce()
	sig, err := Sign(c.key, SigningString(method, uri, ts, nonce, body))
	if err != nil {
		return c.localError(err)
	}
	req.Header.Set(HeaderAppID, c.appID)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderNonce, nonce)
	req.Header.Set(HeaderSignature, sig)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fail(0, err, "%s %s: no answer", method, uri)
	}
	defer resp.Body.Close()
	*ra = malls.RetryAfterHeader(resp.Header, c.now())
	rb, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return fail(resp.StatusCode, err, "%s %s: reading answer", method, uri)
	}
	if len(rb) > maxResponse {
		return fail(resp.StatusCode, nil, "%s %s: answer over %d bytes", method, uri, maxResponse)
	}
	if err := c.verifyResponse(uri, resp.Header, rb); err != nil {
		return fail(resp.StatusCode, err, "%s %s: answer not signed by the mall", method, uri)
	}
	var env envelope
	jsonErr := json.Unmarshal(rb, &env)
	for _, s := range ok {
		if resp.StatusCode != s {
			continue
		}
		if jsonErr != nil || env.Code != CodeOK {
			return &orders.MallError{Mall: Code, HTTPStatus: resp.StatusCode, Code: env.Code,
				Message: fmt.Sprintf("success status without code 0000: %.200s", rb), Err: jsonErr}
		}
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(env.Data, out); err != nil {
			return &orders.MallError{Mall: Code, HTTPStatus: resp.StatusCode, Code: env.Code,
				Message: "answer data does not parse", Err: err}
		}
		return nil
	}
	msg := env.Message
	if jsonErr != nil {
		msg = fmt.Sprintf("%.200s", rb)
	}
	return c.statusError(resp, env.Code, msg)
}

// statusError classifies a refusal by its HTTP status (abc-mall.md "Requests"): 429, 5xx
// and 408 are Retryable (with the answer's Retry-After: malls.WithRetryAfter); 404 is
// NotFound (Err orders.ErrNotFound); everything else (400, 401, 409, 422, …) is final.
func (c *Client) statusError(resp *http.Response, code, msg string) *orders.MallError {
	me := &orders.MallError{Mall: Code, HTTPStatus: resp.StatusCode, Code: code, Message: msg,
		AlreadyShipped: code == CodeAlreadyShipped}
	switch s := resp.StatusCode; {
	case s == http.StatusTooManyRequests, s >= 500, s == http.StatusRequestTimeout:
		me.Retryable = true
	case s == http.StatusNotFound:
		me.NotFound = true
		me.Err = orders.ErrNotFound
	}
	return me
}

// verifyResponse checks a mall answer's signature: method line RESPONSE, the request URI
// as sent, the answer's timestamp (within TimestampWindow of the clock) and nonce, and the
// SM3 of the raw body. It returns an error wrapping ErrBadSignature or ErrStale.
func (c *Client) verifyResponse(uri string, h http.Header, body []byte) error {
	ts, nonce := h.Get(HeaderTimestamp), h.Get(HeaderNonce)
	if err := Verify(c.mall, SigningString(MethodResponse, uri, ts, nonce, body), h.Get(HeaderSignature)); err != nil {
		return err
	}
	return checkTimestamp(ts, c.now())
}

// Statement fetches the mall's statement (对账单) for the Beijing business day:
// GET {base}/statements/{yyyy-MM-dd}, and parses it with ParseStatement (events with
// Source "statement"; bad lines as RowErrors). The request is signed like every request;
// the answer's signature is checked when the mall sends one (the spec does not say the
// statement is signed, and the reference sandbox serves it unsigned). Errors are
// *orders.MallError as for the other calls (404 when the mall has no statement).
func (c *Client) Statement(ctx context.Context, day bizday.Day) ([]orders.FulfilmentEvent, []malls.RowError, error) {
	var ra time.Duration
	evs, bad, err := c.statement(ctx, day, &ra)
	return evs, bad, malls.WithRetryAfter(err, ra)
}

// statement is Statement's request and answer; *ra receives the answer's Retry-After.
func (c *Client) statement(ctx context.Context, day bizday.Day, ra *time.Duration) ([]orders.FulfilmentEvent, []malls.RowError, error) {
	if day.IsZero() {
		return nil, nil, c.localError(fmt.Errorf("%w: zero business day", orders.ErrInvalid))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/statements/"+day.String(), nil)
	if err != nil {
		return nil, nil, c.localError(err)
	}
	uri := req.URL.RequestURI()
	ts := strconv.FormatInt(c.now().UnixMilli(), 10)
	nonce := c.nonce()
	sig, err := Sign(c.key, SigningString(http.MethodGet, uri, ts, nonce, nil))
	if err != nil {
		return nil, nil, c.localError(err)
	}
	req.Header.Set(HeaderAppID, c.appID)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderNonce, nonce)
	req.Header.Set(HeaderSignature, sig)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, &orders.MallError{Mall: Code, Message: "statement: no answer", Err: err, Retryable: true}
	}
	defer resp.Body.Close()
	*ra = malls.RetryAfterHeader(resp.Header, c.now())
	rb, err := io.ReadAll(io.LimitReader(resp.Body, maxStatement+1))
	if err != nil {
		return nil, nil, &orders.MallError{Mall: Code, HTTPStatus: resp.StatusCode, Message: "statement: reading answer", Err: err, Retryable: true}
	}
	if len(rb) > maxStatement {
		return nil, nil, &orders.MallError{Mall: Code, HTTPStatus: resp.StatusCode, Message: fmt.Sprintf("statement: over %d bytes", maxStatement)}
	}
	if resp.Header.Get(HeaderSignature) != "" {
		if err := c.verifyResponse(uri, resp.Header, rb); err != nil {
			return nil, nil, &orders.MallError{Mall: Code, HTTPStatus: resp.StatusCode, Message: "statement: answer not signed by the mall", Err: err, Retryable: true}
		}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, c.statusError(resp, "", fmt.Sprintf("statement: %.200s", rb))
	}
	return ParseStatement(bytes.NewReader(rb))
}

// LoadKeys reads the partner's SM2 private key (PEM, PKCS#8) and the mall's SM2 public key
// (PEM, PKIX) from files. Errors name the file.
func LoadKeys(partnerPrivateKeyFile, mallPublicKeyFile string) (*sm2.PrivateKey, *ecdsa.PublicKey, error) {
	b, err := os.ReadFile(partnerPrivateKeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("abc: partner key: %w", err)
	}
	priv, err := ParsePrivateKeyPEM(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", partnerPrivateKeyFile, err)
	}
	b, err = os.ReadFile(mallPublicKeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("abc: mall key: %w", err)
	}
	pub, err := ParsePublicKeyPEM(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", mallPublicKeyFile, err)
	}
	return priv, pub, nil
}
