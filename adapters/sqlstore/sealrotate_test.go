package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"aidmall/adapters/registryfile"
	"aidmall/adapters/seal"
	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/households"
)

// sealedRow is one household's sealed columns as stored.
type sealedRow struct {
	No          households.HouseholdNo `db:"household_no"`
	SealKey     string                 `db:"seal_key"`
	NameSealed  []byte                 `db:"name_sealed"`
	IDSealed    []byte                 `db:"id_sealed"`
	PhoneSealed []byte                 `db:"phone_sealed"`
	IDHash      string                 `db:"id_hash"`
	PhoneHash   string                 `db:"phone_hash"`
	Fingerprint string                 `db:"fingerprint"`
	UpdatedAt   string                 `db:"updated_at"`
}

func sealedRows(t *testing.T, db *sqlstore.DB) []sealedRow {
	t.Helper()
	var rows []sealedRow
	if err := db.SelectContext(context.Background(), &rows, `SELECT household_no, seal_key, name_sealed, id_sealed, phone_sealed,
		id_hash, phone_hash, fingerprint, CAST(updated_at AS TEXT) AS updated_at FROM households ORDER BY household_no`); err != nil {
		t.Fatal(err)
	}
	if len(rows) < 50 {
		t.Fatalf("%d households: the bundle was not imported", len(rows))
	}
	return rows
}

// plainOf opens every household's sealed values (bound to their row) with s.
func plainOf(t *testing.T, s *seal.Sealer, rows []sealedRow) map[households.HouseholdNo][3]string {
	t.Helper()
	out := map[households.HouseholdNo][3]string{}
	for _, r := range rows {
		var p [3]string
		for i, c := range []struct {
			col string
			v   []byte
		}{{"name_sealed", r.NameSealed}, {"id_sealed", r.IDSealed}, {"phone_sealed", r.PhoneSealed}} {
			if c.v == nil {
				continue
			}
			v, err := s.Open(c.v, households.SealedAt(c.col, r.No))
			if err != nil {
				t.Fatalf("household %s %s does not open: %v", r.No, c.col, err)
			}
			p[i] = v
		}
		out[r.No] = p
	}
	return out
}

// legacySeal seals plain as aidmall did before values were bound to their row: the same
// key derivation, associated data the key id byte alone.
func legacySeal(t *testing.T, master []byte, plain string) []byte {
	t.Helper()
	ek, err := hkdf.Key(sha256.New, master, nil, "aidmall/seal/aes-256-gcm/v1", 32)
	if err != nil {
		t.Fatal(err)
	}
	id, err := hkdf.Key(sha256.New, master, nil, "aidmall/seal/key-id/v1", 1)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(ek)
	aead, _ := cipher.NewGCM(block)
	out := make([]byte, 13, 13+len(plain)+16)
	out[0] = id[0]
	if _, err := rand.Read(out[1:]); err != nil {
		t.Fatal(err)
	}
	return aead.Seal(out, out[1:], []byte(plain), out[:1])
}

var (
	oldKey = bytes.Repeat([]byte{0x5a}, seal.KeySize) // sqltest's seal key
	newKey = bytes.Repeat([]byte{0xa5}, seal.KeySize)
)

// keyCheck is the check cmd records for a key (a keyed hash of a fixed text).
func keyCheck(s *seal.Sealer) string { return s.Hash("aidmall seal key check v1") }

