package main

import (
	"context"
	"log/slog"
	"time"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/api"
	"aidmall/bizday"
	"aidmall/config"
	"aidmall/jobs"
	"aidmall/malls"
	"aidmall/orders"
	"aidmall/reports"
)

// drivers are the malls this build speaks to: one line per mall (docs/MALLS.md). The
// order is the order `auto` routing breaks ties in.
var drivers = malls.MustNew(
	ccb.Driver,
	abc.Driver,
)

// mallSet is everything the service holds for the malls it talks to: clients for the
// dispatch jobs, webhook verifiers for the API and statement sources for reconciling.
type mallSet struct {
	codes      []orders.Mall     // connected, in registration order
	infos      []orders.MallInfo // the same with their drivers' limits: orders.NewService's malls
	clients    jobs.Malls
	webhooks   map[orders.Mall]api.MallWebhook
	statements map[orders.Mall]jobs.StatementSource
}

// newMallSet wires the connected malls c into the jobs and the API.
func newMallSet(c *malls.Connected, log *slog.Logger, keep keepFunc) *mallSet {
	ms := &mallSet{codes: c.Codes(), infos: drivers.Infos(c.Codes()), clients: jobs.Malls{}, webhooks: map[orders.Mall]api.MallWebhook{}, statements: map[orders.Mall]jobs.StatementSource{}}
	for _, m := range c.All() {
		ms.clients[m.Mall()] = m
		ms.webhooks[m.Mall()] = m
		ms.statements[m.Mall()] = statements{m.Mall(), m.Statement, log, keep}
	}
	return ms
}

// mallsFromConfig connects the registered malls that cfg configures. nonces is the replay
// cache of notifications.
func mallsFromConfig(cfg config.Config, nonces malls.NonceStore, log *slog.Logger, keep keepFunc) (*mallSet, error) {
	c, err := drivers.Open(cfg, malls.Env{Nonces: nonces, Now: time.Now})
	if err != nil {
		return nil, err
	}
	return newMallSet(c, log, keep), nil
}

// statements reads a mall's daily statement for reconciling: the good rows are applied;
// each bad row is logged (row, column, reason) and left for an operator, since the
// statement is the mall's book of record and one bad row must not hold back the rest.
type statements struct {
	mall orders.Mall
	read func(ctx context.Context, day bizday.Day) ([]orders.FulfilmentEvent, []error, error)
	log  *slog.Logger
	keep keepFunc // may be nil
}

// keepFunc keeps what could not be read for an operator (sqlstore.Store.KeepUnreadable).
type keepFunc func(ctx context.Context, mall orders.Mall, body []byte, reason string) error

func (s statements) Statement(ctx context.Context, day bizday.Day) ([]orders.FulfilmentEvent, error) {
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

// mallCodes are the registered malls' codes as text (the catalogue's listing columns).
func mallCodes() []string {
	var out []string
	for _, m := range drivers.Codes() {
		out = append(out, string(m))
	}
	return out
}

// benefitReports is what serves the benefit report (sqlstore.Store).
type benefitReports interface {
	Benefit(ctx context.Context, q reports.Query) (reports.Benefit, error)
}

// labelledReports gives the by-mall breakdown the registered drivers' display names; the
// store knows a mall only by its code.
type labelledReports struct{ benefitReports }

func (r labelledReports) Benefit(ctx context.Context, q reports.Query) (reports.Benefit, error) {
	b, err := r.benefitReports.Benefit(ctx, q)
	if err != nil || q.By != reports.ByMall {
		return b, err
	}
	labels := drivers.Labels()
	for i := range b.Rows {
		if l, ok := labels[b.Rows[i].Key]; ok {
			b.Rows[i].Label = l
		}
	}
	return b, nil
}
