package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"aidmall/internal/idempotency"
)

// Idempotency follows the IETF draft "The Idempotency-Key HTTP Header Field"
// (draft-ietf-httpapi-idempotency-key-header-06): the key is a Structured Field string
// (RFC 8941), e.g. Idempotency-Key: "8e03978e-40d5"; a bare token without quotes is
// accepted too. A key is scoped to the API key that sent it.
//
//   - no key where one is required → 400 (problem idempotency-key-missing)
//   - a key seen with another request (method, path, body) → 422 (idempotency-key-reused)
//   - a key whose request finished → that response again, same status and body, with
//     Idempotent-Replayed: true
//   - a key whose first request is still running: the key is taken in the transaction of
//     the request's work (POST /v1/orders: the order, its job, its audit entry and the
//     kept response commit together), so a concurrent duplicate either finds the
//     response committed, or waits in its own transaction for the first one's commit
//     (PostgreSQL: the key's unique index; SQLite: its one writer) and then gets that
//     response, replayed, as a bank answers a repeated payment order with the first one's
//     result. The wait is bounded by the first request's deadline (placeTimeout, 30 s).
//     A key held by a request that took it in a commit of its own (a handler that keeps
//     no response in its transaction, or a takeover below) is 409 (idempotency-key-in-flight)
//     while that request runs.
//
// Only a successful response (below 400) is kept. A refused request (4xx: bad fields, a
// forbidden back-date, a taken order_ref) changed nothing, and a failed one (5xx) may not
// have, so nothing of it is kept (a key taken in the work's transaction is rolled back
// with it; one taken on its own is released) and the client may correct the body and
// send it again under the same key (as Stripe does for requests that fail validation).
// A request that dies before its commit leaves no key behind. A key left in flight by a
// request that took it on its own and crashed is taken over, once older than the lock
// timeout, by the next request with the same key and body.

const (
	headerIdempotencyKey = "Idempotency-Key"
	headerReplayed       = "Idempotent-Replayed"
	maxIdempotencyKeyLen = 255
)

// idempotencyConfig configures the Idempotency-Key middleware. It runs after auth (keys
// are scoped to the caller) and the body limit.
type idempotencyConfig struct {
	store       idempotency.Store
	now         func() time.Time
	lockTimeout time.Duration
	logger      *slog.Logger
	required    bool // a request without the header is a 400
}

func (cfg idempotencyConfig) toMiddleware() (echo.MiddlewareFunc, error) {
	if cfg.store == nil || cfg.now == nil || cfg.logger == nil || cfg.lockTimeout <= 0 {
		return nil, errors.New("api: idempotency needs a store, a clock, a logger and a positive lock timeout")
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			values := req.Header.Values(headerIdempotencyKey)
			if len(values) == 0 && !cfg.required {
				return next(c)
			}
			if len(values) == 0 {
				return &problem{status: http.StatusBadRequest, slug: "idempotency-key-missing",
					title:  "Idempotency-Key is missing",
					detail: `this operation requires an Idempotency-Key header, e.g. Idempotency-Key: "a-uuid"`,
					errors: []fieldProblem{{Header: headerIdempotencyKey, Detail: "required"}}}
			}
			key, err := parseIdempotencyKey(values)
			if err != nil {
				return &problem{status: http.StatusBadRequest, slug: "idempotency-key-invalid",
					title: "Idempotency-Key is malformed", detail: err.Error(),
					errors: []fieldProblem{{Header: headerIdempotencyKey, Detail: err.Error()}}}
			}
			caller, ok := callerFrom(c)
			if !ok {
				return errors.New("idempotency: no caller on the request")
			}
			body, err := io.ReadAll(req.Body)
			if err != nil {
				return fmt.Errorf("read body: %w", err)
			}
			req.Body = io.NopCloser(bytes.NewReader(body))

			scope := idempotency.Scope{KeyID: caller.KeyID, Key: key}
			fp := fingerprint(req.Method, req.URL.EscapedPath(), body)
			now := cfg.now().UTC()
			token := randomID()
			rec := idempotency.Record{Fingerprint: fp, Token: token, LockedAt: now}
			// A new key (the common case) is taken in the handler's own transaction, with
			// its work and its response: one read here, no commit of its own.
			held, found, err := cfg.store.Lookup(req.Context(), scope)
			if err != nil {
				return fmt.Errorf("look up idempotency key: %w", err)
			}
			if !found {
				return cfg.run(c, next, &keepInTx{scope: scope, token: token, claim: &rec})
			}
			if held.Response == nil && held.Fingerprint == fp && held.LockedAt.Before(now.Add(-cfg.lockTimeout)) {
				// An in-flight record whose request crashed (one that took its key in a
				// commit of its own): take it over, then keep the response on it.
				var got bool
				held, got, err = cfg.store.Claim(req.Context(), scope, rec, now.Add(-cfg.lockTimeout))
				if err != nil {
					return fmt.Errorf("claim idempotency key: %w", err)
				}
				if got {
					return cfg.run(c, next, &keepInTx{scope: scope, token: token})
				}
			}
			return answerHeld(c, held, fp)
		}
	}, nil
}

