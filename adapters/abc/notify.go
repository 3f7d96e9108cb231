package abc

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"aidmall/internal/wire"
	"aidmall/malls"
	"aidmall/money"
	"aidmall/orders"
)

// Errors of notification checking. Parse wraps them with the reason.
var (
	// ErrStale: the timestamp is more than 5 minutes off the clock, or the nonce was already
	// seen in the last 10 minutes (a replay). It wraps malls.ErrStale (401).
	ErrStale = fmt.Errorf("abc: %w", malls.ErrStale)
	// ErrMalformed: a header or the body is not what the spec says. It wraps
	// malls.ErrMalformed (400).
	ErrMalformed = fmt.Errorf("abc: %w", malls.ErrMalformed)
)

// NonceStore remembers notification nonces for replay protection. Implementations (Redis,
// in memory) live elsewhere; it is declared here, where it is used.
type NonceStore interface {
	// Remember records key for ttl and reports whether it was new (false = seen before within ttl).
	Remember(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// Verifier checks and parses the ABC mall's notifications (abc-mall.md "Notifications").
// It is safe for concurrent use if its NonceStore is.
type Verifier struct {
	appID  string
	mall   *ecdsa.PublicKey
	nonces NonceStore
	now    func() time.Time
}

// NewVerifier builds a Verifier for the partner's appId, verifying with the mall's SM2
// public key, remembering nonces in nonces and reading time from now. It returns an error
// when appID is empty or any dependency is nil.
func NewVerifier(appID string, mallKey *ecdsa.PublicKey, nonces NonceStore, now func() time.Time) (*Verifier, error) {
	switch {
	case appID == "":
		return nil, errors.New("abc: new verifier: empty app id")
	case mallKey == nil:
		return nil, errors.New("abc: new verifier: nil mall key")
	case nonces == nil:
		return nil, errors.New("abc: new verifier: nil nonce store")
	case now == nil:
		return nil, errors.New("abc: new verifier: nil clock")
	}
	return &Verifier{appID: appID, mall: mallKey, nonces: nonces, now: now}, nil
}

// NonceKey is the NonceStore key Parse uses for a notification's nonce:
// "abc:" + app id + ":" + nonce.
func NonceKey(appID, nonce string) string { return "abc:" + appID + ":" + nonce }

// Parse checks one notification and returns it as a FulfilmentEvent (Mall abc, Source
// "notify"). method must be POST; pathWithQuery is the notify URL's path as received,
// with its query string if any (r.URL.RequestURI()); body is the raw body.
//
// In order: the four X-Abc-* headers, each exactly once and not empty; the timestamp is
// canonical Unix milliseconds, the nonce 16–32 printable ASCII characters and the
// signature standard base64 (each else ErrMalformed); the body is the shape of a
// notification (envelope: UTF-8, no NUL byte raw or escaped, one JSON object with a
// non-empty string eventId; else ErrMalformed); the app id is ours (compared in constant
// time); the timestamp is within 5 minutes of the clock; the SM2 signature over POST,
// pathWithQuery, timestamp, nonce and SM3 of body verifies under the mall's key. Only
// then is the nonce remembered for 10 minutes (NonceKey), so a forged copy cannot use up
// the nonce of a genuine one; a nonce already remembered is a replay. Last, the body's
// fields are decoded (see decodeEvent).
//
// Errors: ErrMalformed (headers or body not the spec's shape, wrapping the reason),
// ErrBadSignature (also a wrong app id), ErrStale (timestamp out of window, replayed
// nonce), or the NonceStore's error wrapped as is (the caller should answer with a failure
// so that the mall retries). A body whose fields cannot be decoded once the signature,
// timestamp and nonce have passed is ErrMalformed also wrapping orders.ErrUnreadableEvent
// (the notification is genuine, so the caller keeps it rather than having the mall retry
// it in vain); no earlier failure wraps it. No error quotes a value of the body.
func (v *Verifier) Parse(ctx context.Context, method, pathWithQuery string, header http.Header, body []byte) (orders.FulfilmentEvent, error) {
	var none orders.FulfilmentEvent
	if method != http.MethodPost {
		return none, fmt.Errorf("%w: method %s, want POST", ErrMalformed, malls.Snippet(method))
	}
	for _, h := range []string{HeaderAppID, HeaderTimestamp, HeaderNonce, HeaderSignature} {
		if vs := header.Values(h); len(vs) != 1 || vs[0] == "" {
			return none, fmt.Errorf("%w: header %s missing or repeated", ErrMalformed, h)
		}
	}
	ts, nonce, sig := header.Get(HeaderTimestamp), header.Get(HeaderNonce), header.Get(HeaderSignature)
	if _, err := parseTimestamp(ts); err != nil {
		return none, err
	}
	if !ValidNonce(nonce) {
		return none, fmt.Errorf("%w: nonce must be 16-32 printable ASCII characters", ErrMalformed)
	}
	if _, err := base64.StdEncoding.DecodeString(sig); err != nil {
		return none, fmt.Errorf("%w: signature is not standard base64", ErrMalformed)
	}
	if err := checkEnvelope(body); err != nil {
		return none, err
	}
	if subtle.ConstantTimeCompare([]byte(header.Get(HeaderAppID)), []byte(v.appID)) != 1 {
		return none, fmt.Errorf("%w: app id is not ours", ErrBadSignature)
	}
	if err := checkTimestamp(ts, v.now()); err != nil {
		return none, err
	}
	if err := Verify(v.mall, SigningString(http.MethodPost, pathWithQuery, ts, nonce, body), sig); err != nil {
		return none, err
	}
	fresh, err := v.nonces.Remember(ctx, NonceKey(v.appID, nonce), NonceWindow)
	if err != nil {
		return none, fmt.Errorf("abc: remembering nonce: %w", err)
	}
	if !fresh {
		return none, fmt.Errorf("%w: nonce seen in the last 10 minutes", ErrStale)
	}
	ev, _, err := decodeEvent(body, "notify")
	if err != nil {
		// Signed, fresh and not replayed: genuine but unreadable, and a retry brings the same.
		return none, fmt.Errorf("%w: %w: %w", ErrMalformed, orders.ErrUnreadableEvent, err)
	}
	return ev, nil
}

// parseTimestamp reads an X-Abc-Timestamp: canonical decimal Unix milliseconds. It
// returns ErrMalformed otherwise.
func parseTimestamp(ts string) (time.Time, error) {
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || ms <= 0 || strconv.FormatInt(ms, 10) != ts {
		return time.Time{}, fmt.Errorf("%w: timestamp %s is not Unix milliseconds", ErrMalformed, malls.Snippet(ts))
	}
	return time.UnixMilli(ms), nil
}

// checkTimestamp checks an X-Abc-Timestamp (of a mall's answer): canonical decimal Unix
// milliseconds, within TimestampWindow of now. It returns ErrStale (out of window) or
// ErrMalformed.
func checkTimestamp(ts string, now time.Time) error {
	at, err := parseTimestamp(ts)
	if err != nil {
		return err
	}
	if d := now.Sub(at); d > TimestampWindow || d < -TimestampWindow {
		return fmt.Errorf("%w: timestamp %s is %s off the clock", ErrStale, ts, d.Round(time.Second))
	}
	return nil
}

// checkEnvelope checks that body has the shape of a notification before anything
// cryptographic is done with it: UTF-8 without NUL bytes, one JSON object and nothing
// after it, a non-empty string eventId, and no string (key or value, at any depth) holding
// an escaped NUL (\u0000). It returns nil or ErrMalformed with the reason.
func checkEnvelope(body []byte) error {
	if err := malls.CheckText(body); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("%w: body is not JSON", ErrMalformed)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: trailing data after the JSON object", ErrMalformed)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("%w: body is not a JSON object", ErrMalformed)
	}
	if id, _ := obj["eventId"].(string); id == "" {
		return fmt.Errorf("%w: body has no eventId", ErrMalformed)
	}
	if holdsNUL(obj) {
		return fmt.Errorf("%w: a string of the body holds NUL", ErrMalformed)
	}
	return nil
}

// holdsNUL reports whether a decoded JSON value holds a string with a NUL character.
func holdsNUL(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.IndexByte(x, 0) >= 0
	case map[string]any:
		for k, e := range x {
			if strings.IndexByte(k, 0) >= 0 || holdsNUL(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if holdsNUL(e) {
				return true
			}
		}
	}
	return false
}

// ValidNonce reports whether s is a valid X-Abc-Nonce: 16–32 characters (abc-mall.md
// "Signing"), printable ASCII without spaces.
func ValidNonce(s string) bool { return wire.ValidNonce(s) }

// wireEvent is a notification body (abc-mall.md "Notifications"); a statement line is the
// same without attempt. Pointers tell a missing field from a zero one.
type wireEvent struct {
	EventID        *string `json:"eventId"`
	EventType      *string `json:"eventType"`
	OccurredAt     *string `json:"occurredAt"`
	PartnerOrderNo *string `json:"partnerOrderNo"`
	MallOrderNo    *string `json:"mallOrderNo"`
	LineNo         *int    `json:"lineNo"`
	Quantity       *int64  `json:"quantity"`
	RefundFen      *int64  `json:"refundFen"`
	Attempt        *int    `json:"attempt"`
}

// eventType maps the spec's eventType to the mall-neutral type (ATTRIBUTION.md, Terms).
func eventType(s string) (orders.EventType, bool) {
	switch s {
	case "ORDER_CONFIRMED":
		return orders.EventAccepted, true
	case "ITEM_SHIPPED":
		return orders.EventShipped, true
	case "ITEM_DELIVERED":
		return orders.EventDelivered, true
	case "ITEM_REFUNDED":
		return orders.EventRefunded, true
	case "ORDER_CANCELLED":
		return orders.EventCancelled, true
	}
	return "", false
}

// fieldError is a decoding failure tied to one JSON field (empty for the whole body).
type fieldError struct {
	field, reason string
}

func (e *fieldError) Error() string {
	if e.field == "" {
		return e.reason
	}
	return e.field + ": " + e.reason
}

// decodeEvent decodes one notification body or statement line: a single JSON object with
// no trailing data and exact types (unknown fields are ignored: the body is signed by the
// mall, and a field it adds must not lose an event). Required: eventId, eventType (one of
// the five), occurredAt (RFC 3339 with any offset), partnerOrderNo, mallOrderNo. On
// ORDER_CONFIRMED and ORDER_CANCELLED, lineNo and quantity must be null, absent or 0
// (whole order); on item events lineNo must be positive and quantity present. refundFen
// must be 0 (or null) except on ITEM_REFUNDED, where it is the refunded fen. The result
// also passes FulfilmentEvent.Validate. It returns the event, the offending field, and an
// error describing the problem.
func decodeEvent(b []byte, source string) (orders.FulfilmentEvent, string, error) {
	var none orders.FulfilmentEvent
	fail := func(field, f string, a ...any) (orders.FulfilmentEvent, string, error) {
		return none, field, &fieldError{field, fmt.Sprintf(f, a...)}
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return fail("", "not a JSON object")
	}
	var w wireEvent
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&w); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fail(te.Field, "wrong type (%s, want %s)", jsonWords(te.Value), typeWords(te.Type.Kind()))
		}
		return fail("", "invalid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fail("", "trailing data after the JSON object")
	}
	for _, f := range []struct {
		p    *string
		name string
	}{{w.EventID, "eventId"}, {w.EventType, "eventType"}, {w.OccurredAt, "occurredAt"},
		{w.PartnerOrderNo, "partnerOrderNo"}, {w.MallOrderNo, "mallOrderNo"}} {
		if f.p == nil || *f.p == "" {
			return fail(f.name, "missing or empty")
		}
	}
	for _, f := range []struct {
		p    *string
		name string
	}{{w.EventID, "eventId"}, {w.PartnerOrderNo, "partnerOrderNo"}, {w.MallOrderNo, "mallOrderNo"}} {
		if why := malls.BadID(*f.p); why != "" {
			return fail(f.name, "%s", why)
		}
	}
	typ, ok := eventType(*w.EventType)
	if !ok {
		return fail("eventType", "unknown event type %q", *w.EventType)
	}
	at, err := time.Parse(time.RFC3339, *w.OccurredAt)
	if err != nil {
		return fail("occurredAt", "not RFC 3339 with an offset: %q", *w.OccurredAt)
	}
	ev := orders.FulfilmentEvent{Mall: Code, EventID: orders.MallEventID(*w.EventID), Type: typ,
		OutOrderNo: orders.OutOrderNo(*w.PartnerOrderNo), MallOrderNo: *w.MallOrderNo, OccurredAt: at, Source: source}
	if w.RefundFen != nil {
		ev.RefundFen = money.Fen(*w.RefundFen)
	}
	if typ != orders.EventRefunded && ev.RefundFen != 0 {
		return fail("refundFen", "%d on %s, want 0", ev.RefundFen, *w.EventType)
	}
	switch typ {
	case orders.EventAccepted, orders.EventCancelled:
		if w.LineNo != nil && *w.LineNo != 0 {
			return fail("lineNo", "%d on whole-order event %s", *w.LineNo, *w.EventType)
		}
		if w.Quantity != nil && *w.Quantity != 0 {
			return fail("quantity", "%d on whole-order event %s", *w.Quantity, *w.EventType)
		}
	default:
		if w.LineNo == nil || *w.LineNo <= 0 {
			return fail("lineNo", "%s needs a positive line number", *w.EventType)
		}
		if w.Quantity == nil {
			return fail("quantity", "missing on %s", *w.EventType)
		}
		ev.LineNo, ev.Quantity = *w.LineNo, *w.Quantity
	}
	if w.Attempt != nil && *w.Attempt < 1 {
		return fail("attempt", "must be at least 1")
	}
	if err := ev.Validate(); err != nil {
		return fail("", "%v", err)
	}
	return ev, "", nil
}

