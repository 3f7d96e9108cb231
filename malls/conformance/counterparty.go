package conformance

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"aidmall/config"
	"aidmall/malls"
	"aidmall/orders"
)

// Live builds a Harness for a driver against a live counterparty (the reference sandbox):
// the mall is opened through Driver.Open from settings, as in production; the
// counterparty's own notifications are caught by a local server (the notify URL of every
// order is set to it); Ship waits until the counterparty reports a line shipped (the
// sandbox ships by itself shortly after create). The event a caught notification must
// parse to is read by a second connection with its own nonce memory, and must name the
// order placed. order must return an order the counterparty lists, with a fresh
// OutOrderNo; nonces makes a fresh replay memory. At opens the mall again with the clock
// given. Busy, Statement, Nonces and Window are left to the caller.
func Live(t *testing.T, d malls.Driver, settings config.MallConfig, nonces func() malls.NonceStore, order func() orders.CreateRequest) Harness {
	t.Helper()
	m, err := d.Open(settings, malls.Env{Nonces: nonces()})
	if err != nil {
		t.Fatalf("open %s: %v", d.Code(), err)
	}
	ref, err := d.Open(settings, malls.Env{Nonces: nonces()})
	if err != nil {
		t.Fatalf("open %s: %v", d.Code(), err)
	}
	type caught struct {
		r    *http.Request
		body []byte
	}
	var mu sync.Mutex
	got := map[orders.OutOrderNo][]caught{} // by the out_order_no found in the body
	var placed []orders.OutOrderNo
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		for _, no := range placed {
			if strings.Contains(string(body), string(no)) {
				c := r.Clone(context.Background())
				c.Body = http.NoBody
				got[no] = append(got[no], caught{c, body})
			}
		}
		mu.Unlock()
		status, h, b := m.Ack(r) // acknowledged, so the counterparty does not retry
		for k, vs := range h {
			w.Header()[k] = vs
		}
		w.WriteHeader(status)
		w.Write(b)
	}))
	t.Cleanup(hook.Close)
	return Harness{
		Driver: d,
		Mall:   m,
		At: func(t *testing.T, now func() time.Time) malls.Mall {
			at, err := d.Open(settings, malls.Env{Nonces: nonces(), Now: now})
			if err != nil {
				t.Fatalf("open %s: %v", d.Code(), err)
			}
			return at
		},
		Order: func(t *testing.T) orders.CreateRequest {
			req := order()
			req.NotifyURL = hook.URL + "/webhooks/" + string(d.Code())
			mu.Lock()
			placed = append(placed, req.OutOrderNo)
			mu.Unlock()
			return req
		},
		Ship: func(t *testing.T, no orders.OutOrderNo) {
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) {
				v, err := m.Query(context.Background(), no)
				if err == nil {
					for _, l := range v.Lines {
						if l.Shipped > 0 {
							return
						}
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Fatalf("%s: the counterparty never shipped %s", d.Code(), no)
		},
		Notification: func(t *testing.T, p orders.CreateRequest) (*http.Request, []byte, orders.FulfilmentEvent) {
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) {
				mu.Lock()
				cs := got[p.OutOrderNo]
				mu.Unlock()
				if len(cs) > 0 {
					c := cs[0]
					ev, err := ref.Parse(context.Background(), c.r, c.body)
					if err != nil {
						t.Fatalf("the counterparty's notification is refused: %v\n%s", err, c.body)
					}
					if ev.OutOrderNo != p.OutOrderNo || ev.EventID == "" {
						t.Fatalf("notification of %s parsed as %+v", p.OutOrderNo, ev)
					}
					return c.r, c.body, ev
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Fatalf("%s: no notification of %s", d.Code(), p.OutOrderNo)
			return nil, nil, orders.FulfilmentEvent{}
		},
	}
}
