package households

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

// fakeSealer mimics AES-GCM's randomisation: every seal of a value differs (a counter
// stands in for the nonce), the hash is keyed and deterministic.
type fakeSealer struct {
	mu sync.Mutex
	n  int
}

func (s *fakeSealer) Seal(plain string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	// Reversible but not plain: reverse the bytes after a counter.
	b := []byte(plain)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return append([]byte(fmt.Sprintf("%08d|", s.n)), b...), nil
}

func (s *fakeSealer) Hash(plain string) string {
	m := hmac.New(sha256.New, []byte("test key"))
	m.Write([]byte(plain))
	return hex.EncodeToString(m.Sum(nil))
}

// fakeStore keeps records in maps and counts like the real store: each Upsert is all or
// nothing; a record is unchanged when equal to the stored one (households: when its
// Fingerprint is).
type fakeStore struct {
	mu         sync.Mutex
	branches   map[string]Branch
	suppliers  map[string]Supplier
	products   map[string]Product
	households map[string]SealedHousehold
	linkages   map[string]Linkage
	upserts    int    // calls of any Upsert
	failWith   error  // returned by every Upsert when set
	prunes     []bool // the prune flag of each UpsertLinkages call
}

func newFakeStore() *fakeStore {
	return &fakeStore{branches: map[string]Branch{}, suppliers: map[string]Supplier{}, products: map[string]Product{},
		households: map[string]SealedHousehold{}, linkages: map[string]Linkage{}}
}

func upsertInto[T any](s *fakeStore, m map[string]T, recs []T, key func(T) string, same func(a, b T) bool) (Counts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.upserts++
	if s.failWith != nil {
		return Counts{}, s.failWith
	}
	var c Counts
	for _, r := range recs {
		old, ok := m[key(r)]
		switch {
		case !ok:
			c.Inserted++
		case same(old, r):
			c.Unchanged++
			continue
		default:
			c.Updated++
		}
		m[key(r)] = r
	}
	return c, nil
}

func equal[T any](a, b T) bool { return reflect.DeepEqual(a, b) }

func (s *fakeStore) UpsertBranches(_ context.Context, bs []Branch) (Counts, error) {
	return upsertInto(s, s.branches, bs, func(b Branch) string { return b.Code }, equal[Branch])
}
func (s *fakeStore) UpsertSuppliers(_ context.Context, ss []Supplier) (Counts, error) {
	return upsertInto(s, s.suppliers, ss, func(v Supplier) string { return v.Code }, equal[Supplier])
}
func (s *fakeStore) UpsertProducts(_ context.Context, ps []Product) (Counts, error) {
	return upsertInto(s, s.products, ps, func(v Product) string { return v.SKU }, equal[Product])
}
func (s *fakeStore) UpsertHouseholds(_ context.Context, hs []SealedHousehold) (Counts, error) {
	return upsertInto(s, s.households, hs, func(v SealedHousehold) string { return v.No },
		func(a, b SealedHousehold) bool { return a.Fingerprint == b.Fingerprint })
}
func (s *fakeStore) UpsertLinkages(_ context.Context, ls []Linkage, prune bool) (Counts, error) {
	s.mu.Lock()
	s.prunes = append(s.prunes, prune)
	s.mu.Unlock()
	return upsertInto(s, s.linkages, ls, func(l Linkage) string {
		return l.SupplierCode + "|" + l.HouseholdNo + "|" + string(l.Type) + "|" + l.ValidFrom.String()
	}, func(a, b Linkage) bool { return a.Weight.Equal(b.Weight) && a.ValidTo == b.ValidTo })
}
func (s *fakeStore) HouseholdsExist(_ context.Context, nos []string) (map[string]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]bool{}
	for _, n := range nos {
		_, out[n] = s.households[n]
	}
	return out, nil
}
func (s *fakeStore) SuppliersExist(_ context.Context, codes []string) (map[string]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]bool{}
	for _, c := range codes {
		_, out[c] = s.suppliers[c]
	}
	return out, nil
}

