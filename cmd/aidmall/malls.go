package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/api"
	"aidmall/bizday"
	"aidmall/config"
	"aidmall/jobs"
	"aidmall/orders"
)

// mallSet is everything the service holds for the malls it talks to: clients for the
// dispatch jobs, webhook verifiers for the API and statement sources for reconciling.
type mallSet struct {
	clients    jobs.Malls
	webhooks   map[orders.Mall]api.MallWebhook
	statements map[orders.Mall]jobs.StatementSource
}

// mallKeys are one partner's keys at both malls.
type mallKeys struct {
	ccbPartner *rsa.PrivateKey
	ccbMall    *rsa.PublicKey
	abcPartner *sm2.PrivateKey
	abcMall    *ecdsa.PublicKey
}

// mallEndpoint is where a mall is and who we are there.
type mallEndpoint struct{ url, appID string }

// buildMalls makes the clients, verifiers and statement sources of the malls that have an
// endpoint. nonces is the replay cache of ABC notifications.
func buildMalls(keys mallKeys, ccbAt, abcAt mallEndpoint, nonces abc.NonceStore, now func() time.Time, log *slog.Logger, keep keepFunc) (*mallSet, error) {
	ms := &mallSet{clients: jobs.Malls{}, webhooks: map[orders.Mall]api.MallWebhook{}, statements: map[orders.Mall]jobs.StatementSource{}}
	if ccbAt.url != "" {
		c, err := ccb.New(ccb.Config{BaseURL: ccbAt.url, AppID: ccbAt.appID, PartnerKey: keys.ccbPartner, MallKey: keys.ccbMall, Now: now})
		if err != nil {
			return nil, fmt.Errorf("ccb: %w", err)
		}
		v, err := ccb.NewVerifier(ccbAt.appID, keys.ccbMall)
		if err != nil {
			return nil, fmt.Errorf("ccb: %w", err)
		}
		ms.clients[orders.MallCCB] = c
		ms.webhooks[orders.MallCCB] = ccbWebhook{v}
		ms.statements[orders.MallCCB] = statements[ccb.RowError]{orders.MallCCB, c.Statement, log, keep}
	}
	if abcAt.url != "" {
		c, err := abc.New(abc.Config{BaseURL: abcAt.url, AppID: abcAt.appID, PartnerKey: keys.abcPartner, MallKey: keys.abcMall, Now: now})
		if err != nil {
			return nil, fmt.Errorf("abc: %w", err)
		}
		v, err := abc.NewVerifier(abcAt.appID, keys.abcMall, nonces, now)
		if err != nil {
			return nil, fmt.Errorf("abc: %w", err)
		}
		ms.clients[orders.MallABC] = c
		ms.webhooks[orders.MallABC] = abcWebhook{v: v, c: c}
		ms.statements[orders.MallABC] = statements[abc.RowError]{orders.MallABC, c.Statement, log, keep}
	}
	return ms, nil
}

// mallsFromConfig loads the partner keys named in cfg and builds the configured malls.
func mallsFromConfig(cfg config.Config, nonces abc.NonceStore, log *slog.Logger, keep keepFunc) (*mallSet, error) {
	var keys mallKeys
	var err error
	if cfg.CCB.Configured() {
		if keys.ccbPartner, keys.ccbMall, err = ccb.LoadKeys(cfg.CCB.PrivateKeyFile, cfg.CCB.MallPublicKeyFile); err != nil {
			return nil, fmt.Errorf("ccb keys: %w", err)
		}
	}
	if cfg.ABC.Configured() {
		if keys.abcPartner, keys.abcMall, err = abc.LoadKeys(cfg.ABC.PrivateKeyFile, cfg.ABC.MallPublicKeyFile); err != nil {
			return nil, fmt.Errorf("abc keys: %w", err)
		}
	}
	return buildMalls(keys, mallEndpoint{cfg.CCB.URL, cfg.CCB.AppID}, mallEndpoint{cfg.ABC.URL, cfg.ABC.AppID}, nonces, time.Now, log, keep)
}

// ccbWebhook answers CCB notifications (ccb-mall.md "Notifications"): the body `success`
// once recorded, anything else to have the mall send it again.
type ccbWebhook struct{ v *ccb.Verifier }

func (w ccbWebhook) Parse(_ context.Context, _ *http.Request, body []byte) (orders.FulfilmentEvent, error) {
	return w.v.Parse(body)
}

func (w ccbWebhook) Ack(*http.Request) (int, http.Header, []byte) {
	status, ct, body := ccb.AckSuccess()
	return status, http.Header{"Content-Type": {ct}}, body
}

// Nack answers "failure" (anything but "success" makes the mall send it again), with a
// status that tells an operator reading the mall's logs why: 401 for a bad signature, 400
// for a malformed body, 500 when the service could not record it.
func (w ccbWebhook) Nack(_ *http.Request, err error) (int, http.Header, []byte) {
	status, ct, body := ccb.AckFailure()
	switch {
	case errors.Is(err, ccb.ErrBadSignature):
		status = http.StatusUnauthorized
	case errors.Is(err, ccb.ErrMalformed):
		status = http.StatusBadRequest
	}
	return status, http.Header{"Content-Type": {ct}}, body
}

// abcWebhook answers ABC notifications (abc-mall.md "Notifications"): a signed
// {"code":"0000"} once recorded.
type abcWebhook struct {
	v *abc.Verifier
	c *abc.Client
}

func (w abcWebhook) Parse(ctx context.Context, r *http.Request, body []byte) (orders.FulfilmentEvent, error) {
	return w.v.Parse(ctx, r.Method, r.URL.RequestURI(), r.Header, body)
}

func (w abcWebhook) Ack(r *http.Request) (int, http.Header, []byte) {
	return w.c.Ack(r.URL.RequestURI())
}

func (w abcWebhook) Nack(_ *http.Request, err error) (int, http.Header, []byte) {
	code := "FAILED"
	switch {
	case errors.Is(err, abc.ErrBadSignature):
		code = "BAD_SIGNATURE"
	case errors.Is(err, abc.ErrStale):
		code = "STALE_REQUEST"
	}
	return abc.AckFailure(code, "not recorded")
}

// statements reads a mall's daily statement for reconciling: the good rows are applied;
// each bad row is logged (row, column, reason) and left for an operator, since the
// statement is the mall's book of record and one bad row must not hold back the rest.
type statements[R error] struct {
	mall orders.Mall
	read func(ctx context.Context, day bizday.Day) ([]orders.FulfilmentEvent, []R, error)
	log  *slog.Logger
	keep keepFunc // may be nil
}

// keepFunc keeps what could not be read for an operator (sqlstore.Store.KeepUnreadable).
type keepFunc func(ctx context.Context, mall orders.Mall, body []byte, reason string) error

func (s statements[R]) Statement(ctx context.Context, day bizday.Day) ([]orders.FulfilmentEvent, error) {
	evs, bad, err := s.read(ctx, day)
	for _, b := range bad {
		s.log.Warn("statement row not read", "mall", string(s.mall), "day", day.String(), "problem", b.Error())
		if s.keep != nil {
			if kerr := s.keep(ctx, s.mall, []byte("statement "+day.String()), b.Error()); kerr != nil {
				return nil, kerr // read the day again later rather than lose the row
			}
		}
	}
	return evs, err
}
