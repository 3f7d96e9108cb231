package api

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"aidmall/orders"
)

// webhook is POST /webhooks/{mall}: a mall's fulfilment notification, authenticated by the
// mall's signature alone (ccb-mall.md and abc-mall.md, "Notifications"). The raw body (at
// most 1 MiB) is read before anything parses it and handed to the mall's verifier; a
// notification that does not verify is answered with the mall's failure answer and nothing
// is stored; a verified one is applied, and only once Apply has committed does the mall
// get its "recorded" answer (ARCHITECTURE.md: "success" means committed). A failed Apply
// is a failure answer too, so the mall sends the event again. An unknown mall is a 404
// problem. Bodies are never logged.
//
// A notification the mall signed but that cannot be used — Parse fails with
// orders.ErrUnreadableEvent, or Apply with orders.ErrInvalid — would fail the same way on
// every retry, and the mall would then give up and the event be lost. When
// Config.Unreadable is set, its raw body is kept there with the error as reason and the
// mall gets its "recorded" answer (metrics result kept_unreadable, a warning in the log);
// if keeping it fails, the answer is a failure so that the mall retries.
func (s *Server) webhook(c echo.Context) error {
	mall := orders.Mall(c.Param("mall"))
	wh, ok := s.cfg.Webhooks[mall]
	if !ok {
		return &problem{status: http.StatusNotFound, slug: "not-found", title: "Not found",
			detail: fmt.Sprintf("no webhook for mall %q", c.Param("mall"))}
	}
	req := c.Request()
	ctx := req.Context()
	logAttrs := []any{slog.String("request_id", requestIDFrom(ctx)), slog.String("mall", string(mall))}

	body, err := io.ReadAll(io.LimitReader(req.Body, webhookBodyLimit+1))
	if err == nil && len(body) > webhookBodyLimit {
		err = fmt.Errorf("body larger than %d bytes", webhookBodyLimit)
	}
	if err == nil {
		var ev orders.FulfilmentEvent
		ev, err = wh.Parse(ctx, req, body)
		if err == nil && ev.Mall != mall {
			err = fmt.Errorf("verifier returned an event of mall %q", ev.Mall)
		}
		if err == nil {
			return s.applyEvent(c, wh, ev, body, logAttrs)
		}
		if errors.Is(err, orders.ErrUnreadableEvent) && s.cfg.Unreadable != nil {
			return s.keepUnreadable(c, wh, mall, body, err, logAttrs)
		}
	}
	s.log.WarnContext(ctx, "webhook notification rejected", append(logAttrs, slog.String("reason", err.Error()))...)
	s.metrics.webhookEvent(string(mall), "rejected")
	return writeRaw(c)(wh.Nack(req, err))
}

// applyEvent applies a verified event (read from body) and answers the mall.
func (s *Server) applyEvent(c echo.Context, wh MallWebhook, ev orders.FulfilmentEvent, body []byte, logAttrs []any) error {
	req := c.Request()
	ctx := req.Context()
	logAttrs = append(logAttrs, slog.String("event_id", string(ev.EventID)), slog.String("type", string(ev.Type)),
		slog.String("out_order_no", string(ev.OutOrderNo)))
	res, err := s.cfg.Orders.Apply(ctx, ev)
	if err != nil && errors.Is(err, orders.ErrInvalid) && s.cfg.Unreadable != nil {
		return s.keepUnreadable(c, wh, ev.Mall, body, err, logAttrs)
	}
	if err != nil {
		level := slog.LevelError
		if errors.Is(err, orders.ErrInvalid) {
			level = slog.LevelWarn // the mall sent a verified but unusable event
		}
		s.log.Log(ctx, level, "webhook event not applied", append(logAttrs, slog.Any("error", err))...)
		s.metrics.webhookEvent(string(ev.Mall), "failed")
		return writeRaw(c)(wh.Nack(req, err))
	}
	result := string(res.Outcome())
	s.log.InfoContext(ctx, "webhook event recorded", append(logAttrs, slog.String("result", result))...)
	s.metrics.webhookEvent(string(ev.Mall), result)
	return writeRaw(c)(wh.Ack(req))
}

// keepUnreadable stores the body of a verified notification that cannot be used (cause
// says why) and acknowledges it, so that the mall stops sending it; if it cannot be
// stored, the mall gets a failure answer and sends it again.
func (s *Server) keepUnreadable(c echo.Context, wh MallWebhook, mall orders.Mall, body []byte, cause error, logAttrs []any) error {
	req := c.Request()
	ctx := req.Context()
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
