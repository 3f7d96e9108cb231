package faultharness

import (
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// exchange is one request through the proxy and the status it got.
type exchange struct {
	Method, Path string
	Replica      int // -1: no replica was up
	Status       int
	Err          string // why the proxy answered itself
	Start, End   time.Time
}

// proxy is a round-robin reverse proxy over the replicas that are up, recording every
// exchange. A replica marked down gets no new request; one that fails to answer gets the
// proxy's 502.
type proxy struct {
	targets []*url.URL
	rp      []*httputil.ReverseProxy
	next    atomic.Uint64

	mu   sync.Mutex
	up   []bool
	down [][]window // per replica: when it was down
	log  []exchange
	srv  *http.Server
	url  string
}

// window is a span of time; an open one has a zero End.
type window struct{ Start, End time.Time }

func (w window) overlaps(s, e time.Time) bool {
	return !e.Before(w.Start) && (w.End.IsZero() || !s.After(w.End))
}

func newProxy(n int) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{up: make([]bool, n), down: make([][]window, n), targets: make([]*url.URL, n), rp: make([]*httputil.ReverseProxy, n)}
	p.url = "http://" + ln.Addr().String()
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// setTarget points replica i at base and marks it up.
func (p *proxy) setTarget(i int, base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return err
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{Proxy: nil, DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 32, IdleConnTimeout: 30 * time.Second}
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		if sw, ok := w.(*statusWriter); ok {
			sw.err = err.Error()
		}
		if r.Context().Err() != nil {
			// The client gave up first (a mall's notify timeout): nobody gets this answer.
			w.WriteHeader(statusClientGone)
			return
		}
		w.WriteHeader(http.StatusBadGateway)
	}
	p.mu.Lock()
	p.targets[i], p.rp[i] = u, rp
	p.mu.Unlock()
	return nil
}

// setUp marks replica i up or down; down opens a down window, up closes it.
func (p *proxy) setUp(i int, up bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if !up && p.up[i] {
		p.down[i] = append(p.down[i], window{Start: now})
	}
	if up && !p.up[i] && len(p.down[i]) > 0 {
		p.down[i][len(p.down[i])-1].End = now
	}
	p.up[i] = up
}

// pick returns the next replica that is up, or -1.
func (p *proxy) pick() (int, *httputil.ReverseProxy) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.up)
	for k := 0; k < n; k++ {
		i := int(p.next.Add(1) % uint64(n))
		if p.up[i] && p.rp[i] != nil {
			return i, p.rp[i]
		}
	}
	return -1, nil
}

type statusWriter struct {
	http.ResponseWriter
	status int
	err    string // the proxy's error reaching the replica
}

// statusClientGone records an exchange whose client went away before the replica
// answered (nginx's 499).
const statusClientGone = 499

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	i, rp := p.pick()
	if rp == nil {
		sw.WriteHeader(http.StatusServiceUnavailable)
	} else {
		func() {
			defer func() {
				// A client gone mid-answer aborts the copy; nothing else may panic here.
				if v := recover(); v != nil && !errors.Is(asError(v), http.ErrAbortHandler) {
					panic(v)
				}
			}()
			rp.ServeHTTP(sw, r)
		}()
	}
	p.mu.Lock()
	p.log = append(p.log, exchange{Method: r.Method, Path: r.URL.Path, Replica: i, Status: sw.status, Err: sw.err, Start: start, End: time.Now()})
	p.mu.Unlock()
}

func asError(v any) error {
	if err, ok := v.(error); ok {
		return err
	}
	return nil
}

// excused reports whether x overlapped a time its replica (or, with no replica, any
// replica) was down.
func (p *proxy) excused(x exchange) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, ws := range p.down {
		if x.Replica >= 0 && i != x.Replica {
			continue
		}
		for _, w := range ws {
			if w.overlaps(x.Start, x.End) {
				return true
			}
		}
	}
	return false
}

// exchanges returns a copy of the log.
func (p *proxy) exchanges() []exchange {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]exchange(nil), p.log...)
}

func (p *proxy) close() { _ = p.srv.Close() }
