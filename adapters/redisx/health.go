package redisx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Health knows whether Redis answers, and hands out the Redis-backed parts (nonce cache,
// rate limiters, bus) each with its in-process twin as a fallback: while Redis is away
// they work on in this replica alone, and they go back to Redis when it answers again,
// without a restart. What that costs while Redis is away is docs/SCALING.md's Replicas.
//
// Redis is marked down by a failed ping (Watch) or by any part's failed call, and up only
// by a ping that answers; while it is down the parts do not wait on Redis at all.
type Health struct {
	c   *redis.Client
	log *slog.Logger

	up     atomic.Bool
	mu     sync.Mutex
	reason string // why Redis is down (empty when up)

	upGauge   prometheus.Gauge
	fallbacks *prometheus.CounterVec
}

// opTimeout bounds each call the fallback parts make to Redis, so that a Redis that hangs
// (rather than refuses) costs a request at most this long before the fallback answers.
const opTimeout = 500 * time.Millisecond

// NewHealth watches c (not nil), registering on reg (when not nil; see also Register) the
// gauge aidmall_redis_up (1 when the last ping or call answered) and the counter
// aidmall_redis_fallbacks_total{part} (calls answered by the in-process twin: nonce,
// ratelimit, bus). It pings once within ctx to know where it starts; Redis down is not an
// error here. Errors: a nil client or the metrics already registered.
func NewHealth(ctx context.Context, c *redis.Client, reg prometheus.Registerer, log *slog.Logger) (*Health, error) {
	if c == nil {
		return nil, errors.New("redisx: nil redis client")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// go-redis prints its connection errors as plain text to stderr, twice a second while
	// Redis is away; they go to the service's log at debug instead (Health logs the outage
	// and the recovery once each).
	redis.SetLogger(redisLog{log})
	h := &Health{c: c, log: log,
		upGauge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "aidmall_redis_up",
			Help: "1 when Redis answered the last ping or call, 0 while the in-process fallbacks serve."}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aidmall_redis_fallbacks_total",
			Help: "Calls answered in process because Redis was unreachable, by part (nonce, ratelimit, bus)."}, []string{"part"}),
	}
	for _, p := range []string{PartNonce, PartRateLimit, PartBus} {
		h.fallbacks.WithLabelValues(p)
	}
	if err := h.Register(reg); err != nil {
		return nil, err
	}
	h.reason = "not pinged yet"
	_ = h.Check(ctx)
	return h, nil
}

// Register registers the gauge and the counter on reg (nothing when reg is nil), for a
// Health made before the registry. Error: already registered there.
func (h *Health) Register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	if err := errors.Join(reg.Register(h.upGauge), reg.Register(h.fallbacks)); err != nil {
		return fmt.Errorf("redisx: metrics: %w", err)
	}
	return nil
}

// The parts that fall back, as the fallbacks counter labels them.
const (
	PartNonce     = "nonce"
	PartRateLimit = "ratelimit"
	PartBus       = "bus"
)

// Dial makes a client of the Redis at url (redis://[user:password@]host:port[/db] or
// rediss://) without connecting: a Health made on it says whether Redis answers. Error: a
// malformed URL (not repeated, as it may hold a password).
func Dial(url string) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, errors.New("redisx: REDIS_URL is not a redis:// or rediss:// URL")
	}
	return redis.NewClient(opts), nil
}

// Client is the watched client.
func (h *Health) Client() *redis.Client { return h.c }

// Check pings Redis now (within ctx and opTimeout) and records the answer.
func (h *Health) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	err := h.c.Ping(ctx).Err()
	if err != nil {
		h.down(err)
		return err
	}
	h.mu.Lock()
	was := h.up.Swap(true)
	h.reason = ""
	h.mu.Unlock()
	h.upGauge.Set(1)
	if !was {
		h.log.Info("redis reachable: nonces, rate limits and the dashboard bus are shared again")
	}
	return nil
}

// down records err as the reason Redis is unreachable.
func (h *Health) down(err error) {
	h.mu.Lock()
	was := h.up.Swap(false)
	h.reason = err.Error()
	h.mu.Unlock()
	h.upGauge.Set(0)
	if was {
		h.log.Warn("redis unreachable: nonces, rate limits and the dashboard bus fall back to this replica alone", slog.Any("error", err))
	}
}

