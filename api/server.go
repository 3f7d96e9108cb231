// Package api is aidmall's HTTP server (Echo v4): the /v1 API for union branches, the aid
// office and auditors, the malls' webhooks, health, readiness, metrics and the OpenAPI
// document (openapi.yaml, served at /openapi.yaml).
//
// Handlers are thin: bind → validate → convert → call → encode. Every error, whatever its
// source, is answered by one HTTPErrorHandler as RFC 9457 problem+json (problem.go), with
// domain errors mapped to statuses in one place. The interfaces the server needs (Orders,
// Authenticator, Reports, MallWebhook, RateLimiter) are declared here, at the consumer, the
// idempotency store in the leaf package internal/idempotency (adapters/sqlstore implements
// it without importing api); cmd/aidmall wires the implementations.
package api

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"aidmall/internal/idempotency"
	"aidmall/orders"
	"aidmall/reports"
	"aidmall/review"
)

//go:embed openapi.yaml
var openAPIDocument []byte

// mallEnumLine is the one line of openapi.yaml that lists the malls; every other mention
// of a mall refers to it.
var mallEnumLine = regexp.MustCompile(`(?m)^(    Mall: \{ type: string, enum: )\[[^\]\n]*\]( \})$`)

// limitLine is the one line of openapi.yaml that describes the list limit; its maximum
// and default are filled from orders.MaxListLimit and orders.DefaultListLimit.
var limitLine = regexp.MustCompile(`(?m)^(        - \{ name: limit, in: query, schema: \{ type: integer, minimum: 1, maximum: )\d+(, default: )\d+( \} \})$`)

// openAPIFor returns the served OpenAPI document: openapi.yaml with the Mall enum set to
// malls, the registered drivers' codes, and the list limit's maximum and default set to
// the domain's (orders.MaxListLimit, orders.DefaultListLimit).
func openAPIFor(malls []orders.Mall) ([]byte, error) { return fillOpenAPI(openAPIDocument, malls) }

// fillOpenAPI fills doc (an openapi.yaml) as openAPIFor does. It fails when doc has not
// exactly one Mall enum line and one limit line.
func fillOpenAPI(doc []byte, malls []orders.Mall) ([]byte, error) {
	if n := len(mallEnumLine.FindAllIndex(doc, -1)); n != 1 {
		return nil, fmt.Errorf("api: openapi.yaml has %d Mall enum lines, want 1", n)
	}
	if n := len(limitLine.FindAllIndex(doc, -1)); n != 1 {
		return nil, fmt.Errorf("api: openapi.yaml has %d list limit lines, want 1", n)
	}
	codes := make([]string, len(malls))
	for i, m := range malls {
		codes[i] = string(m)
	}
	doc = mallEnumLine.ReplaceAll(doc, []byte("${1}["+strings.Join(codes, ", ")+"]${2}"))
	return limitLine.ReplaceAll(doc, []byte(fmt.Sprintf("${1}%d${2}%d${3}", orders.MaxListLimit, orders.DefaultListLimit))), nil
}

// Orders is what the API needs of the orders use cases; *orders.Service satisfies it.
// Errors are the orders domain's: *orders.ValidationError, orders.ErrForbidden,
// ErrNotFound, ErrConflict, ErrNotAllowed (mapped to HTTP in problem.go).
type Orders interface {
	Place(ctx context.Context, caller orders.Caller, req orders.PlaceRequest) (*orders.GroupOrder, error)
	Get(ctx context.Context, caller orders.Caller, id int64) (*orders.GroupOrder, error)
	List(ctx context.Context, caller orders.Caller, f orders.ListFilter) ([]orders.GroupOrder, string, error)
	Cancel(ctx context.Context, caller orders.Caller, id int64, reason string) (*orders.GroupOrder, error)
	// RetryDispatch sends an order whose dispatch gave up to its mall again (aid_office).
	RetryDispatch(ctx context.Context, caller orders.Caller, id int64) (*orders.GroupOrder, error)
	// ApplyJoined applies a verified notification's event; concurrent notifications share
	// a transaction (group commit, orders/applyjoin.go).
	ApplyJoined(ctx context.Context, ev orders.FulfilmentEvent) (orders.ApplyResult, error)
}

// Authenticator resolves an API key (the bearer token, in clear) to its caller. An unknown
// or revoked key is orders.ErrNotFound (→ 401); any other error is a failure (→ 500).
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (orders.Caller, error)
}

// Reports computes benefit reports (ATTRIBUTION.md §3) for a validated query.
type Reports interface {
	Benefit(ctx context.Context, q reports.Query) (reports.Benefit, error)
}