// ackBody is the acknowledgement the spec asks for.
const ackBody = `{"code":"0000"}`

// Ack returns the answer to a notification that has been durably recorded: 200,
// application/json, {"code":"0000"}, signed with the partner key (method line RESPONSE,
// the notify path pathWithQuery as received, a fresh timestamp and nonce). The spec does
// not require the signature but, if present, it must verify; a signing failure (which
// should not happen with a valid key) falls back to the unsigned answer, which the spec
// accepts.
func (c *Client) Ack(pathWithQuery string) (status int, header http.Header, body []byte) {
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	body = []byte(ackBody)
	ts := strconv.FormatInt(c.now().UnixMilli(), 10)
	nonce := c.nonce()
	if sig, err := Sign(c.key, SigningString(MethodResponse, pathWithQuery, ts, nonce, body)); err == nil {
		h.Set(HeaderAppID, c.appID)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderNonce, nonce)
		h.Set(HeaderSignature, sig)
	}
	return http.StatusOK, h, body
}

// AckFailure returns an unsigned failure answer {"code":code,"message":message}: 401 for
// BAD_SIGNATURE and STALE_REQUEST, 400 for BAD_REQUEST, 500 for anything else. Any
// non-200 answer makes the mall retry the same eventId (abc-mall.md "Notifications").
func AckFailure(code, message string) (status int, header http.Header, body []byte) {
	switch code {
	case CodeBadSignature, CodeStaleRequest:
		status = http.StatusUnauthorized
	case CodeBadRequest:
		status = http.StatusBadRequest
	default:
		status = http.StatusInternalServerError
	}
	h, body := failureAnswer(code, message)
	return status, h, body
}

// failureAnswer is the header and body of a failure answer.
func failureAnswer(code, message string) (http.Header, []byte) {
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	body, err := wire.MarshalJSON(struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}{code, message})
	if err != nil { // cannot happen for two strings
		body = []byte(`{"code":"9999","message":"internal error"}`)
	}
	return h, body
}

// jsonWords names a JSON value's kind (json.UnmarshalTypeError.Value) for a clerk.
func jsonWords(v string) string {
	switch {
	case v == "string":
		return "text"
	case v == "bool":
		return "true or false"
	case v == "array", v == "object":
		return "a JSON " + v
	case strings.HasPrefix(v, "number"): // "number", or "number 1.5" for a fraction
		return "a number with a fraction or out of range"
	}
	return v
}

// typeWords names what a field wants for a clerk: a whole number, text, true or false.
func typeWords(k reflect.Kind) string {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.String:
		return "text"
	case reflect.Bool:
		return "true or false"
	}
	return k.String()
}
