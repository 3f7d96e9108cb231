package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"aidmall/audit"
	"aidmall/orders"
)

// Savepoints let one transaction hold the work of many callers, each undone alone when it
// fails (orders.Service.Place's group commit): PostgreSQL aborts a transaction at its
// first failed statement (a taken order_ref), which ROLLBACK TO SAVEPOINT undoes, and on
// SQLite they undo what the failed caller wrote before its error.

var _ orders.SavepointTx = (*txn)(nil)

// InSavepointTx is InTx with an orders.SavepointTx (orders.SavepointStore).
// The orders' dispatch jobs are deferred and inserted together (txn.jobs): by
// WriteDeferred, or before the commit at the latest.
func (s *Store) InSavepointTx(ctx context.Context, fn func(tx orders.SavepointTx) error) error {
	return s.inTxn(ctx, nil, func(t *txn) error {
		t.deferJobs = true
		return fn(t)
	})
}

// Savepoint runs fn inside a savepoint of t (see orders.SavepointTx). The savepoint has one
// name: savepoints are not nested (fn gets no Tx of its own to open another), and each is
// released before the next is made, so a PostgreSQL transaction keeps one open at a time.
// What t keeps for its commit (written, months, late sums) is put back as it was when fn
// fails, so that only what fn did is undone.
func (t *txn) Savepoint(ctx context.Context, fn func() error) error {
	if t.b != nil {
		return errors.New("savepoint: not in a batch transaction (its saves are deferred past any savepoint)")
	}
	if _, err := t.tx.ExecContext(ctx, `SAVEPOINT joined`); err != nil {
		return fmt.Errorf("savepoint: %w", translate(err))
	}
	written, late, months, jobs, unitFigs := t.written, t.late, maps.Clone(t.months), len(t.jobs), maps.Clone(t.unitFigs)
	ferr := fn()
	if ferr != nil {
		// Capped, so that what is added next does not write over what fn added.
		t.written, t.months, t.jobs, t.unitFigs = written, months, t.jobs[:jobs], unitFigs
		t.late = lateSums{ledger: slices.Clip(late.ledger), units: slices.Clip(late.units)}
		if _, err := t.tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT joined`); err != nil {
			return errors.Join(ferr, fmt.Errorf("rollback to savepoint: %w", translate(err)))
		}
	}
	if _, err := t.tx.ExecContext(ctx, `RELEASE SAVEPOINT joined`); err != nil {
		return errors.Join(ferr, fmt.Errorf("release savepoint: %w", translate(err)))
	}
	return ferr
}

// AuditAll appends es to the audit log in this transaction, in order, as Audit appends
// each (see orders.SavepointTx): the head is read (locked FOR UPDATE on PostgreSQL) once,
// the entries sealed one after the other here, inserted in one statement, and the head
// moved once, so that a shared transaction holds the head for three statements and its
// commit however many entries it appends.
func (t *txn) AuditAll(ctx context.Context, es []audit.Entry) error {
	if len(es) == 0 {
		return nil
	}
	var head struct {
		Seq  int64  `db:"seq"`
		Hash string `db:"hash"`
	}
	if err := t.tx.GetContext(ctx, &head, `SELECT seq, hash FROM audit_head WHERE id = 1`+t.s.db.forUpdate()); err != nil {
		return fmt.Errorf("audit head: %w", translate(err))
	}
	now := t.s.utcNow()
	var q strings.Builder
	q.WriteString(`INSERT INTO audit_log (seq, at, actor, role, action, object, before_json, after_json, prev_hash, hash) VALUES `)
	args := make([]any, 0, 10*len(es))
	for i, e := range es {
		if e.Action == "" || e.Object == "" {
			return errors.New("audit entry without action or object")
		}
		if e.Actor.Name == "" {
			e.Actor = audit.ActorFrom(ctx)
		}
		e = audit.Seal(e, head.Seq, head.Hash, now)
		head.Seq, head.Hash = e.Seq, e.Hash
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, e.Seq, e.At.Format(audit.TimeLayout), e.Actor.Name, e.Actor.Role, e.Action, e.Object,
			string(e.Before), string(e.After), e.PrevHash, e.Hash)
	}
	if _, err := t.tx.ExecContext(ctx, t.tx.Rebind(q.String()), args...); err != nil {
		return fmt.Errorf("append audit entries: %w", translate(err))
	}
	if _, err := t.tx.ExecContext(ctx, t.tx.Rebind(`UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`), head.Seq, head.Hash); err != nil {
		return fmt.Errorf("move audit head: %w", translate(err))
	}
	return nil
}

// DeferKeys has the Idempotency-Keys taken from now on in t (ClaimInTx) reported taken at
// once and written together by WriteDeferred (see orders.SavepointTx).
func (t *txn) DeferKeys() {
	if t.keys == nil {
		t.keys = [][]any{}
	}
}

// WriteDeferred writes the keys taken since DeferKeys in one statement, and stops
// deferring; then inserts the dispatch jobs of the orders stored so far (writeJobs).
// orders.ErrDeferredTaken when one of the keys was taken already (by a request that
// committed first, or twice among them); t can then no longer commit.
func (t *txn) WriteDeferred(ctx context.Context) error {
	if err := t.writeKeys(ctx); err != nil {
		return err
	}
	return t.writeJobs(ctx)
}

// writeKeys writes the keys taken since DeferKeys (WriteDeferred).
func (t *txn) writeKeys(ctx context.Context) error {
	keys := t.keys
	t.keys = nil
	if len(keys) == 0 {
		return nil
	}
	var q strings.Builder
	q.WriteString(`INSERT INTO idempotency_keys (api_key_id, idem_key, fingerprint, token, locked_at, created_at,
			status_code, content_type, location, response_body) VALUES `)
	args := make([]any, 0, 10*len(keys))
	for i, k := range keys {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, k...)
	}
	q.WriteString(` ON CONFLICT (api_key_id, idem_key) DO NOTHING`)
	res, err := t.tx.ExecContext(ctx, t.tx.Rebind(q.String()), args...)
	if err != nil {
		return fmt.Errorf("claim idempotency keys: %w", translate(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("claim idempotency keys: %w", err)
	}
	if n != int64(len(keys)) {
		return orders.ErrDeferredTaken
	}
	return nil
}
