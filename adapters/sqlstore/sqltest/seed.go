package sqltest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"aidmall/adapters/registryfile"
	"aidmall/adapters/seal"
	"aidmall/adapters/sqlstore"
	"aidmall/bizday"
	"aidmall/households"
)

// ExampleBundle is the folder of the yichuan-dingbian-2019 bundle (examples/ at the
// module root), found from this file's location so that any package's test can use it.
func ExampleBundle() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("sqltest: no caller information")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "examples", "yichuan-dingbian-2019")
}

// testSealKey is the sealing key of test registries (seal.KeySize bytes, not a secret).
var testSealKey = bytes.Repeat([]byte{0x5a}, seal.KeySize)

// Sealer returns the production sealer (AES-GCM, keyed hashes) over a fixed test key.
func Sealer(t testing.TB) *seal.Sealer {
	t.Helper()
	s, err := seal.New(testSealKey)
	if err != nil {
		t.Fatalf("sqltest: sealer: %v", err)
	}
	return s
}

// Registry returns the registry import use case over st with the test Sealer and the
// production file decoder; now is its clock (time.Now if nil).
func Registry(t testing.TB, st *sqlstore.Store, now func() time.Time) *households.Registry {
	t.Helper()
	opts := []households.RegistryOption{households.WithFileDecoder(registryfile.Decoder{})}
	if now != nil {
		opts = append(opts, households.WithClock(now))
	}
	r, err := households.NewRegistry(st, Sealer(t), opts...)
	if err != nil {
		t.Fatalf("sqltest: registry: %v", err)
	}
	return r
}

// ImportBundle imports every registry file of the bundle in dir (branches, suppliers,
// products, households, linkages) through households.Registry.ImportBundle, not strict,
// as `aidmall import bundle` does by default: rows in error are left out and listed in the
// reports (the example bundle has a few on purpose). It fails the test on an error.
func ImportBundle(t testing.TB, st *sqlstore.Store, dir string) []households.Report {
	t.Helper()
	reps, err := Registry(t, st, nil).ImportBundle(context.Background(), os.DirFS(dir), false)
	if err != nil {
		t.Fatalf("sqltest: import bundle %s: %v", dir, err)
	}
	return reps
}

// ImportCatalogue imports only branches.csv, suppliers.csv and products.csv of the bundle
// in dir (what placing orders needs; no household is sealed), strictly.
func ImportCatalogue(t testing.TB, st *sqlstore.Store, dir string) {
	t.Helper()
	for _, f := range []struct {
		kind households.Kind
		name string
	}{{households.KindBranches, "branches.csv"}, {households.KindSuppliers, "suppliers.csv"}, {households.KindProducts, "products.csv"}} {
		b, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			t.Fatalf("sqltest: %v", err)
		}
		Import(t, st, f.kind, f.name, string(b))
	}
}

// Import imports one registry file given as text (CSV; households also XLSX bytes) through
// households.Registry.Import in strict mode and returns its report, failing the test on
// an error or a refusal.
func Import(t testing.TB, st *sqlstore.Store, kind households.Kind, name, content string) households.Report {
	t.Helper()
	rep, err := Registry(t, st, nil).Import(context.Background(), kind, name, strings.NewReader(content), true)
	if err != nil {
		t.Fatalf("sqltest: import %s: %v", name, err)
	}
	if rep.Refused {
		t.Fatalf("sqltest: import %s refused: %v", name, rep.Errors)
	}
	return rep
}

// Fixture names what Seed stored.
type Fixture struct {
	Branch     string                   // "HQ"
	Suppliers  []string                 // "S1" (county 610630, linked), "S2" (county 610825, no linkage)
	Products   []string                 // "P1" (S1; CCB C1 68.00, ABC A1 69.00), "P2" (S2; CCB C2 50.00 only)
	Households []households.HouseholdNo // "H001".."H003" (3, 4, 5 members), each linked to S1 with weight 1 from 2018-01-01
}

// Seed stores a small registry through the store's upsert methods: branch HQ (总部工会,
// 10 members, budget 1000.00 yuan), suppliers S1 (county 610630) and S2 (county 610825),
// products P1 (supplier S1, CCB item C1 at 68.00, ABC item A1 at 69.00) and P2 (supplier
// S2, CCB item C2 at 50.00 only), households H001–H003 of 3, 4 and 5 members (sealed
// fields are placeholders) each linked to S1 by produce purchase, weight 1, valid from
// 2018-01-01.
func Seed(t testing.TB, st *sqlstore.Store) Fixture {
	t.Helper()
	ctx := context.Background()
	must := func(what string, _ households.Counts, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("sqltest: seed %s: %v", what, err)
		}
	}
	c, err := st.UpsertBranches(ctx, []households.Branch{{Code: "HQ", Name: "总部工会", Company: "总部", Members: 10, Budget: 100000}})
	must("branches", c, err)
	c, err = st.UpsertSuppliers(ctx, []households.Supplier{
		{Code: "S1", Name: "合作社一", USCC: "x", CountyCode: "610630", Kind: households.SupplierCooperative},
		{Code: "S2", Name: "合作社二", USCC: "y", CountyCode: "610825", Kind: households.SupplierCooperative},
	})
	must("suppliers", c, err)
	c, err = st.UpsertProducts(ctx, []households.Product{
		{SKU: "P1", Name: "苹果", Category: households.CategoryApple, SupplierCode: "S1", Listings: map[string]households.Listing{"ccb": {ItemID: "C1", Price: 6800}, "abc": {ItemID: "A1", Price: 6900}}},
		{SKU: "P2", Name: "核桃", Category: households.CategoryWalnut, SupplierCode: "S2", Listings: map[string]households.Listing{"ccb": {ItemID: "C2", Price: 5000}}},
	})
	must("products", c, err)
	var hs []households.SealedHousehold
	fx := Fixture{Branch: "HQ", Suppliers: []string{"S1", "S2"}, Products: []string{"P1", "P2"}}
	for i, m := range []int{3, 4, 5} {
		no := households.HouseholdNo(fmt.Sprintf("H00%d", i+1))
		fx.Households = append(fx.Households, no)
		hs = append(hs, households.SealedHousehold{No: no, NameSealed: []byte("n"), NameMasked: "张*", IDSealed: []byte("i"),
			IDHash: "h" + string(no), IDMasked: "610630********0000", PhoneHash: "p" + string(no), PhoneMasked: "138****0000", Members: m,
			County: "宜川县", Township: "t", Village: "v", Attribute: "一般贫困户", Fingerprint: "f" + string(no)})
	}
	c, err = st.UpsertHouseholds(ctx, hs)
	must("households", c, err)
	var ls []households.Linkage
	for _, h := range hs {
		ls = append(ls, households.Linkage{SupplierCode: "S1", HouseholdNo: h.No, Type: households.LinkProducePurchase,
			Weight: decimal.NewFromInt(1), ValidFrom: bizday.MustParse("2018-01-01")})
	}
	c, err = st.UpsertLinkages(ctx, ls, true)
	must("linkages", c, err)
	return fx
}
