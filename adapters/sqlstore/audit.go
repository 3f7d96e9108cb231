package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"aidmall/audit"
	"aidmall/households"
)

// appendAudit appends e to the audit log in tx, the transaction of the change it records:
// it locks the chain's head (FOR UPDATE on PostgreSQL; SQLite's immediate transaction
// holds the one write lock), seals e after it and moves the head. Concurrent appends
// therefore take turns and the chain never forks; a rolled-back change leaves no entry.
func (s *Store) appendAudit(ctx context.Context, tx *sqlx.Tx, e audit.Entry) error {
	if e.Action == "" || e.Object == "" {
		return errors.New("audit entry without action or object")
	}
	if e.Actor.Name == "" {
		e.Actor = audit.ActorFrom(ctx)
	}
	if s.db.Dialect == Postgres {
		return s.appendAuditPG(ctx, tx, e)
	}
	var head struct {
		Seq  int64  `db:"seq"`
		Hash string `db:"hash"`
	}
	if err := tx.GetContext(ctx, &head, `SELECT seq, hash FROM audit_head WHERE id = 1`); err != nil {
		return fmt.Errorf("audit head: %w", err)
	}
	e = audit.Seal(e, head.Seq, head.Hash, s.utcNow())
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO audit_log
		(seq, at, actor, role, action, object, before_json, after_json, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), e.Seq, e.At.Format(audit.TimeLayout), e.Actor.Name, e.Actor.Role, e.Action, e.Object,
		string(e.Before), string(e.After), e.PrevHash, e.Hash); err != nil {
		return fmt.Errorf("append audit entry: %w", translate(err))
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`), e.Seq, e.Hash); err != nil {
		return fmt.Errorf("move audit head: %w", err)
	}
	return nil
}

// appendAuditPG is appendAudit on PostgreSQL in one statement: it locks the head, seals e
// after it (the hash taken by the database, sha256 over audit.Canonical's bytes: the
// version line and the seq field, audit.CanonicalMiddle made here, and the prev field),
// inserts the entry and moves the head. Every order of every branch takes the head in
// turn, so it is held for that one statement and the commit, not a round trip more.
// TestAuditConcurrentAppendsKeepOneChain and the other audit tests verify the chain
// with audit.HashOf.
func (s *Store) appendAuditPG(ctx context.Context, tx *sqlx.Tx, e audit.Entry) error {
	e.At = s.utcNow().UTC().Truncate(time.Microsecond)
	if _, err := tx.ExecContext(ctx, `WITH head AS (
			SELECT seq + 1 AS seq, hash AS prev FROM audit_head WHERE id = 1 FOR UPDATE),
		sealed AS (
			SELECT head.seq, head.prev, encode(sha256(
				convert_to($1 || 'seq=' || octet_length(head.seq::text) || ':' || head.seq::text || chr(10), 'UTF8')
				|| $2::bytea
				|| convert_to('prev=' || octet_length(head.prev) || ':' || head.prev || chr(10), 'UTF8')), 'hex') AS hash
			FROM head),
		entry AS (
			INSERT INTO audit_log (seq, at, actor, role, action, object, before_json, after_json, prev_hash, hash)
			SELECT seq, $3, $4, $5, $6, $7, $8, $9, prev, hash FROM sealed
			RETURNING seq, hash)
		UPDATE audit_head SET seq = entry.seq, hash = entry.hash FROM entry WHERE audit_head.id = 1`,
		audit.CanonicalVersion, audit.CanonicalMiddle(e),
		e.At.Format(audit.TimeLayout), e.Actor.Name, e.Actor.Role, e.Action, e.Object, string(e.Before), string(e.After)); err != nil {
		return fmt.Errorf("append audit entry: %w", translate(err))
	}
	return nil
}

// Audit appends e to the audit log in a transaction of its own, for a change that has
// none (or that committed already). Prefer the change's own transaction (orders.Tx.Audit).
func (s *Store) Audit(ctx context.Context, e audit.Entry) error {
	return s.db.inTx(ctx, func(tx *sqlx.Tx) error { return s.appendAudit(ctx, tx, e) })
}

// Audit appends e to the audit log in the order use case's transaction.
func (t *txn) Audit(ctx context.Context, e audit.Entry) error { return t.s.appendAudit(ctx, t.tx, e) }

type auditRow struct {
	Seq      int64  `db:"seq"`
	At       string `db:"at"`
	Actor    string `db:"actor"`
	Role     string `db:"role"`
	Action   string `db:"action"`
	Object   string `db:"object"`
	Before   string `db:"before_json"`
	After    string `db:"after_json"`
	PrevHash string `db:"prev_hash"`
	Hash     string `db:"hash"`
}

const auditCols = `seq, at, actor, role, action, object, before_json, after_json, prev_hash, hash`

// entry returns the row as stored. A time that does not parse is kept as the zero time:
// its hash then fails, which is what verification reports.
func (r auditRow) entry() audit.Entry {
	at, _ := time.Parse(audit.TimeLayout, r.At)
	e := audit.Entry{Seq: r.Seq, At: at, Actor: audit.Actor{Name: r.Actor, Role: r.Role}, Action: r.Action, Object: r.Object,
		PrevHash: r.PrevHash, Hash: r.Hash}
	if r.Before != "" {
		e.Before = []byte(r.Before)
	}
	if r.After != "" {
		e.After = []byte(r.After)
	}
	// A time written otherwise than audit.TimeLayout (an edit) must not verify.
	if at.Format(audit.TimeLayout) != r.At {
		e.At = time.Time{}
	}
	return e
}

// AuditEntries returns one page of the audit log, oldest first, selected by f, and the
// cursor of the next page (0 on the last).
func (s *Store) AuditEntries(ctx context.Context, f audit.Filter) ([]audit.Entry, int64, error) {
	var where []string
	var args []any
	if f.After > 0 {
		where, args = append(where, "seq > ?"), append(args, f.After)
	}
	if !f.From.IsZero() {
		where, args = append(where, "at >= ?"), append(args, f.From.UTC().Format(audit.TimeLayout))
	}
	if !f.To.IsZero() {
		where, args = append(where, "at < ?"), append(args, f.To.UTC().Format(audit.TimeLayout))
	}
	switch {
	case strings.HasSuffix(f.Action, "."):
		where, args = append(where, "action LIKE ?"), append(args, strings.NewReplacer(`%`, `\%`, `_`, `\_`).Replace(f.Action)+"%")
		where[len(where)-1] += ` ESCAPE '\'`
	case f.Action != "":
		where, args = append(where, "action = ?"), append(args, f.Action)
	}
	if f.Object != "" {
		where, args = append(where, "object = ?"), append(args, f.Object)
	}
	q := `SELECT ` + auditCols + ` FROM audit_log`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	limit := audit.Limit(f.Limit)
	q += ` ORDER BY seq LIMIT ?`
	args = append(args, limit+1)
	var rows []auditRow
	if err := s.db.SelectContext(ctx, &rows, s.db.Rebind(q), args...); err != nil {
		return nil, 0, fmt.Errorf("audit entries: %w", err)
	}
	var next int64
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[limit-1].Seq
	}
	es := make([]audit.Entry, len(rows))
	for i, r := range rows {
		es[i] = r.entry()
	}
	return es, next, nil
}

