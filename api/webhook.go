package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"aidmall/malls"
	"aidmall/orders"
)

// webhook is POST /webhooks/{mall}: a mall's fulfilment notification, authenticated by the
// mall's signature alone (ccb-mall.md and abc-mall.md, "Notifications"). The raw body (at
// most 1 MiB: a declared Content-Length beyond is refused unread, and no more than the
// limit and one byte is ever read) is handed to the mall's verifier; a notification that
// does not verify is refused with the mall's failure answer and a 4xx (Refusal: 413 too
// large, 400 malformed headers or body, 401 bad signature, stale or replayed), nothing is
// stored, a security log line (reason, mall, request id, peer; never the body) is written
// and aidmall_webhook_refusals_total{mall,reason} counted. A verified one is applied, and
// only once Apply has committed does the mall get its "recorded" answer (ARCHITECTURE.md:
// "success" means committed). A failed Apply is a failure answer too, so the mall sends
// the event again: that, and a nonce memory that cannot be reached, are the only 5xx. An
// unknown mall is a 404 problem.
//
// A notification the mall signed but that cannot be used — Parse fails with
// orders.ErrUnreadableEvent, or Apply with orders.ErrInvalid — would fail the same way on
// every retry, and the mall would then give up and the event be lost. When
// Config.Unreadable is set, its raw body is kept there with the error as reason and the
// mall gets its "recorded" answer (metrics result kept_unreadable, a warning in the log);
// if keeping it fails, the answer is a failure so that the mall retries. Without it, such
// a notification is refused as malformed.
func (s *Server) webhook(c echo.Context) error {
	mall := orders.Mall(c.Param("mall"))
	wh, ok := s.cfg.Webhooks[mall]
	if !ok {
		return &problem{status: http.StatusNotFound, slug: "not-found", title: "Not Found",
			detail: fmt.Sprintf("no webhook for mall %q", c.Param("mall"))}
	}
	req := c.Request()
	ctx := req.Context()
	logAttrs := []any{slog.String("request_id", requestIDFrom(ctx)), slog.String("mall", string(mall))}

	if req.ContentLength > webhookBodyLimit {
		return s.refuse(c, wh, mall, fmt.Errorf("%w: Content-Length %d over %d bytes", malls.ErrTooLarge, req.ContentLength, webhookBodyLimit))
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, webhookBodyLimit+1))
	switch {
	case err != nil:
		return s.refuse(c, wh, mall, fmt.Errorf("%w: body could not be read", malls.ErrMalformed))
	case len(body) > webhookBodyLimit:
		return s.refuse(c, wh, mall, fmt.Errorf("%w: body over %d bytes", malls.ErrTooLarge, webhookBodyLimit))
	}
	ev, err := wh.Parse(ctx, req, body)
	if err == nil && ev.Mall != mall {
		err = fmt.Errorf("verifier returned an event of mall %q", ev.Mall)
	}
	switch {
	case err == nil:
		return s.applyEvent(c, wh, ev, body, logAttrs)
	case errors.Is(err, orders.ErrUnreadableEvent) && s.cfg.Unreadable != nil:
		return s.keepUnreadable(c, wh, mall, body, err, logAttrs)
	}
	if _, _, refused := malls.Refusal(err); refused {
		return s.refuse(c, wh, mall, err)
	}
	// Not the sender's fault: the verifier could not do its work (its nonce memory is
	// down) or returned what it must not. The mall retries.
	s.log.ErrorContext(ctx, "webhook notification not verified", append(logAttrs, slog.Any("error", err))...)
	s.metrics.webhookEvent(string(mall), "failed")
	return writeRaw(c)(wh.Nack(req, err))
}

// refuse answers a notification refused for err (wrapping a malls refusal class) with the
// mall's failure answer, after a security log line and the refusal counted. The body is
// never logged, and the reason's detail is cut short.
func (s *Server) refuse(c echo.Context, wh MallWebhook, mall orders.Mall, err error) error {
	req := c.Request()
	reason, _, ok := malls.Refusal(err)
	if !ok {
		reason = malls.ReasonMalformed
	}
	s.log.WarnContext(req.Context(), "webhook notification refused",
		slog.String("log", "security"), slog.String("reason", reason), slog.String("detail", shortDetail(err.Error())),
		slog.String("mall", string(mall)), slog.String("request_id", requestIDFrom(req.Context())), slog.String("peer", c.RealIP()))
	s.metrics.webhookEvent(string(mall), "rejected")
	s.metrics.webhookRefused(string(mall), reason)
	return writeRaw(c)(wh.Nack(req, err))
}

