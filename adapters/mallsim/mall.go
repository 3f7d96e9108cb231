package mallsim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"time"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/bizday"
	"aidmall/money"
	"aidmall/orders"
)

// wire is what differs between the two malls: routes, the notification format and the
// retry schedule.
type wire interface {
	routes(mux *http.ServeMux)
	// notify makes one delivery attempt of e to url; nil means the partner acknowledged it.
	// A forged attempt carries a signature over other content (Faults.BadSignRate).
	notify(ctx context.Context, url string, e orders.FulfilmentEvent, attempt int, forged bool) error
	// schedule is the spec's list of waits between tries, unscaled (tries = len + 1).
	schedule() []time.Duration
	// statement writes the day's statement in the mall's format.
	statement(w http.ResponseWriter, r *http.Request, events []orders.FulfilmentEvent)
}

// mall is one simulated mall: its listings, orders, nonces, statement book and counters.
type mall struct {
	sim      *Sim
	kind     orders.Mall
	wire     wire
	url      string
	listed   map[string]money.Fen
	instance int // random, makes generated event ids differ between simulator runs

	mu       sync.Mutex
	orders   map[string]*order // by out_order_no / partnerOrderNo
	nonces   nonceWindow
	book     []orders.FulfilmentEvent // every event sent so far (first attempt), for statements
	orderSeq int                      // mall order numbering, from a random start
	eventSeq int                      // default-script and cancel event numbering
	st       MallStats
	running  int // orders whose driver runs or is about to

	faults    map[string]int // injected faults by kind (Options.Faults)
	downUntil time.Time      // real time: the mall is down until then (Sim.Down)
	// downReadsUp: while down, queries are still answered (Sim.DownButReads).
	downReadsUp bool
	notes       []*notification          // every event notified, in the order produced
	noteOf      map[string]*notification // by out_order_no + " " + event id
	requests    []RequestRecord          // every API request, in the order it came (State)
}

func newMall(s *Sim, kind orders.Mall) (*mall, error) {
	listed, err := listings(s.opt.Catalogue, kind)
	if err != nil {
		return nil, err
	}
	return &mall{
		sim: s, kind: kind, listed: listed, instance: rand.IntN(10000), orderSeq: rand.IntN(1_000_000),
		orders: map[string]*order{}, nonces: nonceWindow{seen: map[string]time.Time{}},
		faults: map[string]int{}, noteOf: map[string]*notification{},
	}, nil
}

func (m *mall) now() time.Time { return m.sim.opt.Now() }

func (m *mall) stats() MallStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st
}

func (m *mall) idle() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.running == 0 && m.st.Pending == 0
}

// reject counts a refused request and logs why.
func (m *mall) reject(code, msg string) {
	m.mu.Lock()
	m.st.Rejected++
	m.mu.Unlock()
	m.sim.log.Info("mallsim: refused", "mall", m.kind, "code", code, "msg", msg)
}

// checkNonce reports whether nonce is unused within window (both specs) and records it.
func (m *mall) checkNonce(nonce string, window time.Duration) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.nonces.use(nonce, m.now(), window)
}

// errConflict: the order number exists with other content.
var errConflict = errors.New("order exists with other content")

// create stores c as a new order, or returns the existing one when c is the same content
// (created false), or errConflict. The caller answers, then calls start.
func (m *mall) create(c content, notifyURL string) (v orderView, created bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if o, ok := m.orders[c.OutOrderNo]; ok {
		if !o.c.same(c) {
			m.st.Conflicts++ // Rejected is counted by the wire's refusal
			return m.view(o), false, errConflict
		}
		m.st.DuplicateCreates++
		o.createCalls++
		return m.view(o), false, nil
	}
	now := m.now()
	m.orderSeq++
	o := &order{c: c, notifyURL: notifyURL, createdAt: now, running: true, wake: make(chan struct{}, 1), createCalls: 1}
	o.mallOrderNo = m.mallOrderNo(now)
	for _, l := range c.Lines {
		o.lines = append(o.lines, &lineState{contentLine: l})
	}
	if steps, ok := m.sim.opt.Script.events(m.kind, c.BuyerRef); ok {
		o.scriptRef, o.steps = c.BuyerRef, steps
	} else {
		o.steps = defaultSteps(c)
	}
	m.orders[c.OutOrderNo] = o
	m.running++
	m.st.Creates++
	m.sim.log.Info("mallsim: order created", "mall", m.kind, "out_order_no", c.OutOrderNo,
		"mall_order_no", o.mallOrderNo, "script", o.scriptRef, "lines", len(c.Lines), "total", c.Total.String())
	return m.view(o), true, nil
}