// A sealed value moved to another row or another column does not open, and the rotation
// refuses it, naming the household, changing nothing.
func TestSealedValuesAreBoundToTheirRow(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ctx := context.Background()
		st := sqltest.Store(t, db)
		sqltest.ImportBundle(t, st, sqltest.ExampleBundle())
		old := sqltest.Sealer(t)
		rows := sealedRows(t, db)
		a, b := rows[0], rows[1]
		if a.SealKey != old.KeyName() {
			t.Fatalf("imported row under key %q, want %q", a.SealKey, old.KeyName())
		}
		if _, err := old.Open(a.IDSealed, households.SealedAt("id_sealed", b.No)); !errors.Is(err, seal.ErrOpen) {
			t.Errorf("A's ID number opened as B's: %v", err)
		}
		if _, err := old.Open(a.IDSealed, households.SealedAt("name_sealed", a.No)); !errors.Is(err, seal.ErrOpen) {
			t.Errorf("A's ID number opened as A's name: %v", err)
		}
		// Someone with write access to the table copies A's ID number into B's row.
		if _, err := db.ExecContext(ctx, db.Rebind(`UPDATE households SET id_sealed = ? WHERE household_no = ?`), a.IDSealed, b.No); err != nil {
			t.Fatal(err)
		}
		before := sealedRows(t, db)
		r, err := seal.New(newKey, oldKey)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.BeginSealRotation(ctx, keyCheck(old), keyCheck(r)); err != nil {
			t.Fatal(err)
		}
		_, err = st.ResealHouseholds(ctx, r, 1000)
		if !errors.Is(err, sqlstore.ErrSealRotation) || !strings.Contains(err.Error(), string(b.No)) || !strings.Contains(err.Error(), "id_sealed") {
			t.Fatalf("rotation over a moved value: %v; want ErrSealRotation naming %s id_sealed", err, b.No)
		}
		if strings.Contains(err.Error(), "6106") {
			t.Errorf("the error shows an ID number: %v", err)
		}
		if after := sealedRows(t, db); !equalRows(before, after) {
			t.Error("the failed batch changed stored rows")
		}
	})
}

func equalRows(a, b []sealedRow) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.No != y.No || x.SealKey != y.SealKey || !bytes.Equal(x.NameSealed, y.NameSealed) || !bytes.Equal(x.IDSealed, y.IDSealed) ||
			!bytes.Equal(x.PhoneSealed, y.PhoneSealed) || x.IDHash != y.IDHash || x.PhoneHash != y.PhoneHash || x.Fingerprint != y.Fingerprint {
			return false
		}
	}
	return true
}

