package mallsim

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"aidmall/adapters/abc"
	"aidmall/orders"
)

// Faults makes both simulated malls misbehave the way real ones do, for fault runs
// (internal/faultharness). The zero value injects nothing. Rates are probabilities in
// [0, 1], each drawn per request or per notification from one generator seeded with Seed.
type Faults struct {
	// Seed seeds the fault decisions (0: a random seed). Concurrency still decides which
	// request meets which draw, so a seed gives the same rates, not the same run.
	Seed uint64
	// DupRate: a notification, once acknowledged, is delivered a second time (a copy with
	// the same event id and a fresh nonce), as malls do when they lose an acknowledgement.
	DupRate float64
	// Reorder: half the time, an order's next two scripted notifications are sent in
	// swapped order (a delivery before its shipment, a refund before its delivery).
	Reorder bool
	// FailRate: an API request (create, query, cancel, statement) is answered HTTP 503.
	// Half of these fail before doing anything, half after doing it (the answer is lost: a
	// create is made and the partner must not make a second one when it retries).
	FailRate float64
	// TooManyRate: an ABC API request is answered HTTP 429 TOO_MANY_REQUESTS with
	// Retry-After: 1 before doing anything (abc-mall.md; CCB's spec has no 429).
	TooManyRate float64
	// BadSignRate: a notification is first sent as a forged copy (a signature over other
	// content); the partner must refuse it. The genuine one follows.
	BadSignRate float64
	// DelayRate and MaxDelay: an API answer or a notification attempt is held up to
	// MaxDelay (uniform) first.
	DelayRate float64
	MaxDelay  time.Duration
}

// Fault kinds, as counted in State.Faults.
const (
	FaultFailBefore  = "fail_before"  // API request answered 503 without doing it
	FaultFailAfter   = "fail_after"   // API request done, its answer replaced by 503
	FaultTooMany     = "too_many"     // ABC API request answered 429 with Retry-After
	FaultDelay       = "delay"        // an answer or a notification held
	FaultDown        = "down"         // API request's connection closed: the mall was down
	FaultDuplicate   = "duplicate"    // a notification delivered a second time
	FaultForged      = "forged"       // a forged notification sent
	FaultForgedAcked = "forged_acked" // a forged notification the partner acknowledged (a partner bug)
	FaultReordered   = "reordered"    // a pair of notifications sent swapped
)

// faultState is the fault generator and counters of one simulator, shared by both malls.
type faultState struct {
	f  Faults
	mu sync.Mutex
	r  *rand.Rand
}

