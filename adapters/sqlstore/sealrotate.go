package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"aidmall/households"
)

// Seal key rotation (aidmall keys rotate). The meta table records the check (a keyed hash
// of a fixed text) of the key the database's personal data is under, 'seal_key_check';
// during a rotation also the new key's, 'seal_key_check_next', so that processes holding
// either key may import; each household row records the name of the key its sealed values
// and hashes are under (households.seal_key; '' for values sealed before they were bound to
// their row). A rotation re-seals and re-hashes the rows not yet under the new key in
// batches, each batch one transaction, so it can be killed at any point and run again;
// when none is left it makes the new key the database's and retires the old one, after
// which no row sealed under it is accepted.

// Resealer opens values sealed under the old or the new key and seals and hashes under
// the new one: seal.New(newKey, oldKey).
type Resealer interface {
	households.Sealer
	// Open opens a value sealed for place (seal.Place).
	Open(sealed []byte, place string) (string, error)
	// OpenLegacy opens a value sealed before values were bound to their place.
	OpenLegacy(sealed []byte) (string, error)
}

// ErrSealRotation is returned when a rotation cannot start or finish as asked.
var ErrSealRotation = errors.New("seal key rotation")

// SealKeyChecks returns the database's recorded seal key check and, during a rotation,
// the new key's ("" when none is recorded).
func (s *Store) SealKeyChecks(ctx context.Context) (current, next string, err error) {
	var rows []struct {
		Name  string `db:"name"`
		Value string `db:"value"`
	}
	if err := s.db.SelectContext(ctx, &rows, `SELECT name, value FROM meta WHERE name IN ('seal_key_check', 'seal_key_check_next')`); err != nil {
		return "", "", fmt.Errorf("seal key check: %w", err)
	}
	for _, r := range rows {
		if r.Name == "seal_key_check" {
			current = r.Value
		} else {
			next = r.Value
		}
	}
	return current, next, nil
}

// BeginSealRotation records that the database's personal data is moving from the key
// whose check is oldCheck to the one whose check is newCheck. It is idempotent for the
// same pair (a resumed rotation); it fails with ErrSealKeyMismatch when oldCheck is not
// the database's key, and with ErrSealRotation when a rotation to another key is under way.
func (s *Store) BeginSealRotation(ctx context.Context, oldCheck, newCheck string) error {
	return s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		var have string
		err := tx.GetContext(ctx, &have, `SELECT value FROM meta WHERE name = 'seal_key_check'`+s.db.forUpdate())
		switch {
		case isNoRows(err):
			// No personal data was ever sealed here: the new key is the database's now.
			_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO meta (name, value) VALUES ('seal_key_check', ?)`), newCheck)
			return err
		case err != nil:
			return fmt.Errorf("seal key check: %w", err)
		case have == newCheck:
			return nil // finished already
		case have != oldCheck:
			return ErrSealKeyMismatch
		}
		var next string
		err = tx.GetContext(ctx, &next, `SELECT value FROM meta WHERE name = 'seal_key_check_next'`)
		switch {
		case isNoRows(err):
			_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO meta (name, value) VALUES ('seal_key_check_next', ?)`), newCheck)
			return err
		case err != nil:
			return fmt.Errorf("seal key check: %w", err)
		case next != newCheck:
			return fmt.Errorf("%w: a rotation to another new key is under way; run it again with that key", ErrSealRotation)
		}
		return nil
	})
}

// HouseholdsToReseal counts the households whose sealed values are not under the key
// named newKey (seal.Sealer.KeyName).
func (s *Store) HouseholdsToReseal(ctx context.Context, newKey string) (int, error) {
	var n int
	if err := s.db.GetContext(ctx, &n, s.db.Rebind(`SELECT COUNT(*) FROM households WHERE seal_key <> ?`), newKey); err != nil {
		return 0, fmt.Errorf("households to reseal: %w", err)
	}
	return n, nil
}

// resealRow is what a rotation reads of a household: its sealed values and the plain
// fields its fingerprint is made of.
type resealRow struct {
	No          households.HouseholdNo `db:"household_no"`
	SealKey     string                 `db:"seal_key"`
	NameSealed  []byte                 `db:"name_sealed"`
	IDSealed    []byte                 `db:"id_sealed"`
	PhoneSealed []byte                 `db:"phone_sealed"`
	Members     int                    `db:"members"`
	County      string                 `db:"county"`
	Township    string                 `db:"township"`
	Village     string                 `db:"village"`
	Attribute   string                 `db:"attribute"`
	ExitYear    int                    `db:"exit_year"`
}

