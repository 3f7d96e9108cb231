package api

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"aidmall/internal/wire"
	"aidmall/orders"
)

// problemTypeBase prefixes every problem type URI: a problem's type is this plus its slug.
const problemTypeBase = "https://aidmall.dev/problems/"

const contentTypeProblem = "application/problem+json"

// problem is an error that already knows its HTTP answer (RFC 9457). Handlers and
// middleware return it for refusals they decide themselves; domain errors are turned into
// one by problemFor.
type problem struct {
	status int
	slug   string // the last segment of the type URI
	title  string
	detail string
	errors []fieldProblem
	header http.Header // extra response headers (WWW-Authenticate, Retry-After)
	cause  error       // logged with the request id, never shown
}

func (p *problem) Error() string {
	s := p.slug + ": " + p.detail
	if p.cause != nil {
		s += ": " + p.cause.Error()
	}
	return s
}

func (p *problem) Unwrap() error { return p.cause }

// fieldProblem is one bad part of a request: a JSON pointer (RFC 6901) into the body, or
// the name of a query parameter or header.
type fieldProblem struct {
	Pointer   string `json:"pointer,omitempty"`
	Parameter string `json:"parameter,omitempty"`
	Header    string `json:"header,omitempty"`
	Detail    string `json:"detail"`
}

// MarshalJSON writes the entry; an entry that names no parameter or header is about the
// body, and its pointer is written even when it is "" (RFC 6901: the whole document, as
// for data after the JSON value).
func (f fieldProblem) MarshalJSON() ([]byte, error) {
	type entry struct {
		Pointer   *string `json:"pointer,omitempty"`
		Parameter string  `json:"parameter,omitempty"`
		Header    string  `json:"header,omitempty"`
		Detail    string  `json:"detail"`
	}
	e := entry{Parameter: f.Parameter, Header: f.Header, Detail: f.Detail}
	if f.Pointer != "" || f.Parameter == "" && f.Header == "" {
		e.Pointer = &f.Pointer
	}
	return wire.MarshalJSON(e)
}

// problemBody is the problem+json document.
type problemBody struct {
	Type      string         `json:"type"`
	Title     string         `json:"title"`
	Status    int            `json:"status"`
	Detail    string         `json:"detail,omitempty"`
	Instance  string         `json:"instance,omitempty"`
	RequestID string         `json:"request_id,omitempty"`
	Errors    []fieldProblem `json:"errors,omitempty"`
}

// badParameters is a 400 for query parameters that cannot be read.
func badParameters(errs []fieldProblem) *problem {
	return &problem{
		status: http.StatusBadRequest, slug: "invalid-parameter", title: "Invalid query parameter",
		detail: "one or more query parameters are missing or malformed", errors: errs,
	}
}

