package households

import (
	"strings"
	"testing"

	"aidmall/money"
)

// TestListingColumnsAreReadForAnyMall: a products file lists a SKU at each mall in a pair
// of columns <code>_item_id with <code>_price (yuan) or <code>_price_fen (fen), for any
// code; with the registered malls given, a code that is none of them refuses the file.
func TestListingColumnsAreReadForAnyMall(t *testing.T) {
	t.Parallel()
	const file = "sku,name,category,spec,unit,supplier_code,aid_cert_no,ccb_item_id,ccb_price,icbc_item_id,icbc_price_fen\n" +
		"P1,苹果,apple,5kg,箱,S1,,CCB-1,68.00,ICBC-9,6750\n" +
		"P2,核桃,walnut,1kg,袋,S1,,,,ICBC-10,3990\n"

	ps, bad, err := ParseProducts(csvText(t, file), "ccb", "abc", "icbc")
	if err != nil || len(bad) > 0 || len(ps) != 2 {
		t.Fatalf("ParseProducts = %v, %v, %v", ps, bad, err)
	}
	for _, c := range []struct {
		sku, mall, item string
		price           money.Fen
		listed          bool
	}{
		{"P1", "ccb", "CCB-1", 6800, true},
		{"P1", "icbc", "ICBC-9", 6750, true},
		{"P2", "icbc", "ICBC-10", 3990, true},
		{"P2", "ccb", "", 0, false},
		{"P1", "abc", "", 0, false},
	} {
		p := ps[0]
		if c.sku == "P2" {
			p = ps[1]
		}
		item, price, ok := p.Listing(c.mall)
		if item != c.item || price != c.price || ok != c.listed {
			t.Errorf("%s at %s = %q %s %v, want %q %s %v", c.sku, c.mall, item, price, ok, c.item, c.price, c.listed)
		}
	}

	for _, tc := range []struct{ name, header, want string }{
		{"unregistered_mall", "sku,name,category,spec,unit,supplier_code,aid_cert_no,icbc_item_id,icbc_price\n", `"icbc" is not a mall`},
		{"item_without_price", "sku,name,category,spec,unit,supplier_code,aid_cert_no,ccb_item_id\n", "no price column"},
		{"price_without_item", "sku,name,category,spec,unit,supplier_code,aid_cert_no,ccb_item_id,ccb_price,abc_price_fen\n", "no item id column abc_item_id"},
		{"price_twice", "sku,name,category,spec,unit,supplier_code,aid_cert_no,ccb_item_id,ccb_price,ccb_price_fen\n", "give the price once"},
		{"no_listing_at_all", "sku,name,category,spec,unit,supplier_code,aid_cert_no\n", "no listing columns"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ParseProducts(csvText(t, tc.header), "ccb", "abc")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want one saying %q", err, tc.want)
			}
		})
	}
}