// answerHeld answers a request whose key another request holds: 422 for another request,
// 409 while that request is in flight, else its response again.
func answerHeld(c echo.Context, held idempotency.Record, fp string) error {
	switch {
	case held.Fingerprint != fp:
		return &problem{status: http.StatusUnprocessableEntity, slug: "idempotency-key-reused",
			title:  "Idempotency-Key is already used",
			detail: "this Idempotency-Key was used with another request; use a new key for a new request"}
	case held.Response == nil:
		return &problem{status: http.StatusConflict, slug: "idempotency-key-in-flight",
			title:  "A request is outstanding for this Idempotency-Key",
			detail: "the first request with this Idempotency-Key is still being processed; retry later"}
	}
	return replay(c, *held.Response)
}

// run calls next with the response buffered, keeps the response (or, for a key taken in
// a commit of its own, releases it on a 4xx, a 5xx or a panic), then sends it. The
// response is kept before it is sent, so a client that saw it can always replay it.
//
// With keep.claim set the handler takes the key in its transaction, with its answer, once
// the work is done: a refused or failed request then leaves nothing to release, and one
// that fails because a request that committed first took the key meanwhile (a concurrent
// duplicate, which waited for that commit: idempotency.ErrTaken, or the same body's
// order_ref taken: maybeTakenError) is answered with that request's response.
func (cfg idempotencyConfig) run(c echo.Context, next echo.HandlerFunc, keep *keepInTx) error {
	scope, token := keep.scope, keep.token
	res := c.Response()
	orig := res.Writer
	buf := &bufferedWriter{header: orig.Header()}
	res.Writer = buf
	// The request's context may be cancelled by now; the bookkeeping must still happen.
	ctx := context.WithoutCancel(c.Request().Context())
	rid := requestIDFrom(ctx)
	// A handler whose work runs in a store transaction keeps the response in it (keepInTx);
	// Complete is then not needed.
	c.SetRequest(c.Request().WithContext(context.WithValue(c.Request().Context(), keepInTxKey{}, keep)))
	release := func() {
		if keep.claim != nil {
			return // taken in the handler's transaction, which did not commit: nothing to release
		}
		if err := cfg.store.Release(ctx, scope, token); err != nil {
			cfg.logger.ErrorContext(ctx, "release idempotency key", slog.String("request_id", rid), slog.Any("error", err))
		}
	}
	done := false
	defer func() {
		if done {
			return
		}
		res.Writer = orig
		release()
	}()

	err := next(c)
	var mt *maybeTakenError
	switch {
	case errors.Is(err, idempotency.ErrTaken):
		done = true
		res.Writer = orig
		held, found, lerr := cfg.store.Lookup(ctx, scope)
		if lerr != nil {
			return fmt.Errorf("look up idempotency key: %w", lerr)
		}
		if !found {
			held = idempotency.Record{Fingerprint: keep.claim.Fingerprint} // released since: still in flight for this client
		}
		return answerHeld(c, held, keep.claim.Fingerprint)
	case errors.As(err, &mt):
		// Refused for a reason a request with this key that committed first would explain
		// (the same body's order_ref, taken by that request's order): its answer is this
		// one's. Otherwise the refusal stands.
		held, found, lerr := cfg.store.Lookup(ctx, scope)
		if lerr == nil && found {
			done = true
			res.Writer = orig
			return answerHeld(c, held, fingerprintOf(keep))
		}
		if lerr != nil {
			cfg.logger.ErrorContext(ctx, "look up idempotency key", slog.String("request_id", rid), slog.Any("error", lerr))
		}
		err = mt.err
	}
	if err != nil {
		c.Error(err) // render the problem into the buffer, so that it can be kept
	}
	status := buf.status
	if status == 0 {
		status = http.StatusOK
	}
	switch {
	case status >= 400:
		release()
	case keep.kept:
	case keep.claim != nil:
		// The handler answered without taking the key in a transaction: nothing is
		// kept, and a retry runs again.
		cfg.logger.ErrorContext(ctx, "idempotent response not kept: the handler took no key in its transaction",
			slog.String("request_id", rid))
	default:
		kept := idempotency.Response{Status: status, ContentType: buf.header.Get(echo.HeaderContentType),
			Location: buf.header.Get(echo.HeaderLocation), Body: buf.body.Bytes()}
		if err := cfg.store.Complete(ctx, scope, token, kept); err != nil {
			// The work is done; the client gets its answer. A retry finds the key in
			// flight until the lock times out.
			cfg.logger.ErrorContext(ctx, "keep idempotent response", slog.String("request_id", rid), slog.Any("error", err))
		}
	}
	done = true
	res.Writer = orig
	orig.WriteHeader(status)
	_, err = orig.Write(buf.body.Bytes())
	return err
}

