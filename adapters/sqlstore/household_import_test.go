package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/households"
	"aidmall/orders"
)

// importBatches runs one streamed household import of these batches; keep is what done
// answers (false: a strict import that found a bad row).
func importBatches(st *sqlstore.Store, keep bool, batches ...[]households.SealedHousehold) (households.Counts, error) {
	i := 0
	return st.ImportHouseholds(context.Background(), func() ([]households.SealedHousehold, error) {
		if i == len(batches) {
			return nil, nil
		}
		i++
		return batches[i-1], nil
	}, func() (households.ImportInfo, bool) {
		return households.ImportInfo{Kind: households.KindHouseholds, File: "h.csv"}, keep
	})
}

// sealedHousehold is a stored household whose content is version v with m members; no
// phone when phone is false.
func sealedHousehold(no string, v, m int, phone bool) households.SealedHousehold {
	h := households.SealedHousehold{No: households.HouseholdNo(no), SealKey: "k1", NameSealed: []byte("n" + no), NameMasked: "张*",
		IDSealed: []byte("i" + no), IDHash: "h" + no, IDMasked: "610630********0000", PhoneHash: "p" + no, PhoneMasked: "138****0000",
		Members: m, County: "宜川县", Township: "t", Village: fmt.Sprintf("v%d", v), Attribute: "一般贫困户", ExitYear: 2019,
		Fingerprint: fmt.Sprintf("f%s-%d-%d-%v", no, v, m, phone)}
	if phone {
		h.PhoneSealed = []byte("p" + no)
	}
	return h
}

// storedHouseholds is every stored household as one line each: number, village, members,
// whether a phone is stored, fingerprint, seal key, exit year.
func storedHouseholds(t *testing.T, db *sqlstore.DB) string {
	t.Helper()
	var rows []struct {
		No          string `db:"household_no"`
		Village     string `db:"village"`
		Members     int    `db:"members"`
		Phone       bool   `db:"phone"`
		Fingerprint string `db:"fingerprint"`
		SealKey     string `db:"seal_key"`
		ExitYear    int    `db:"exit_year"`
	}
	if err := db.SelectContext(context.Background(), &rows, `SELECT household_no, village, members, phone_sealed IS NOT NULL AS phone,
		fingerprint, seal_key, exit_year FROM households ORDER BY household_no`); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%s %s %d %v %s %s %d\n", r.No, r.Village, r.Members, r.Phone, r.Fingerprint, r.SealKey, r.ExitYear)
	}
	return b.String()
}

// A streamed household import writes each batch's new households (COPY on PostgreSQL),
// updates the changed ones and leaves the unchanged ones, in any mix within one batch and
// across batches; a household without a phone is stored without one; member changes are
// carried into the figures before the commit. A batch holding one household twice, or a
// strict import that found a bad row, stores nothing of the whole import, earlier batches
// included. An import larger than what PostgreSQL writes at a time writes each household once.
func TestHouseholdImportWritesBatchesAllOrNothing(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		st := sqltest.Store(t, db)

		c, err := importBatches(st, true,
			[]households.SealedHousehold{sealedHousehold("A", 1, 3, true), sealedHousehold("B", 1, 3, true), sealedHousehold("C", 1, 2, false)},
			[]households.SealedHousehold{sealedHousehold("D", 1, 4, true)})
		if err != nil || c != (households.Counts{Inserted: 4}) {
			t.Fatalf("first import: %v %+v: want 4 inserted", err, c)
		}
		want := "A v1 3 true fA-1-3-true k1 2019\nB v1 3 true fB-1-3-true k1 2019\nC v1 2 false fC-1-2-false k1 2019\nD v1 4 true fD-1-4-true k1 2019\n"
		if got := storedHouseholds(t, db); got != want {
			t.Fatalf("stored:\n%swant:\n%s", got, want)
		}

		// One batch: A unchanged, B with 5 members instead of 3, C now with a phone, E new;
		// then D changed in the next batch.
		c, err = importBatches(st, true,
			[]households.SealedHousehold{sealedHousehold("A", 1, 3, true), sealedHousehold("B", 2, 5, true), sealedHousehold("C", 2, 2, true), sealedHousehold("E", 1, 1, false)},
			[]households.SealedHousehold{sealedHousehold("D", 2, 4, true)})
		if err != nil || c != (households.Counts{Inserted: 1, Updated: 3, Unchanged: 1}) {
			t.Fatalf("again: %v %+v: want 1 inserted, 3 updated, 1 unchanged", err, c)
		}
		want = "A v1 3 true fA-1-3-true k1 2019\nB v2 5 true fB-2-5-true k1 2019\nC v2 2 true fC-2-2-true k1 2019\nD v2 4 true fD-2-4-true k1 2019\nE v1 1 false fE-1-1-false k1 2019\n"
		if got := storedHouseholds(t, db); got != want {
			t.Fatalf("stored:\n%swant:\n%s", got, want)
		}
		var pending int
		if err := db.GetContext(context.Background(), &pending, `SELECT COUNT(*) FROM household_member_changes`); err != nil || pending != 0 {
			t.Fatalf("member changes left unfolded: %d (%v): want 0", pending, err)
		}

		before := storedHouseholds(t, db)
		// F new in the first batch, then a batch with G twice and B changed: nothing kept.
		_, err = importBatches(st, true,
			[]households.SealedHousehold{sealedHousehold("F", 1, 1, true)},
			[]households.SealedHousehold{sealedHousehold("B", 3, 6, true), sealedHousehold("G", 1, 1, true), sealedHousehold("G", 1, 1, true)})
		if !errors.Is(err, orders.ErrConflict) {
			t.Fatalf("one household twice in a batch: %v: want a conflict", err)
		}
		if got := storedHouseholds(t, db); got != before {
			t.Fatalf("after the refused import:\n%swant as before:\n%s", got, before)
		}

		// A strict import with a bad row: its writes are rolled back, the counts are zero.
		c, err = importBatches(st, false,
			[]households.SealedHousehold{sealedHousehold("H", 1, 1, true), sealedHousehold("A", 3, 6, false)})
		if err != nil || c != (households.Counts{}) {
			t.Fatalf("not kept: %v %+v: want no error and zero counts", err, c)
		}
		if got := storedHouseholds(t, db); got != before {
			t.Fatalf("after the import not kept:\n%swant as before:\n%s", got, before)
		}

		// More households than PostgreSQL writes at a time (pgChunk, 4,096), in batches of
		// 500, A changed in the last one: each written once, counted once.
		var batches [][]households.SealedHousehold
		for i := range 5000 {
			if i%500 == 0 {
				batches = append(batches, nil)
			}
			batches[len(batches)-1] = append(batches[len(batches)-1], sealedHousehold(fmt.Sprintf("M%05d", i), 1, 1+i%12, i%2 == 0))
		}
		batches[len(batches)-1] = append(batches[len(batches)-1], sealedHousehold("A", 4, 7, true))
		c, err = importBatches(st, true, batches...)
		if err != nil || c != (households.Counts{Inserted: 5000, Updated: 1}) {
			t.Fatalf("5,000 more: %v %+v: want 5000 inserted, 1 updated", err, c)
		}
		var n, members int
		if err := db.GetContext(context.Background(), &n, `SELECT COUNT(*) FROM households`); err != nil || n != 5005 {
			t.Fatalf("%d stored (%v): want 5005", n, err)
		}
		if err := db.GetContext(context.Background(), &members, `SELECT members FROM households WHERE household_no = 'A'`); err != nil || members != 7 {
			t.Fatalf("A has %d members (%v): want 7", members, err)
		}
	})
}
