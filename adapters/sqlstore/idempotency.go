package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"aidmall/internal/idempotency"
	"aidmall/orders"
)

var _ idempotency.Store = (*Store)(nil)

type idemRow struct {
	Fingerprint string    `db:"fingerprint"`
	Token       string    `db:"token"`
	StatusCode  int       `db:"status_code"`
	ContentType string    `db:"content_type"`
	Location    string    `db:"location"`
	Body        []byte    `db:"response_body"`
	LockedAt    time.Time `db:"locked_at"`
}

func (r idemRow) record() idempotency.Record {
	rec := idempotency.Record{Fingerprint: r.Fingerprint, Token: r.Token, LockedAt: r.LockedAt.UTC()}
	if r.StatusCode != 0 {
		rec.Response = &idempotency.Response{Status: r.StatusCode, ContentType: r.ContentType, Location: r.Location, Body: r.Body}
	}
	return rec
}

// Claim takes an idempotency key for a request (see idempotency.Store): a new key, or
// an in-flight one of the same fingerprint whose request locked it before staleBefore.
func (s *Store) Claim(ctx context.Context, scope idempotency.Scope, rec idempotency.Record, staleBefore time.Time) (idempotency.Record, bool, error) {
	// A new key, the common case, is one statement: no transaction around a read first.
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO idempotency_keys (api_key_id, idem_key, fingerprint, token, locked_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (api_key_id, idem_key) DO NOTHING`),
		scope.KeyID, scope.Key, rec.Fingerprint, rec.Token, rec.LockedAt.UTC(), s.utcNow())
	if err != nil {
		return idempotency.Record{}, false, fmt.Errorf("claim idempotency key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return rec, true, nil
	}
	// The key exists: read it locked, and take it over if its request is stale.
	var out idempotency.Record
	var took bool
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		var r idemRow
		err := tx.GetContext(ctx, &r, tx.Rebind(`SELECT fingerprint, token, status_code, content_type, location, response_body, locked_at
			FROM idempotency_keys WHERE api_key_id = ? AND idem_key = ?`+s.db.forUpdate()), scope.KeyID, scope.Key)
		switch {
		case err == sql.ErrNoRows:
			res, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO idempotency_keys (api_key_id, idem_key, fingerprint, token, locked_at, created_at)
				VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (api_key_id, idem_key) DO NOTHING`),
				scope.KeyID, scope.Key, rec.Fingerprint, rec.Token, rec.LockedAt.UTC(), s.utcNow())
			if err != nil {
				return fmt.Errorf("claim idempotency key: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				out, took = rec, true
				return nil
			}
			// Another request inserted it between our read and write: report theirs.
			if err := tx.GetContext(ctx, &r, tx.Rebind(`SELECT fingerprint, token, status_code, content_type, location, response_body, locked_at
				FROM idempotency_keys WHERE api_key_id = ? AND idem_key = ?`), scope.KeyID, scope.Key); err != nil {
				return fmt.Errorf("claim idempotency key: %w", err)
			}
			out = r.record()
			return nil
		case err != nil:
			return fmt.Errorf("claim idempotency key: %w", err)
		}
		if r.StatusCode == 0 && r.Fingerprint == rec.Fingerprint && r.LockedAt.Before(staleBefore) {
			if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE idempotency_keys SET token = ?, locked_at = ? WHERE api_key_id = ? AND idem_key = ?`),
				rec.Token, rec.LockedAt.UTC(), scope.KeyID, scope.Key); err != nil {
				return fmt.Errorf("take over idempotency key: %w", err)
			}
			out, took = rec, true
			return nil
		}
		out = r.record()
		return nil
	})
	return out, took, err
}

// Complete stores the finished response of the request holding token.
func (s *Store) Complete(ctx context.Context, scope idempotency.Scope, token string, resp idempotency.Response) error {
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE idempotency_keys SET status_code = ?, content_type = ?, location = ?, response_body = ?
		WHERE api_key_id = ? AND idem_key = ? AND token = ? AND status_code = 0`),
		resp.Status, resp.ContentType, resp.Location, resp.Body, scope.KeyID, scope.Key, token)
	if err != nil {
		return fmt.Errorf("complete idempotency key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var holder string
	if err := s.db.GetContext(ctx, &holder, s.db.Rebind(`SELECT token FROM idempotency_keys WHERE api_key_id = ? AND idem_key = ?`),
		scope.KeyID, scope.Key); err != nil {
		return fmt.Errorf("complete idempotency key: %w", translate(err))
	}
	return fmt.Errorf("complete idempotency key: taken over by another request: %w", orders.ErrConflict)
}

// Lookup returns scope's committed record (see idempotency.Store).
func (s *Store) Lookup(ctx context.Context, scope idempotency.Scope) (idempotency.Record, bool, error) {
	var r idemRow
	err := s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT fingerprint, token, status_code, content_type, location, response_body, locked_at
		FROM idempotency_keys WHERE api_key_id = ? AND idem_key = ?`), scope.KeyID, scope.Key)
	switch {
	case err == sql.ErrNoRows:
		return idempotency.Record{}, false, nil
	case err != nil:
		return idempotency.Record{}, false, fmt.Errorf("look up idempotency key: %w", err)
	}
	return r.record(), true, nil
}

var (
	_ idempotency.TxKeeper  = (*txn)(nil)
	_ idempotency.TxClaimer = (*txn)(nil)
)

// ClaimInTx takes scope for rec inside the order use case's transaction (see
// idempotency.TxClaimer), with rec.Response kept on it when set: one statement for the
// key and its answer. On PostgreSQL an insert of the same key by a transaction still
// open waits for its end, bounded by that transaction's own deadline (the API places an
// order within placeTimeout) and by ctx's.
func (t *txn) ClaimInTx(ctx context.Context, scope idempotency.Scope, rec idempotency.Record) (bool, error) {
	var resp idempotency.Response // status 0: in flight
	if rec.Response != nil {
		resp = *rec.Response
	}
	args := []any{scope.KeyID, scope.Key, rec.Fingerprint, rec.Token, rec.LockedAt.UTC(), t.s.utcNow(),
		resp.Status, resp.ContentType, resp.Location, resp.Body}
	if t.keys != nil { // DeferKeys: taken with the others before the commit (WriteDeferred)
		t.keys = append(t.keys, args)
		return true, nil
	}
	res, err := t.tx.ExecContext(ctx, t.tx.Rebind(`INSERT INTO idempotency_keys (api_key_id, idem_key, fingerprint, token, locked_at, created_at,
			status_code, content_type, location, response_body)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (api_key_id, idem_key) DO NOTHING`), args...)
	if err != nil {
		return false, fmt.Errorf("claim idempotency key: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("claim idempotency key: %w", err)
	}
	return n == 1, nil
}

// KeepResponse stores resp on scope's record held by token inside the order use case's
// transaction (see idempotency.TxKeeper).
func (t *txn) KeepResponse(ctx context.Context, scope idempotency.Scope, token string, resp idempotency.Response) error {
	res, err := t.tx.ExecContext(ctx, t.tx.Rebind(`UPDATE idempotency_keys SET status_code = ?, content_type = ?, location = ?, response_body = ?
		WHERE api_key_id = ? AND idem_key = ? AND token = ? AND status_code = 0`),
		resp.Status, resp.ContentType, resp.Location, resp.Body, scope.KeyID, scope.Key, token)
	if err != nil {
		return fmt.Errorf("keep idempotent response: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("keep idempotent response: the Idempotency-Key was taken over by another request: %w", orders.ErrConflict)
	}
	return nil
}

// Release deletes the in-flight record held by token, so that the client may retry.
func (s *Store) Release(ctx context.Context, scope idempotency.Scope, token string) error {
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM idempotency_keys WHERE api_key_id = ? AND idem_key = ? AND token = ? AND status_code = 0`),
		scope.KeyID, scope.Key, token); err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}
