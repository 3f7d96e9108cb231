package redisx

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisNonceStore is a NonceStore in Redis: one key per nonce, set with SET NX PX, so the
// first writer wins atomically across every replica and Redis expires it.
type RedisNonceStore struct {
	c      *redis.Client
	prefix string
}

// NewRedisNonceStore returns a NonceStore on c whose keys are prefix + key (e.g.
// "aidmall:nonce:"). Error: a nil client.
func NewRedisNonceStore(c *redis.Client, prefix string) (*RedisNonceStore, error) {
	if c == nil {
		return nil, errors.New("redisx: nil redis client")
	}
	return &RedisNonceStore{c: c, prefix: prefix}, nil
}

// Remember implements NonceStore with `SET prefix+key 1 PX ttl NX`.
func (s *RedisNonceStore) Remember(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	if ttl < time.Millisecond {
		return false, fmt.Errorf("redisx: nonce ttl %s is below 1ms", ttl)
	}
	err := s.c.Do(ctx, "set", s.prefix+key, "1", "px", ttlMillis(ttl), "nx").Err()
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, redis.Nil):
		return false, nil
	}
	return false, fmt.Errorf("redisx: remember nonce: %w", err)
}

// MemoryNonceStore is the in-process twin of RedisNonceStore: a map of key → expiry under
// a mutex, swept of expired keys lazily (at most once per sweepEvery, during Remember).
type MemoryNonceStore struct {
	now func() time.Time

	mu        sync.Mutex
	until     map[string]time.Time
	nextSweep time.Time
}

// sweepEvery bounds how often Remember walks the whole map to drop expired keys.
const sweepEvery = time.Minute

// NewMemoryNonceStore returns an empty in-memory NonceStore on clock now (time.Now if nil).
func NewMemoryNonceStore(now func() time.Time) *MemoryNonceStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryNonceStore{now: now, until: map[string]time.Time{}}
}

// Remember implements NonceStore. A key is remembered for exactly ttl (rounded up to a
// millisecond, as in Redis): fresh again once now reaches its expiry.
func (s *MemoryNonceStore) Remember(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	if ttl < time.Millisecond {
		return false, fmt.Errorf("redisx: nonce ttl %s is below 1ms", ttl)
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !now.Before(s.nextSweep) {
		for k, u := range s.until {
			if !now.Before(u) {
				delete(s.until, k)
			}
		}
		s.nextSweep = now.Add(sweepEvery)
	}
	if u, ok := s.until[key]; ok && now.Before(u) {
		return false, nil
	}
	s.until[key] = now.Add(time.Duration(ttlMillis(ttl)) * time.Millisecond)
	return true, nil
}

// Len returns how many keys the store holds, expired ones not yet swept included.
func (s *MemoryNonceStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.until)
}