// MallWebhook verifies and parses one mall's notifications and writes its acknowledgements
// exactly as that mall's spec requires (ccb-mall.md and abc-mall.md, "Notifications").
type MallWebhook interface {
	// Parse verifies the signature over the raw body (and, for ABC, the headers and the
	// request path) and returns the mall-neutral event. An error means a bad signature, a
	// stale or replayed request, or a malformed body: nothing is stored. An error wrapping
	// orders.ErrUnreadableEvent means the notification verified but its fields cannot be
	// read: it is kept when Config.Unreadable is set.
	Parse(ctx context.Context, r *http.Request, body []byte) (orders.FulfilmentEvent, error)
	// Ack is the answer that tells the mall the event is durably recorded (CCB: 200
	// text/plain "success"; ABC: 200 {"code":"0000"}).
	Ack(r *http.Request) (status int, header http.Header, body []byte)
	// Nack is any answer the mall reads as a failure, so that it sends the event again.
	Nack(r *http.Request, err error) (status int, header http.Header, body []byte)
}

// Unreadable keeps the notifications a mall signed but whose fields cannot be read (or
// that fail the event's own checks), so that they can be acknowledged without being lost
// and an operator can look at them; adapters/sqlstore's Store satisfies it.
type Unreadable interface {
	// KeepUnreadable durably stores body (the raw request body, exactly as received) of a
	// notification from mall with reason (why it could not be read). An error means it is
	// not stored, and the mall must be asked to send it again.
	KeepUnreadable(ctx context.Context, mall orders.Mall, body []byte, reason string) error
}

// RateLimiter decides whether one more request under key may run now; when not, it says
// how long to wait. adapters/redisx has a Redis and an in-process implementation.
type RateLimiter interface {
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error)
}

// Pages adds its routes to the server's Echo instance (*web.Server does), and answers, as
// a page in Chinese, a request for a path that is neither the API's nor a page's.
type Pages interface {
	Register(e *echo.Echo)
	// RenderError writes the page for status (404, 405) of a request no route took.
	RenderError(c echo.Context, status int) error
}

// apiPath reports whether path is the API's, the webhooks' or an operator's: its errors
// are problem+json; any other path's 404 and 405 are the pages' (Config.Pages).
func apiPath(path string) bool {
	for _, p := range []string{"/v1/", "/webhooks/"} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	switch path {
	case "/v1", "/webhooks", "/healthz", "/readyz", "/metrics", "/openapi.yaml":
		return true
	}
	return false
}

// Config holds the server's dependencies. Orders, Auth, Idempotency, Reports, Webhooks
// (one per mall, none nil), Ready and Logger are required; the rest have defaults.
type Config struct {
	Orders      Orders
	Auth        Authenticator
	Idempotency idempotency.Store
	Reports     Reports
	// Budgets, when set, serves GET /v1/budgets (aid_office, auditor) and PUT
	// /v1/budgets/{branch}/{year} (aid_office).
	Budgets Budgets
	// ReportSet, when set, serves the indicators, targets, breakdowns, supplier,
	// unattributed and spending reports (issue 6, items 2 and 3).
	ReportSet ReportSet
	// Households, when set, serves GET /v1/households/{no} (masked) to aid_office.
	Households Households
	// Audit, when set, serves GET /v1/audit to aid_office and auditor.
	Audit AuditLog
	// Review, when set, serves the review queue (GET /v1/review, GET /v1/review/{id},
	// POST /v1/review/{id}/resolve) to aid_office.
	Review ReviewQueue
	// Periods, when set, serves closed periods, the households report and provenance
	// (/v1/periods…, /v1/reports/households, /v1/households/{no}/provenance).
	Periods Periods
	// Malls are the registered malls' codes (package malls): the values GET /v1/orders
	// accepts for mall and the OpenAPI document's Mall enum. Required.
	Malls []orders.Mall
	// Webhooks maps each connected mall to its verifier; a mall absent here answers 404
	// at /webhooks/{mall}.
	Webhooks map[orders.Mall]MallWebhook
	// Unreadable, when set, keeps a verified notification that cannot be read
	// (orders.ErrUnreadableEvent from Parse) or that Apply refuses as orders.ErrInvalid,
	// and the mall gets its "recorded" answer; when nil such a notification is refused and
	// the mall retries it (and eventually gives up).
	Unreadable Unreadable
	// Limiter, when set, limits requests per API key on /v1 (429 with Retry-After).
	Limiter RateLimiter
	// Pages, when set, adds the pages for people (package api/web) to the same server, so
	// they share its request id, access log, metrics and panic recovery.
	Pages Pages
	// Ready reports whether the service can take traffic (database reachable, schema
	// current); GET /readyz calls it with a 2 s timeout.
	Ready func(ctx context.Context) error
	// Degraded, when set, names the parts the service is running without, each with why
	// (e.g. "redis": "unreachable: …"); /readyz then still answers 200 (the service takes
	// traffic) with status "degraded" and those parts.
	Degraded func(ctx context.Context) map[string]string
	Logger   *slog.Logger // the access log and error log; JSON handler expected
	// Now is the clock (time.Now when nil); it stamps idempotency locks and durations.
	Now func() time.Time
	// Metrics is where the server registers its collectors and, when it is also a
	// prometheus.Gatherer (a *prometheus.Registry is), what /metrics serves. Default: a
	// new registry of the server's own.
	Metrics prometheus.Registerer
	// BodyLimit bounds a /v1 request body, in bytes (default 1 MiB; 413 beyond).
	BodyLimit int64
	// IdempotencyLockTimeout is how long an in-flight Idempotency-Key stays locked before
	// another request may take it over, as after a crash (default 60 s).
	IdempotencyLockTimeout time.Duration
}