// problemFor maps any error to its answer. This is the one table of the API from domain
// errors to HTTP statuses:
//
//	*problem                 its own status
//	*orders.ValidationError  422 validation, one entry per field
//	orders.ErrInvalid        422 validation
//	orders.ErrForbidden      403 forbidden
//	orders.ErrNotFound       404 not-found
//	orders.ErrConflict       409 conflict
//	orders.ErrNotAllowed     409 not-allowed (the order's state forbids it)
//	*http.MaxBytesError      413 body-too-large
//	*echo.HTTPError          its status (404 no such route, 405, 413)
//	anything else            500 internal, detail "internal error"
//
// The detail of a domain error is its client message (orders.Error's Message, see
// orders.ErrorMessage), never the wrapped Error() chain, which is logged; a 5xx never
// shows its cause.
func problemFor(err error) *problem {
	var (
		p   *problem
		ve  *orders.ValidationError
		mbe *http.MaxBytesError
		he  *echo.HTTPError
	)
	switch {
	case errors.As(err, &p):
		return p
	case errors.As(err, &ve):
		fields := make([]fieldProblem, len(ve.Fields))
		for i, f := range ve.Fields {
			fields[i] = fieldProblem{Pointer: f.Pointer, Detail: f.Detail}
		}
		return &problem{status: http.StatusUnprocessableEntity, slug: "validation",
			title: "The request has invalid fields", detail: "see errors", errors: fields}
	}
	// A domain error shows its client message (orders.ErrorMessage), never its wrap
	// chain; the chain is kept as the cause and logged.
	msg := orders.ErrorMessage(err)
	switch orders.ErrorKind(err) {
	case orders.ErrInvalid:
		return &problem{status: http.StatusUnprocessableEntity, slug: "validation",
			title: "The request has invalid fields", detail: msg, cause: err}
	case orders.ErrForbidden:
		return &problem{status: http.StatusForbidden, slug: "forbidden", title: "Forbidden", detail: msg, cause: err}
	case orders.ErrNotFound:
		return &problem{status: http.StatusNotFound, slug: "not-found", title: "Not Found", detail: msg, cause: err}
	case orders.ErrConflict:
		return &problem{status: http.StatusConflict, slug: "conflict", title: "Conflict", detail: msg, cause: err}
	case orders.ErrNotAllowed:
		return &problem{status: http.StatusConflict, slug: "not-allowed",
			title: "Not allowed in the order's state", detail: msg, cause: err}
	}
	switch {
	case errors.As(err, &mbe):
		return &problem{status: http.StatusRequestEntityTooLarge, slug: "body-too-large",
			title: "Request body too large", detail: "the body exceeds the size limit"}
	case errors.As(err, &he) && he.Code < 500:
		return &problem{status: he.Code, slug: statusSlug(he.Code), title: http.StatusText(he.Code),
			detail: strings.ToLower(http.StatusText(he.Code))}
	}
	return &problem{status: http.StatusInternalServerError, slug: "internal", title: "Internal error",
		detail: "internal error", cause: err}
}

// statusSlug names the problem type of a bare HTTP status.
func statusSlug(status int) string {
	switch status {
	case http.StatusNotFound:
		return "not-found"
	case http.StatusMethodNotAllowed:
		return "method-not-allowed"
	case http.StatusRequestEntityTooLarge:
		return "body-too-large"
	case http.StatusUnsupportedMediaType:
		return "unsupported-media-type"
	}
	return strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "-")
}

// handleError is the Echo HTTPErrorHandler: it answers every error as problem+json and
// logs 5xx causes (with the request id) at error level. A response already started is
// left alone; the error is only logged.
func (s *Server) handleError(err error, c echo.Context) {
	p := problemFor(err)
	req := c.Request()
	if s.cfg.Pages != nil && (p.status == http.StatusNotFound || p.status == http.StatusMethodNotAllowed) &&
		!apiPath(req.URL.Path) && !c.Response().Committed {
		if werr := s.cfg.Pages.RenderError(c, p.status); werr == nil {
			return
		}
	}
	rid := requestIDFrom(req.Context())
	switch {
	case p.status >= 500:
		s.log.ErrorContext(req.Context(), "request failed",
			slog.String("request_id", rid), slog.String("method", req.Method),
			slog.String("route", c.Path()), slog.Int("status", p.status), slog.Any("error", err))
	case p.cause != nil:
		s.log.InfoContext(req.Context(), "request refused",
			slog.String("request_id", rid), slog.String("method", req.Method),
			slog.String("route", c.Path()), slog.Int("status", p.status), slog.Any("error", err))
	}
	if c.Response().Committed {
		return
	}
	h := c.Response().Header()
	for k, vs := range p.header {
		h[k] = vs
	}
	body, merr := wire.MarshalJSON(problemBody{
		Type: problemTypeBase + p.slug, Title: p.title, Status: p.status, Detail: p.detail,
		Instance: req.URL.Path, RequestID: rid, Errors: p.errors,
	})
	if merr != nil { // cannot happen: the body holds strings and ints only
		s.log.ErrorContext(req.Context(), "encode problem", slog.String("request_id", rid), slog.Any("error", merr))
		return
	}
	if req.Method == http.MethodHead {
		_ = c.NoContent(p.status)
		return
	}
	if werr := c.Blob(p.status, contentTypeProblem, body); werr != nil {
		s.log.WarnContext(req.Context(), "write problem", slog.String("request_id", rid), slog.Any("error", werr))
	}
}