func newFaultState(f Faults) *faultState {
	seed := f.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	return &faultState{f: f, r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// hit draws once against p.
func (fs *faultState) hit(p float64) bool {
	if p <= 0 {
		return false
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.r.Float64() < p
}

// delay draws a hold for an answer or an attempt: 0 most of the time.
func (fs *faultState) delay() time.Duration {
	if fs.f.MaxDelay <= 0 || !fs.hit(fs.f.DelayRate) {
		return 0
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return time.Duration(fs.r.Int64N(int64(fs.f.MaxDelay)) + 1)
}

// count adds one fault of kind to m's tally.
func (m *mall) count(kind string) {
	m.mu.Lock()
	m.faults[kind]++
	m.mu.Unlock()
}

// faulty wraps the mall's API with the injected faults: down, 429 (ABC), delay, 503
// before or after the work.
func (m *mall) faulty(next http.Handler) http.Handler {
	fs := m.sim.faults
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := m.logRequest(r)
		if m.isDown() && !(m.readsUp() && isQuery(r)) {
			m.count(FaultDown)
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close() // no answer at all, as from a mall that is not there
					return
				}
			}
			http.Error(w, "mall down", http.StatusServiceUnavailable)
			return
		}
		if m.kind == abc.Code && fs.hit(fs.f.TooManyRate) {
			m.count(FaultTooMany)
			w.Header().Set("Retry-After", "1")
			m.answered(rec, http.StatusTooManyRequests, time.Second)
			m.unavailable(w, r, http.StatusTooManyRequests)
			return
		}
		if d := fs.delay(); d > 0 {
			m.count(FaultDelay)
			if !m.sim.sleep(d, nil) {
				return
			}
		}
		if fs.hit(fs.f.FailRate) {
			if fs.hit(0.5) {
				m.count(FaultFailAfter)
				next.ServeHTTP(&lostAnswer{h: http.Header{}}, r)
			} else {
				m.count(FaultFailBefore)
			}
			m.unavailable(w, r, http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// RequestRecord is one API request a mall received, for State: when, which call, the
// partner's order number it named (body or path), and a 429's status and Retry-After
// (Status 0: not throttled).
type RequestRecord struct {
	Mall       orders.Mall   `json:"mall"`
	At         time.Time     `json:"at"`
	Method     string        `json:"method"`
	Path       string        `json:"path"`
	OutOrderNo string        `json:"out_order_no,omitempty"`
	Status     int           `json:"status,omitempty"`
	RetryAfter time.Duration `json:"retry_after,omitempty"`
}

// orderNoField finds the partner's order number in a request body (CCB out_order_no, ABC
// partnerOrderNo) without parsing the rest.
var orderNoField = regexp.MustCompile(`"(?:out_order_no|outOrderNo|partnerOrderNo)"\s*:\s*"([^"]{1,64})"`)

// orderNoOf is the partner's order number a request names: in its JSON body (ABC), in
// its form's biz_content (CCB), or in its path (ABC's query and cancel).
func orderNoOf(p string, body []byte) string {
	if mm := orderNoField.FindSubmatch(body); mm != nil {
		return string(mm[1])
	}
	if form, err := url.ParseQuery(string(body)); err == nil {
		if mm := orderNoField.FindStringSubmatch(form.Get("biz_content")); mm != nil {
			return mm[1]
		}
	}
	if rest, ok := strings.CutPrefix(p, "/open/v2/orders/"); ok {
		return strings.TrimSuffix(rest, "/cancel")
	}
	return ""
}

// logRequest records r (its body read and put back) and returns its index.
func (m *mall) logRequest(r *http.Request) int {
	rec := RequestRecord{Mall: m.kind, At: time.Now(), Method: r.Method, Path: r.URL.Path}
	if r.Body != nil {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err == nil {
			rec.OutOrderNo = orderNoOf(r.URL.Path, body)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests = append(m.requests, rec)
	return len(m.requests) - 1
}

// answered notes a throttled answer to request i.
func (m *mall) answered(i, status int, retryAfter time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[i].Status, m.requests[i].RetryAfter = status, retryAfter
}

// unavailable answers a faulted request: ABC signs its refusals like every answer
// (abc-mall.md: 429 TOO_MANY_REQUESTS, 503 SERVICE_UNAVAILABLE); CCB's is a bare 503.
func (m *mall) unavailable(w http.ResponseWriter, r *http.Request, status int) {
	if aw, ok := m.wire.(*abcWire); ok {
		code := "SERVICE_UNAVAILABLE"
		if status == http.StatusTooManyRequests {
			code = "TOO_MANY_REQUESTS"
		}
		aw.write(w, r.RequestURI, abcErr(status, code, http.StatusText(status)))
		return
	}
	http.Error(w, "service unavailable", status)
}

// lostAnswer is a ResponseWriter whose answer never reaches the partner.
type lostAnswer struct{ h http.Header }

func (l *lostAnswer) Header() http.Header         { return l.h }
func (l *lostAnswer) Write(b []byte) (int, error) { return len(b), nil }
func (l *lostAnswer) WriteHeader(int)             {}

// Down takes mall ("ccb" or "abc") down for d from now: its API closes every connection
// without an answer and its notifications wait until it is back. A later call replaces
// the window (d <= 0 brings it back at once).
func (s *Sim) Down(code orders.Mall, d time.Duration) bool {
	return s.down(code, d, false)
}

// DownButReads is Down, except that the mall still answers queries of its orders: a
// partial outage in which its order intake fails while its order lookup works (what an
// `auto` order's failover needs from the first mall to move: its word that it holds no
// such order).
func (s *Sim) DownButReads(code orders.Mall, d time.Duration) bool {
	return s.down(code, d, true)
}

func (s *Sim) down(code orders.Mall, d time.Duration, readsUp bool) bool {
	var m *mall
	switch code {
	case s.ccb.kind:
		m = s.ccb
	case s.abc.kind:
		m = s.abc
	default:
		return false
	}
	m.mu.Lock()
	m.downUntil, m.downReadsUp = time.Now().Add(d), readsUp
	m.mu.Unlock()
	m.sim.log.Info("mallsim: mall down", "mall", code, "for", d, "queries_answered", readsUp)
	return true
}

func (m *mall) isDown() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return time.Now().Before(m.downUntil)
}

func (m *mall) readsUp() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.downReadsUp
}

// isQuery reports whether r asks for an order (ABC: GET /open/v2/orders/{no}; CCB: the
// gateway's mall.order.query), reading the body without consuming it.
func isQuery(r *http.Request) bool {
	if r.Method == http.MethodGet {
		return strings.HasPrefix(r.URL.Path, "/open/v2/orders/")
	}
	if r.Body == nil {
		return false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return false
	}
	form, err := url.ParseQuery(string(body))
	return err == nil && form.Get("method") == "mall.order.query"
}

// waitUp waits (real time) while the mall is down; false when the simulator closes.
func (m *mall) waitUp() bool {
	for m.isDown() {
		if !m.sim.sleep(50*time.Millisecond, nil) {
			return false
		}
	}
	return true
}

// notification is what a mall did with one event it notified.
type notification struct {
	Mall        orders.Mall `json:"mall"`
	OutOrderNo  string      `json:"out_order_no"`
	BuyerRef    string      `json:"buyer_ref"`
	EventID     string      `json:"event_id"`
	Type        string      `json:"type"`
	Attempts    int         `json:"attempts"`     // genuine attempts, the first included
	Acked       bool        `json:"acked"`        // a genuine attempt was acknowledged
	GaveUp      bool        `json:"gave_up"`      // the schedule ran out
	Duplicates  int         `json:"duplicates"`   // copies sent after the acknowledgement
	Forged      int         `json:"forged"`       // forged copies sent
	ForgedAcked int         `json:"forged_acked"` // forged copies the partner acknowledged
}

// OrderState is one order a mall holds, for State.
type OrderState struct {
	Mall        orders.Mall `json:"mall"`
	OutOrderNo  string      `json:"out_order_no"`
	BuyerRef    string      `json:"buyer_ref"`
	MallOrderNo string      `json:"mall_order_no"`
	CreateCalls int         `json:"create_calls"` // the first create and its idempotent repeats
	Cancelled   bool        `json:"cancelled"`
}

// NotificationState is one notified event, for State.
type NotificationState = notification

// State is what the simulator did, for GET /sim/state: every order with its creates,
// every notification with its copies, counters, and faults by kind per mall.
type State struct {
	Idle          bool                      `json:"idle"`
	Stats         Stats                     `json:"stats"`
	Faults        map[string]map[string]int `json:"faults"` // mall → kind → count
	Orders        []OrderState              `json:"orders"`
	Notifications []NotificationState       `json:"notifications"`
	Requests      []RequestRecord           `json:"requests"` // both malls' API requests, by time
}

// State returns a snapshot of both malls: orders by (mall, out_order_no), notifications
// in the order they were produced.
func (s *Sim) State() State {
	st := State{Idle: s.Idle(), Stats: s.Stats(), Faults: map[string]map[string]int{}}
	for _, m := range []*mall{s.ccb, s.abc} {
		m.mu.Lock()
		fk := map[string]int{}
		for k, n := range m.faults {
			fk[k] = n
		}
		st.Faults[string(m.kind)] = fk
		for no, o := range m.orders {
			st.Orders = append(st.Orders, OrderState{Mall: m.kind, OutOrderNo: no, BuyerRef: o.c.BuyerRef,
				MallOrderNo: o.mallOrderNo, CreateCalls: o.createCalls, Cancelled: o.cancelled})
		}
		for _, n := range m.notes {
			st.Notifications = append(st.Notifications, *n)
		}
		st.Requests = append(st.Requests, m.requests...)
		m.mu.Unlock()
	}
	sort.SliceStable(st.Requests, func(i, j int) bool { return st.Requests[i].At.Before(st.Requests[j].At) })
	sort.Slice(st.Orders, func(i, j int) bool {
		a, b := st.Orders[i], st.Orders[j]
		return a.Mall < b.Mall || a.Mall == b.Mall && a.OutOrderNo < b.OutOrderNo
	})
	return st
}

// ControlHandler serves GET /sim/state (State as JSON) and POST /sim/down?mall=ccb&for=20s
// (Down; with &reads=up, DownButReads), for a simulator run as its own process.
func (s *Sim) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sim/state", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.State())
	})
	mux.HandleFunc("POST /sim/down", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("for"))
		if err != nil {
			http.Error(w, "for: a duration such as 20s", http.StatusBadRequest)
			return
		}
		down := s.Down
		if r.URL.Query().Get("reads") == "up" {
			down = s.DownButReads
		}
		if !down(orders.Mall(strings.ToLower(r.URL.Query().Get("mall"))), d) {
			http.Error(w, "mall: ccb or abc", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}
