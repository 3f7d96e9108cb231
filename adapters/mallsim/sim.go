package mallsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/households"
	"aidmall/money"
	"aidmall/orders"
)

// Default app ids: the reference sandbox's, so config written for it works unchanged.
const (
	DefaultCCBAppID = "2019031200000001"
	DefaultABCAppID = "ABC2019031200000001"
)

// DefaultTimeScale divides the specs' retry schedules: CCB's 4 min … 15 h (24 h 24 min in
// all) becomes 4.4 s, ABC's 1 min doubling over 12 tries (34 h 7 min) becomes 6.1 s.
const DefaultTimeScale = 20000

// DefaultNotifyTimeout is how long a notification may wait for its answer (both specs:
// "no answer within 5 s … is a failure").
const DefaultNotifyTimeout = 5 * time.Second

// Options configures Start. Keys is required; every other field has the default it names.
type Options struct {
	// Keys signs as both malls and verifies the partner. Required.
	Keys *Keys
	// CCBAppID and ABCAppID are the partner's app ids at each mall (default DefaultCCBAppID,
	// DefaultABCAppID). A request with another app id is refused as the specs say.
	CCBAppID, ABCAppID string
	// Catalogue gives the listings: a product's Listing("ccb") and Listing("abc"). A
	// product a mall does not list is not orderable there.
	// Default: nothing is listed.
	Catalogue []households.Product
	// Script replays a bundle's statements for orders whose buyer_ref names a bundle order
	// (LoadScript). Nil: every order gets the default script — accepted, then every line
	// shipped, then every line delivered in full.
	Script *Script
	// ReplayGap is the pause between consecutive notifications of one order, counted from
	// the end of the previous one's delivery (0, the default: as fast as possible).
	ReplayGap time.Duration
	// TimeScale divides the specs' retry intervals (default DefaultTimeScale; 1 is real time).
	TimeScale int
	// NotifyTimeout bounds one delivery attempt (default DefaultNotifyTimeout).
	NotifyTimeout time.Duration
	// Now is the mall clock (default time.Now): request timestamp windows, nonce windows,
	// the timestamps it signs (CCB notify_time, X-Abc-Timestamp on answers and
	// notifications — the partner checks them against its own clock), the occurred_at of
	// default-script and cancel events, and the date in order numbers. Pauses (ReplayGap,
	// retries) run on real time.
	Now func() time.Time
	// Faults injects duplicates, reordering, failures, 429s, forged signatures and delays
	// (default: none). Sim.Down takes a mall down.
	Faults Faults
	// Logger receives one line per create, cancel, give-up and refused request (default:
	// discard).
	Logger *slog.Logger
}

// MallStats counts what one simulated mall did.
type MallStats struct {
	Creates          int `json:"creates"`           // orders created (first creates)
	DuplicateCreates int `json:"duplicate_creates"` // idempotent repeats answered with the existing order
	Conflicts        int `json:"conflicts"`         // creates refused: same number, other content
	Rejected         int `json:"rejected"`          // requests refused for any reason (conflicts included)
	Cancels          int `json:"cancels"`           // orders cancelled through the API
	Sent             int `json:"notifications_sent"`
	Acked            int `json:"notifications_acked"`
	Retried          int `json:"notifications_retried"` // attempts after the first
	Pending          int `json:"notifications_pending"` // produced, neither acknowledged nor given up
	GaveUp           int `json:"notifications_gave_up"` // the last try of the schedule failed too
}

// Stats is a snapshot of both malls' counters.
type Stats struct {
	CCB MallStats `json:"ccb"`
	ABC MallStats `json:"abc"`
}

// Sim is a running pair of simulated malls. Its methods are safe for concurrent use.
type Sim struct {
	opt    Options
	log    *slog.Logger
	ctx    context.Context // cancelled by Close: stops every driver and delivery
	cancel context.CancelFunc
	client *http.Client
	ccb    *mall
	abc    *mall
	faults *faultState

	mu      sync.Mutex // guards closed, wg.Add and idleCh
	closed  bool
	wg      sync.WaitGroup // drivers
	idleCh  chan struct{}  // closed (and replaced) whenever a mall may have become idle
	servers []*http.Server
	serveWG sync.WaitGroup
	// unused are the connections to the servers on which no request has begun yet
	// (guarded by mu): Close closes them itself. http.Server.Shutdown counts such a
	// connection as busy for its first 5 seconds, and a client's transport can dial one
	// and then keep it unused (another connection came free first), which held the
	// demo's exit for up to 5 s.
	unused map[net.Conn]bool
}

// trackUnused is the servers' ConnState hook keeping s.unused.
func (s *Sim) trackUnused(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st == http.StateNew {
		s.unused[c] = true
	} else {
		delete(s.unused, c)
	}
}