// Up reports whether Redis answered last.
func (h *Health) Up() bool { return h.up.Load() }

// Status is Up with, when down, the reason (the last error).
func (h *Health) Status() (up bool, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.up.Load(), h.reason
}

// Watch pings Redis every interval until ctx ends (go it).
func (h *Health) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = h.Check(ctx)
		}
	}
}

// fellBack counts a call of part answered in process.
func (h *Health) fellBack(part string) { h.fallbacks.WithLabelValues(part).Inc() }

// call runs fn against Redis when it is up, within opTimeout; it reports false (and
// marks Redis down unless the caller's ctx ended) when Redis is down or fn failed.
func (h *Health) call(ctx context.Context, fn func(ctx context.Context) error) (bool, error) {
	if !h.Up() {
		return false, nil
	}
	cctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	err := fn(cctx)
	if err == nil {
		return true, nil
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	h.down(err)
	return false, nil
}

// Nonces returns the replicas' shared NonceStore under prefix, falling back to an
// in-process one while Redis is down. A nonce Redis took is remembered in process too, so
// a replay reaching this replica during an outage is still caught.
func (h *Health) Nonces(prefix string) NonceStore {
	return &fallbackNonces{h: h, redis: &RedisNonceStore{c: h.c, prefix: prefix}, mem: NewMemoryNonceStore(nil)}
}

type fallbackNonces struct {
	h     *Health
	redis *RedisNonceStore
	mem   *MemoryNonceStore
}

func (f *fallbackNonces) Remember(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	if ttl < time.Millisecond {
		return false, fmt.Errorf("redisx: nonce ttl %s is below 1ms", ttl)
	}
	var fresh bool
	ok, err := f.h.call(ctx, func(ctx context.Context) (err error) {
		fresh, err = f.redis.Remember(ctx, key, ttl)
		return err
	})
	if err != nil {
		return false, err
	}
	if ok {
		if fresh {
			_, _ = f.mem.Remember(ctx, key, ttl)
		}
		return fresh, nil
	}
	f.h.fellBack(PartNonce)
	return f.mem.Remember(ctx, key, ttl)
}

// Limiter returns a RateLimiter of r per key shared by the replicas under prefix (the
// primitive for any limit: the API's per key, a mall's outbound calls), falling back to an
// in-process one (a limit per replica) while Redis is down. Errors as NewRedisRateLimiter.
func (h *Health) Limiter(prefix string, r Rate) (RateLimiter, error) {
	rl, err := NewRedisRateLimiter(h.c, prefix, r)
	if err != nil {
		return nil, err
	}
	ml, err := NewMemoryRateLimiter(r, nil)
	if err != nil {
		return nil, err
	}
	return &fallbackLimiter{h: h, redis: rl, mem: ml}, nil
}

type fallbackLimiter struct {
	h     *Health
	redis *RedisRateLimiter
	mem   *MemoryRateLimiter
}

func (f *fallbackLimiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	if err := checkKey(key); err != nil {
		return false, 0, err
	}
	var allowed bool
	var wait time.Duration
	ok, err := f.h.call(ctx, func(ctx context.Context) (err error) {
		allowed, wait, err = f.redis.Allow(ctx, key)
		return err
	})
	if err != nil {
		return false, 0, err
	}
	if ok {
		return allowed, wait, nil
	}
	f.h.fellBack(PartRateLimit)
	return f.mem.Allow(ctx, key)
}

// Bus returns the replicas' Bus on channel: a RedisBus that, while Redis is down,
// publishes to this replica's subscribers alone (counted as fallbacks), and whose
// subscription go-redis renews when Redis comes back. When Redis is down as it is made,
// it does not wait for the subscription's confirmation. close ends it.
func (h *Health) Bus(ctx context.Context, channel string, log *slog.Logger) (Bus, func() error, error) {
	b, err := newRedisBus(ctx, h.c, channel, log, h.Up())
	if err != nil {
		h.down(err)
		if b, err = newRedisBus(ctx, h.c, channel, log, false); err != nil {
			return nil, nil, err
		}
	}
	b.health = h
	return b, b.Close, nil
}

// redisLog is go-redis's logger (redis.SetLogger) writing to a slog.Logger at debug.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis client", slog.String("message", fmt.Sprintf(format, v...)))
}
