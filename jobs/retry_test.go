package jobs

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/orders"
)

// callLog records when the fake mall was called for each order.
type callLog struct {
	mu    sync.Mutex
	times map[orders.OutOrderNo][]time.Time
}

func (c *callLog) add(out orders.OutOrderNo) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.times == nil {
		c.times = map[orders.OutOrderNo][]time.Time{}
	}
	c.times[out] = append(c.times[out], time.Now())
	return len(c.times[out])
}

func (c *callLog) snapshot() map[orders.OutOrderNo][]time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[orders.OutOrderNo][]time.Time, len(c.times))
	for k, v := range c.times {
		out[k] = slices.Clone(v)
	}
	return out
}

// placeMany places n orders (with their dispatch jobs) before the runner starts.
func (g *rig) placeMany(t *testing.T, n int) []*orders.GroupOrder {
	t.Helper()
	placed := make([]*orders.GroupOrder, n)
	for i := range n {
		placed[i] = g.place(t, testOrder(fmt.Sprintf("2019-HQ-%04d", i+1)))
	}
	return placed
}

// waitAllFinished waits until every order's dispatch job has ended and returns the
// ending events by order id.
func (g *rig) waitAllFinished(t *testing.T, placed []*orders.GroupOrder, within time.Duration) map[int64]*river.Event {
	t.Helper()
	want := map[int64]bool{}
	for _, o := range placed {
		want[o.ID] = true
	}
	got := map[int64]*river.Event{}
	deadline := time.After(within)
	for len(got) < len(want) {
		select {
		case ev := <-g.events:
			if ev.Job.Kind != (DispatchArgs{}).Kind() || !want[orderID(ev.Job)] {
				continue
			}
			switch ev.Job.State {
			case rivertype.JobStateCompleted, rivertype.JobStateDiscarded, rivertype.JobStateCancelled:
				got[orderID(ev.Job)] = ev
			}
		case <-deadline:
			t.Fatalf("after %s only %d of %d dispatch jobs ended", within, len(got), len(want))
		}
	}
	return got
}

// Users saw: with 3 attempts, 100 queued orders gave up in 8 s while the breaker was open,
// and only 10 ever reached the mall. Refusals by the open breaker now snooze and use no
// attempt: the mall is down for its first 1.5 s, the breaker opens and holds the queue,
// its probe finds the mall back, and every order is placed; none is given up.
func TestDispatch_breakerOpenSnoozesKeepAttempts(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: a few seconds of real River work")
	}
	db := withRiver(t, sqltest.SQLite(t))
	g := newRig(t, db, func(c *Config) {
		c.MaxAttempts = 3
		c.Breaker = BreakerConfig{Failures: 3, Cooldown: 2 * time.Second}
		c.Backoff = Backoff{Base: 300 * time.Millisecond, Cap: time.Second}
		c.Workers = 4
	})
	var calls callLog
	var downUntil time.Time
	g.ccb.answer = func(op string, out orders.OutOrderNo) error {
		calls.add(out)
		if time.Now().Before(downUntil) {
			return busy
		}
		return nil
	}
	placed := g.placeMany(t, 100)
	began := time.Now()
	downUntil = began.Add(1500 * time.Millisecond)
	g.start(t)
	ended := g.waitAllFinished(t, placed, 90*time.Second)
	took := time.Since(began)
	discarded, maxAttempt := 0, 0
	for _, ev := range ended {
		if ev.Job.State != rivertype.JobStateCompleted {
			discarded++
		}
		maxAttempt = max(maxAttempt, ev.Job.Attempt)
	}
	failedCalls := 0
	for _, ts := range calls.snapshot() {
		for _, at := range ts {
			if at.Before(downUntil) {
				failedCalls++
			}
		}
	}
	snoozed := value(g.r.metrics.calls.WithLabelValues("ccb", "create", "breaker_open"))
	t.Logf("100 orders, 3 attempts, mall down 1.5 s: all done in %s; %d mall calls failed, %v held by the breaker, most attempts used %d, %d given up",
		took.Round(10*time.Millisecond), failedCalls, snoozed, maxAttempt, discarded)
	if discarded != 0 {
		t.Errorf("%d orders given up while the breaker was open", discarded)
	}
	if snoozed == 0 {
		t.Error("the breaker never held a call: the test did not open it")
	}
	for _, o := range placed {
		if got := g.order(t, o.ID); got.Status != orders.StatusSubmitted {
			t.Errorf("order %d %s, want submitted", o.ID, got.Status)
		}
	}
}

