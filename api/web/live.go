package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"aidmall/orders"
)

// Live updates: a fulfilment event applied anywhere (a mall's notification, a statement,
// on this replica or another) is published on a bus (redisx.Bus: in process, or across
// replicas through Redis pub/sub); every open dashboard holds a server-sent events stream
// (GET /dashboard/events) that says "changed", and static/dashboard.js then fetches the
// page again and puts its new figures, tables and charts in place. The stream carries no
// figure, only the signal, so it needs no scope of its own: the refetched page has the
// viewer's.

// Changes is the fan-out of change signals the dashboard listens to (redisx.Bus).
type Changes interface {
	// Subscribe returns a channel of signals and the function that ends the subscription.
	Subscribe() (<-chan string, func())
}

// Publisher sends a change signal to every replica (redisx.Bus).
type Publisher interface {
	Publish(ctx context.Context, msg string) error
}

// ChangedMessage is the signal Notify publishes.
const ChangedMessage = "changed"

// publishTimeout bounds one publish of Notify's.
const publishTimeout = time.Second

// notifyEvery is how long Notify gathers applied events into one signal: a statement of
// thousands of events, or a mall's burst of notifications, publishes a few signals, not
// one per event, and no Apply waits on Redis. Dashboards hear of a delivery within this
// and their own refetch, far inside the 3 s the pages promise.
const notifyEvery = 200 * time.Millisecond

// Notify returns the observer to give orders.NewService (orders.WithApplied): after an
// event is applied and committed, it makes sure ChangedMessage is published on p within
// notifyEvery, off the Apply's goroutine, once for all the events applied meanwhile. A
// failed publish is logged by p and costs only the live update (the figures are stored).
func Notify(p Publisher) func(context.Context, orders.FulfilmentEvent, orders.ApplyResult) {
	var mu sync.Mutex
	pending := false
	return func(context.Context, orders.FulfilmentEvent, orders.ApplyResult) {
		mu.Lock()
		defer mu.Unlock()
		if pending {
			return // a signal already on its way covers this event too
		}
		pending = true
		time.AfterFunc(notifyEvery, func() {
			mu.Lock()
			pending = false
			mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
			defer cancel()
			_ = p.Publish(ctx, ChangedMessage)
		})
	}
}

// liveHeartbeat is how often an idle stream gets a comment line, so that proxies keep
// it open and a dead client is noticed at the next write.
const liveHeartbeat = 15 * time.Second

// liveStreams ends every open stream when the server shuts down (StopLive), since an
// http.Server's Shutdown waits for streams that would otherwise never end.
type liveStreams struct {
	once, closeOnce sync.Once
	stop            chan struct{}
}

func (l *liveStreams) done() <-chan struct{} {
	l.once.Do(func() { l.stop = make(chan struct{}) })
	return l.stop
}

// StopLive ends every open live stream (and refuses new ones); register it with
// http.Server.RegisterOnShutdown.
func (s *Server) StopLive() {
	s.live.done()
	s.live.closeOnce.Do(func() { close(s.live.stop) })
}

// dashboardEvents is GET /dashboard/events: a text/event-stream that sends "changed" after
// a fulfilment event is applied (several in a burst fold into one), a heartbeat comment
// every liveHeartbeat, and ends when the client goes away or the server stops.
func (s *Server) dashboardEvents(c echo.Context) error {
	if s.cfg.Changes == nil {
		return s.notFound(c)
	}
	ch, end := s.cfg.Changes.Subscribe()
	defer end()
	ctx := c.Request().Context()
	w := c.Response()
	h := w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // no buffering in a reverse proxy
	w.WriteHeader(http.StatusOK)
	send := func(s string) error {
		if _, err := fmt.Fprint(w, s); err != nil {
			return err
		}
		w.Flush()
		return nil
	}
	// retry: how soon the browser reconnects after a broken stream (well inside 3 s).
	if err := send("retry: 2000\n: connected\n\n"); err != nil {
		return nil
	}
	tick := time.NewTicker(liveHeartbeat)
	defer tick.Stop()
	for {
		var err error
		select {
		case <-ctx.Done():
			return nil
		case <-s.live.done():
			return nil
		case _, ok := <-ch:
			if !ok {
				return nil
			}
			err = send("event: changed\ndata: {}\n\n")
		case <-tick.C:
			err = send(": heartbeat\n\n")
		}
		if err != nil {
			s.log.DebugContext(ctx, "live stream ended", slog.Any("error", err))
			return nil
		}
	}
}