const (
	defaultBodyLimit   = 1 << 20 // 1 MiB
	webhookBodyLimit   = 1 << 20 // 1 MiB: the malls' notifications are a few hundred bytes
	defaultLockTimeout = 60 * time.Second
	readyTimeout       = 2 * time.Second
)

// Server is the HTTP server. Build it with New; serve Handler().
type Server struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics
	gather  prometheus.Gatherer
	echo    *echo.Echo
	openAPI []byte // openapi.yaml with the Mall enum of cfg.Malls
}

// New checks cfg and builds the server with every route. It returns an error naming the
// first missing dependency (a nil interface, a nil webhook or one keyed by an unknown
// mall) or a metrics registry that refuses the server's collectors.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Orders == nil:
		return nil, errors.New("api: nil Orders")
	case cfg.Auth == nil:
		return nil, errors.New("api: nil Auth")
	case cfg.Idempotency == nil:
		return nil, errors.New("api: nil Idempotency store")
	case cfg.Reports == nil:
		return nil, errors.New("api: nil Reports")
	case cfg.Ready == nil:
		return nil, errors.New("api: nil Ready")
	case cfg.Logger == nil:
		return nil, errors.New("api: nil Logger")
	}
	if len(cfg.Malls) == 0 {
		return nil, errors.New("api: no Malls")
	}
	for m, wh := range cfg.Webhooks {
		if !slices.Contains(cfg.Malls, m) || wh == nil {
			return nil, fmt.Errorf("api: webhook for mall %q: unknown mall or nil", m)
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = defaultBodyLimit
	}
	if cfg.IdempotencyLockTimeout <= 0 {
		cfg.IdempotencyLockTimeout = defaultLockTimeout
	}
	var gather prometheus.Gatherer
	if cfg.Metrics == nil {
		reg := prometheus.NewRegistry()
		cfg.Metrics, gather = reg, reg
	} else if g, ok := cfg.Metrics.(prometheus.Gatherer); ok {
		gather = g
	} else {
		return nil, errors.New("api: Metrics must also be a prometheus.Gatherer to serve /metrics")
	}
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, err
	}
	doc, err := openAPIFor(cfg.Malls)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, now: cfg.Now, metrics: m, gather: gather, openAPI: doc}
	if err := s.routes(); err != nil {
		return nil, err
	}
	return s, nil
}

// Handler returns the Echo instance as an http.Handler.
func (s *Server) Handler() http.Handler { return s.echo }