// maybeTakenError is a handler's refusal that a concurrent duplicate explains: a request
// with the same key and body that committed first (its order took the order_ref) makes
// this one's work fail before it reaches the key. The middleware answers with that
// request's kept response when there is one, and with err otherwise.
type maybeTakenError struct{ err error }

func (e *maybeTakenError) Error() string { return e.err.Error() }
func (e *maybeTakenError) Unwrap() error { return e.err }

// fingerprintOf is the fingerprint of the request keep serves.
func fingerprintOf(keep *keepInTx) string {
	if keep.claim != nil {
		return keep.claim.Fingerprint
	}
	return ""
}

// keepInTx lets a handler keep its response in its own transaction: the order and the
// response to the request that placed it then commit together (one commit instead of two),
// and a retry after a crash between the order's commit and the answer is replayed the order
// instead of finding the key in flight and then the order_ref taken.
type keepInTx struct {
	scope idempotency.Scope
	token string
	// claim, when set, is the record the handler takes the key with in its transaction
	// (idempotency.TxClaimer); nil when the key is already taken by token.
	claim *idempotency.Record
	kept  bool // set by the handler when the transaction that kept the response committed
}

type keepInTxKey struct{}

// keepInTxFrom returns the request's keepInTx; nil when the route has no Idempotency-Key.
func keepInTxFrom(ctx context.Context) *keepInTx {
	k, _ := ctx.Value(keepInTxKey{}).(*keepInTx)
	return k
}

// replay sends a kept response again.
func replay(c echo.Context, kept idempotency.Response) error {
	h := c.Response().Header()
	if kept.ContentType != "" {
		h.Set(echo.HeaderContentType, kept.ContentType)
	}
	if kept.Location != "" {
		h.Set(echo.HeaderLocation, kept.Location)
	}
	h.Set(headerReplayed, "true")
	c.Response().WriteHeader(kept.Status)
	_, err := c.Response().Write(kept.Body)
	return err
}

// bufferedWriter holds a response until it has been kept.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *bufferedWriter) Header() http.Header { return w.header }

func (w *bufferedWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *bufferedWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}

// fingerprint is the hex SHA-256 of method, path and body, each but the last followed by
// a newline (neither a method nor a path holds one).
func fingerprint(method, path string, body []byte) string {
	h := sha256.New()
	io.WriteString(h, method+"\n"+path+"\n")
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// parseIdempotencyKey reads the header's one value: an RFC 8941 sf-string ("..." with
// \" and \\ escapes, printable ASCII) or, leniently, a bare run of printable ASCII
// without spaces, quotes or backslashes. 1–255 characters after unquoting.
func parseIdempotencyKey(values []string) (string, error) {
	if len(values) != 1 {
		return "", errors.New("send exactly one Idempotency-Key header")
	}
	v := strings.TrimSpace(values[0])
	var key string
	if strings.HasPrefix(v, `"`) {
		var b strings.Builder
		closed := false
		for i := 1; i < len(v); i++ {
			ch := v[i]
			switch {
			case ch == '\\':
				i++
				if i >= len(v) || (v[i] != '"' && v[i] != '\\') {
					return "", errors.New(`a quoted key may escape only " and \`)
				}
				b.WriteByte(v[i])
			case ch == '"':
				if i != len(v)-1 {
					return "", errors.New("text after the closing quote")
				}
				closed = true
			case ch < 0x20 || ch > 0x7e:
				return "", errors.New("the key must be printable ASCII")
			default:
				b.WriteByte(ch)
			}
		}
		if !closed {
			return "", errors.New("missing closing quote")
		}
		key = b.String()
	} else {
		for i := 0; i < len(v); i++ {
			if ch := v[i]; ch <= 0x20 || ch > 0x7e || ch == '"' || ch == '\\' {
				return "", errors.New(`the key must be a quoted string, e.g. "8e03978e-40d5"`)
			}
		}
		key = v
	}
	if key == "" || len(key) > maxIdempotencyKeyLen {
		return "", fmt.Errorf("the key must be 1 to %d characters", maxIdempotencyKeyLen)
	}
	return key, nil
}
