package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"aidmall/orders"
)

// KeepUnreadable stores a notification whose signature verified but whose fields could not
// be read, or a statement row that could not be read (mall, the raw body or the row's
// place, and why), so that it is not lost; an open record with the same mall, body and
// reason is not stored twice.
func (s *Store) KeepUnreadable(ctx context.Context, mall orders.Mall, body []byte, reason string) error {
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO unreadable_notifications (mall, reason, body, received_at)
		SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM unreadable_notifications
			WHERE mall = ? AND reason = ? AND body = ? AND state = 'open')`),
		string(mall), reason, body, s.utcNow(), string(mall), reason, body); err != nil {
		return fmt.Errorf("keep unreadable notification: %w", err)
	}
	return nil
}

// UnreadableCount returns how many unreadable notifications wait for an operator.
func (s *Store) UnreadableCount(ctx context.Context) (int, error) {
	var n int
	err := s.db.GetContext(ctx, &n, `SELECT COUNT(*) FROM unreadable_notifications WHERE state = 'open'`)
	return n, err
}

// StrandedOrders returns the ids of pending orders created before `before` that never
// reached their mall (not submitted, rejected or cancelled), oldest first, at most limit:
// their dispatch job was lost, or ran out of attempts without recording it. An order
// whose give-up was recorded is dispatch_failed, not pending, and is never among them: it
// waits for a person (orders.Service.RetryDispatch), not for maintenance.
func (s *Store) StrandedOrders(ctx context.Context, before time.Time, limit int) ([]int64, error) {
	var ids []int64
	err := s.db.SelectContext(ctx, &ids, s.db.Rebind(`SELECT id FROM group_orders
		WHERE `+strandedWhere+` AND created_at < ?
		ORDER BY created_at, id LIMIT ?`), before.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("stranded orders: %w", err)
	}
	return ids, nil
}

// DispatchFailedByMall counts the orders in dispatch_failed per mall (the gauge
// aidmall_orders_dispatch_failed).
func (s *Store) DispatchFailedByMall(ctx context.Context) (map[orders.Mall]int, error) {
	var rows []struct {
		Mall string `db:"mall"`
		N    int    `db:"n"`
	}
	if err := s.db.SelectContext(ctx, &rows, `SELECT mall, COUNT(*) AS n FROM group_orders WHERE status = 'dispatch_failed' GROUP BY mall`); err != nil {
		return nil, fmt.Errorf("dispatch failed by mall: %w", err)
	}
	out := make(map[orders.Mall]int, len(rows))
	for _, r := range rows {
		out[orders.Mall(r.Mall)] = r.N
	}
	return out, nil
}

// DeleteIdempotencyBefore deletes the idempotency keys created before t (their stored
// responses included) and returns how many.
func (s *Store) DeleteIdempotencyBefore(ctx context.Context, t time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM idempotency_keys WHERE created_at < ?`), t.UTC())
	if err != nil {
		return 0, fmt.Errorf("delete idempotency keys: %w", err)
	}
	return res.RowsAffected()
}

// ErrSealKeyMismatch is returned by CheckSealKey when the database's personal data was
// sealed with another key.
var ErrSealKeyMismatch = errors.New("this database's personal data was sealed with another seal key: set AIDMALL_SEAL_KEY (or the data dir's seal.key) to the key it was made with")

// SealKeyRecorded reports whether the database already records which seal key it uses.
func (s *Store) SealKeyRecorded(ctx context.Context) (bool, error) {
	var n int
	if err := s.db.GetContext(ctx, &n, `SELECT COUNT(*) FROM meta WHERE name = 'seal_key_check'`); err != nil {
		return false, fmt.Errorf("seal key check: %w", err)
	}
	return n > 0, nil
}

// CheckSealKey records check (a keyed hash of a fixed text, made with the seal key) on the
// first call and refuses, with ErrSealKeyMismatch, any later key whose check differs: a
// process with the wrong key would write households that no other process can read.
// During a rotation (BeginSealRotation) the new key's check is accepted too.
func (s *Store) CheckSealKey(ctx context.Context, check string) error {
	return s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		var next string
		if err := tx.GetContext(ctx, &next, `SELECT value FROM meta WHERE name = 'seal_key_check_next'`); err == nil && next == check {
			return nil
		}
		var have string
		err := tx.GetContext(ctx, &have, `SELECT value FROM meta WHERE name = 'seal_key_check'`)
		switch {
		case isNoRows(err):
			_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO meta (name, value) VALUES ('seal_key_check', ?)`), check)
			return err
		case err != nil:
			return fmt.Errorf("seal key check: %w", err)
		case have != check:
			return ErrSealKeyMismatch
		}
		return nil
	})
}
