package ccb

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"unicode/utf8"

	"aidmall/orders"
)

// ErrMalformed is returned by Verifier.Parse for a notification that is not a well-formed
// CCB notification (bad form encoding, a repeated parameter, a missing or invalid field);
// the wrapping error names the reason. ParseStatement reports the same problems per row.
var ErrMalformed = errors.New("ccb: malformed notification")

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
// Errors: ErrBadSignature when sign is missing or does not verify, sign_type is not RSA2 or
// app_id is not the Verifier's; ErrMalformed, wrapping the reason, for anything else. The
// body's encoding (UTF-8, form encoding, each parameter once) is checked before the
// signature, since the signing string is built from the parameters; a failure there is
// ErrMalformed alone. A field that cannot be read once the signature has verified is
// ErrMalformed also wrapping orders.ErrUnreadableEvent (the notification is genuine, so
// the caller keeps it rather than having the mall retry it in vain).
func (v *Verifier) Parse(body []byte) (orders.FulfilmentEvent, error) {
	if !utf8.Valid(body) {
		return orders.FulfilmentEvent{}, fmt.Errorf("%w: body is not UTF-8", ErrMalformed)
	}
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return orders.FulfilmentEvent{}, fmt.Errorf("%w: body is not form-encoded: %v", ErrMalformed, err)
	}
	params := make(map[string]string, len(values))
	for k, vs := range values {
		if len(vs) != 1 {
			return orders.FulfilmentEvent{}, fmt.Errorf("%w: parameter %q given %d times", ErrMalformed, k, len(vs))
		}
		if !utf8.ValidString(vs[0]) || !utf8.ValidString(k) {
			return orders.FulfilmentEvent{}, fmt.Errorf("%w: parameter %q is not UTF-8", ErrMalformed, k)
		}
		params[k] = vs[0]
	}
	if params["sign"] == "" {
		return orders.FulfilmentEvent{}, fmt.Errorf("%w: missing sign", ErrBadSignature)
	}
	if params["sign_type"] != SignType {
		return orders.FulfilmentEvent{}, fmt.Errorf("%w: sign_type %q, want %s", ErrBadSignature, params["sign_type"], SignType)
	}
	if params["app_id"] != v.appID {
		return orders.FulfilmentEvent{}, fmt.Errorf("%w: unknown app_id %q", ErrBadSignature, params["app_id"])
	}
	if err := Verify(v.mallKey, SigningString(params, "sign", "sign_type"), params["sign"]); err != nil {
		return orders.FulfilmentEvent{}, err
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

// AckFailure returns the answer to send when the event was not recorded (bad signature,
// malformed body, storage failure): HTTP 500, "text/plain; charset=utf-8", body "failure".
// Per the spec any answer other than HTTP 200 "success" (or none within 5 s) is a failure,
// and the mall sends the same notification again after 4 min, 10 min, 10 min, 1 h, 2 h, 6 h
// and 15 h; a non-200 status makes the refusal plain in logs on both sides.
func AckFailure() (status int, contentType string, body []byte) {
	return http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("failure")
}