// routes builds the Echo instance: middleware in order (request id, access log and
// metrics, recover), then the routes with their own guards.
func (s *Server) routes() error {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = echo.ExtractIPDirect() // logs show the peer; no proxy header is trusted

	access, err := accessLogConfig{logger: s.log, now: s.now, metrics: s.metrics}.toMiddleware()
	if err != nil {
		return err
	}
	e.Use(requestID, access, recoverPanics)

	limit, err := bodyLimitConfig{limit: s.cfg.BodyLimit}.toMiddleware()
	if err != nil {
		return err
	}
	auth, err := authConfig{auth: s.cfg.Auth}.toMiddleware()
	if err != nil {
		return err
	}
	v1mw := []echo.MiddlewareFunc{limit, auth}
	if s.cfg.Limiter != nil {
		rl, err := rateLimitConfig{limiter: s.cfg.Limiter, logger: s.log}.toMiddleware()
		if err != nil {
			return err
		}
		v1mw = append(v1mw, rl)
	}
	v1mw = append(v1mw, checkParams) // after auth: a stranger learns nothing from a 400
	idem, err := idempotencyConfig{
		store: s.cfg.Idempotency, now: s.now, lockTimeout: s.cfg.IdempotencyLockTimeout,
		logger: s.log, required: true,
	}.toMiddleware()
	if err != nil {
		return err
	}

	// The /v1 middleware goes on each route, not on a group: an Echo group with middleware
	// adds a catch-all route, which would turn every 405 under /v1 into a 404.
	route := func(extra ...echo.MiddlewareFunc) []echo.MiddlewareFunc {
		return append(slices.Clone(v1mw), extra...)
	}
	ordersOnly := allowRoles("orders", orders.Caller.CanPlaceOrders)
	e.POST("/v1/orders", s.placeOrder, route(ordersOnly, idem)...)
	e.GET("/v1/orders", s.listOrders, route(ordersOnly)...)
	e.GET("/v1/orders/:id", s.getOrder, route(ordersOnly)...)
	e.POST("/v1/orders/:id/cancel", s.cancelOrder, route(ordersOnly)...)
	e.POST("/v1/orders/:id/retry-dispatch", s.retryDispatch, route(allowRoles("orders", orders.Caller.CanRetryDispatch))...)
	e.GET("/v1/reports/benefit", s.benefitReport, route(allowRoles("reports", orders.Caller.CanReadReports))...)
	if s.cfg.Budgets != nil {
		e.GET("/v1/budgets", s.listBudgets, route(allowRoles("budgets", orders.Caller.CanReadReports))...)
		e.PUT("/v1/budgets/:branch/:year", s.setBudget, route(allowRoles("setting budgets", orders.Caller.CanSetBudgets))...)
	}
	s.reportSetRoutes(e, route)
	if s.cfg.Households != nil {
		e.GET("/v1/households/:no", s.getHousehold, route(allowRoles("the household registry", orders.Caller.CanSeeRegistry))...)
	}
	if s.cfg.Audit != nil {
		e.GET("/v1/audit", s.listAudit, route(allowRoles("the audit log", orders.Caller.CanReadReports))...)
	}
	if s.cfg.Review != nil {
		reviewers := allowRoles("the review queue", review.CanReview)
		e.GET("/v1/review", s.listReview, route(reviewers)...)
		e.GET("/v1/review/:id", s.getReview, route(reviewers)...)
		e.POST("/v1/review/:id/resolve", s.resolveReview, route(reviewers)...)
	}

	if s.cfg.Periods != nil {
		office := allowRoles("closed periods and household detail", orders.Caller.CanSeeRegistry)
		e.POST("/v1/periods/close", s.periodChange(false), route(office)...)
		e.POST("/v1/periods/reopen", s.periodChange(true), route(office)...)
		e.GET("/v1/periods", s.listPeriods, route(allowRoles("reports", orders.Caller.CanReadReports))...)
		e.GET("/v1/reports/households", s.householdsReport, route(office)...)
		e.GET("/v1/households/:no/provenance", s.provenance, route(office)...)
	}

	if s.cfg.Pages != nil {
		s.cfg.Pages.Register(e)
	}
	e.POST("/webhooks/:mall", s.webhook)
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	e.GET("/readyz", s.ready)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.gather, promhttp.HandlerOpts{})))
	e.GET("/openapi.yaml", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "application/yaml", s.openAPI)
	})
	s.echo = e
	return nil
}

// ready answers GET /readyz: 200 when Config.Ready returns nil within 2 s, with JSON
// {"status":"ready","database":"ok"} — or status "degraded" and each part Config.Degraded
// names with why — else a 503 problem (the cause is logged, not shown).
func (s *Server) ready(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), readyTimeout)
	defer cancel()
	if err := s.cfg.Ready(ctx); err != nil {
		return &problem{
			status: http.StatusServiceUnavailable, slug: "not-ready", title: "Service not ready",
			detail: "the service cannot take traffic yet", cause: err,
		}
	}
	body := map[string]string{"status": "ready", "database": "ok"}
	if s.cfg.Degraded != nil {
		for part, why := range s.cfg.Degraded(ctx) {
			body[part] = why
			body["status"] = "degraded"
		}
	}
	return c.JSON(http.StatusOK, body)
}