// VerifyAudit reads the whole audit log in order, page by page, and checks its chain and
// its head. It returns how many entries it checked and, when the chain is broken, an
// *audit.Break naming the first bad entry.
func (s *Store) VerifyAudit(ctx context.Context) (int64, error) {
	var v audit.Verifier
	const page = 1000
	var after int64 = -1
	for {
		var rows []auditRow
		if err := s.db.SelectContext(ctx, &rows, s.db.Rebind(`SELECT `+auditCols+` FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?`), after, page); err != nil {
			return v.Checked(), fmt.Errorf("read audit log: %w", err)
		}
		for _, r := range rows {
			if err := v.Next(r.entry()); err != nil {
				return v.Checked(), err
			}
		}
		if len(rows) < page {
			break
		}
		after = rows[len(rows)-1].Seq
	}
	var head struct {
		Seq  int64  `db:"seq"`
		Hash string `db:"hash"`
	}
	if err := s.db.GetContext(ctx, &head, `SELECT seq, hash FROM audit_head WHERE id = 1`); err != nil {
		if isNoRows(err) {
			return v.Checked(), &audit.Break{Seq: 1, Reason: "the audit head is missing"}
		}
		return v.Checked(), fmt.Errorf("audit head: %w", err)
	}
	return v.Checked(), v.End(head.Seq, head.Hash)
}

// importTx runs fn, the storing of a registry file's records, in one transaction and,
// when ctx carries the import (households.ImportFrom), appends its audit entry with the
// counts *c in that same transaction.
func (s *Store) importTx(ctx context.Context, c *households.Counts, fn func(tx *sqlx.Tx) error) error {
	return s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if err := foldMemberChanges(ctx, tx); err != nil {
			return err
		}
		info, ok := households.ImportFrom(ctx)
		if !ok {
			return nil
		}
		e, err := info.Entry(audit.ActorFrom(ctx), *c)
		if err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, e)
	})
}
