package orders_test

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/bizday"
	"aidmall/households"
	"aidmall/orders"
)

// testStore is the real store the service tests run on, with the jobs it was given.
type testStore struct {
	*sqlstore.Store
	jobs *sqltest.Jobs
}

// newTestService returns the service over a fresh SQLite store holding the registry of
// seedRegistry; its clock is testNow.
func newTestService(t *testing.T) (*orders.Service, *testStore) {
	t.Helper()
	return newTestServiceOn(t, sqltest.SQLite)
}

// newTestServiceOn is newTestService on the database open makes.
func newTestServiceOn(t *testing.T, open func(testing.TB) *sqlstore.DB) (*orders.Service, *testStore) {
	t.Helper()
	return newTestServiceWith(t, open, []orders.Mall{mallCCB, mallABC})
}

// specLimits are the limits both malls' drivers state (ccb-mall.md, abc-mall.md; ABC's
// out_order_no rule is wider, which this package's tests do not rely on).
var specLimits = orders.MallLimits{OrderRefMax: 64, OutOrderNoMax: 32, ConsigneeRequired: true}

// withSpecLimits gives each of codes specLimits.
func withSpecLimits(codes ...orders.Mall) []orders.MallInfo {
	out := make([]orders.MallInfo, len(codes))
	for i, c := range codes {
		out[i] = orders.MallInfo{Code: c, Limits: specLimits}
	}
	return out
}

// newTestServiceWith is newTestServiceOn with only the malls connected, each with
// specLimits.
func newTestServiceWith(t *testing.T, open func(testing.TB) *sqlstore.DB, connected []orders.Mall) (*orders.Service, *testStore) {
	t.Helper()
	return newTestServiceLimited(t, open, withSpecLimits(connected...))
}

// newTestServiceLimited is newTestServiceOn with the malls connected as given.
func newTestServiceLimited(t *testing.T, open func(testing.TB) *sqlstore.DB, connected []orders.MallInfo) (*orders.Service, *testStore) {
	t.Helper()
	clock := func() time.Time { return testNow }
	st := &testStore{jobs: &sqltest.Jobs{}}
	st.Store = sqltest.Store(t, open(t), sqltest.WithEnqueuer(st.jobs), sqltest.WithClock(clock))
	seedRegistry(t, st.Store)
	svc, err := orders.NewService(st.Store, connected, clock)
	if err != nil {
		t.Fatal(err)
	}
	return svc, st
}

// seedRegistry stores the HQ and S01 branches and six SKUs of the yichuan-dingbian-2019
// catalogue (products.csv): two listed by both malls at different prices, two by CCB
// only, two by ABC only; supplier YC01 has one linked household.
func seedRegistry(t *testing.T, st *sqlstore.Store) {
	t.Helper()
	ctx := context.Background()
	check := func(_ households.Counts, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	check(st.UpsertBranches(ctx, []households.Branch{
		{Code: "HQ", Name: "集团总部机关工会", Company: "集团总部", Members: 860, Budget: 92_800_000},
		{Code: "S01", Name: "第一工程有限公司工会", Company: "第一工程有限公司", Members: 9120, Budget: 21_600_000},
	}))
	check(st.UpsertSuppliers(ctx, []households.Supplier{
		{Code: "YC01", Name: "宜川县苹果合作社", USCC: "x", CountyCode: "610630", Kind: households.SupplierCooperative},
		{Code: "DB01", Name: "定边县苹果合作社", USCC: "y", CountyCode: "610825", Kind: households.SupplierCooperative},
	}))
	check(st.UpsertProducts(ctx, []households.Product{
		{SKU: "YC-APL-5KG-DZ", Name: "苹果", Category: households.CategoryApple, SupplierCode: "YC01", Listings: map[string]households.Listing{"ccb": {ItemID: "CCB-YC-APL-05", Price: 6800}, "abc": {ItemID: "ABC-770031", Price: 6900}}},
		{SKU: "YC-APL-5KG-HK", Name: "苹果", Category: households.CategoryApple, SupplierCode: "YC01", Listings: map[string]households.Listing{"ccb": {ItemID: "CCB-YC-APL-05H", Price: 7200}}},
		{SKU: "YC-WKN-500G-HH", Name: "核桃", Category: households.CategoryWalnut, SupplierCode: "YC01", Listings: map[string]households.Listing{"ccb": {ItemID: "CCB-YC-WKN-500", Price: 3980}}},
		{SKU: "YC-PEP-250G-ZS", Name: "花椒", Category: households.CategoryPeppercorn, SupplierCode: "YC01", Listings: map[string]households.Listing{"abc": {ItemID: "ABC-771266", Price: 3990}}},
		{SKU: "DB-APL-10KG-ZY", Name: "苹果", Category: households.CategoryApple, SupplierCode: "DB01", Listings: map[string]households.Listing{"abc": {ItemID: "ABC-780012", Price: 11200}}},
		{SKU: "YC-APL-10KG-DZ", Name: "苹果", Category: households.CategoryApple, SupplierCode: "YC01", Listings: map[string]households.Listing{"ccb": {ItemID: "CCB-YC-APL-10", Price: 11800}, "abc": {ItemID: "ABC-770032", Price: 11600}}},
	}))
	check(st.UpsertHouseholds(ctx, []households.SealedHousehold{{No: "H001", NameSealed: []byte("n"), NameMasked: "张*",
		IDSealed: []byte("i"), IDHash: "h1", IDMasked: "610630********0000", PhoneHash: "p1", PhoneMasked: "138****0000", Members: 3,
		County: "宜川县", Township: "t", Village: "v", Attribute: "一般贫困户", Fingerprint: "f1"}}))
	check(st.UpsertLinkages(ctx, []households.Linkage{{SupplierCode: "YC01", HouseholdNo: "H001", Type: households.LinkProducePurchase,
		Weight: decimalOne, ValidFrom: bizday.MustParse("2018-01-01")}}, true))
}

var decimalOne = decimal.NewFromInt(1)

// counts returns how many orders and fulfilment events the store holds.
// committedDispatch returns the dispatch jobs of orders that were committed. The recording
// enqueuer sees every enqueue, also in a transaction later rolled back (Place checks the
// budget after the insert, so a refused order's job is enqueued and rolled back with it,
// as River's job row is in the database).
func (s *testStore) committedDispatch(t testing.TB) []int64 {
	t.Helper()
	var out []int64
	seen := map[int64]bool{} // SQLite may give a rolled-back order's id to the next one
	for _, id := range s.jobs.Dispatched() {
		if seen[id] {
			continue
		}
		seen[id] = true
		var n int
		if err := s.DB().GetContext(context.Background(), &n, s.DB().Rebind(`SELECT COUNT(*) FROM group_orders WHERE id = ?`), id); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			out = append(out, id)
		}
	}
	return out
}

func (s *testStore) counts() (int, int) {
	p, err := s.Progress(context.Background())
	if err != nil {
		panic(err)
	}
	return p.Orders, p.Events
}

// The malls of the tests, by code: which malls exist is the drivers' knowledge, not the domain's.
const mallCCB, mallABC = orders.Mall("ccb"), orders.Mall("abc")