func newTestRegistry(t *testing.T, store RegistryStore) *Registry {
	t.Helper()
	r, err := NewRegistry(store, &fakeSealer{}, WithClock(func() time.Time { return testNow }))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestNewRegistryRejectsNil(t *testing.T) {
	t.Parallel()
	if _, err := NewRegistry(nil, &fakeSealer{}); err == nil {
		t.Error("nil store accepted")
	}
	if _, err := NewRegistry(newFakeStore(), nil); err == nil {
		t.Error("nil sealer accepted")
	}
	if _, err := NewRegistry(newFakeStore(), &fakeSealer{}, WithClock(nil)); err == nil {
		t.Error("nil clock accepted")
	}
}

// bundleFS is the real bundle (the module's copy).
func bundleFS() fstest.MapFS {
	m := fstest.MapFS{}
	for _, n := range []string{"branches.csv", "suppliers.csv", "products.csv", "households.xlsx", "households.csv", "linkages.csv"} {
		b, err := os.ReadFile(bundleDir + "/" + n)
		if err != nil {
			panic(err)
		}
		m[n] = &fstest.MapFile{Data: b}
	}
	return m
}

func TestImportBundle(t *testing.T) {
	t.Parallel()
	store := newFakeStore()
	reg := newTestRegistry(t, store)
	reps, err := reg.ImportBundle(context.Background(), bundleFS(), false)
	if err != nil {
		t.Fatal(err)
	}
	type summary struct {
		Kind              Kind
		File              string
		Rows, Loaded, Ins int
		Errs              int
	}
	var got []summary
	for _, r := range reps {
		got = append(got, summary{r.Kind, r.File, r.Rows, r.Loaded, r.Counts.Inserted, len(r.Errors)})
	}
	// Dependency order; the XLSX registry is preferred; the three bad household rows are
	// reported and every linkage names a good household, so all 412 load.
	want := []summary{
		{KindBranches, "branches.csv", 19, 19, 19, 0},
		{KindSuppliers, "suppliers.csv", 10, 10, 10, 0},
		{KindProducts, "products.csv", 15, 15, 15, 0},
		{KindHouseholds, "households.xlsx", 630, 627, 627, 3},
		{KindLinkages, "linkages.csv", 412, 412, 412, 0},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("reports:\n got %+v\nwant %+v", got, want)
	}
	if !reflect.DeepEqual(reps[3].Errors, bundleHouseholdErrors) {
		t.Errorf("household errors %#v", reps[3].Errors)
	}

	t.Run("personal_data_is_sealed_hashed_and_masked", func(t *testing.T) {
		h := store.households["06300101001"]
		s := &fakeSealer{}
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
		if h.Members != 4 || h.ExitYear != 2018 || h.Village != "南沟村" {
			t.Errorf("plain fields %+v", h)
		}
	})

	t.Run("reimport_changes_nothing", func(t *testing.T) {
		again, err := reg.ImportBundle(context.Background(), bundleFS(), false)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range again {
			if r.Counts.Inserted != 0 || r.Counts.Updated != 0 || r.Counts.Unchanged != want[i].Loaded {
				t.Errorf("%s re-imported: %+v, want all %d unchanged", r.File, r.Counts, want[i].Loaded)
			}
		}
	})

	t.Run("csv_registry_is_the_same_as_xlsx", func(t *testing.T) {
		rep, err := reg.Import(context.Background(), KindHouseholds, "households.csv", openBundle(t, "households.csv"), false)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Counts != (Counts{Unchanged: 627}) {
			t.Errorf("CSV after XLSX: %+v, want 627 unchanged", rep.Counts)
		}
	})
}

func TestImportChangedHouseholdIsUpdated(t *testing.T) {
	t.Parallel()
	store := newFakeStore()
	reg := newTestRegistry(t, store)
	ctx := context.Background()
	if _, err := reg.Import(ctx, KindHouseholds, "a.csv", strings.NewReader(hhHeader+goodRow), false); err != nil {
		t.Fatal(err)
	}
	moved := strings.Replace(goodRow, ",4,", ",5,", 1) // a child was born
	rep, err := reg.Import(ctx, KindHouseholds, "b.csv", strings.NewReader(hhHeader+moved), false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts != (Counts{Updated: 1}) || store.households["06300101001"].Members != 5 {
		t.Errorf("counts %+v, members %d; want 1 updated to 5", rep.Counts, store.households["06300101001"].Members)
	}
}

func TestImportStrictStoresNothing(t *testing.T) {
	t.Parallel()
	t.Run("file_with_errors_is_refused", func(t *testing.T) {
		t.Parallel()
		store := newFakeStore()
		reg := newTestRegistry(t, store)
		rep, err := reg.Import(context.Background(), KindHouseholds, "households.csv", openBundle(t, "households.csv"), true)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Refused || rep.Loaded != 0 || len(rep.Errors) != 3 || store.upserts != 0 || len(store.households) != 0 {
			t.Errorf("refused=%v loaded=%d errors=%d upserts=%d stored=%d; want refused, nothing stored",
				rep.Refused, rep.Loaded, len(rep.Errors), store.upserts, len(store.households))
		}
	})
	t.Run("bundle_stops_after_the_refused_file", func(t *testing.T) {
		t.Parallel()
		store := newFakeStore()
		reg := newTestRegistry(t, store)
		reps, err := reg.ImportBundle(context.Background(), bundleFS(), true)
		if err != nil {
			t.Fatal(err)
		}
		last := reps[len(reps)-1]
		if len(reps) != 4 || last.Kind != KindHouseholds || !last.Refused {
			t.Fatalf("%d reports, last %s refused=%v; want 4 ending with the refused households", len(reps), last.Kind, last.Refused)
		}
		if len(store.households) != 0 || len(store.linkages) != 0 || len(store.products) != 15 {
			t.Errorf("stored %d households, %d linkages, %d products", len(store.households), len(store.linkages), len(store.products))
		}
	})
	t.Run("clean_file_is_stored_in_strict_mode", func(t *testing.T) {
		t.Parallel()
		store := newFakeStore()
		reg := newTestRegistry(t, store)
		rep, err := reg.Import(context.Background(), KindBranches, "branches.csv", openBundle(t, "branches.csv"), true)
		if err != nil || rep.Refused || rep.Counts.Inserted != 19 {
			t.Errorf("%+v, %v", rep, err)
		}
	})
}

func TestImportChecksReferences(t *testing.T) {
	t.Parallel()
	store := newFakeStore()
	reg := newTestRegistry(t, store)
	ctx := context.Background()
	if _, err := reg.Import(ctx, KindSuppliers, "s.csv", strings.NewReader("code,name,uscc,county_code,kind\nYC05,塬上果业,91610630MA087B336H,610630,enterprise\n"), false); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Import(ctx, KindHouseholds, "h.csv", strings.NewReader(hhHeader+goodRow), false); err != nil {
		t.Fatal(err)
	}
	t.Run("linkage_to_missing_household_or_supplier_is_a_row_error", func(t *testing.T) {
		in := "supplier_code,household_no,type,weight,valid_from,valid_to\n" +
			"YC05,06300101001,employment,1,2019-01-01,\n" +
			"YC05,06300203011,employment,1,2019-01-01,\n" + // the bundle's bad-ID household, never registered
			"YC99,06300101001,employment,1,2019-01-01,\n" +
			"YC98,06300203012,employment,1,2019-01-01,\n" // both unknown: two errors
		rep, err := reg.Import(ctx, KindLinkages, "l.csv", strings.NewReader(in), false)
		if err != nil {
			t.Fatal(err)
		}
		want := []RowError{
			{3, "household_no", "06300203011", errUnknownHousehold},
			{4, "supplier_code", "YC99", errUnknownSupplier},
			{5, "supplier_code", "YC98", errUnknownSupplier},
			{5, "household_no", "06300203012", errUnknownHousehold},
		}
		if !reflect.DeepEqual(rep.Errors, want) || rep.Loaded != 1 || len(store.linkages) != 1 {
			t.Errorf("errors %#v, loaded %d, stored %d", rep.Errors, rep.Loaded, len(store.linkages))
		}
	})
	t.Run("product_of_unknown_supplier_is_a_row_error", func(t *testing.T) {
		in := "sku,name,category,spec,unit,supplier_code,aid_cert_no,ccb_item_id,ccb_price,abc_item_id,abc_price_fen\n" +
			"S1,苹果,apple,5kg,箱,YC05,,CCB-1,68.00,,\nS2,苹果,apple,5kg,箱,YC01,,CCB-2,68.00,,\n"
		rep, err := reg.Import(ctx, KindProducts, "p.csv", strings.NewReader(in), true)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Refused || len(rep.Errors) != 1 || rep.Errors[0] != (RowError{3, "supplier_code", "YC01", errUnknownSupplier}) || len(store.products) != 0 {
			t.Errorf("refused=%v errors %#v stored %d", rep.Refused, rep.Errors, len(store.products))
		}
	})
}

func TestImportErrors(t *testing.T) {
	t.Parallel()
	store := newFakeStore()
	reg := newTestRegistry(t, store)
	ctx := context.Background()
	if _, err := reg.Import(ctx, Kind("orders"), "o.csv", strings.NewReader(""), false); !errors.Is(err, ErrUnknownKind) {
		t.Errorf("unknown kind: %v", err)
	}
	_, err := reg.Import(ctx, KindBranches, "b.csv", strings.NewReader("code,name\n"), false)
	var pe *ParseError
	if !errors.As(err, &pe) || pe.File != "b.csv" {
		t.Errorf("missing columns: %v, want a ParseError naming b.csv", err)
	}
	boom := errors.New("disk full")
	failing := newFakeStore()
	failing.failWith = boom
	if _, err := newTestRegistry(t, failing).Import(ctx, KindBranches, "b.csv", openBundle(t, "branches.csv"), false); !errors.Is(err, boom) {
		t.Errorf("store failure: %v, want it wrapped", err)
	}
	if _, err := reg.ImportBundle(ctx, fstest.MapFS{"readme.txt": {}}, false); !errors.Is(err, ErrEmptyBundle) {
		t.Errorf("empty bundle: %v", err)
	}
}

func TestReportWriteText(t *testing.T) {
	t.Parallel()
	rep := Report{Kind: KindHouseholds, File: "households.csv", Rows: 630, Loaded: 627,
		Counts: Counts{Inserted: 620, Updated: 2, Unchanged: 5}, Errors: bundleHouseholdErrors}
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
	rep.Refused, rep.Loaded, rep.Counts = true, 0, Counts{}
	b.Reset()
	_ = rep.WriteText(&b)
	if !strings.HasSuffix(b.String(), "  refused: strict import and 3 row errors, nothing stored\n") {
		t.Errorf("refused report does not say so:\n%s", b.String())
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
	for _, tc := range []struct {
		name  string
		file  string
		prune bool
	}{
		{"clean_file_is_each_suppliers_whole_set", "supplier_code,household_no,type,weight,valid_from,valid_to\nS1,H1,employment,1,2019-01-01,\n", true},
		{"file_with_a_bad_row_only_adds_and_updates", "supplier_code,household_no,type,weight,valid_from,valid_to\nS1,H1,employment,1,2019-01-01,\nS1,H2,employment,-1,2019-01-01,\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := newFakeStore()
			st.suppliers["S1"] = Supplier{Code: "S1"}
			st.households["H1"] = SealedHousehold{No: "H1"}
			st.households["H2"] = SealedHousehold{No: "H2"}
			reg, err := NewRegistry(st, &fakeSealer{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := reg.Import(ctx, KindLinkages, "linkages.csv", strings.NewReader(tc.file), false); err != nil {
				t.Fatal(err)
			}
			rep, _ := reg.Import(ctx, KindLinkages, "linkages.csv", strings.NewReader(tc.file), false)
			if len(st.prunes) != 2 || st.prunes[0] != tc.prune {
				t.Fatalf("prune flags %v, want [%v %v]", st.prunes, tc.prune, tc.prune)
			}
			if (rep.Note != "") == tc.prune {
				t.Fatalf("note %q: the reader must be told exactly when nothing was removed", rep.Note)
			}
		})
	}
}
