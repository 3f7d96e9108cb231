package ccb

import (
	"crypto/rsa"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"aidmall/malls"
	"aidmall/orders"
)

// ErrMalformed is returned by Verifier.Parse for a notification that is not a well-formed
// CCB notification (not UTF-8, a NUL byte, bad form encoding, a repeated parameter, no
// sign or sign_type, a missing or invalid field); the wrapping error names the reason.
// ParseStatement reports the same problems per row. It wraps malls.ErrMalformed, so that
// the webhook refuses it as such (400).
var ErrMalformed = fmt.Errorf("ccb: %w", malls.ErrMalformed)

// Verifier checks and parses the CCB mall's fulfilment notifications (ccb-mall.md,
// "Notifications"). It is safe for concurrent use.
type Verifier struct {
	appID   string
	mallKey *rsa.PublicKey
}

// NewVerifier returns a Verifier for the partner appID that trusts notifications signed by
// mallKey (the mall's RSA public key). It fails when appID is empty or mallKey is nil.
func NewVerifier(appID string, mallKey *rsa.PublicKey) (*Verifier, error) {
	if appID == "" {
		return nil, errors.New("ccb: verifier: empty app id")
	}
	if mallKey == nil {
		return nil, errors.New("ccb: verifier: nil mall public key")
	}
	return &Verifier{appID: appID, mallKey: mallKey}, nil
}

// Parse verifies a notification's form body (the raw bytes as received, UTF-8
// application/x-www-form-urlencoded) and returns its event with Mall "ccb" and Source
// "notify".
//
// The signature is checked first (ccb-mall.md, "Signing"): the signing string is every
// parameter except sign and sign_type whose value is not empty, sorted by name, joined as
// name=value with &; sign_type must be RSA2; app_id must be the Verifier's. Then the fields
// are read: notify_type order.accepted/shipped/delivered/refunded/cancelled maps to
// orders.EventAccepted…EventCancelled; occurred_at is Beijing time (TimeLayout) and returned
// in the Beijing zone; line_no and quantity are required on line events and ignored (0) on
// whole-order events; amount (yuan) becomes RefundFen on order.refunded only; logistics_no is
// kept on order.shipped only; notify_time is not used (a re-sent event keeps its notify_id,
// which is what deduplicates). The event passes orders.FulfilmentEvent.Validate.
//
// Errors: ErrMalformed, wrapping the reason, when the body is not the shape of a CCB
// notification — not UTF-8, a NUL byte (raw or %00), not form-encoded, a parameter given
// twice, sign or sign_type missing, sign_type not RSA2 — checked before the signature,
// since the signing string is built from the parameters; ErrBadSignature when app_id is
// not the Verifier's (compared in constant time) or sign does not verify. A field that
// cannot be read once the signature has verified is ErrMalformed also wrapping
// orders.ErrUnreadableEvent (the notification is genuine, so the caller keeps it rather
// than having the mall retry it in vain). No error quotes a value of the body.
func (v *Verifier) Parse(body []byte) (orders.FulfilmentEvent, error) {
	var none orders.FulfilmentEvent
	if err := malls.CheckText(body); err != nil {
		return none, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return none, fmt.Errorf("%w: body is not form-encoded", ErrMalformed)
	}
	params := make(map[string]string, len(values))
	for k, vs := range values {
		if len(vs) != 1 {
			return none, fmt.Errorf("%w: parameter %s given %d times", ErrMalformed, malls.Snippet(k), len(vs))
		}
		if !utf8.ValidString(vs[0]) || !utf8.ValidString(k) {
			return none, fmt.Errorf("%w: parameter %s is not UTF-8", ErrMalformed, malls.Snippet(k))
		}
		if strings.IndexByte(k, 0) >= 0 || strings.IndexByte(vs[0], 0) >= 0 {
			return none, fmt.Errorf("%w: parameter %s holds a NUL byte", ErrMalformed, malls.Snippet(k))
		}
		params[k] = vs[0]
	}
	switch {
	case params["sign"] == "":
		return none, fmt.Errorf("%w: missing sign", ErrMalformed)
	case params["sign_type"] == "":
		return none, fmt.Errorf("%w: missing sign_type", ErrMalformed)
	case params["sign_type"] != SignType:
		return none, fmt.Errorf("%w: sign_type is not %s", ErrMalformed, SignType)
	case subtle.ConstantTimeCompare([]byte(params["app_id"]), []byte(v.appID)) != 1:
		return none, fmt.Errorf("%w: app_id is not ours", ErrBadSignature)
	}
	if err := Verify(v.mallKey, SigningString(params, "sign", "sign_type"), params["sign"]); err != nil {
		return none, err
	}
	r := rawEvent{
		NotifyID: params["notify_id"], NotifyType: params["notify_type"],
		OutOrderNo: params["out_order_no"], MallOrderNo: params["mall_order_no"],
		LineNo: params["line_no"], Quantity: params["quantity"], Amount: params["amount"],
		OccurredAt: params["occurred_at"], LogisticsNo: params["logistics_no"],
	}
	ev, ferr := r.event("notify")
	if ferr != nil {
		// The mall signed it: it is genuine but unreadable, and a retry would bring the same.
		return orders.FulfilmentEvent{}, fmt.Errorf("%w: %w: %w", ErrMalformed, orders.ErrUnreadableEvent, ferr)
	}
	return ev, nil
}

// ackSuccess is the only answer the mall takes as an acknowledgement (ccb-mall.md,
// "Notifications"): HTTP 200 with the body exactly "success", 7 bytes, lowercase.
const ackSuccess = "success"

// AckSuccess returns the answer to send once the event is durably recorded: HTTP 200,
// "text/plain; charset=utf-8", body exactly "success" (7 bytes). The body is a new slice
// on each call.
func AckSuccess() (status int, contentType string, body []byte) {
	return http.StatusOK, "text/plain; charset=utf-8", []byte(ackSuccess)
}

// AckFailure returns the answer to send when the event was not recorded because aidmall
// failed (storage down; Mall.Nack gives a refusal its 4xx status instead): HTTP 500, "text/plain; charset=utf-8", body "failure".
// Per the spec any answer other than HTTP 200 "success" (or none within 5 s) is a failure,
// and the mall sends the same notification again after 4 min, 10 min, 10 min, 1 h, 2 h, 6 h
// and 15 h; a non-200 status makes the refusal plain in logs on both sides.
func AckFailure() (status int, contentType string, body []byte) {
	return http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("failure")
}
