package abc

import (
	"context"
	"io"
	"net/http"
	"time"

	"aidmall/bizday"
	"aidmall/config"
	"aidmall/malls"
	"aidmall/orders"
)

// Code is ABC's mall code in the API, configuration and data.
const Code orders.Mall = "abc"

// Driver is ABC's plug-in (package malls): registered once in cmd/aidmall.
var Driver malls.Driver = driver{}

type driver struct{}

func (driver) Code() orders.Mall { return Code }

// Limits are what ABC accepts of an order (abc-mall.md "Requests"): buyerRef at most 64
// characters, partnerOrderNo 1–64 letters, digits, '-' or '_', a consignee (shipTo) for
// every consignment.
var Limits = orders.MallLimits{OrderRefMax: 64, OutOrderNoMax: 64, OutOrderNoExtra: "-_", ConsigneeRequired: true}

func (driver) Limits() orders.MallLimits { return Limits }

func (driver) Names() malls.Names {
	return malls.Names{Chinese: "农业银行扶贫商城", English: "Agricultural Bank of China poverty-alleviation mall"}
}

// Open loads the partner's SM2 key and the mall's public key from the files s names and
// connects to s.URL as s.AppID, remembering notification nonces in env.Nonces.
func (driver) Open(s config.MallConfig, env malls.Env) (malls.Mall, error) {
	if !s.Configured() {
		return nil, malls.ErrNotConfigured
	}
	if err := malls.RequireSettings(Code, s, "app_id", "private_key_file", "mall_public_key_file"); err != nil {
		return nil, err
	}
	priv, pub, err := LoadKeys(s.PrivateKeyFile, s.MallPublicKeyFile)
	if err != nil {
		return nil, err
	}
	return Connect(Config{BaseURL: s.URL, AppID: s.AppID, PartnerKey: priv, MallKey: pub, HTTP: env.HTTP, Now: env.Now}, env.Nonces)
}

func (driver) ParseStatement(r io.Reader) ([]orders.FulfilmentEvent, []error, error) {
	evs, bad, err := ParseStatement(r)
	return evs, malls.RowErrors(bad), err
}

// Mall is ABC connected: the partner API client, the notification verifier and ABC's
// signed acknowledgements. It implements malls.Mall.
type Mall struct {
	*Client
	v *Verifier
}

var _ malls.Mall = (*Mall)(nil)

// Connect builds a connected ABC mall from cfg (keys already loaded: the demo's
// simulator, tests) with nonces as the replay memory; Driver.Open does the same from files.
func Connect(cfg Config, nonces NonceStore) (*Mall, error) {
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	v, err := NewVerifier(cfg.AppID, cfg.MallKey, nonces, now)
	if err != nil {
		return nil, err
	}
	return &Mall{Client: c, v: v}, nil
}

// Statement fetches and parses the day's statement (Client.Statement).
func (m *Mall) Statement(ctx context.Context, day bizday.Day) ([]orders.FulfilmentEvent, []error, error) {
	evs, bad, err := m.Client.Statement(ctx, day)
	return evs, malls.RowErrors(bad), err
}

// Parse verifies a notification: headers, timestamp, nonce and signature over the
// request URI as received (Verifier.Parse).
func (m *Mall) Parse(ctx context.Context, r *http.Request, body []byte) (orders.FulfilmentEvent, error) {
	return m.v.Parse(ctx, r.Method, r.URL.RequestURI(), r.Header, body)
}

// Ack answers a recorded notification: 200 {"code":"0000"}, signed (Client.Ack).
func (m *Mall) Ack(r *http.Request) (int, http.Header, []byte) {
	return m.Client.Ack(r.URL.RequestURI())
}

// Nack answers a notification not recorded (abc-mall.md "Notifications") with the
// spec's failure body and the refusal's status (malls.RefusalStatus): BAD_REQUEST 400 for
// a malformed one, 413 for a body over the limit, BAD_SIGNATURE or STALE_REQUEST 401, and
// FAILED 500 only when the service could not record a genuine one. Any non-200 answer
// makes the mall retry.
func (m *Mall) Nack(_ *http.Request, err error) (int, http.Header, []byte) {
	reason, status, refused := malls.Refusal(err)
	code, message := "FAILED", "not recorded"
	switch {
	case !refused:
		status = http.StatusInternalServerError
	case reason == malls.ReasonBadSignature:
		code, message = CodeBadSignature, "signature does not verify"
	case reason == malls.ReasonStale:
		code, message = CodeStaleRequest, "stale or replayed"
	case reason == malls.ReasonTooLarge:
		code, message = CodeBadRequest, "body too large"
	default:
		code, message = CodeBadRequest, "malformed notification"
	}
	h, body := failureAnswer(code, message)
	return status, h, body
}
