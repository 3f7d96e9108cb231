package people

import "time"

// Session is a signed-in browser's session as stored server-side. ID is the stored form
// of the id the cookie carries (a hash of it: the table alone opens no session); Data is
// the session's values, encoded by the session store.
type Session struct {
	ID        string
	PersonID  int64 // 0 before sign-in (a session holding only a flash message)
	Data      []byte
	CreatedAt time.Time
	SeenAt    time.Time // last request, to the minute (TouchEvery)
	ExpiresAt time.Time // min(CreatedAt + Absolute, SeenAt + Idle)
}

// SessionPolicy is how long a session lives: Idle since its last request, and at most
// Absolute since sign-in, whatever the activity.
type SessionPolicy struct {
	Idle     time.Duration
	Absolute time.Duration
}

// DefaultSessionPolicy: two idle hours (a clerk typing a long recipient list keeps it
// alive with each save), a working day in all.
var DefaultSessionPolicy = SessionPolicy{Idle: 2 * time.Hour, Absolute: 10 * time.Hour}

// TouchEvery is how often at most a session's last request is written.
const TouchEvery = time.Minute

// Expiry is when a session made at created and last seen at seen expires.
func (p SessionPolicy) Expiry(created, seen time.Time) time.Time {
	abs, idle := created.Add(p.Absolute), seen.Add(p.Idle)
	if idle.Before(abs) {
		return idle
	}
	return abs
}

// Alive reports whether s is still valid at now.
func (s Session) Alive(now time.Time) bool { return now.Before(s.ExpiresAt) }
