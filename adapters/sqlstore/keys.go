package sqlstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"aidmall/audit"
	"aidmall/orders"
)

// keyAlphabet is base62: an API key is "am_" + 40 characters (≈238 bits).
const keyAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// hashKey is the stored form of an API key: SHA-256 hex. A key has enough entropy that a
// plain hash cannot be reversed; nothing in the database can be used as a key.
func hashKey(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// APIKey describes a stored key (never the key itself).
type APIKey struct {
	ID         int64      `db:"id"`
	Name       string     `db:"name"`
	Role       string     `db:"role"`
	BranchCode *string    `db:"branch_code"`
	Prefix     string     `db:"key_prefix"`
	CreatedAt  time.Time  `db:"created_at"`
	RevokedAt  *time.Time `db:"revoked_at"`
	// LastUsedAt is when the key last authenticated a request, to the minute (recorded at
	// most once a minute per key); nil if never.
	LastUsedAt *time.Time `db:"last_used_at"`
	RotatedAt  *time.Time `db:"rotated_at"` // when its secret was last replaced; nil if never
}

const keyCols = `id, name, role, branch_code, key_prefix, created_at, revoked_at, last_used_at, rotated_at`

// newToken makes a fresh API key: "am_" and 40 random base62 characters.
func newToken() (string, error) {
	buf := make([]byte, 40)
	for i := range buf {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(keyAlphabet))))
		if err != nil {
			return "", err
		}
		buf[i] = keyAlphabet[n.Int64()]
	}
	return "am_" + string(buf), nil
}

// CreateAPIKey makes a new key for role (and branch, required for branch_staff and
// refused for the other roles), stores its hash and returns the key in clear — the only
// time it is ever seen. Errors wrap orders.ErrInvalid for a bad role or branch.
func (s *Store) CreateAPIKey(ctx context.Context, name string, role orders.Role, branch string) (string, APIKey, error) {
	if !role.Valid() {
		return "", APIKey{}, fmt.Errorf("%w: role must be branch_staff, aid_office or auditor", orders.ErrInvalid)
	}
	if role == orders.RoleBranchStaff && branch == "" {
		return "", APIKey{}, fmt.Errorf("%w: a branch_staff key needs --branch", orders.ErrInvalid)
	}
	if role != orders.RoleBranchStaff && branch != "" {
		return "", APIKey{}, fmt.Errorf("%w: only branch_staff keys belong to a branch", orders.ErrInvalid)
	}
	if branch != "" {
		if _, err := s.Branch(ctx, branch); err != nil {
			if errors.Is(err, orders.ErrNotFound) {
				return "", APIKey{}, fmt.Errorf("%w: unknown branch %q (import branches first)", orders.ErrInvalid, branch)
			}
			return "", APIKey{}, err
		}
	}
	token, err := newToken()
	if err != nil {
		return "", APIKey{}, err
	}
	k := APIKey{Name: name, Role: string(role), Prefix: token[:7], CreatedAt: s.utcNow()}
	var br any
	if branch != "" {
		k.BranchCode = &branch
		br = branch
	}
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := tx.GetContext(ctx, &k.ID, tx.Rebind(`INSERT INTO api_keys (name, role, branch_code, key_hash, key_prefix, created_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`), name, string(role), br, hashKey(token), k.Prefix, k.CreatedAt); err != nil {
			return err
		}
		return s.auditKey(ctx, tx, audit.ActionKeyCreate, k, nil)
	})
	if err != nil {
		return "", APIKey{}, fmt.Errorf("create api key: %w", translate(err))
	}
	return token, k, nil
}