// mallOrderNo numbers orders like the malls: CCB20190312000123, ABC8812019031200042 (the
// Beijing date, then a sequence that starts at a random point, so that two simulator runs
// on one day rarely hand out the same number).
func (m *mall) mallOrderNo(now time.Time) string {
	day := now.In(bizday.Beijing).Format("20060102")
	if m.kind == ccb.Code {
		return fmt.Sprintf("CCB%s%06d", day, m.orderSeq%1_000_000)
	}
	return fmt.Sprintf("ABC881%s%05d", day, m.orderSeq%100_000)
}

// start begins fulfilling the order numbered no once its create has been answered.
func (m *mall) start(no string) {
	m.mu.Lock()
	o := m.orders[no]
	m.mu.Unlock()
	if o == nil {
		return
	}
	if !m.sim.spawn(func() { m.drive(o) }) {
		m.stopped(o)
	}
}

// stopped marks o's driver gone.
func (m *mall) stopped(o *order) {
	m.mu.Lock()
	if o.running {
		o.running = false
		m.running--
	}
	m.mu.Unlock()
	m.sim.changed()
}

var (
	errNotFound = errors.New("order not found")
	errShipped  = errors.New("order has shipped")
)

// cancel cancels the order numbered no: refused once a line has shipped; a second cancel
// succeeds and notifies nothing (both specs). A cancel stops the script and is notified
// after whatever notification of the order is in flight.
func (m *mall) cancel(no, reason string) (orderView, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.orders[no]
	if !ok {
		return orderView{}, errNotFound
	}
	if o.cancelled {
		return m.view(o), nil
	}
	if o.anyShipped() {
		return m.view(o), errShipped
	}
	e := orders.FulfilmentEvent{Type: orders.EventCancelled, OccurredAt: m.now()}
	o.cancelled = true
	o.queue = append(o.queue, e)
	m.st.Cancels++
	m.sim.log.Info("mallsim: order cancelled", "mall", m.kind, "out_order_no", no, "reason", reason)
	select {
	case o.wake <- struct{}{}:
	default:
	}
	if !o.running {
		o.running = true
		m.running++
		if !m.sim.spawn(func() { m.drive(o) }) { // lock order: mall, then sim
			o.running = false
			m.running--
		}
	}
	return m.view(o), nil
}

// query returns the order numbered no.
func (m *mall) query(no string) (orderView, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.orders[no]
	if !ok {
		return orderView{}, errNotFound
	}
	return m.view(o), nil
}

// orderView is a copy of an order for answering, taken under the lock.
type orderView struct {
	OutOrderNo, MallOrderNo, BuyerRef string
	Status                            string
	Total                             money.Fen
	CreatedAt                         time.Time
	Lines                             []lineView
}

type lineView struct {
	lineState
	Status string
}

func (m *mall) view(o *order) orderView {
	open := "ACCEPTED"
	if m.kind == abc.Code {
		open = "CREATED"
		if o.accepted {
			open = "CONFIRMED"
		}
	}
	v := orderView{
		OutOrderNo: o.c.OutOrderNo, MallOrderNo: o.mallOrderNo, BuyerRef: o.c.BuyerRef,
		Status: statusWord(o.progress(), o.cancelled, open), Total: o.c.Total, CreatedAt: o.createdAt,
	}
	for _, l := range o.lines {
		v.Lines = append(v.Lines, lineView{lineState: *l, Status: statusWord(l.progress(), o.cancelled, open)})
	}
	return v
}

