package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"aidmall/audit"
	"aidmall/orders"
	"aidmall/people"
)

// personRow is a row of people.
type personRow struct {
	ID           int64          `db:"id"`
	Login        string         `db:"login"`
	Name         string         `db:"name"`
	Role         string         `db:"role"`
	BranchCode   sql.NullString `db:"branch_code"`
	PasswordHash string         `db:"password_hash"`
	PasswordAt   time.Time      `db:"password_at"`
	Disabled     bool           `db:"disabled"`
	CreatedAt    time.Time      `db:"created_at"`
	CreatedBy    string         `db:"created_by"`
	UpdatedAt    time.Time      `db:"updated_at"`
	UpdatedBy    string         `db:"updated_by"`
}

const personCols = `id, login, name, role, branch_code, password_hash, password_at, disabled, created_at, created_by, updated_at, updated_by`

func (r personRow) person() people.Person {
	return people.Person{ID: r.ID, Login: r.Login, Name: r.Name, Role: orders.Role(r.Role), BranchCode: r.BranchCode.String,
		PasswordHash: r.PasswordHash, PasswordAt: r.PasswordAt, Disabled: r.Disabled,
		CreatedAt: r.CreatedAt, CreatedBy: r.CreatedBy, UpdatedAt: r.UpdatedAt, UpdatedBy: r.UpdatedBy}
}

func nullText(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// InsertPerson stores p with its audit entry e in one transaction; a taken login wraps
// orders.ErrConflict.
func (s *Store) InsertPerson(ctx context.Context, p people.Person, e audit.Entry) (people.Person, error) {
	err := s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := tx.GetContext(ctx, &p.ID, tx.Rebind(`INSERT INTO people
			(login, name, role, branch_code, password_hash, password_at, disabled, created_at, created_by, updated_at, updated_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			p.Login, p.Name, string(p.Role), nullText(p.BranchCode), p.PasswordHash, p.PasswordAt.UTC(), p.Disabled,
			p.CreatedAt.UTC(), p.CreatedBy, p.UpdatedAt.UTC(), p.UpdatedBy); err != nil {
			return fmt.Errorf("insert person: %w", translate(err))
		}
		return s.appendAudit(ctx, tx, e)
	})
	return p, err
}

// PersonByLogin returns the account with login; orders.ErrNotFound when none.
func (s *Store) PersonByLogin(ctx context.Context, login string) (people.Person, error) {
	var r personRow
	if err := s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT `+personCols+` FROM people WHERE login = ?`), login); err != nil {
		return people.Person{}, fmt.Errorf("person %q: %w", login, translate(err))
	}
	return r.person(), nil
}

// PersonByID returns the account with id; orders.ErrNotFound when none.
func (s *Store) PersonByID(ctx context.Context, id int64) (people.Person, error) {
	var r personRow
	if err := s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT `+personCols+` FROM people WHERE id = ?`), id); err != nil {
		return people.Person{}, fmt.Errorf("person %d: %w", id, translate(err))
	}
	return r.person(), nil
}

// People lists every account by login.
func (s *Store) People(ctx context.Context) ([]people.Person, error) {
	var rows []personRow
	if err := s.db.SelectContext(ctx, &rows, `SELECT `+personCols+` FROM people ORDER BY login`); err != nil {
		return nil, fmt.Errorf("people: %w", err)
	}
	out := make([]people.Person, len(rows))
	for i, r := range rows {
		out[i] = r.person()
	}
	return out, nil
}

// UpdatePerson locks the account with login (FOR UPDATE on PostgreSQL), lets change
// alter it and make the audit entry, and saves both in one transaction. Only the name,
// password, disabled flag and the update stamp are saved; login, role and branch never
// change. orders.ErrNotFound when there is no such account.
func (s *Store) UpdatePerson(ctx context.Context, login string, change func(p *people.Person) (audit.Entry, error)) (people.Person, error) {
	var p people.Person
	err := s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		var r personRow
		if err := tx.GetContext(ctx, &r, tx.Rebind(`SELECT `+personCols+` FROM people WHERE login = ?`+s.db.forUpdate()), login); err != nil {
			return fmt.Errorf("person %q: %w", login, translate(err))
		}
		p = r.person()
		e, err := change(&p)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE people SET name = ?, password_hash = ?, password_at = ?, disabled = ?,
			updated_at = ?, updated_by = ? WHERE id = ?`),
			p.Name, p.PasswordHash, p.PasswordAt.UTC(), p.Disabled, p.UpdatedAt.UTC(), p.UpdatedBy, p.ID); err != nil {
			return fmt.Errorf("update person: %w", translate(err))
		}
		return s.appendAudit(ctx, tx, e)
	})
	return p, err
}

// sessionRow is a row of web_sessions.
type sessionRow struct {
	ID        string        `db:"id"`
	PersonID  sql.NullInt64 `db:"person_id"`
	Data      []byte        `db:"data"`
	CreatedAt time.Time     `db:"created_at"`
	SeenAt    time.Time     `db:"seen_at"`
	ExpiresAt time.Time     `db:"expires_at"`
}

// Session returns the stored session id (expired or not: the caller judges);
// orders.ErrNotFound when none.
func (s *Store) Session(ctx context.Context, id string) (people.Session, error) {
	var r sessionRow
	if err := s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT id, person_id, data, created_at, seen_at, expires_at
		FROM web_sessions WHERE id = ?`), id); err != nil {
		return people.Session{}, fmt.Errorf("session: %w", translate(err))
	}
	return people.Session{ID: r.ID, PersonID: r.PersonID.Int64, Data: r.Data, CreatedAt: r.CreatedAt, SeenAt: r.SeenAt, ExpiresAt: r.ExpiresAt}, nil
}

// SaveSession inserts sess or replaces the stored session with its id.
func (s *Store) SaveSession(ctx context.Context, sess people.Session) error {
	person := sql.NullInt64{Int64: sess.PersonID, Valid: sess.PersonID != 0}
	if sess.Data == nil {
		sess.Data = []byte{}
	}
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO web_sessions (id, person_id, data, created_at, seen_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET person_id = excluded.person_id, data = excluded.data,
		seen_at = excluded.seen_at, expires_at = excluded.expires_at`),
		sess.ID, person, sess.Data, sess.CreatedAt.UTC(), sess.SeenAt.UTC(), sess.ExpiresAt.UTC())
	if err != nil {
		return fmt.Errorf("save session: %w", translate(err))
	}
	return nil
}

// TouchSession records that session id was used at seen and now expires at expires.
func (s *Store) TouchSession(ctx context.Context, id string, seen, expires time.Time) error {
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE web_sessions SET seen_at = ?, expires_at = ? WHERE id = ?`),
		seen.UTC(), expires.UTC(), id); err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// DeleteSession removes session id (sign-out); none is not an error.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM web_sessions WHERE id = ?`), id); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteSessionsOf removes every session of person id (a reset or disabled account).
func (s *Store) DeleteSessionsOf(ctx context.Context, personID int64) error {
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM web_sessions WHERE person_id = ?`), personID); err != nil {
		return fmt.Errorf("delete sessions of person %d: %w", personID, err)
	}
	return nil
}

// DeleteExpiredSessions removes the sessions expired at now and says how many.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM web_sessions WHERE expires_at <= ?`), now.UTC())
	if err != nil {
		return 0, fmt.Errorf("sweep sessions: %w", err)
	}
	return res.RowsAffected()
}
