package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"aidmall/audit"
	"aidmall/orders"
)

// Middleware that needs dependencies follows Echo's shape: a config struct and a
// constructor, toMiddleware, that checks the config (nil dependencies are refused) and
// returns the echo.MiddlewareFunc. Middleware without any is a plain function.

type ctxKey int

const (
	ctxRequestID ctxKey = iota
	ctxCaller
)

const headerRequestID = "X-Request-Id"

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(ctxRequestID).(string)
	return id
}

// callerFrom returns the caller the auth middleware put on the request; ok is false on
// routes without it.
func callerFrom(c echo.Context) (orders.Caller, bool) {
	caller, ok := c.Request().Context().Value(ctxCaller).(orders.Caller)
	return caller, ok
}

func withValue(c echo.Context, key ctxKey, v any) {
	r := c.Request()
	c.SetRequest(r.WithContext(context.WithValue(r.Context(), key, v)))
}

// requestID keeps a client's X-Request-Id when it is 1–64 characters of letters, digits,
// '-', '_' and '.', makes a random one (16 bytes, hex) otherwise, puts it on the request's
// context for the logs and problems, and echoes it in the response header.
func requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(headerRequestID)
		if !validRequestID(id) {
			id = randomID()
		}
		c.Response().Header().Set(headerRequestID, id)
		withValue(c, ctxRequestID, id)
		return next(c)
	}
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// accessLogConfig configures the access log and HTTP metrics. The middleware renders any
// error through the HTTPErrorHandler itself (so that the logged status is the one sent),
// then writes one JSON log line per request: request id, method, route, path, status,
// duration, bytes and the API key id — never a body, a query string or the key.
type accessLogConfig struct {
	logger  *slog.Logger
	now     func() time.Time
	metrics *metrics
}

func (cfg accessLogConfig) toMiddleware() (echo.MiddlewareFunc, error) {
	if cfg.logger == nil || cfg.now == nil || cfg.metrics == nil {
		return nil, errors.New("api: access log needs a logger, a clock and metrics")
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := cfg.now()
			route := ""
			if err := next(c); err != nil {
				if errors.Is(err, echo.ErrNotFound) { // the router's: no route has this path
					route = "unmatched"
				}
				c.Error(err)
			}
			elapsed := cfg.now().Sub(start)
			req, res := c.Request(), c.Response()
			if route == "" {
				route = c.Path()
			}
			cfg.metrics.observeRequest(route, req.Method, res.Status, elapsed)
			attrs := []slog.Attr{
				slog.String("request_id", requestIDFrom(req.Context())),
				slog.String("method", req.Method),
				slog.String("route", route),
				// The path only where it holds no parameter: a household number's place
				// may hold an ID number typed there, which must never reach the logs.
				slog.String("path", loggedPath(route, req.URL.Path)),
				slog.Int("status", res.Status),
				slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
				slog.Int64("bytes_out", res.Size),
				slog.String("remote_ip", c.RealIP()),
			}
			if caller, ok := callerFrom(c); ok {
				attrs = append(attrs, slog.Int64("key_id", caller.KeyID), slog.String("role", string(caller.Role)))
			}
			cfg.logger.LogAttrs(req.Context(), slog.LevelInfo, "request", attrs...)
			return nil
		}
	}, nil
}

// recoverPanics turns a panic in a handler into an error, so that the client gets a 500
// "internal error" problem and the log gets the panic and its stack with the request id.
// http.ErrAbortHandler is re-raised: it is how a handler aborts a response on purpose.
func recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
			}
		}()
		return next(c)
	}
}

// bodyLimitConfig configures the request body limit: a declared Content-Length above the
// limit is refused at once, and reading past it fails with *http.MaxBytesError (→ 413).
type bodyLimitConfig struct {
	limit int64 // bytes, > 0
}

func (cfg bodyLimitConfig) toMiddleware() (echo.MiddlewareFunc, error) {
	if cfg.limit <= 0 {
		return nil, errors.New("api: body limit must be positive")
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if req.ContentLength > cfg.limit {
				return &http.MaxBytesError{Limit: cfg.limit}
			}
			req.Body = http.MaxBytesReader(c.Response().Writer, req.Body, cfg.limit)
			return next(c)
		}
	}, nil
}

// authConfig configures API-key authentication: "Authorization: Bearer <key>" (RFC 6750
// §2.1). A missing, malformed, unknown or revoked key is a 401 problem with
// WWW-Authenticate: Bearer; a failing Authenticator is a 500.
type authConfig struct {
	auth Authenticator
}