// drive produces and delivers o's notifications one at a time, in order: first anything
// queued (a cancel), then the script's next step after ReplayGap, until the script ends or
// a cancel stops it. The decision to end is taken under the lock together with clearing
// o.running, so a cancel arriving later starts a new driver.
func (m *mall) drive(o *order) {
	first := true
	for {
		if m.sim.ctx.Err() != nil {
			m.stopped(o)
			return
		}
		m.mu.Lock()
		var e orders.FulfilmentEvent
		switch {
		case len(o.queue) > 0:
			e = o.queue[0]
			o.queue = o.queue[1:]
		case o.cancelled || o.next >= len(o.steps):
			o.running = false
			m.running--
			m.mu.Unlock()
			m.sim.changed()
			return
		default:
			if !first && m.sim.opt.ReplayGap > 0 {
				m.mu.Unlock()
				if !m.sim.sleep(m.sim.opt.ReplayGap, o.wake) {
					m.stopped(o)
					return
				}
				m.mu.Lock()
				if len(o.queue) > 0 || o.cancelled {
					m.mu.Unlock()
					continue // a cancel came in while waiting
				}
			}
			e = o.steps[o.next]
			o.next++
			o.apply(e)
			if m.sim.faults.f.Reorder && o.next < len(o.steps) && m.sim.faults.hit(0.5) {
				// Reorder: the next step goes first, this one right after it.
				later := e
				e = o.steps[o.next]
				o.next++
				o.apply(e)
				o.queue = append([]orders.FulfilmentEvent{later}, o.queue...)
				m.faults[FaultReordered]++
			}
		}
		e = m.complete(o, e)
		m.st.Sent++
		m.st.Pending++
		m.book = append(m.book, e)
		n := &notification{Mall: m.kind, OutOrderNo: string(e.OutOrderNo), BuyerRef: o.c.BuyerRef, EventID: string(e.EventID), Type: string(e.Type)}
		m.notes = append(m.notes, n)
		m.noteOf[n.OutOrderNo+" "+n.EventID] = n
		m.mu.Unlock()
		first = false
		m.deliver(o.notifyURL, e, n)
	}
}

// complete fills the live order numbers, and a generated id and time on default-script
// and cancel events. Called with the lock held.
func (m *mall) complete(o *order, e orders.FulfilmentEvent) orders.FulfilmentEvent {
	e.Mall = m.kind
	e.OutOrderNo, e.MallOrderNo = orders.OutOrderNo(o.c.OutOrderNo), o.mallOrderNo
	now := m.now()
	if e.OccurredAt.IsZero() {
		e.OccurredAt = now
	}
	if e.EventID == "" {
		m.eventSeq++
		stamp := now.In(bizday.Beijing).Format("20060102150405")
		if m.kind == ccb.Code {
			e.EventID = orders.MallEventID(fmt.Sprintf("NT%s%04d%06d", stamp, m.instance, m.eventSeq%1_000_000))
		} else {
			e.EventID = orders.MallEventID(fmt.Sprintf("EVT-%s-%04d%06d", stamp, m.instance, m.eventSeq%1_000_000))
		}
	}
	if e.Type == orders.EventShipped && e.LogisticsNo == "" {
		e.LogisticsNo = logisticsNo(string(e.EventID))
	}
	e.Source = "notify"
	return e
}

