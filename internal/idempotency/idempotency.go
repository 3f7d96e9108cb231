// Package idempotency declares what is kept for one Idempotency-Key: the records the API's
// middleware reads and writes and the store that keeps them. It is a leaf: the API
// (api) uses it and the SQL adapter (adapters/sqlstore) implements it, and neither
// imports the other.
package idempotency

import (
	"context"
	"errors"
	"time"
)

// Retention is how long a store should keep a finished key: a client may retry with it
// for at least this long. A store may delete older records.
const Retention = 24 * time.Hour

// Scope names one idempotency key: the key as the client sent it, within the API key that
// sent it (two callers may use the same key independently).
type Scope struct {
	KeyID int64  // the API key's id (orders.Caller.KeyID)
	Key   string // the Idempotency-Key value, 1–255 printable ASCII characters
}

// Record is what a store holds for one scope.
type Record struct {
	// Fingerprint is the hex SHA-256 of the method, path and body of the request that
	// took the key.
	Fingerprint string
	// Token is a random value naming the request that holds the key: only that request
	// may complete or release it.
	Token string
	// LockedAt is when that request took the key (UTC).
	LockedAt time.Time
	// Response is the finished response; nil while the request is in flight.
	Response *Response
}

// Response is a finished response kept for replay: its status, the two headers a replay
// repeats, and its body.
type Response struct {
	Status      int
	ContentType string // the Content-Type header, "" when absent
	Location    string // the Location header, "" when absent
	Body        []byte
}

// Store keeps idempotency keys. Every method must be safe for concurrent use across
// processes (one row per scope, updated atomically).
type Store interface {
	// Claim tries to take scope for the request described by rec (Response nil). When no
	// record exists, or the record is in flight (Response nil), has rec's Fingerprint and
	// was locked before staleBefore (its request crashed), Claim stores rec and returns
	// (rec, true). Otherwise it changes nothing and returns the record it holds and false.
	Claim(ctx context.Context, scope Scope, rec Record, staleBefore time.Time) (Record, bool, error)
	// Complete stores resp on scope's record if its Token is still token. It returns an
	// error wrapping orders.ErrConflict if another request took the key over, or
	// orders.ErrNotFound if the record is gone.
	Complete(ctx context.Context, scope Scope, token string, resp Response) error
	// Release deletes scope's in-flight record if its Token is still token, so that the
	// client may retry; it returns nil when there is nothing to delete.
	Release(ctx context.Context, scope Scope, token string) error
	// Lookup returns scope's record as committed, and false when there is none. It
	// changes nothing.
	Lookup(ctx context.Context, scope Scope) (Record, bool, error)
}

// ErrTaken is returned by work that tried to take a key in its transaction (TxClaimer)
// and found it taken by a request that committed first: the work is rolled back, and the
// caller answers with what that request left (its response, replayed).
var ErrTaken = errors.New("idempotency: the key was taken by another request")

// TxClaimer is implemented by a store's transaction (adapters/sqlstore's orders.Tx): it
// takes a key in the transaction of the work it guards, so that the key, the work and
// its kept response commit together, with one commit instead of a commit of the claim
// first. Nothing of a request that fails or dies before that commit is left: its retry
// runs again at once, with no lock to wait out.
type TxClaimer interface {
	// ClaimInTx stores rec for scope unless a record exists, and reports whether it did:
	// rec.Response is the answer kept for replay (the work is done by then: the key and
	// its answer are one statement), or nil for a request still at work (TxKeeper keeps
	// its answer later). A record another transaction is inserting makes it wait for that
	// transaction's end (PostgreSQL; SQLite runs one writer at a time): it then reports
	// false if that transaction committed.
	ClaimInTx(ctx context.Context, scope Scope, rec Record) (bool, error)
}

// TxKeeper is implemented by a store's transaction (adapters/sqlstore's orders.Tx): it
// keeps a finished response in the transaction of the work it answers, so that the work
// and its kept response commit together. A request whose process dies after that commit
// is replayed to its retry; one that dies before leaves nothing done.
type TxKeeper interface {
	// KeepResponse stores resp on scope's record if its Token is still token and it has
	// no response yet, as Store.Complete does; an error wrapping orders.ErrConflict
	// otherwise (the key was taken over), which rolls the work back.
	KeepResponse(ctx context.Context, scope Scope, token string, resp Response) error
}
