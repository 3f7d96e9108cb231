package redisx

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// receive waits up to 3 s (the dashboard's promise) for a message on ch.
func receive(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("subscription closed")
		}
		return m
	case <-time.After(3 * time.Second):
		t.Fatal("no message within 3 s")
	}
	return ""
}

func TestMemoryBus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("every_subscriber_gets_a_message", func(t *testing.T) {
		t.Parallel()
		b := NewMemoryBus()
		a, endA := b.Subscribe()
		defer endA()
		c, endC := b.Subscribe()
		defer endC()
		_ = b.Publish(ctx, "changed")
		if receive(t, a) != "changed" || receive(t, c) != "changed" {
			t.Fatal("wrong message")
		}
	})
	t.Run("a_slow_subscriber_gets_one_pending_message_and_never_blocks_publish", func(t *testing.T) {
		t.Parallel()
		b := NewMemoryBus()
		ch, end := b.Subscribe()
		defer end()
		for range 100 {
			_ = b.Publish(ctx, "changed") // would deadlock if it waited for the reader
		}
		receive(t, ch)
		select {
		case m := <-ch:
			t.Fatalf("second message %q pending; want them folded into one", m)
		default:
		}
	})
	t.Run("ending_a_subscription_closes_its_channel_and_forgets_it", func(t *testing.T) {
		t.Parallel()
		b := NewMemoryBus()
		ch, end := b.Subscribe()
		end()
		end() // twice is harmless
		if _, ok := <-ch; ok {
			t.Fatal("channel still open")
		}
		if n := b.Subscribers(); n != 0 {
			t.Fatalf("%d subscribers left", n)
		}
		_ = b.Publish(ctx, "changed") // no send on a closed channel
	})
}

// twoReplicas checks that a message published on one replica's bus reaches a subscriber
// of another replica's bus over the same Redis, and the publisher's own subscribers.
func twoReplicas(t *testing.T, newClient func() *redis.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	channel := "aidmall-test:bus:" + randomHex(t)
	var buses [2]*RedisBus
	for i := range buses {
		c := newClient()
		t.Cleanup(func() { _ = c.Close() })
		b, err := NewRedisBus(ctx, c, channel, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		buses[i] = b
	}
	other, endOther := buses[1].Subscribe()
	defer endOther()
	own, endOwn := buses[0].Subscribe()
	defer endOwn()
	if err := buses[0].Publish(ctx, "changed"); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, other); m != "changed" {
		t.Fatalf("other replica got %q", m)
	}
	if m := receive(t, own); m != "changed" {
		t.Fatalf("own replica got %q", m)
	}
}

func TestRedisBusDeliversAcrossReplicas(t *testing.T) {
	t.Parallel()
	t.Run("miniredis", func(t *testing.T) {
		t.Parallel()
		m := miniredis.RunT(t)
		twoReplicas(t, func() *redis.Client { return redis.NewClient(&redis.Options{Addr: m.Addr()}) })
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		url := os.Getenv("AIDMALL_TEST_REDIS")
		if url == "" {
			t.Skip("AIDMALL_TEST_REDIS not set (e.g. redis://127.0.0.1:6379/15): the bus across two replicas on a real Redis is skipped")
		}
		twoReplicas(t, func() *redis.Client {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := Open(ctx, url)
			if err != nil {
				t.Fatalf("AIDMALL_TEST_REDIS: %v", err)
			}
			return c
		})
	})
}

// When Redis goes away, a message published on a replica still reaches that replica's
// own subscribers (its dashboards keep updating), and Publish says Redis failed.
func TestRedisBusFallsBackToThisReplicaWhenRedisIsDown(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	b, err := NewRedisBus(ctx, c, "aidmall-test:bus", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	ch, end := b.Subscribe()
	defer end()
	m.Close()
	if err := b.Publish(ctx, "changed"); err == nil {
		t.Fatal("Publish with Redis down reported no error")
	}
	if got := receive(t, ch); got != "changed" {
		t.Fatalf("got %q", got)
	}
}

// NewBus with no Redis, or a Redis that cannot be reached, is the in-process bus.
func TestNewBusFallsBackToMemory(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if b, closeBus := NewBus(ctx, nil, "x", nil); closeBus() != nil {
		t.Fatal("close failed")
	} else if _, ok := b.(*MemoryBus); !ok {
		t.Fatalf("NewBus(nil) = %T", b)
	}
	m := miniredis.RunT(t)
	addr := m.Addr()
	m.Close()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	b, closeBus := NewBus(ctx, c, "x", nil)
	defer closeBus()
	if _, ok := b.(*MemoryBus); !ok {
		t.Fatalf("NewBus(unreachable Redis) = %T", b)
	}
}