// The rotation re-seals and re-hashes every household under the new key, legacy rows
// (sealed before values were bound to their row) too, in batches that survive a kill: run
// again, it goes on from where it stopped. Afterwards every value opens with the new key
// bound to its row, to the same plain text; hashes and fingerprints are the new key's, so
// re-importing the same file under the new key changes nothing; the old key is retired.
func TestRotateSealKeyResumes(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ctx := context.Background()
		st := sqltest.Store(t, db)
		sqltest.ImportBundle(t, st, sqltest.ExampleBundle())
		old := sqltest.Sealer(t)
		if err := st.CheckSealKey(ctx, keyCheck(old)); err != nil {
			t.Fatal(err)
		}
		want := plainOf(t, old, sealedRows(t, db))

		// Every third household as a database made before this change holds it.
		legacy := 0
		for i, r := range sealedRows(t, db) {
			if i%3 != 0 {
				continue
			}
			p := want[r.No]
			var phone []byte
			if r.PhoneSealed != nil {
				phone = legacySeal(t, oldKey, p[2])
			}
			if _, err := db.ExecContext(ctx, db.Rebind(`UPDATE households SET name_sealed = ?, id_sealed = ?, phone_sealed = ?, seal_key = ''
				WHERE household_no = ?`), legacySeal(t, oldKey, p[0]), legacySeal(t, oldKey, p[1]), phone, r.No); err != nil {
				t.Fatal(err)
			}
			legacy++
		}
		before := sealedRows(t, db)

		r, err := seal.New(newKey, oldKey)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.BeginSealRotation(ctx, keyCheck(old), keyCheck(r)); err != nil {
			t.Fatal(err)
		}
		// During the rotation processes holding either key may import.
		for _, s := range []*seal.Sealer{old, r} {
			if err := st.CheckSealKey(ctx, keyCheck(s)); err != nil {
				t.Errorf("CheckSealKey during the rotation: %v", err)
			}
		}
		total, err := st.HouseholdsToReseal(ctx, r.KeyName())
		if err != nil || total != len(before) {
			t.Fatalf("to reseal: %d, %v; want %d", total, err, len(before))
		}
		// Two batches, then killed.
		for range 2 {
			if n, err := st.ResealHouseholds(ctx, r, 7); n != 7 || err != nil {
				t.Fatalf("batch: %d, %v", n, err)
			}
		}
		if err := st.FinishSealRotation(ctx, old.KeyName(), r.KeyName(), keyCheck(r)); !errors.Is(err, sqlstore.ErrSealRotation) {
			t.Fatalf("finishing with rows left: %v, want ErrSealRotation", err)
		}
		if left, _ := st.HouseholdsToReseal(ctx, r.KeyName()); left != total-14 {
			t.Fatalf("after two batches of 7: %d left, want %d", left, total-14)
		}
		// Run again: begin is idempotent, the rest is done.
		if err := st.BeginSealRotation(ctx, keyCheck(old), keyCheck(r)); err != nil {
			t.Fatalf("begin again: %v", err)
		}
		for {
			n, err := st.ResealHouseholds(ctx, r, 50)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		if err := st.FinishSealRotation(ctx, old.KeyName(), r.KeyName(), keyCheck(r)); err != nil {
			t.Fatal(err)
		}

		after := sealedRows(t, db)
		fresh, err := seal.New(newKey) // the new key alone: the old one may be thrown away
		if err != nil {
			t.Fatal(err)
		}
		got := plainOf(t, fresh, after)
		for no, p := range want {
			if got[no] != p {
				t.Errorf("household %s opens to other values after the rotation", no)
			}
		}
		for i, a := range after {
			if a.SealKey != fresh.KeyName() {
				t.Errorf("household %s under key %q after the rotation", a.No, a.SealKey)
			}
			if a.IDHash != fresh.Hash(want[a.No][1]) || (a.PhoneHash != "" && a.PhoneHash != fresh.Hash(want[a.No][2])) {
				t.Errorf("household %s: hashes not re-made with the new key", a.No)
			}
			if a.UpdatedAt != before[i].UpdatedAt {
				t.Errorf("household %s: updated_at moved by a re-seal", a.No)
			}
		}
		if legacy == 0 {
			t.Fatal("no legacy row was made")
		}
		cur, next, err := st.SealKeyChecks(ctx)
		if err != nil || cur != keyCheck(fresh) || next != "" {
			t.Errorf("key checks after the rotation: %q %q %v", cur, next, err)
		}
		// Re-importing the households under the new key: every one unchanged (the fingerprints
		// are the new key's).
		rep, err := importHouseholds(st, fresh)
		if err != nil || rep.Counts.Inserted != 0 || rep.Counts.Updated != 0 || rep.Counts.Unchanged != len(after) {
			t.Errorf("re-import under the new key: %+v, %v; want all %d unchanged", rep.Counts, err, len(after))
		}
		// A process still holding the old key can no longer store a household.
		if err := st.CheckSealKey(ctx, keyCheck(old)); !errors.Is(err, sqlstore.ErrSealKeyMismatch) {
			t.Errorf("CheckSealKey with the old key after the rotation: %v", err)
		}
		if _, err := importHouseholds(st, old); !errors.Is(err, sqlstore.ErrSealKeyMismatch) {
			t.Errorf("import under the retired key: %v, want ErrSealKeyMismatch", err)
		}
		if !equalRows(after, sealedRows(t, db)) {
			t.Error("an import under the retired key changed stored rows")
		}
	})
}

// importHouseholds imports the bundle's households file sealed by s.
func importHouseholds(st *sqlstore.Store, s *seal.Sealer) (households.Report, error) {
	f, err := os.Open(filepath.Join(sqltest.ExampleBundle(), "households.csv"))
	if err != nil {
		return households.Report{}, err
	}
	defer f.Close()
	reg, err := households.NewRegistry(st, s, households.WithFileDecoder(registryfile.Decoder{}))
	if err != nil {
		return households.Report{}, err
	}
	return reg.Import(context.Background(), households.KindHouseholds, "households.csv", f, false)
}