func (cfg authConfig) toMiddleware() (echo.MiddlewareFunc, error) {
	if cfg.auth == nil {
		return nil, errors.New("api: auth middleware: nil Authenticator")
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			token, ok := bearerToken(c.Request().Header.Get(echo.HeaderAuthorization))
			if !ok {
				return unauthorized(`Bearer realm="aidmall"`, "an API key is required: Authorization: Bearer <key>")
			}
			caller, err := cfg.auth.Authenticate(c.Request().Context(), token)
			if errors.Is(err, orders.ErrNotFound) {
				return unauthorized(`Bearer realm="aidmall", error="invalid_token"`, "unknown or revoked API key")
			}
			if err != nil {
				return fmt.Errorf("authenticate: %w", err)
			}
			if !caller.Role.Valid() {
				return fmt.Errorf("authenticate: key %d has unknown role %q", caller.KeyID, caller.Role)
			}
			withValue(c, ctxCaller, caller)
			// Changes a store records outside a domain use case (targets, keys) are
			// audited as this caller.
			c.SetRequest(c.Request().WithContext(audit.WithActor(c.Request().Context(), caller.Actor())))
			return next(c)
		}
	}, nil
}

func unauthorized(challenge, detail string) *problem {
	return &problem{status: http.StatusUnauthorized, slug: "unauthorized", title: "Unauthorized",
		detail: detail, header: http.Header{"Www-Authenticate": {challenge}}}
}

// bearerToken reads "Bearer <token>" (scheme case-insensitive); the token is RFC 6750's
// b64token: letters, digits and -._~+/ followed by any '='.
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(token, " ")
	body := strings.TrimRight(token, "=")
	if body == "" || len(token) > 512 {
		return "", false
	}
	for _, r := range body {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~+/", r)) {
			return "", false
		}
	}
	return token, true
}

// allowRoles refuses callers for whom ok is false with 403: auditors on orders,
// branch_staff on reports (ARCHITECTURE.md, Who uses it). what names the resource.
func allowRoles(what string, ok func(orders.Caller) bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			caller, found := callerFrom(c)
			if !found || !ok(caller) {
				return &problem{status: http.StatusForbidden, slug: "forbidden", title: "Forbidden",
					detail: fmt.Sprintf("role %q may not use %s", caller.Role, what)}
			}
			return next(c)
		}
	}
}

// rateLimitConfig configures the per-API-key rate limit (after auth): a token bucket per
// key (adapters/redisx: a burst at once, then the sustained rate). A refused request is a
// 429 problem with Retry-After in whole seconds, rounded up (at least 1), so that a client
// waiting what it is told finds a token. When the limiter itself fails the request goes
// through and the failure is logged at warn: a limiter outage must not stop order taking.
type rateLimitConfig struct {
	limiter RateLimiter
	logger  *slog.Logger
}

func (cfg rateLimitConfig) toMiddleware() (echo.MiddlewareFunc, error) {
	if cfg.limiter == nil || cfg.logger == nil {
		return nil, errors.New("api: rate limit needs a limiter and a logger")
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			caller, ok := callerFrom(c)
			if !ok {
				return next(c)
			}
			ctx := c.Request().Context()
			allowed, wait, err := cfg.limiter.Allow(ctx, "apikey:"+strconv.FormatInt(caller.KeyID, 10))
			if err != nil {
				cfg.logger.WarnContext(ctx, "rate limiter failed; request let through",
					slog.String("request_id", requestIDFrom(ctx)), slog.Any("error", err))
				return next(c)
			}
			if !allowed {
				secs := int64(math.Ceil(wait.Seconds()))
				if secs < 1 {
					secs = 1
				}
				return &problem{status: http.StatusTooManyRequests, slug: "rate-limited", title: "Too many requests",
					detail: fmt.Sprintf("rate limit reached for this API key; retry in %d s", secs),
					header: http.Header{"Retry-After": {strconv.FormatInt(secs, 10)}}}
			}
			return next(c)
		}
	}, nil
}

// loggedPath is the path an access log line shows: the request's when its route has no
// parameter (or none matched), else the route itself (the values are personal data at
// worst: /v1/households/:no).
func loggedPath(route, path string) string {
	if strings.Contains(route, ":") || strings.Contains(route, "*") {
		return route
	}
	return path
}
