package redisx

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Bus fans a short message ("changed") out to every subscriber: of this process only
// (MemoryBus), or of every replica through Redis pub/sub (RedisBus). A message is a
// signal, not data: a subscriber that is behind sees one pending message, not each (a
// dashboard refetches its figures once however many deliveries landed meanwhile), and a
// message lost with Redis costs one refresh, never a figure.
type Bus interface {
	// Publish sends msg to every subscriber. It never blocks on a slow subscriber.
	Publish(ctx context.Context, msg string) error
	// Subscribe returns a channel of messages and the function that ends the
	// subscription (and closes the channel); call it once done.
	Subscribe() (<-chan string, func())
}

// MemoryBus is the in-process Bus: each subscriber has a one-message buffer, so a
// message sent while one is pending is folded into it.
type MemoryBus struct {
	mu   sync.Mutex
	subs map[chan string]struct{}
}

// NewMemoryBus returns an in-process Bus.
func NewMemoryBus() *MemoryBus { return &MemoryBus{subs: map[chan string]struct{}{}} }

// Publish hands msg to every subscriber without waiting (a subscriber with a message
// pending keeps that one). It never fails.
func (b *MemoryBus) Publish(_ context.Context, msg string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- msg:
		default:
		}
	}
	return nil
}

// Subscribe adds a subscriber.
func (b *MemoryBus) Subscribe() (<-chan string, func()) {
	ch := make(chan string, 1)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, ch)
			b.mu.Unlock()
			close(ch)
		})
	}
}

// Subscribers is how many subscriptions are open (for tests and metrics).
func (b *MemoryBus) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// RedisBus is a Bus across replicas: Publish sends to a Redis channel, and every
// replica's RedisBus, subscribed to it, hands what arrives to its local subscribers.
// When Redis cannot take a message, Publish hands it to the local subscribers itself, so
// that this replica's dashboards still update (the others' catch up on their next message).
type RedisBus struct {
	c       *redis.Client
	channel string
	local   *MemoryBus
	ps      *redis.PubSub
	log     *slog.Logger
	done    chan struct{}
	// health, when set (Health.Bus), short-cuts Publish to the local subscribers while
	// Redis is down, and learns of Redis failing from Publish.
	health *Health
}

// NewRedisBus subscribes to channel on c and returns the bus once Redis has confirmed
// the subscription (within ctx). Errors: Redis unreachable or refusing the subscription.
// Close ends it.
func NewRedisBus(ctx context.Context, c *redis.Client, channel string, log *slog.Logger) (*RedisBus, error) {
	return newRedisBus(ctx, c, channel, log, true)
}

// newRedisBus is NewRedisBus; without confirm it returns at once, the subscription made
// (and renewed) by go-redis whenever Redis answers.
func newRedisBus(ctx context.Context, c *redis.Client, channel string, log *slog.Logger, confirm bool) (*RedisBus, error) {
	if c == nil || channel == "" {
		return nil, errors.New("redisx: a bus needs a client and a channel")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ps := c.Subscribe(context.WithoutCancel(ctx), channel)
	if confirm {
		if _, err := ps.Receive(ctx); err != nil { // the subscription's confirmation
			_ = ps.Close()
			return nil, err
		}
	}
	b := &RedisBus{c: c, channel: channel, local: NewMemoryBus(), ps: ps, log: log, done: make(chan struct{})}
	go b.relay()
	return b, nil
}

// relay hands every message of the Redis channel to the local subscribers until Close.
// go-redis reconnects and subscribes again by itself after Redis comes back.
func (b *RedisBus) relay() {
	defer close(b.done)
	for m := range b.ps.Channel(redis.WithChannelHealthCheckInterval(15 * time.Second)) {
		_ = b.local.Publish(context.Background(), m.Payload)
	}
}

// Publish sends msg through Redis to every replica (this one included). When Redis
// refuses it, msg goes to this replica's subscribers only, and the error is logged and
// returned.
func (b *RedisBus) Publish(ctx context.Context, msg string) error {
	if b.health != nil {
		ok, err := b.health.call(ctx, func(ctx context.Context) error { return b.c.Publish(ctx, b.channel, msg).Err() })
		if !ok {
			b.health.fellBack(PartBus)
			_ = b.local.Publish(ctx, msg)
		}
		return err
	}
	if err := b.c.Publish(ctx, b.channel, msg).Err(); err != nil {
		b.log.WarnContext(ctx, "redis bus: publish failed; this replica only", slog.String("channel", b.channel), slog.Any("error", err))
		_ = b.local.Publish(ctx, msg)
		return err
	}
	return nil
}

// Subscribe adds a local subscriber to the messages of every replica.
func (b *RedisBus) Subscribe() (<-chan string, func()) { return b.local.Subscribe() }

// Close ends the Redis subscription (subscribers already open get nothing more).
func (b *RedisBus) Close() error {
	err := b.ps.Close()
	<-b.done
	return err
}

// NewBus returns a RedisBus on c and channel, or a MemoryBus when c is nil (REDIS_URL
// empty) or Redis cannot be subscribed to within ctx (the failure is logged: this
// replica's dashboards then see only this replica's deliveries). close ends the bus.
func NewBus(ctx context.Context, c *redis.Client, channel string, log *slog.Logger) (bus Bus, close func() error) {
	if c != nil {
		rb, err := NewRedisBus(ctx, c, channel, log)
		if err == nil {
			return rb, rb.Close
		}
		if log != nil {
			log.WarnContext(ctx, "redis bus unavailable; live updates stay within this replica", slog.Any("error", err))
		}
	}
	return NewMemoryBus(), func() error { return nil }
}
