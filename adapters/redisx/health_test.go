package redisx

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"aidmall/adapters/redisx/redistest"
)

// replicaOn is one replica's view of the Redis at addr: its own client and Health.
func replicaOn(t *testing.T, addr string) *Health {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	h, err := NewHealth(context.Background(), c, prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// receives reports whether ch delivers a message within d.
func receives(ch <-chan string, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

// Two replicas share nonces, rate limits and the bus through Redis; when it goes away
// each carries on alone (counted, gauge 0), and when it comes back they share again.
func TestHealth_fallsBackWhileRedisIsAwayAndRecovers(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	one, two := replicaOn(t, srv.Addr), replicaOn(t, srv.Addr)
	if !one.Up() || metricValue(one.upGauge) != 1 {
		t.Fatal("Redis answering but Health says down")
	}
	n1, n2 := one.Nonces("n:"), two.Nonces("n:")
	rate := Rate{Events: 1, Period: time.Hour, Burst: 1}
	l1, err := one.Limiter("r:", rate)
	if err != nil {
		t.Fatal(err)
	}
	l2, _ := two.Limiter("r:", rate)
	bus1, close1, err := one.Bus(ctx, "changes", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer close1()
	bus2, close2, _ := two.Bus(ctx, "changes", nil)
	defer close2()
	sub2, end2 := bus2.Subscribe()
	defer end2()
	sub1, end1 := bus1.Subscribe()
	defer end1()

	remember := func(s NonceStore, key string) bool {
		t.Helper()
		fresh, err := s.Remember(ctx, key, time.Hour)
		if err != nil {
			t.Fatalf("Remember %s: %v", key, err)
		}
		return fresh
	}
	allow := func(l RateLimiter, key string) bool {
		t.Helper()
		ok, _, err := l.Allow(ctx, key)
		if err != nil {
			t.Fatalf("Allow %s: %v", key, err)
		}
		return ok
	}

	// Shared.
	if !remember(n1, "a") || remember(n2, "a") {
		t.Error("a nonce seen by one replica is fresh on the other")
	}
	if !allow(l1, "k") || allow(l2, "k") {
		t.Error("the rate limit is not shared")
	}
	_ = bus1.Publish(ctx, "x")
	if !receives(sub2, 5*time.Second) || !receives(sub1, time.Second) {
		t.Error("a message published on one replica did not reach both")
	}

	// Redis goes away.
	srv.Stop()
	if !remember(n1, "b") || remember(n1, "b") {
		t.Error("while Redis is away a replica does not catch its own replays")
	}
	if remember(n1, "a") {
		t.Error("a nonce taken through Redis is forgotten when Redis goes away")
	}
	if one.Up() || metricValue(one.upGauge) != 0 {
		t.Error("Redis away but Health says up")
	}
	if up, reason := one.Status(); up || reason == "" {
		t.Errorf("Status() = %v, %q: want down with a reason", up, reason)
	}
	if !allow(l1, "fresh-key") || allow(l1, "fresh-key") {
		t.Error("the in-process rate limit does not limit")
	}
	_ = bus1.Publish(ctx, "y")
	if !receives(sub1, time.Second) {
		t.Error("while Redis is away the publishing replica's own subscribers get nothing")
	}
	if receives(sub2, 300*time.Millisecond) {
		t.Error("a message crossed replicas without Redis")
	}
	if got := metricValue(one.fallbacks.WithLabelValues(PartNonce)); got < 3 {
		t.Errorf("nonce fallbacks %v, want ≥ 3", got)
	}
	if metricValue(one.fallbacks.WithLabelValues(PartRateLimit)) < 2 || metricValue(one.fallbacks.WithLabelValues(PartBus)) < 1 {
		t.Error("rate limit or bus fallbacks not counted")
	}
	if err := one.Check(ctx); err == nil {
		t.Error("Check answered with Redis away")
	}

	// Redis comes back (empty: it kept nothing); a ping brings each replica back.
	srv.Restart()
	if err := one.Check(ctx); err != nil || !one.Up() || metricValue(one.upGauge) != 1 {
		t.Fatalf("Redis back but Check %v, Up %v", err, one.Up())
	}
	_ = two.Check(ctx)
	if !remember(n1, "c") || remember(n2, "c") {
		t.Error("nonces not shared again after Redis came back")
	}
	// The subscriptions are renewed by go-redis: a message reaches the other replica again.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_ = bus1.Publish(ctx, "z")
		if receives(sub2, 200*time.Millisecond) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the bus did not cross replicas again within 10 s of Redis coming back")
		}
	}
}

// Watch notices Redis going away and coming back by itself.
func TestHealth_watchFollowsRedis(t *testing.T) {
	srv := redistest.Start(t)
	h := replicaOn(t, srv.Addr)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Watch(ctx, 20*time.Millisecond); close(done) }()
	defer func() { cancel(); <-done }()
	waitUp := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for h.Up() != want {
			if time.Now().After(deadline) {
				t.Fatalf("Up() stayed %v", !want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitUp(true)
	srv.Stop()
	waitUp(false)
	srv.Restart()
	waitUp(true)
}

// metricValue reads a counter or gauge.
func metricValue(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		panic(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}
