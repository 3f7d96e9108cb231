package ccb

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"aidmall/bizday"
	"aidmall/config"
	"aidmall/malls"
	"aidmall/orders"
)

// Code is CCB's mall code in the API, configuration and data.
const Code orders.Mall = "ccb"

// Driver is CCB's plug-in (package malls): registered once in cmd/aidmall.
var Driver malls.Driver = driver{}

type driver struct{}

func (driver) Code() orders.Mall { return Code }

// Limits are what CCB accepts of an order (ccb-mall.md "mall.order.create"): buyer_ref at
// most 64 characters, out_order_no 1–32 letters and digits, a consignee (ship_to) for
// every consignment.
var Limits = orders.MallLimits{OrderRefMax: 64, OutOrderNoMax: 32, ConsigneeRequired: true}

func (driver) Limits() orders.MallLimits { return Limits }

func (driver) Names() malls.Names {
	return malls.Names{Chinese: "建设银行善融商务", English: "China Construction Bank e-mall"}
}

// Open loads the partner's RSA key and the mall's public key from the files s names and
// connects to s.URL as s.AppID.
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
	return Connect(Config{BaseURL: s.URL, AppID: s.AppID, PartnerKey: priv, MallKey: pub, HTTP: env.HTTP, Now: env.Now})
}

func (driver) ParseStatement(r io.Reader) ([]orders.FulfilmentEvent, []error, error) {
	evs, bad, err := ParseStatement(r)
	return evs, malls.RowErrors(bad), err
}

// Mall is CCB connected: the partner API client, the notification verifier and CCB's
// acknowledgements. It implements malls.Mall.
type Mall struct {
	*Client
	v *Verifier
}

var _ malls.Mall = (*Mall)(nil)

// Connect builds a connected CCB mall from cfg (keys already loaded: the demo's
// simulator, tests); Driver.Open does the same from files.
func Connect(cfg Config) (*Mall, error) {
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	v, err := NewVerifier(cfg.AppID, cfg.MallKey)
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

// Parse verifies a notification's form body (Verifier.Parse).
func (m *Mall) Parse(_ context.Context, _ *http.Request, body []byte) (orders.FulfilmentEvent, error) {
	return m.v.Parse(body)
}

// Ack answers a recorded notification: HTTP 200, text/plain, exactly `success`
// (ccb-mall.md "Notifications").
func (m *Mall) Ack(*http.Request) (int, http.Header, []byte) {
	status, ct, body := AckSuccess()
	return status, http.Header{"Content-Type": {ct}}, body
}

// Nack answers "failure" (anything but "success" makes the mall send it again), with a
// status that tells an operator reading the mall's logs why (malls.RefusalStatus): 413
// for a body over the limit, 400 for a malformed one, 401 for a bad signature, 500 only
// when the service could not record a genuine one.
func (m *Mall) Nack(_ *http.Request, err error) (int, http.Header, []byte) {
	_, ct, body := AckFailure()
	return malls.RefusalStatus(err), http.Header{"Content-Type": {ct}}, body
}

// String names the mall in logs.
func (m *Mall) String() string { return fmt.Sprintf("%s mall at %s", Code, m.Client.baseURL) }