// Authenticate resolves a bearer token to its caller; orders.ErrNotFound for an unknown or
// revoked key. With CacheAPIKeys, a key found is remembered by its hash for a while.
func (s *Store) Authenticate(ctx context.Context, token string) (orders.Caller, error) {
	hash := hashKey(token)
	if c, ok := s.keys.get(hash, s.now()); ok {
		s.touchKey(ctx, c.KeyID)
		return c, nil
	}
	gen := s.keys.generation()
	var k APIKey
	err := s.db.GetContext(ctx, &k, s.db.Rebind(`SELECT `+keyCols+` FROM api_keys WHERE key_hash = ?`), hash)
	if err != nil {
		return orders.Caller{}, fmt.Errorf("api key: %w", translate(err))
	}
	if k.RevokedAt != nil {
		return orders.Caller{}, fmt.Errorf("api key %s revoked: %w", k.Prefix, orders.ErrNotFound)
	}
	s.touchKey(ctx, k.ID)
	c := orders.Caller{KeyID: k.ID, Name: k.Name, Role: orders.Role(k.Role)}
	if k.BranchCode != nil {
		c.BranchCode = *k.BranchCode
	}
	s.keys.put(hash, c, gen, s.now())
	return c, nil
}

// CacheAPIKeys has Authenticate answer a key it found from memory for ttl (by the store's
// clock) instead of reading api_keys for every request: the serving process's store
// (cmd, KeyCacheTTL). A key revoked or rotated through this Store stops working at once;
// one revoked or rotated by another process (the CLI, another replica) stops working
// here within ttl. Unknown and revoked keys are never remembered: a new key works at once.
// ttl 0 (the default) reads every time. Call before the store serves.
func (s *Store) CacheAPIKeys(ttl time.Duration) {
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	s.keys.ttl, s.keys.m = max(ttl, 0), nil
}

// KeyCacheTTL is how long the server answers an API key it found from memory
// (CacheAPIKeys): the bound within which a key revoked or rotated by another process (the
// CLI, another replica) stops working on this one.
const KeyCacheTTL = 3 * time.Second

// keyCacheMax bounds the keys remembered; past it the cache starts again empty.
const keyCacheMax = 4096

// keyCache remembers found API keys by their hash for ttl (CacheAPIKeys); off when 0.
type keyCache struct {
	mu  sync.Mutex
	ttl time.Duration
	gen uint64 // bumped by every revoke and rotate: a lookup begun before one is not kept
	m   map[string]cachedKey
}

type cachedKey struct {
	caller orders.Caller
	until  time.Time
}

func (c *keyCache) get(hash string, now time.Time) (orders.Caller, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[hash]
	if !ok || !now.Before(e.until) {
		return orders.Caller{}, false
	}
	return e.caller, true
}

