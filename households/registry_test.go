package households_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"aidmall/adapters/registryfile"
	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/households"
)

// The registry imports run on the production store (sqlstore on a real SQLite database,
// PostgreSQL too where sqltest.Each is used) with the production sealer; what was stored is
// read back from the database.

// newTestRegistry is the registry over store with the test sealer and clock.
func newTestRegistry(t *testing.T, store households.RegistryStore) *households.Registry {
	t.Helper()
	r, err := households.NewRegistry(store, sqltest.Sealer(t), households.WithClock(func() time.Time { return households.TestNow }),
		households.WithFileDecoder(registryfile.Decoder{}))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// failingUpsert is the production store with one Upsert failing (a fault injected):
// UpsertBranches when branches is set, UpsertLinkages when linkages is set.
type failingUpsert struct {
	*sqlstore.Store
	branches, linkages error
}

func (f failingUpsert) UpsertBranches(ctx context.Context, bs []households.Branch) (households.Counts, error) {
	if f.branches != nil {
		return households.Counts{}, f.branches
	}
	return f.Store.UpsertBranches(ctx, bs)
}

func (f failingUpsert) UpsertLinkages(ctx context.Context, ls []households.Linkage, prune bool) (households.Counts, error) {
	if f.linkages != nil {
		return households.Counts{}, f.linkages
	}
	return f.Store.UpsertLinkages(ctx, ls, prune)
}

// ImportLinkageStream fails as UpsertLinkages does, but only after the store has written
// the file's first batch: the failure comes in the middle of the transaction.
func (f failingUpsert) ImportLinkageStream(ctx context.Context, next func(households.References) ([]households.Linkage, error),
	done func() (households.ImportInfo, bool, func(households.Linkage) bool)) (households.Counts, error) {
	if f.linkages == nil {
		return f.Store.ImportLinkageStream(ctx, next, done)
	}
	batches := 0
	return f.Store.ImportLinkageStream(ctx, func(refs households.References) ([]households.Linkage, error) {
		if batches++; batches > 1 {
			return nil, f.linkages
		}
		return next(refs)
	}, done)
}

// count returns the number of rows of table.
func count(t *testing.T, db *sqlstore.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// registryTables are the tables an import writes, with their ordering key.
var registryTables = []struct{ name, key string }{
	{"branches", "code"}, {"suppliers", "code"}, {"products", "sku"}, {"households", "household_no"},
	{"linkages", "supplier_code, household_no, type, valid_from"},
}

// dump returns every row of the registry tables, every column, as text: two dumps are
// equal exactly when nothing stored changed.
func dump(t *testing.T, db *sqlstore.DB) string {
	t.Helper()
	var b strings.Builder
	for _, tb := range registryTables {
		rows, err := db.Query(`SELECT * FROM ` + tb.name + ` ORDER BY ` + tb.key)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		fmt.Fprintf(&b, "%s %v\n", tb.name, cols)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%v\n", vals)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return b.String()
}

// storedHousehold is a household's stored personal data.
type storedHousehold struct {
	NameSealed, IDSealed, PhoneSealed []byte
	IDHash, PhoneHash                 string
	NameMasked, IDMasked, PhoneMasked string
	Members, ExitYear                 int
	Village                           string
}

func household(t *testing.T, db *sqlstore.DB, no string) storedHousehold {
	t.Helper()
	var h storedHousehold
	err := db.QueryRow(db.Rebind(`SELECT name_sealed, id_sealed, phone_sealed, id_hash, phone_hash, name_masked, id_masked,
		phone_masked, members, exit_year, village FROM households WHERE household_no = ?`), no).Scan(
		&h.NameSealed, &h.IDSealed, &h.PhoneSealed, &h.IDHash, &h.PhoneHash, &h.NameMasked, &h.IDMasked,
		&h.PhoneMasked, &h.Members, &h.ExitYear, &h.Village)
	if err != nil {
		t.Fatalf("household %s: %v", no, err)
	}
	return h
}

func TestNewRegistryRejectsNil(t *testing.T) {
	t.Parallel()
	st := sqltest.Store(t, sqltest.SQLite(t))
	if _, err := households.NewRegistry(nil, sqltest.Sealer(t)); err == nil {
		t.Error("nil store accepted")
	}
	if _, err := households.NewRegistry(st, nil); err == nil {
		t.Error("nil sealer accepted")
	}
	if _, err := households.NewRegistry(st, sqltest.Sealer(t), households.WithClock(nil)); err == nil {
		t.Error("nil clock accepted")
	}
}

// bundleFS is the real bundle (the module's copy).
func bundleFS() fstest.MapFS {
	m := fstest.MapFS{}
	for _, n := range []string{"branches.csv", "suppliers.csv", "products.csv", "households.xlsx", "households.csv", "linkages.csv"} {
		b, err := os.ReadFile(households.BundleDir + "/" + n)
		if err != nil {
			panic(err)
		}
		m[n] = &fstest.MapFile{Data: b}
	}
	return m
}

func TestImportBundle(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		reg := newTestRegistry(t, sqltest.Store(t, db))
		reps, err := reg.ImportBundle(context.Background(), bundleFS(), false)
		if err != nil {
			t.Fatal(err)
		}
		type summary struct {
			Kind              households.Kind
			File              string
			Rows, Loaded, Ins int
			Errs              int
		}
		var got []summary
		for _, r := range reps {
			got = append(got, summary{r.Kind, r.File, r.Rows, r.Loaded, r.Counts.Inserted, len(r.Errors)})
		}
		// Dependency order; the XLSX registry is preferred; the three bad household rows
		// are reported and every linkage names a good household, so all 412 load.
		want := []summary{
			{households.KindBranches, "branches.csv", 19, 19, 19, 0},
			{households.KindSuppliers, "suppliers.csv", 10, 10, 10, 0},
			{households.KindProducts, "products.csv", 15, 15, 15, 0},
			{households.KindHouseholds, "households.xlsx", 630, 627, 627, 3},
			{households.KindLinkages, "linkages.csv", 412, 412, 412, 0},
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("reports:\n got %+v\nwant %+v", got, want)
		}
		if !reflect.DeepEqual(reps[3].Errors, households.BundleHouseholdErrors) {
			t.Errorf("household errors %#v", reps[3].Errors)
		}
		for _, c := range []struct {
			table string
			n     int
		}{{"branches", 19}, {"suppliers", 10}, {"products", 15}, {"households", 627}, {"linkages", 412}} {
			if n := count(t, db, c.table); n != c.n {
				t.Errorf("%s: %d rows stored, want %d", c.table, n, c.n)
			}
		}

		t.Run("personal_data_is_sealed_hashed_and_masked", func(t *testing.T) {
			h := household(t, db, "06300101001")
			s := sqltest.Sealer(t)
			if h.IDMasked != "610630********4514" || h.NameMasked != "曹**" || h.PhoneMasked != "189****0067" {
				t.Errorf("masks %q %q %q", h.IDMasked, h.NameMasked, h.PhoneMasked)
			}
			if h.IDHash != s.Hash("610630197302274514") || h.PhoneHash != s.Hash("18966800067") {
				t.Error("hashes are not the keyed hash of the normalised values")
			}
			for _, b := range [][]byte{h.IDSealed, h.NameSealed, h.PhoneSealed} {
				if bytes.Contains(b, []byte("610630197302274514")) || bytes.Contains(b, []byte("曹明根")) || bytes.Contains(b, []byte("18966800067")) {
					t.Errorf("sealed value %q holds plain text", b)
				}
			}
			if name, err := s.Open(h.NameSealed, households.SealedAt("name_sealed", "06300101001")); err != nil || name != "曹明根" {
				t.Errorf("sealed name opens to %q, %v", name, err)
			}
			if h.Members != 4 || h.ExitYear != 2018 || h.Village != "南沟村" {
				t.Errorf("plain fields %+v", h)
			}
		})

		t.Run("reimport_changes_nothing", func(t *testing.T) {
			before := dump(t, db)
			again, err := reg.ImportBundle(context.Background(), bundleFS(), false)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range again {
				if r.Counts.Inserted != 0 || r.Counts.Updated != 0 || r.Counts.Unchanged != want[i].Loaded {
					t.Errorf("%s re-imported: %+v, want all %d unchanged", r.File, r.Counts, want[i].Loaded)
				}
			}
			if dump(t, db) != before {
				t.Error("re-importing the same bundle changed stored rows")
			}
		})

		t.Run("csv_registry_is_the_same_as_xlsx", func(t *testing.T) {
			rep, err := reg.Import(context.Background(), households.KindHouseholds, "households.csv", households.OpenBundle(t, "households.csv"), false)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Counts != (households.Counts{Unchanged: 627}) {
				t.Errorf("CSV after XLSX: %+v, want 627 unchanged", rep.Counts)
			}
		})
	})
}

func TestImportChangedHouseholdIsUpdated(t *testing.T) {
	t.Parallel()
	db := sqltest.SQLite(t)
	reg := newTestRegistry(t, sqltest.Store(t, db))
	ctx := context.Background()
	if _, err := reg.Import(ctx, households.KindHouseholds, "a.csv", strings.NewReader(households.HHHeader+households.GoodRow), false); err != nil {
		t.Fatal(err)
	}
	moved := strings.Replace(households.GoodRow, ",4,", ",5,", 1) // a child was born
	rep, err := reg.Import(ctx, households.KindHouseholds, "b.csv", strings.NewReader(households.HHHeader+moved), false)
	if err != nil {
		t.Fatal(err)
	}
	if got := household(t, db, "06300101001").Members; rep.Counts != (households.Counts{Updated: 1}) || got != 5 {
		t.Errorf("counts %+v, members %d; want 1 updated to 5", rep.Counts, got)
	}
}

func TestImportStrictStoresNothing(t *testing.T) {
	t.Parallel()
	t.Run("file_with_errors_is_refused", func(t *testing.T) {
		t.Parallel()
		db := sqltest.SQLite(t)
		reg := newTestRegistry(t, sqltest.Store(t, db))
		before := dump(t, db)
		rep, err := reg.Import(context.Background(), households.KindHouseholds, "households.csv", households.OpenBundle(t, "households.csv"), true)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Refused || rep.Loaded != 0 || len(rep.Errors) != 3 || dump(t, db) != before {
			t.Errorf("refused=%v loaded=%d errors=%d stored=%d; want refused, nothing stored",
				rep.Refused, rep.Loaded, len(rep.Errors), count(t, db, "households"))
		}
	})
	t.Run("bundle_stops_after_the_refused_file", func(t *testing.T) {
		t.Parallel()
		db := sqltest.SQLite(t)
		reg := newTestRegistry(t, sqltest.Store(t, db))
		reps, err := reg.ImportBundle(context.Background(), bundleFS(), true)
		if err != nil {
			t.Fatal(err)
		}
		last := reps[len(reps)-1]
		if len(reps) != 4 || last.Kind != households.KindHouseholds || !last.Refused {
			t.Fatalf("%d reports, last %s refused=%v; want 4 ending with the refused households", len(reps), last.Kind, last.Refused)
		}
		if h, l, p := count(t, db, "households"), count(t, db, "linkages"), count(t, db, "products"); h != 0 || l != 0 || p != 15 {
			t.Errorf("stored %d households, %d linkages, %d products", h, l, p)
		}
	})
	t.Run("clean_file_is_stored_in_strict_mode", func(t *testing.T) {
		t.Parallel()
		db := sqltest.SQLite(t)
		reg := newTestRegistry(t, sqltest.Store(t, db))
		rep, err := reg.Import(context.Background(), households.KindBranches, "branches.csv", households.OpenBundle(t, "branches.csv"), true)
		if err != nil || rep.Refused || rep.Counts.Inserted != 19 || count(t, db, "branches") != 19 {
			t.Errorf("%+v, %v", rep, err)
		}
	})
}

func TestImportChecksReferences(t *testing.T) {
	t.Parallel()
	db := sqltest.SQLite(t)
	reg := newTestRegistry(t, sqltest.Store(t, db))
	ctx := context.Background()
	if _, err := reg.Import(ctx, households.KindSuppliers, "s.csv", strings.NewReader("code,name,uscc,county_code,kind\nYC05,塬上果业,91610630MA087B336H,610630,enterprise\n"), false); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Import(ctx, households.KindHouseholds, "h.csv", strings.NewReader(households.HHHeader+households.GoodRow), false); err != nil {
		t.Fatal(err)
	}
	t.Run("linkage_to_missing_household_or_supplier_is_a_row_error", func(t *testing.T) {
		in := "supplier_code,household_no,type,weight,valid_from,valid_to\n" +
			"YC05,06300101001,employment,1,2019-01-01,\n" +
			"YC05,06300203011,employment,1,2019-01-01,\n" + // the bundle's bad-ID household, never registered
			"YC99,06300101001,employment,1,2019-01-01,\n" +
			"YC98,06300203012,employment,1,2019-01-01,\n" // both unknown: two errors
		rep, err := reg.Import(ctx, households.KindLinkages, "l.csv", strings.NewReader(in), false)
		if err != nil {
			t.Fatal(err)
		}
		want := []households.RowError{
			{Row: 3, Column: "household_no", Value: "06300203011", Reason: households.ErrUnknownHousehold},
			{Row: 4, Column: "supplier_code", Value: "YC99", Reason: households.ErrUnknownSupplier},
			{Row: 5, Column: "supplier_code", Value: "YC98", Reason: households.ErrUnknownSupplier},
			{Row: 5, Column: "household_no", Value: "06300203012", Reason: households.ErrUnknownHousehold},
		}
		if n := count(t, db, "linkages"); !reflect.DeepEqual(rep.Errors, want) || rep.Loaded != 1 || n != 1 {
			t.Errorf("errors %#v, loaded %d, stored %d", rep.Errors, rep.Loaded, n)
		}
	})
	t.Run("product_of_unknown_supplier_is_a_row_error", func(t *testing.T) {
		in := "sku,name,category,spec,unit,supplier_code,aid_cert_no,ccb_item_id,ccb_price,abc_item_id,abc_price_fen\n" +
			"S1,苹果,apple,5kg,箱,YC05,,CCB-1,68.00,,\nS2,苹果,apple,5kg,箱,YC01,,CCB-2,68.00,,\n"
		rep, err := reg.Import(ctx, households.KindProducts, "p.csv", strings.NewReader(in), true)
		if err != nil {
			t.Fatal(err)
		}
		want := households.RowError{Row: 3, Column: "supplier_code", Value: "YC01", Reason: households.ErrUnknownSupplier}
		if n := count(t, db, "products"); !rep.Refused || len(rep.Errors) != 1 || rep.Errors[0] != want || n != 0 {
			t.Errorf("refused=%v errors %#v stored %d", rep.Refused, rep.Errors, n)
		}
	})
}

func TestImportErrors(t *testing.T) {
	t.Parallel()
	db := sqltest.SQLite(t)
	st := sqltest.Store(t, db)
	reg := newTestRegistry(t, st)
	ctx := context.Background()
	if _, err := reg.Import(ctx, households.Kind("orders"), "o.csv", strings.NewReader(""), false); !errors.Is(err, households.ErrUnknownKind) {
		t.Errorf("unknown kind: %v", err)
	}
	_, err := reg.Import(ctx, households.KindBranches, "b.csv", strings.NewReader("code,name\n"), false)
	var pe *households.ParseError
	if !errors.As(err, &pe) || pe.File != "b.csv" {
		t.Errorf("missing columns: %v, want a ParseError naming b.csv", err)
	}
	boom := errors.New("disk full")
	if _, err := newTestRegistry(t, failingUpsert{Store: st, branches: boom}).Import(ctx, households.KindBranches, "b.csv", households.OpenBundle(t, "branches.csv"), false); !errors.Is(err, boom) {
		t.Errorf("store failure: %v, want it wrapped", err)
	}
	if _, err := reg.ImportBundle(ctx, fstest.MapFS{"readme.txt": {}}, false); !errors.Is(err, households.ErrEmptyBundle) {
		t.Errorf("empty bundle: %v", err)
	}
}

// A store failing in the middle of a bundle import loses nothing stored before and leaves
// no file half-stored: the files before the failure are stored whole, the failing one not
// at all, and what the database held before stays as it was.
func TestImportFailingStoreLosesNothing(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ctx := context.Background()
		st := sqltest.Store(t, db)
		fx := sqltest.Seed(t, st)
		before := dump(t, db)
		// A new registry whose linkage file would replace S1's set (dropping the seeded
		// linkages of H001–H003): the linkage upsert fails.
		boom := errors.New("connection reset")
		reg := newTestRegistry(t, failingUpsert{Store: st, linkages: boom})
		bundle := fstest.MapFS{
			"households.csv": {Data: []byte(households.HHHeader + households.GoodRow)},
			"linkages.csv":   {Data: []byte("supplier_code,household_no,type,weight,valid_from,valid_to\nS1,06300101001,employment,1,2019-01-01,\n")},
		}
		reps, err := reg.ImportBundle(ctx, bundle, false)
		if !errors.Is(err, boom) {
			t.Fatalf("ImportBundle: %v, want the store's failure", err)
		}
		if len(reps) != 1 || reps[0].Kind != households.KindHouseholds || reps[0].Counts.Inserted != 1 {
			t.Errorf("reports %+v, want the households file stored before the failure", reps)
		}
		// Everything seeded is there unchanged, the new household beside it, no linkage
		// changed.
		after := dump(t, db)
		if n := count(t, db, "households"); n != len(fx.Households)+1 {
			t.Errorf("%d households stored, want the %d seeded and the new one", n, len(fx.Households))
		}
		if n := count(t, db, "linkages"); n != len(fx.Households) {
			t.Errorf("%d linkages stored, want the %d seeded", n, len(fx.Households))
		}
		if strip(after, "06300101001") != before {
			t.Errorf("stored rows changed beyond the new household:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	})
}

// strip removes the dump lines holding s.
func strip(dump, s string) string {
	var keep []string
	for _, l := range strings.SplitAfter(dump, "\n") {
		if !strings.Contains(l, s) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}

func TestReportWriteText(t *testing.T) {
	t.Parallel()
	rep := households.Report{Kind: households.KindHouseholds, File: "households.csv", Rows: 630, Loaded: 627,
		Counts: households.Counts{Inserted: 620, Updated: 2, Unchanged: 5}, Errors: households.BundleHouseholdErrors}
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := "households.csv (households): 630 rows, 627 loaded: 620 inserted, 2 updated, 5 unchanged; 3 row errors\n" +
		"  row 97, 证件号码: check character is 4, want 7\n" +
		"  row 250, 户编号: duplicate 户编号 06300501009, first in row 231\n" +
		"  row 550, 家庭人口数: empty, want a whole number 1–12\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	rep.Refused, rep.Loaded, rep.Counts = true, 0, households.Counts{}
	b.Reset()
	_ = rep.WriteText(&b)
	if !strings.HasSuffix(b.String(), "  refused: strict import and 3 row errors, nothing stored\n") {
		t.Errorf("refused report does not say so:\n%s", b.String())
	}
	one := households.Report{Kind: households.KindProducts, File: "products.csv", Rows: 15, Errors: households.BundleHouseholdErrors[:1], Refused: true}
	b.Reset()
	_ = one.WriteText(&b)
	if got := b.String(); !strings.Contains(got, "; 1 row error\n") || !strings.Contains(got, "strict import and 1 row error, nothing stored") {
		t.Errorf("one row error is not counted as one:\n%s", got)
	}
	// The row errors never carry an ID number in clear.
	if strings.Contains(fmt.Sprintf("%#v", rep.Errors), "610630198207058794") {
		t.Error("row errors hold an ID number in clear")
	}
}

// A linkages file replaces its suppliers' sets only when every row could be read: a bad
// row must not remove the linkage it meant to restate.
func TestLinkageFileWithABadRowRemovesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const head = "supplier_code,household_no,type,weight,valid_from,valid_to\n"
	for _, tc := range []struct {
		name         string
		file         string
		wantRemoved  int
		wantLinkages int
	}{
		// sqltest.Seed links H001–H003 to S1; the file's S1 set is H001 by employment only.
		{"clean_file_is_each_suppliers_whole_set", head + "S1,H001,employment,1,2019-01-01,\n", 3, 1},
		{"file_with_a_bad_row_only_adds_and_updates", head + "S1,H001,employment,1,2019-01-01,\nS1,H002,employment,-1,2019-01-01,\n", 0, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := sqltest.SQLite(t)
			st := sqltest.Store(t, db)
			sqltest.Seed(t, st)
			reg := newTestRegistry(t, st)
			rep, err := reg.Import(ctx, households.KindLinkages, "linkages.csv", strings.NewReader(tc.file), false)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Counts.Removed != tc.wantRemoved || count(t, db, "linkages") != tc.wantLinkages {
				t.Fatalf("removed %d, %d linkages stored; want %d removed, %d stored", rep.Counts.Removed, count(t, db, "linkages"), tc.wantRemoved, tc.wantLinkages)
			}
			pruned := tc.wantRemoved > 0
			if (rep.Note != "") == pruned {
				t.Fatalf("note %q: the reader must be told exactly when nothing was removed", rep.Note)
			}
			// Again: the same set, nothing more removed.
			again, err := reg.Import(ctx, households.KindLinkages, "linkages.csv", strings.NewReader(tc.file), false)
			if err != nil || again.Counts.Removed != 0 || again.Counts.Unchanged != 1 || count(t, db, "linkages") != tc.wantLinkages {
				t.Errorf("second import %+v, %v; want the one good row unchanged, nothing removed", again.Counts, err)
			}
		})
	}
}