// deliver sends e until the partner acknowledges it or the schedule is exhausted, with
// the injected faults: a forged copy first, attempts held or waiting while the mall is
// down, a copy after the acknowledgement. n records what happened.
func (m *mall) deliver(url string, e orders.FulfilmentEvent, n *notification) {
	fs := m.sim.faults
	if fs.hit(fs.f.BadSignRate) && m.waitUp() {
		err := m.wire.notify(m.sim.ctx, url, e, 1, true)
		m.mu.Lock()
		n.Forged++
		m.faults[FaultForged]++
		if err == nil {
			n.ForgedAcked++
			m.faults[FaultForgedAcked]++
		}
		m.mu.Unlock()
		if err == nil {
			m.sim.log.Warn("mallsim: a forged notification was acknowledged", "mall", m.kind, "event_id", e.EventID)
		}
	}
	waits := m.wire.schedule()
	for attempt := 1; ; attempt++ {
		if !m.waitUp() {
			return
		}
		if d := fs.delay(); d > 0 {
			m.count(FaultDelay)
			if !m.sim.sleep(d, nil) {
				return
			}
		}
		m.mu.Lock()
		n.Attempts++
		m.mu.Unlock()
		err := m.wire.notify(m.sim.ctx, url, e, attempt, false)
		if err == nil {
			m.mu.Lock()
			n.Acked = true
			m.mu.Unlock()
			if fs.hit(fs.f.DupRate) {
				// The mall lost the acknowledgement: the same event again.
				_ = m.wire.notify(m.sim.ctx, url, e, attempt+1, false)
				m.mu.Lock()
				n.Duplicates++
				m.faults[FaultDuplicate]++
				m.mu.Unlock()
			}
			m.settle(func(st *MallStats) { st.Acked++ })
			return
		}
		if m.sim.ctx.Err() != nil {
			return // closing: abandoned, stays pending
		}
		if attempt > len(waits) {
			m.mu.Lock()
			n.GaveUp = true
			m.mu.Unlock()
			m.settle(func(st *MallStats) { st.GaveUp++ })
			m.sim.log.Warn("mallsim: notification given up", "mall", m.kind, "event_id", e.EventID,
				"tries", attempt, "err", err)
			return
		}
		m.sim.log.Debug("mallsim: notification failed", "mall", m.kind, "event_id", e.EventID,
			"attempt", attempt, "err", err)
		if !m.sim.sleep(m.sim.scaled(waits[attempt-1]), nil) {
			return
		}
		m.mu.Lock()
		m.st.Retried++
		m.mu.Unlock()
	}
}

// settle ends a pending notification.
func (m *mall) settle(f func(*MallStats)) {
	m.mu.Lock()
	f(&m.st)
	m.st.Pending--
	m.mu.Unlock()
}

// serveStatement answers GET /statements/{yyyy-MM-dd}: the events sent so far whose
// occurred_at falls on that Beijing business day, in (occurred_at, id) order.
func (m *mall) serveStatement(w http.ResponseWriter, r *http.Request) {
	day, err := bizday.Parse(r.PathValue("day"))
	if err != nil {
		http.Error(w, "day must be yyyy-MM-dd", http.StatusBadRequest)
		return
	}
	m.mu.Lock()
	var evs []orders.FulfilmentEvent
	for _, e := range m.book {
		if bizday.Of(e.OccurredAt) == day {
			evs = append(evs, e)
		}
	}
	m.mu.Unlock()
	sort.SliceStable(evs, func(i, j int) bool { return eventLess(evs[i], evs[j]) })
	m.wire.statement(w, r, evs)
}

// eventLess orders events by occurred_at, then id.
func eventLess(a, b orders.FulfilmentEvent) bool {
	if !a.OccurredAt.Equal(b.OccurredAt) {
		return a.OccurredAt.Before(b.OccurredAt)
	}
	return a.EventID < b.EventID
}

// nonceWindow remembers nonces for their window.
type nonceWindow struct {
	seen      map[string]time.Time
	nextSweep time.Time
}

// use reports whether nonce is unseen within window before now, and records it. Entries
// older than window are dropped by a sweep at most every window/4.
func (w *nonceWindow) use(nonce string, now time.Time, window time.Duration) bool {
	if now.After(w.nextSweep) {
		for k, t := range w.seen {
			if now.Sub(t) > window {
				delete(w.seen, k)
			}
		}
		w.nextSweep = now.Add(window / 4)
	}
	if t, ok := w.seen[nonce]; ok && now.Sub(t) <= window && t.Sub(now) <= window {
		return false
	}
	w.seen[nonce] = now
	return true
}
