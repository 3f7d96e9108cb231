package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"aidmall/orders"
	"aidmall/people"
)

// SessionRows is where sessions are kept (sqlstore.Store): one row per session, shared by
// every replica. Session answers orders.ErrNotFound for an absent id.
type SessionRows interface {
	Session(ctx context.Context, id string) (people.Session, error)
	SaveSession(ctx context.Context, s people.Session) error
	TouchSession(ctx context.Context, id string, seen, expires time.Time) error
	DeleteSession(ctx context.Context, id string) error
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error)
}

// DBSessions is a gorilla sessions.Store over SessionRows. The cookie carries only a
// random 256-bit id, signed (and encrypted) with securecookie; the row, keyed by the id's
// SHA-256, holds the values and the expiry (people.SessionPolicy: idle and absolute). An
// expired, unknown or forged cookie gives a new, empty session. Saving with MaxAge < 0
// deletes the row (sign-out): the old cookie no longer opens anything.
type DBSessions struct {
	rows   SessionRows
	codecs []securecookie.Codec
	policy people.SessionPolicy
	now    func() time.Time
}

// SessionKeys are the secrets of the session cookie: HashKey signs it (HMAC-SHA256, 32 or
// 64 bytes), BlockKey encrypts it (AES, 32 bytes). They must survive a restart and be the
// same on every replica (cmd derives them from the seal key).
type SessionKeys struct{ HashKey, BlockKey []byte }

// NewDBSessions returns the store over rows with keys (the first pair signs new cookies;
// later pairs are still read, for a key rotation), policy (DefaultSessionPolicy when zero)
// and clock now (time.Now when nil).
func NewDBSessions(rows SessionRows, policy people.SessionPolicy, now func() time.Time, keys ...SessionKeys) (*DBSessions, error) {
	if rows == nil {
		return nil, errors.New("web: nil session rows")
	}
	if len(keys) == 0 {
		return nil, errors.New("web: no session keys")
	}
	var pairs [][]byte
	for _, k := range keys {
		if len(k.HashKey) < 32 || len(k.BlockKey) != 32 {
			return nil, errors.New("web: a session hash key has at least 32 bytes and a block key 32")
		}
		pairs = append(pairs, k.HashKey, k.BlockKey)
	}
	if policy.Idle <= 0 || policy.Absolute <= 0 {
		policy = people.DefaultSessionPolicy
	}
	if now == nil {
		now = time.Now
	}
	codecs := securecookie.CodecsFromPairs(pairs...)
	for _, c := range codecs {
		c.(*securecookie.SecureCookie).MaxAge(int(policy.Absolute / time.Second))
	}
	return &DBSessions{rows: rows, codecs: codecs, policy: policy, now: now}, nil
}

// rowID is the stored form of a cookie's session id.
func rowID(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:])
}

// Get returns the request's session, once per request (gorilla's registry).
func (st *DBSessions) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(st, name)
}

// New returns the session the request's cookie names when it is valid and alive, else a
// new empty one (IsNew). A live session's last use is written at most once a minute.
func (st *DBSessions) New(r *http.Request, name string) (*sessions.Session, error) {
	s := sessions.NewSession(st, name)
	s.Options = &sessions.Options{Path: "/", MaxAge: int(st.policy.Absolute / time.Second), HttpOnly: true, SameSite: http.SameSiteLaxMode}
	s.IsNew = true
	c, err := r.Cookie(name)
	if err != nil {
		return s, nil
	}
	var id string
	if err := securecookie.DecodeMulti(name, c.Value, &id, st.codecs...); err != nil {
		return s, nil // forged, or signed with a key no longer held: a fresh session
	}
	ctx := r.Context()
	row, err := st.rows.Session(ctx, rowID(id))
	if errors.Is(err, orders.ErrNotFound) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	now := st.now()
	if !row.Alive(now) {
		_ = st.rows.DeleteSession(ctx, row.ID)
		return s, nil
	}
	values := map[any]any{}
	if err := gob.NewDecoder(bytes.NewReader(row.Data)).Decode(&values); err != nil {
		return s, nil // unreadable (an older encoding): start again
	}
	s.ID, s.Values, s.IsNew = id, values, false
	if now.Sub(row.SeenAt) >= people.TouchEvery {
		if err := st.rows.TouchSession(ctx, row.ID, now, st.policy.Expiry(row.CreatedAt, now)); err != nil {
			return s, err
		}
	}
	return s, nil
}

// Save stores s and sets its cookie; with Options.MaxAge < 0 it deletes the row and the
// cookie. A session without an id gets a fresh random one (sign-in clears the id so
// that it always gets a new one: no fixation).
func (st *DBSessions) Save(r *http.Request, w http.ResponseWriter, s *sessions.Session) error {
	ctx := r.Context()
	opts := s.Options
	if opts == nil {
		opts = &sessions.Options{Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}
	}
	if opts.MaxAge < 0 {
		if s.ID != "" {
			if err := st.rows.DeleteSession(ctx, rowID(s.ID)); err != nil {
				return err
			}
		}
		http.SetCookie(w, sessions.NewCookie(s.Name(), "", opts))
		return nil
	}
	now := st.now()
	created := now
	if s.ID == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		s.ID = base64.RawURLEncoding.EncodeToString(b)
	} else if row, err := st.rows.Session(ctx, rowID(s.ID)); err == nil {
		created = row.CreatedAt
	} else if !errors.Is(err, orders.ErrNotFound) {
		return err
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(s.Values); err != nil {
		return fmt.Errorf("web: encode session: %w", err)
	}
	person, _ := s.Values[sessionPerson].(int64)
	row := people.Session{ID: rowID(s.ID), PersonID: person, Data: buf.Bytes(), CreatedAt: created, SeenAt: now,
		ExpiresAt: st.policy.Expiry(created, now)}
	if err := st.rows.SaveSession(ctx, row); err != nil {
		return err
	}
	encoded, err := securecookie.EncodeMulti(s.Name(), s.ID, st.codecs...)
	if err != nil {
		return fmt.Errorf("web: sign session cookie: %w", err)
	}
	cookie := *opts
	cookie.MaxAge = int(row.ExpiresAt.Sub(now) / time.Second)
	if abs := int(created.Add(st.policy.Absolute).Sub(now) / time.Second); abs > 0 {
		cookie.MaxAge = abs // the browser keeps it to the absolute end; the row judges idleness
	}
	http.SetCookie(w, sessions.NewCookie(s.Name(), encoded, &cookie))
	return nil
}

// Sweep deletes the sessions expired by now and says how many.
func (st *DBSessions) Sweep(ctx context.Context) (int64, error) {
	return st.rows.DeleteExpiredSessions(ctx, st.now())
}

// SweepEvery sweeps expired sessions every interval until ctx ends, logging failures
// through logf.
func (st *DBSessions) SweepEvery(ctx context.Context, interval time.Duration, logf func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := st.Sweep(ctx); err != nil && ctx.Err() == nil {
				logf(err)
			}
		}
	}
}