// The mall's own rate limit paces the calls: 6 orders at 2 per second (burst 1) reach the
// mall at least 2.5 s apart first to last, and waiting for the limit uses no attempt.
func TestDispatch_mallRateLimitPacesCalls(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: a few seconds of real River work")
	}
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		g := newRig(t, db, func(c *Config) {
			c.MallRates = map[orders.Mall]MallRate{mallCCB: {PerSecond: 2, Burst: 1}}
			c.Workers = 4
		})
		var calls callLog
		g.ccb.answer = func(op string, out orders.OutOrderNo) error { calls.add(out); return nil }
		placed := g.placeMany(t, 6)
		g.start(t)
		ended := g.waitAllFinished(t, placed, 60*time.Second)
		var first, last time.Time
		for _, ts := range calls.snapshot() {
			if len(ts) != 1 {
				t.Errorf("an order was sent %d times, want once", len(ts))
			}
			if first.IsZero() || ts[0].Before(first) {
				first = ts[0]
			}
			if ts[0].After(last) {
				last = ts[0]
			}
		}
		for id, ev := range ended {
			if ev.Job.State != rivertype.JobStateCompleted || ev.Job.Attempt != 1 {
				t.Errorf("order %d: job %s after %d attempts, want completed on its first", id, ev.Job.State, ev.Job.Attempt)
			}
		}
		held := value(g.r.metrics.calls.WithLabelValues("ccb", "create", "rate_limited"))
		t.Logf("6 orders at 2/s: first to last call %s, %v calls held by the limit", last.Sub(first).Round(time.Millisecond), held)
		if span := last.Sub(first); span < 2500*time.Millisecond-50*time.Millisecond {
			t.Errorf("6 calls within %s; the limit of 2 per second allows no less than 2.5s", span)
		}
		if held == 0 {
			t.Error("no call was held by the rate limit")
		}
	})
}

// The 100-order test (issue 8): the mall answers 429 Retry-After: 120 to the first create
// of each of 100 orders, then accepts. No order is tried again before 120 s after its
// 429, the retries spread over at least 10 s, and none is given up. About 2.5 minutes.
func TestDispatch_retryAfter100Orders(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: this test waits out a real 120 s Retry-After")
	}
	// One 2.5-minute run: on PostgreSQL when AIDMALL_TEST_POSTGRES is set, else SQLite.
	var db *sqlstore.DB
	if os.Getenv("AIDMALL_TEST_POSTGRES") != "" {
		db = withRiver(t, sqltest.Postgres(t))
	} else {
		db = withRiver(t, sqltest.SQLite(t))
	}
	t.Logf("on %s", db.Dialect)
	g := newRig(t, db, func(c *Config) {
		c.MaxAttempts = 3
		c.Backoff = Backoff{} // production defaults: RA capped at 1 h, spread max(10 s, RA/4)
		c.Workers = 4
		c.PollInterval = 200 * time.Millisecond
	})
	var calls callLog
	g.ccb.answer = func(op string, out orders.OutOrderNo) error {
		if calls.add(out) == 1 {
			return &orders.MallError{Mall: mallCCB, HTTPStatus: 429, Message: "too many requests", Retryable: true, RetryAfter: 120 * time.Second}
		}
		return nil
	}
	placed := g.placeMany(t, 100)
	began := time.Now()
	g.start(t)
	ended := g.waitAllFinished(t, placed, 5*time.Minute)
	var early []string
	var firstRetry, lastRetry time.Time
	var minGap time.Duration = -1
	for out, ts := range calls.snapshot() {
		if len(ts) != 2 {
			t.Errorf("order %s: %d creates, want 2 (the 429 and the retry)", out, len(ts))
			continue
		}
		gap := ts[1].Sub(ts[0])
		if gap < 120*time.Second {
			early = append(early, fmt.Sprintf("%s after %s", out, gap))
		}
		if minGap < 0 || gap < minGap {
			minGap = gap
		}
		if firstRetry.IsZero() || ts[1].Before(firstRetry) {
			firstRetry = ts[1]
		}
		if ts[1].After(lastRetry) {
			lastRetry = ts[1]
		}
	}
	given := 0
	for _, ev := range ended {
		if ev.Job.State != rivertype.JobStateCompleted {
			given++
		}
	}
	spread := lastRetry.Sub(firstRetry)
	t.Logf("100 orders, 429 Retry-After 120: shortest wait %s, retries spread over %s (from %s to %s after start), %d given up, all done in %s",
		minGap.Round(time.Millisecond), spread.Round(time.Millisecond), firstRetry.Sub(began).Round(time.Millisecond),
		lastRetry.Sub(began).Round(time.Millisecond), given, time.Since(began).Round(time.Second))
	if len(early) > 0 {
		t.Errorf("%d orders retried before their Retry-After: %v", len(early), early)
	}
	if spread < 10*time.Second {
		t.Errorf("retries spread over %s, want at least 10s", spread)
	}
	if given != 0 {
		t.Errorf("%d orders given up", given)
	}
	for _, o := range placed {
		if got := g.order(t, o.ID); got.Status != orders.StatusSubmitted {
			t.Errorf("order %d %s, want submitted", o.ID, got.Status)
		}
	}
}