func (c *keyCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put remembers caller for hash unless a revoke or rotate happened since gen.
func (c *keyCache) put(hash string, caller orders.Caller, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ttl == 0 || c.gen != gen {
		return
	}
	if c.m == nil || len(c.m) >= keyCacheMax {
		c.m = map[string]cachedKey{}
	}
	c.m[hash] = cachedKey{caller: caller, until: now.Add(c.ttl)}
}

// forget empties the cache: a key was revoked or rotated.
func (c *keyCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.m = nil
}

// KeyUseInterval is how often at most the last use of one key is written: a request
// reads its key, and writes only when the key's recorded use is older than this.
const KeyUseInterval = time.Minute

// touchKey records that key id was used now, at most once per KeyUseInterval per key: the
// process remembers when it last wrote each key, and the UPDATE also skips a row another
// process wrote less than KeyUseInterval ago. A failed write is not the request's failure
// (the key was valid): it is forgotten, so the next request tries again.
func (s *Store) touchKey(ctx context.Context, id int64) {
	now := s.utcNow()
	if last, ok := s.keyUse.Load(id); ok && now.Sub(last.(time.Time)) < KeyUseInterval {
		return
	}
	s.keyUse.Store(id, now)
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE api_keys SET last_used_at = ?
		WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)`), now, id, now.Add(-KeyUseInterval)); err != nil {
		s.keyUse.Delete(id)
	}
}

// RotateAPIKey gives key id a new secret and returns it in clear (the only time it is
// seen) with the key's description; the old secret stops working at once (only the new
// hash is stored). The key keeps its id, name, role and branch. orders.ErrNotFound for an
// absent or revoked key.
func (s *Store) RotateAPIKey(ctx context.Context, id int64) (string, APIKey, error) {
	token, err := newToken()
	if err != nil {
		return "", APIKey{}, err
	}
	var k APIKey
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		var before APIKey
		if err := tx.GetContext(ctx, &before, tx.Rebind(`SELECT `+keyCols+` FROM api_keys WHERE id = ? AND revoked_at IS NULL`), id); err != nil {
			return fmt.Errorf("api key %d (absent or revoked): %w", id, translate(err))
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE api_keys SET key_hash = ?, key_prefix = ?, rotated_at = ? WHERE id = ?`),
			hashKey(token), token[:7], s.utcNow(), id); err != nil {
			return fmt.Errorf("rotate api key: %w", translate(err))
		}
		if err := tx.GetContext(ctx, &k, tx.Rebind(`SELECT `+keyCols+` FROM api_keys WHERE id = ?`), id); err != nil {
			return fmt.Errorf("api key %d: %w", id, translate(err))
		}
		return s.auditKey(ctx, tx, audit.ActionKeyRotate, k, &before)
	})
	s.keys.forget() // also when it failed: the old secret may have stopped working
	if err != nil {
		return "", APIKey{}, err
	}
	return token, k, nil
}

// RevokeAPIKey revokes the key with id; orders.ErrNotFound if absent.
func (s *Store) RevokeAPIKey(ctx context.Context, id int64) error {
	defer s.keys.forget() // after the commit: a lookup meanwhile is not kept (keyCache.gen)
	return s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		var k APIKey
		if err := tx.GetContext(ctx, &k, tx.Rebind(`SELECT id, name, role, branch_code, key_prefix, created_at, revoked_at
			FROM api_keys WHERE id = ? AND revoked_at IS NULL`), id); err != nil {
			return fmt.Errorf("api key %d: %w", id, translate(err))
		}
		before := k
		now := s.utcNow()
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE api_keys SET revoked_at = ? WHERE id = ?`), now, id); err != nil {
			return fmt.Errorf("revoke api key: %w", err)
		}
		k.RevokedAt = &now
		return s.auditKey(ctx, tx, audit.ActionKeyRevoke, k, &before)
	})
}

// APIKeys lists the stored keys, oldest first.
func (s *Store) APIKeys(ctx context.Context) ([]APIKey, error) {
	var ks []APIKey
	if err := s.db.SelectContext(ctx, &ks, `SELECT `+keyCols+` FROM api_keys ORDER BY id`); err != nil {
		return nil, fmt.Errorf("api keys: %w", err)
	}
	return ks, nil
}

// auditKey appends, in tx, the audit entry of action on key k (before: the key as it was,
// nil for a new key). The key's secret and hash are never in it.
func (s *Store) auditKey(ctx context.Context, tx *sqlx.Tx, action string, k APIKey, before *APIKey) error {
	var b any
	if before != nil {
		b = keyAudit(*before)
	}
	e, err := audit.New(audit.ActorFrom(ctx), action, "key:"+strconv.FormatInt(k.ID, 10), b, keyAudit(k))
	if err != nil {
		return err
	}
	return s.appendAudit(ctx, tx, e)
}

func keyAudit(k APIKey) map[string]any {
	m := map[string]any{"name": k.Name, "role": k.Role, "prefix": k.Prefix, "created_at": k.CreatedAt.UTC().Format(audit.TimeLayout)}
	if k.BranchCode != nil {
		m["branch_code"] = *k.BranchCode
	}
	if k.RevokedAt != nil {
		m["revoked_at"] = k.RevokedAt.UTC().Format(audit.TimeLayout)
	}
	return m
}