// Start builds both malls and listens on 127.0.0.1:0 for each. Cancelling ctx stops the
// notifiers as Close does; the servers keep answering until Close. It fails when
// opt.Keys is missing a key, when the catalogue lists one item id at two prices in one
// mall, or when a listener cannot be opened.
func Start(ctx context.Context, opt Options) (*Sim, error) {
	if ctx == nil {
		return nil, errors.New("mallsim: nil context")
	}
	if err := opt.Keys.validate(); err != nil {
		return nil, err
	}
	if opt.CCBAppID == "" {
		opt.CCBAppID = DefaultCCBAppID
	}
	if opt.ABCAppID == "" {
		opt.ABCAppID = DefaultABCAppID
	}
	if opt.TimeScale <= 0 {
		opt.TimeScale = DefaultTimeScale
	}
	if opt.NotifyTimeout <= 0 {
		opt.NotifyTimeout = DefaultNotifyTimeout
	}
	if opt.ReplayGap < 0 {
		opt.ReplayGap = 0
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Sim{opt: opt, log: log, idleCh: make(chan struct{}), faults: newFaultState(opt.Faults), unused: map[net.Conn]bool{}}
	var err error
	if s.ccb, err = newMall(s, ccb.Code); err != nil {
		return nil, err
	}
	if s.abc, err = newMall(s, abc.Code); err != nil {
		return nil, err
	}
	s.ccb.wire = &ccbWire{m: s.ccb}
	s.abc.wire = &abcWire{m: s.abc}

	s.ctx, s.cancel = context.WithCancel(ctx)
	transport := &http.Transport{
		Proxy:               nil, // notify URLs are the partner's own; never through a proxy
		DialContext:         (&net.Dialer{Timeout: opt.NotifyTimeout}).DialContext,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     30 * time.Second,
	}
	s.client = &http.Client{
		Transport:     transport,
		Timeout:       opt.NotifyTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for _, m := range []*mall{s.ccb, s.abc} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("mallsim: listen: %w", err)
		}
		m.url = "http://" + ln.Addr().String()
		mux := http.NewServeMux()
		m.wire.routes(mux)
		mux.HandleFunc("GET /statements/{day}", m.serveStatement)
		srv := &http.Server{Handler: m.faulty(mux), ReadHeaderTimeout: 10 * time.Second, ConnState: s.trackUnused}
		s.servers = append(s.servers, srv)
		s.serveWG.Add(1)
		go func() {
			defer s.serveWG.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("mallsim: server stopped", "mall", m.kind, "err", err)
			}
		}()
	}
	s.log.Info("mallsim: started", "ccb", s.ccb.url, "abc", s.abc.url, "scripted", opt.Script != nil)
	return s, nil
}

// CCBURL returns the CCB mall's base URL, "http://127.0.0.1:port" (POST {base}/gateway).
func (s *Sim) CCBURL() string { return s.ccb.url }

// ABCURL returns the ABC mall's base URL, "http://127.0.0.1:port" ({base}/open/v2/orders).
func (s *Sim) ABCURL() string { return s.abc.url }

// Stats returns a snapshot of both malls' counters.
func (s *Sim) Stats() Stats { return Stats{CCB: s.ccb.stats(), ABC: s.abc.stats()} }

// Idle reports whether nothing is left to do: every created order's script has been
// produced to its end (or stopped by a cancel) and every notification has been
// acknowledged or given up after the last retry (Stats tells which). True before any order.
func (s *Sim) Idle() bool { return s.ccb.idle() && s.abc.idle() }

// WaitIdle blocks until Idle is true, and returns nil then, or ctx's error.
func (s *Sim) WaitIdle(ctx context.Context) error {
	for {
		s.mu.Lock()
		ch := s.idleCh
		s.mu.Unlock()
		if s.Idle() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close stops both servers, stops every notifier goroutine and waits for all of them.
// Notifications not yet acknowledged are abandoned. Calling Close again does nothing.
func (s *Sim) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for c := range s.unused { // no request begun on it: nothing to wait for
		c.Close()
	}
	s.mu.Unlock()
	if s.cancel != nil {
		s.cancel()
	}
	var errs []error
	for _, srv := range s.servers {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
			srv.Close()
		}
		cancel()
	}
	s.serveWG.Wait()
	s.wg.Wait()
	if s.client != nil {
		s.client.CloseIdleConnections()
	}
	s.changed()
	return errors.Join(errs...)
}

// spawn runs f on a goroutine that Close waits for; it returns false once Close has begun.
func (s *Sim) spawn(f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

// changed wakes WaitIdle callers.
func (s *Sim) changed() {
	s.mu.Lock()
	close(s.idleCh)
	s.idleCh = make(chan struct{})
	s.mu.Unlock()
}

// sleep waits d of real time; it returns false when the simulator is closing or ctx is
// done, and returns early (true) when wake fires.
func (s *Sim) sleep(d time.Duration, wake <-chan struct{}) bool {
	if d <= 0 {
		return s.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-wake:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// scaled divides a spec interval by the time scale (at least 1 ms).
func (s *Sim) scaled(d time.Duration) time.Duration {
	return max(d/time.Duration(s.opt.TimeScale), time.Millisecond)
}

// listings maps a mall's item ids to listed prices.
func listings(cat []households.Product, m orders.Mall) (map[string]money.Fen, error) {
	out := map[string]money.Fen{}
	for _, p := range cat {
		id, price, ok := p.Listing(string(m))
		if !ok {
			continue
		}
		if old, dup := out[id]; dup && old != price {
			return nil, fmt.Errorf("mallsim: catalogue: %s item %s listed at %s and %s", m, id, old, price)
		}
		out[id] = price
	}
	return out, nil
}
