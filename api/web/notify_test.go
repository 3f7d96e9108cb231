package web_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"aidmall/api/web"
	"aidmall/orders"
)

type countingPublisher struct{ n atomic.Int64 }

func (p *countingPublisher) Publish(context.Context, string) error { p.n.Add(1); return nil }

// A burst of applied events (a statement, a mall's batch) is one change signal, sent soon
// after without the Apply waiting on it; a later event is signalled again.
func TestNotifyGathersABurstIntoOneSignal(t *testing.T) {
	var p countingPublisher
	applied := web.Notify(&p)
	start := time.Now()
	for range 1000 {
		applied(context.Background(), orders.FulfilmentEvent{}, orders.ApplyResult{})
	}
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Fatalf("1000 applied events took %v: the observer waits on the publish", took)
	}
	waitFor := func(want int64) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for p.n.Load() < want && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond) // and no more come
		if got := p.n.Load(); got != want {
			t.Fatalf("%d signals, want %d", got, want)
		}
	}
	waitFor(1)
	applied(context.Background(), orders.FulfilmentEvent{}, orders.ApplyResult{})
	waitFor(2)
}