// shortDetail is a refusal's message for the log: at most 200 bytes, cut on a rune.
func shortDetail(s string) string {
	const most = 200
	if len(s) <= most {
		return s
	}
	cut := most
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// applyEvent applies a verified event (read from body) and answers the mall.
func (s *Server) applyEvent(c echo.Context, wh MallWebhook, ev orders.FulfilmentEvent, body []byte, logAttrs []any) error {
	req := c.Request()
	// A verified notification is recorded to the end even if the mall hangs up meanwhile:
	// its next delivery then finds it applied (and is acknowledged) instead of racing a
	// rolled-back first one. Bounded by recordTimeout.
	ctx, cancel := recordContext(req)
	defer cancel()
	logAttrs = append(logAttrs, slog.String("event_id", string(ev.EventID)), slog.String("type", string(ev.Type)),
		slog.String("out_order_no", string(ev.OutOrderNo)))
	res, err := s.cfg.Orders.ApplyJoined(ctx, ev)
	if err != nil && errors.Is(err, orders.ErrInvalid) {
		if s.cfg.Unreadable != nil {
			return s.keepUnreadable(c, wh, ev.Mall, body, err, logAttrs)
		}
		// Verified but unusable, and nowhere to keep it: a retry would fail the same way.
		return s.refuse(c, wh, ev.Mall, fmt.Errorf("%w: %w", malls.ErrMalformed, err))
	}
	if err != nil {
		s.log.ErrorContext(ctx, "webhook event not applied", append(logAttrs, slog.Any("error", err))...)
		s.metrics.webhookEvent(string(ev.Mall), "failed")
		return writeRaw(c)(wh.Nack(req, err))
	}
	result := res.Label()
	if res.Differs != "" {
		// The mall used an event id again with other content. The event recorded first
		// stands and this one is not applied; it is acknowledged all the same (refusing it
		// would only make the mall send it again, and nothing it sends can change the
		// record), and left to an operator: a warning naming what differs, and its count.
		s.log.WarnContext(ctx, "webhook event repeats an event id already recorded, with other content: not applied; the recorded event stands",
			append(logAttrs, slog.String("differs", res.Differs))...)
	} else {
		s.log.InfoContext(ctx, "webhook event recorded", append(logAttrs, slog.String("result", result))...)
	}
	s.metrics.webhookEvent(string(ev.Mall), result)
	return writeRaw(c)(wh.Ack(req))
}

// keepUnreadable stores the body of a verified notification that cannot be used (cause
// says why) and acknowledges it, so that the mall stops sending it; if it cannot be
// stored, the mall gets a failure answer and sends it again.
func (s *Server) keepUnreadable(c echo.Context, wh MallWebhook, mall orders.Mall, body []byte, cause error, logAttrs []any) error {
	req := c.Request()
	ctx, cancel := recordContext(req)
	defer cancel()
	logAttrs = append(logAttrs, slog.String("reason", cause.Error()))
	if err := s.cfg.Unreadable.KeepUnreadable(ctx, mall, body, cause.Error()); err != nil {
		s.log.ErrorContext(ctx, "unreadable webhook notification not kept", append(logAttrs, slog.Any("error", err))...)
		s.metrics.webhookEvent(string(mall), "failed")
		return writeRaw(c)(wh.Nack(req, err))
	}
	s.log.WarnContext(ctx, "unreadable webhook notification kept for an operator", logAttrs...)
	s.metrics.webhookEvent(string(mall), "kept_unreadable")
	return writeRaw(c)(wh.Ack(req))
}

// recordTimeout bounds recording one verified notification (applyEvent, keepUnreadable).
const recordTimeout = 30 * time.Second

// recordContext is req's context without its cancellation (the mall hanging up), bounded
// by recordTimeout.
func recordContext(req *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(req.Context()), recordTimeout)
}

// writeRaw returns a writer of an answer exactly as a MallWebhook made it (usable as
// writeRaw(c)(wh.Ack(r))).
func writeRaw(c echo.Context) func(status int, header http.Header, body []byte) error {
	return func(status int, header http.Header, body []byte) error {
		h := c.Response().Header()
		for k, v := range header {
			h[k] = v
		}
		c.Response().WriteHeader(status)
		_, err := c.Response().Write(body)
		return err
	}
}