// ResealHouseholds re-seals and re-hashes, in one transaction, up to limit households not
// yet under r's key (in household number order): each sealed value is opened (bound to
// its row, or as a legacy value when the row records no key), sealed again bound to its
// row under the new key, and the ID number's and phone's hashes and the fingerprint made
// again with the new key (households.SealHousehold, the import's own rule). updated_at is
// left alone: the household did not change. It returns how many rows it re-sealed (0:
// none left). A value that does not open fails the batch, naming the household (never
// the value).
func (s *Store) ResealHouseholds(ctx context.Context, r Resealer, limit int) (int, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("%w: batch size %d", ErrSealRotation, limit)
	}
	n := 0
	err := s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		n = 0
		var rows []resealRow
		if err := tx.SelectContext(ctx, &rows, tx.Rebind(`SELECT household_no, seal_key, name_sealed, id_sealed, phone_sealed,
			members, county, township, village, attribute, exit_year FROM households WHERE seal_key <> ?
			ORDER BY household_no LIMIT ?`+s.db.forUpdate()), r.KeyName(), limit); err != nil {
			return fmt.Errorf("households to reseal: %w", err)
		}
		for _, row := range rows {
			h, err := openHousehold(r, row)
			if err != nil {
				return err
			}
			sh, err := households.SealHousehold(r, h)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE households SET name_sealed = ?, id_sealed = ?, id_hash = ?,
				phone_sealed = ?, phone_hash = ?, fingerprint = ?, seal_key = ? WHERE household_no = ? AND seal_key = ?`),
				sh.NameSealed, sh.IDSealed, sh.IDHash, sh.PhoneSealed, sh.PhoneHash, sh.Fingerprint, sh.SealKey, row.No, row.SealKey); err != nil {
				return fmt.Errorf("reseal household %s: %w", row.No, translate(err))
			}
			n++
		}
		return nil
	})
	return n, err
}

// openHousehold opens a row's sealed values into the household they were sealed from.
func openHousehold(r Resealer, row resealRow) (households.Household, error) {
	open := func(column string, sealed []byte) (string, error) {
		var plain string
		var err error
		if row.SealKey == "" {
			plain, err = r.OpenLegacy(sealed)
		} else {
			plain, err = r.Open(sealed, households.SealedAt(column, row.No))
		}
		if err != nil {
			key := row.SealKey
			if key == "" {
				key = "the key it had before values were bound to their row"
			}
			return "", fmt.Errorf("%w: household %s: %s does not open with the old or the new key (row under %s): %v",
				ErrSealRotation, row.No, column, key, err)
		}
		return plain, nil
	}
	h := households.Household{No: row.No, Members: row.Members, County: row.County, Township: row.Township,
		Village: row.Village, Attribute: row.Attribute, ExitYear: row.ExitYear}
	var err error
	if h.HeadName, err = open("name_sealed", row.NameSealed); err != nil {
		return h, err
	}
	if h.IDNumber, err = open("id_sealed", row.IDSealed); err != nil {
		return h, err
	}
	if row.PhoneSealed != nil {
		if h.Phone, err = open("phone_sealed", row.PhoneSealed); err != nil {
			return h, err
		}
	}
	return h, nil
}

// FinishSealRotation makes the key whose check is newCheck and name newKey the database's
// once every household is under it, and retires oldKey (its name): from then on an import
// of rows sealed under oldKey is refused (ErrSealKeyMismatch). It fails with
// ErrSealRotation, changing nothing, while rows remain (an import sealed some under the
// old key meanwhile: reseal again). On PostgreSQL it holds a SHARE lock on households for
// the count, so no import commits between the count and the switch.
func (s *Store) FinishSealRotation(ctx context.Context, oldKey, newKey, newCheck string) error {
	return s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		if s.db.Dialect == Postgres {
			if _, err := tx.ExecContext(ctx, `LOCK TABLE households IN SHARE MODE`); err != nil {
				return fmt.Errorf("lock households: %w", err)
			}
		}
		var left int
		if err := tx.GetContext(ctx, &left, tx.Rebind(`SELECT COUNT(*) FROM households WHERE seal_key <> ?`), newKey); err != nil {
			return fmt.Errorf("households to reseal: %w", err)
		}
		if left > 0 {
			return fmt.Errorf("%w: %d households are not under the new key yet", ErrSealRotation, left)
		}
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`DELETE FROM meta WHERE name IN ('seal_key_check', 'seal_key_check_next')`, nil},
			{`INSERT INTO meta (name, value) VALUES ('seal_key_check', ?)`, []any{newCheck}},
		} {
			if _, err := tx.ExecContext(ctx, tx.Rebind(q.sql), q.args...); err != nil {
				return fmt.Errorf("seal key check: %w", err)
			}
		}
		if oldKey != "" && oldKey != newKey {
			if err := retireKey(ctx, tx, oldKey); err != nil {
				return err
			}
		}
		return nil
	})
}

// retireKey records that no row may be stored under the key named name any more.
func retireKey(ctx context.Context, tx *sqlx.Tx, name string) error {
	var n int
	if err := tx.GetContext(ctx, &n, tx.Rebind(`SELECT COUNT(*) FROM meta WHERE name = ?`), "seal_key_retired:"+name); err != nil {
		return fmt.Errorf("retire seal key: %w", err)
	}
	if n == 0 {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO meta (name, value) VALUES (?, 'retired')`), "seal_key_retired:"+name); err != nil {
			return fmt.Errorf("retire seal key: %w", err)
		}
	}
	return nil
}

// refuseRetiredKeys fails with ErrSealKeyMismatch when any of hs is sealed under a
// retired key (a process still holding the old key after a rotation finished).
func refuseRetiredKeys(ctx context.Context, tx *sqlx.Tx, hs []households.SealedHousehold) error {
	seen := map[string]bool{}
	for _, h := range hs {
		if seen[h.SealKey] {
			continue
		}
		seen[h.SealKey] = true
		var v string
		err := tx.GetContext(ctx, &v, tx.Rebind(`SELECT value FROM meta WHERE name = ?`), "seal_key_retired:"+h.SealKey)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("seal key check: %w", err)
		default:
			return fmt.Errorf("%w (sealed under a key retired by `aidmall keys rotate`)", ErrSealKeyMismatch)
		}
	}
	return nil
}
