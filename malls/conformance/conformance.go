// Package conformance is the one suite every mall driver must pass (as River runs one
// driver suite over every database driver). An adapter runs it against its own fake mall
// (fakemall_test.go) and, where ../shared/mallsandbox is present, against the reference
// sandbox:
//
//	conformance.Run(t, conformance.Harness{Driver: ccb.Driver, Mall: m, Order: …, …})
//
// It checks what the rest of the service relies on without knowing the mall: create is
// idempotent on out_order_no; query and cancel; a cancel after shipping is refused as
// AlreadyShipped; refusals are classified retryable or final; a genuine notification is
// parsed to the right event and acknowledged with 200; a tampered or malformed one is
// refused with the mall's own failure answer and the status of its class (malls.Refusal:
// 400 for a body that is not the mall's shape — `{}`, not UTF-8, a NUL byte — or a
// required header missing, 401 for a bad signature, a replay or a stale one, 413 for a
// body over the webhook's limit), is not taken for a genuine but unreadable one, and only
// a failure to record a genuine one is a 5xx; statements parse to exactly the events they
// hold, field by field.
package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"aidmall/malls"
	"aidmall/money"
	"aidmall/orders"
)

// Harness connects the suite to one driver and its counterparty. Driver, Mall, Order,
// Ship and Notification are required; a nil optional field skips its test with a reason.
type Harness struct {
	Driver malls.Driver
	// Mall is the driver's mall, connected to the counterparty.
	Mall malls.Mall
	// Order returns an order the counterparty accepts (listed items at their prices),
	// with a fresh OutOrderNo on each call.
	Order func(t *testing.T) orders.CreateRequest
	// Ship makes the counterparty ship (at least one line of) the order, so that a cancel
	// must be refused; it returns once the mall says so.
	Ship func(t *testing.T, outOrderNo orders.OutOrderNo)
	// Notification returns a genuine notification of an order created by the suite, as
	// the counterparty sends it (request with headers, raw body), and the event it must
	// parse to (Mall, EventID, Type, OutOrderNo and, for line events, LineNo and Quantity
	// are compared).
	Notification func(t *testing.T, placed orders.CreateRequest) (*http.Request, []byte, orders.FulfilmentEvent)
	// Busy arms the counterparty to refuse the next call as temporarily unavailable
	// (retryable). Optional.
	Busy func(t *testing.T)
	// Statement returns a statement file in the mall's format, the events of its good
	// rows in order (Mall and Source aside, every field the ledger reads is compared:
	// EventID, Type, OutOrderNo, LineNo, Quantity, RefundFen, OccurredAt) and how many bad
	// rows it holds. Optional.
	Statement func(t *testing.T) (file []byte, want []orders.FulfilmentEvent, bad int)
	// Nonces says the mall's spec puts a nonce in every notification (ABC): the same
	// genuine notification parsed a second time must be refused as a replay. False: the
	// spec has none (CCB: the signature alone), and the replay case is skipped saying so.
	Nonces bool
	// Window is how far off the clock the spec lets a notification's timestamp be (ABC:
	// 5 minutes); 0: the spec sets none (CCB), and the stale case is skipped saying so.
	Window time.Duration
	// At returns the driver's mall connected to the same counterparty but reading the
	// time from now, with a fresh nonce memory. Required when Window is set.
	At func(t *testing.T, now func() time.Time) malls.Mall
	// Headers are the headers the spec requires on every notification (ABC: X-Abc-App-Id,
	// X-Abc-Timestamp, X-Abc-Nonce, X-Abc-Signature): the genuine notification without any
	// one of them must be refused as malformed (400). None: the spec signs the body alone
	// (CCB), and the case is skipped saying so.
	Headers []string
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Driver == nil || h.Mall == nil || h.Order == nil || h.Ship == nil || h.Notification == nil {
		t.Fatal("conformance: Driver, Mall, Order, Ship and Notification are required")
	}
	if h.Window > 0 && h.At == nil {
		t.Fatal("conformance: a Window needs At")
	}
	code := h.Driver.Code()
	ctx := context.Background()

	t.Run("identity", func(t *testing.T) {
		if h.Mall.Mall() != code {
			t.Errorf("connected mall says %q, driver %q", h.Mall.Mall(), code)
		}
		if n := h.Driver.Names(); n.Chinese == "" || n.English == "" {
			t.Errorf("display names missing: %+v", n)
		}
	})

	t.Run("create_is_idempotent_on_out_order_no", func(t *testing.T) {
		req := h.Order(t)
		first, err := h.Mall.Create(ctx, req)
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		again, err := h.Mall.Create(ctx, req)
		if err != nil {
			t.Fatalf("same create again: %v", err)
		}
		if first.MallOrderNo == "" || again.MallOrderNo != first.MallOrderNo {
			t.Errorf("mall order numbers %q then %q, want one order", first.MallOrderNo, again.MallOrderNo)
		}
		v, err := h.Mall.Query(ctx, req.OutOrderNo)
		if err != nil {
			t.Fatalf("query: %v", err)
		}
		if v.OutOrderNo != req.OutOrderNo || v.MallOrderNo != first.MallOrderNo || len(v.Lines) != len(req.Lines) {
			t.Errorf("query = %+v, want %s / %s with %d lines", v, req.OutOrderNo, first.MallOrderNo, len(req.Lines))
		}
	})

	t.Run("other_content_under_the_same_number_is_a_final_refusal", func(t *testing.T) {
		req := h.Order(t)
		if _, err := h.Mall.Create(ctx, req); err != nil {
			t.Fatalf("create: %v", err)
		}
		req.Lines[0].Quantity++
		req.Total += req.Lines[0].UnitPrice
		me := mallError(t, func() error { _, err := h.Mall.Create(ctx, req); return err }())
		if me.Retryable || me.Mall != code {
			t.Errorf("refusal %+v: want final, of mall %s", me, code)
		}
	})

	t.Run("a_price_the_mall_does_not_list_is_a_final_refusal", func(t *testing.T) {
		req := h.Order(t)
		req.Lines[0].UnitPrice++
		req.Total += money.Fen(req.Lines[0].Quantity)
		me := mallError(t, func() error { _, err := h.Mall.Create(ctx, req); return err }())
		if me.Retryable {
			t.Errorf("price refusal %+v is retryable", me)
		}
	})

	t.Run("an_unknown_order_is_not_found", func(t *testing.T) {
		_, err := h.Mall.Query(ctx, orders.NewOutOrderNo(time.Now()))
		if me := mallError(t, err); !me.NotFound || me.Retryable || !errors.Is(err, orders.ErrNotFound) {
			t.Errorf("query of an unknown order: %+v, want NotFound wrapping orders.ErrNotFound", me)
		}
	})

	t.Run("cancel_before_shipping_succeeds", func(t *testing.T) {
		req := h.Order(t)
		if _, err := h.Mall.Create(ctx, req); err != nil {
			t.Fatalf("create: %v", err)
		}
		if err := h.Mall.Cancel(ctx, req.OutOrderNo, "conformance"); err != nil {
			t.Fatalf("cancel: %v", err)
		}
	})

	t.Run("cancel_after_shipping_is_refused_as_already_shipped", func(t *testing.T) {
		req := h.Order(t)
		if _, err := h.Mall.Create(ctx, req); err != nil {
			t.Fatalf("create: %v", err)
		}
		h.Ship(t, req.OutOrderNo)
		me := mallError(t, h.Mall.Cancel(ctx, req.OutOrderNo, "conformance"))
		if !me.AlreadyShipped || me.Retryable || me.NotFound {
			t.Errorf("cancel of a shipped order: %+v, want AlreadyShipped and final", me)
		}
	})

	t.Run("a_busy_mall_is_retryable", func(t *testing.T) {
		if h.Busy == nil {
			t.Skip("this counterparty cannot be made busy on demand")
		}
		h.Busy(t)
		me := mallError(t, func() error { _, err := h.Mall.Create(ctx, h.Order(t)); return err }())
		if !me.Retryable || me.AlreadyShipped {
			t.Errorf("busy refusal %+v, want retryable", me)
		}
	})

	t.Run("notifications", func(t *testing.T) {
		placed := h.Order(t)
		if _, err := h.Mall.Create(ctx, placed); err != nil {
			t.Fatalf("create: %v", err)
		}
		r, body, want := h.Notification(t, placed)

		ev, err := h.Mall.Parse(ctx, r, body)
		if err != nil {
			t.Fatalf("genuine notification refused: %v", err)
		}
		if ev.Mall != code || ev.EventID != want.EventID || ev.Type != want.Type || ev.OutOrderNo != want.OutOrderNo ||
			ev.LineNo != want.LineNo || ev.Quantity != want.Quantity || ev.Source != "notify" {
			t.Errorf("parsed %+v\nwant    %+v", ev, want)
		}
		if err := ev.Validate(); err != nil {
			t.Errorf("parsed event invalid: %v", err)
		}
		ackStatus, _, ackBody := h.Mall.Ack(r)
		if ackStatus != http.StatusOK || len(ackBody) == 0 {
			t.Errorf("ack %d %q, want 200 with the mall's body", ackStatus, ackBody)
		}
		// nackIs checks the answer to a refusal for err: the mall's failure answer (a body,
		// not the ack's) with status.
		nackIs := func(t *testing.T, r *http.Request, err error, status int) {
			t.Helper()
			st, hd, nb := h.Mall.Nack(r, err)
			if st != status || len(nb) == 0 || bytes.Equal(nb, ackBody) || hd.Get("Content-Type") == "" {
				t.Errorf("nack of %v: %d %q (Content-Type %q), want the mall's failure answer with %d", err, st, nb, hd.Get("Content-Type"), status)
			}
		}

		// refused checks that the notification (r, body) is refused, not as a genuine one,
		// with the mall's failure answer and status.
		refused := func(t *testing.T, r *http.Request, body []byte, status int) {
			t.Helper()
			_, err := h.Mall.Parse(ctx, r, body)
			if err == nil {
				t.Fatal("accepted")
			}
			if errors.Is(err, orders.ErrUnreadableEvent) {
				t.Errorf("refusal %v claims a genuine notification", err)
			}
			if _, st, ok := malls.Refusal(err); !ok || st != status {
				t.Errorf("refusal %v is of class %d (a refusal: %v), want %d", err, st, ok, status)
			}
			nackIs(t, r, err, status)
		}
		t.Run("tampered_is_refused_as_a_bad_signature", func(t *testing.T) {
			forged := []byte(strings.Replace(string(body), string(want.OutOrderNo), tamper(string(want.OutOrderNo)), 1))
			if bytes.Equal(forged, body) {
				t.Fatalf("the body does not carry out_order_no %s in clear", want.OutOrderNo)
			}
			refused(t, clone(r, forged), forged, http.StatusUnauthorized)
		})
		t.Run("malformed_is_refused", func(t *testing.T) {
			junk := []byte("%%{not a notification")
			refused(t, clone(r, junk), junk, http.StatusBadRequest)
		})
		t.Run("an_empty_object_is_refused_as_malformed", func(t *testing.T) {
			refused(t, clone(r, []byte(`{}`)), []byte(`{}`), http.StatusBadRequest)
		})
		t.Run("a_body_not_utf8_is_refused_as_malformed", func(t *testing.T) {
			bad := []byte(strings.Replace(string(body), string(want.EventID), string(want.EventID)+"\xff", 1))
			refused(t, clone(r, bad), bad, http.StatusBadRequest)
		})
		t.Run("a_body_with_a_nul_byte_is_refused_as_malformed", func(t *testing.T) {
			bad := []byte(strings.Replace(string(body), string(want.EventID), string(want.EventID)+"\x00", 1))
			refused(t, clone(r, bad), bad, http.StatusBadRequest)
		})
		t.Run("a_missing_header_is_refused_as_malformed", func(t *testing.T) {
			if len(h.Headers) == 0 {
				t.Skip("the mall's spec signs the body alone: no header is required")
			}
			for _, name := range h.Headers {
				c := clone(r, body)
				c.Header.Del(name)
				t.Run(name, func(t *testing.T) { refused(t, c, body, http.StatusBadRequest) })
			}
		})
		t.Run("a_replay_is_refused", func(t *testing.T) {
			if !h.Nonces {
				t.Skip("the mall's spec puts no nonce in its notifications: a replay is not refused")
			}
			// The genuine notification was parsed once above; the same request and body
			// again is a replay.
			refused(t, r, body, http.StatusUnauthorized)
		})
		t.Run("a_stale_notification_is_refused", func(t *testing.T) {
			if h.Window <= 0 {
				t.Skip("the mall's spec sets no time window for its notifications")
			}
			later := h.At(t, func() time.Time { return time.Now().Add(h.Window + time.Minute) })
			if _, err := later.Parse(ctx, r, body); err == nil {
				t.Fatalf("a notification %s old was accepted", h.Window+time.Minute)
			} else if errors.Is(err, orders.ErrUnreadableEvent) {
				t.Errorf("refusal %v claims a genuine notification", err)
			} else if status, _, nb := later.Nack(r, err); status != http.StatusUnauthorized || len(nb) == 0 {
				t.Errorf("nack %d %q: want the mall's failure answer with 401", status, nb)
			}
			// Within the window, the same notification is still genuine (for a mall with
			// its own nonce memory).
			within := h.At(t, func() time.Time { return time.Now().Add(h.Window - time.Minute) })
			if _, err := within.Parse(ctx, r, body); err != nil {
				t.Errorf("a notification %s old, within the spec's %s, was refused: %v", h.Window-time.Minute, h.Window, err)
			}
		})
		t.Run("a_body_over_the_limit_is_answered_413", func(t *testing.T) {
			nackIs(t, r, fmt.Errorf("%w: body over 1048576 bytes", malls.ErrTooLarge), http.StatusRequestEntityTooLarge)
		})
		t.Run("failure_to_record_is_a_5xx_failure_answer", func(t *testing.T) {
			status, _, nb := h.Mall.Nack(r, errors.New("database down"))
			if status < 500 || len(nb) == 0 || bytes.Equal(nb, ackBody) {
				t.Errorf("nack %d %q: want the mall's failure answer with a 5xx", status, nb)
			}
		})
	})

	t.Run("statement", func(t *testing.T) {
		if h.Statement == nil {
			t.Skip("no statement file for this counterparty")
		}
		file, want, bad := h.Statement(t)
		evs, rows, err := h.Driver.ParseStatement(bytes.NewReader(file))
		if err != nil {
			t.Fatalf("statement: %v", err)
		}
		if len(evs) != len(want) || len(rows) != bad {
			t.Errorf("%d events and %d bad rows, want %d and %d (%v)", len(evs), len(rows), len(want), bad, rows)
		}
		for i, e := range evs {
			if e.Mall != code || e.Source != "statement" || e.Validate() != nil {
				t.Errorf("statement event %+v: want mall %s, source statement, valid (%v)", e, code, e.Validate())
			}
			if i >= len(want) {
				continue
			}
			w := want[i]
			if e.EventID != w.EventID || e.Type != w.Type || e.OutOrderNo != w.OutOrderNo || e.LineNo != w.LineNo ||
				e.Quantity != w.Quantity || e.RefundFen != w.RefundFen || !e.OccurredAt.Equal(w.OccurredAt) {
				t.Errorf("statement event %d:\n got  %+v\n want %+v", i, e, w)
			}
		}
	})
}

// mallError returns err as the mall's classified refusal, failing the test otherwise.
func mallError(t *testing.T, err error) *orders.MallError {
	t.Helper()
	var me *orders.MallError
	if !errors.As(err, &me) {
		t.Fatalf("error %v (%T), want *orders.MallError", err, err)
	}
	return me
}

// tamper changes the last character of s.
func tamper(s string) string {
	last := s[len(s)-1]
	if last == '0' {
		return s[:len(s)-1] + "1"
	}
	return s[:len(s)-1] + "0"
}

// clone is r again with body.
func clone(r *http.Request, body []byte) *http.Request {
	c := r.Clone(context.Background())
	c.Body = http.NoBody
	c.ContentLength = int64(len(body))
	return c
}
