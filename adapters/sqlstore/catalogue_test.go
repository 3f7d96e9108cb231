package sqlstore_test

import (
	"context"
	"testing"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/households"
	"aidmall/reports"
)

// The pages' catalogue reads every supplier with its county, and names counties and
// categories with the reports' own labels; on SQLite and PostgreSQL.
func TestCatalogueSuppliersAndLabels(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ctx := context.Background()
		st := sqltest.Store(t, db)
		sqltest.Seed(t, st)
		sups, err := st.Suppliers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []households.Supplier{
			{Code: "S1", Name: "合作社一", USCC: "x", CountyCode: "610630", Kind: households.SupplierCooperative},
			{Code: "S2", Name: "合作社二", USCC: "y", CountyCode: "610825", Kind: households.SupplierCooperative},
		}
		if len(sups) != len(want) || sups[0] != want[0] || sups[1] != want[1] {
			t.Fatalf("suppliers %+v, want %+v", sups, want)
		}
		cats, err := st.Labels(ctx, reports.ByCategory)
		if err != nil {
			t.Fatal(err)
		}
		if cats["apple"] != "苹果" || cats["walnut"] != "核桃" {
			t.Fatalf("category labels %v", cats)
		}
		counties, err := st.Labels(ctx, reports.ByCounty)
		if err != nil {
			t.Fatal(err)
		}
		if counties["610630"] != "宜川县" {
			t.Fatalf("county 610630 is %q, want 宜川县", counties["610630"])
		}
		branches, err := st.Labels(ctx, reports.ByBranch)
		if err != nil {
			t.Fatal(err)
		}
		if branches["HQ"] != "总部工会" {
			t.Fatalf("branch labels %v", branches)
		}
	})
}
