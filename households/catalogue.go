package households

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"aidmall/bizday"
	"aidmall/money"
)

// parsed is what a parser found in a file: the number of data rows (blank lines not
// counted), the good records with their rows, and the row errors in row order.
type parsed[T any] struct {
	rows  int
	good  []numbered[T]
	errs  []RowError
	warns []RowError // warnings of the good rows, in row order
	t     *table
}

// column returns the header of a column as written in the file.
func (p parsed[T]) column(name string) string {
	if p.t == nil {
		return name
	}
	return p.t.header[p.t.index[canonHeader(name)]]
}

// run applies parse to every row of t; a row whose reader recorded errors is dropped.
func run[T any](t *table, pre []RowError, parse func(rr *rowReader) T) parsed[T] {
	p := parsed[T]{rows: len(t.rows) + len(pre), errs: pre, t: t}
	for _, row := range t.rows {
		if e, ok := t.shape(row); !ok {
			p.errs = append(p.errs, e)
			continue
		}
		if e, ok := t.controls(row); !ok {
			p.errs = append(p.errs, e)
			continue
		}
		rr := t.reader(row)
		v := parse(rr)
		if len(rr.errs) > 0 {
			p.errs = append(p.errs, rr.errs...)
			continue
		}
		p.good = append(p.good, numbered[T]{row: row.n, v: v})
		p.warns = append(p.warns, rr.warns...)
	}
	sortRowErrors(p.errs)
	return p
}

// codePattern is the shape of the service's own codes (branch, supplier, SKU, mall item
// ids, household numbers): letters, digits, '-', '_', '.', at most 40.
var codePattern = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z._-]{0,39}$`)

// code reads a required code column.
func (rr *rowReader) code(name string) string {
	v, ok := rr.required(name)
	if !ok {
		return ""
	}
	v = foldWidth(v)
	if !codePattern.MatchString(v) {
		rr.fail(name, v, "not a code: want up to 40 letters, digits, '-', '_' or '.'")
		return ""
	}
	return v
}

// count reads a required whole number in [lo, hi].
func (rr *rowReader) count(name string, lo, hi int) int {
	v := foldWidth(rr.get(name))
	if v == "" {
		rr.fail(name, "", fmt.Sprintf("empty, want a whole number %d–%d", lo, hi))
		return 0
	}
	n, ok := atoi(v)
	if !ok {
		rr.fail(name, v, fmt.Sprintf("not a whole number, want %d–%d", lo, hi))
		return 0
	}
	if n < lo || n > hi {
		rr.fail(name, v, fmt.Sprintf("%d is out of range %d–%d", n, lo, hi))
		return 0
	}
	return n
}

// atoi parses 1 to 12 ASCII digits (no sign, no spaces).
func atoi(s string) (int, bool) {
	if s == "" || len(s) > 12 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// text reads a required free-text column of at most max characters.
func (rr *rowReader) text(name string, max int) string {
	v, ok := rr.required(name)
	if ok && len([]rune(v)) > max {
		rr.fail(name, "", fmt.Sprintf("longer than %d characters", max))
		return ""
	}
	return v
}

// optional reads an optional free-text column of at most max characters.
func (rr *rowReader) optional(name string, max int) string {
	v := rr.get(name)
	if len([]rune(v)) > max {
		rr.fail(name, "", fmt.Sprintf("longer than %d characters", max))
		return ""
	}
	return v
}

// unique records a duplicate key: the later row is the error.
func (rr *rowReader) unique(seen map[string]int, name, key, what string) {
	if key == "" {
		return
	}
	if first, dup := seen[key]; dup {
		rr.fail(name, "", fmt.Sprintf("duplicate %s %s, first in row %d", what, key, first))
		return
	}
	seen[strings.Clone(key)] = rr.r.n // not a slice of the record's line, which it would keep
}

var branchColumns = []string{"code", "name", "company", "members", "budget"}

// ParseBranches reads branches.csv (UTF-8 or GB18030): code,name,company,members,budget
// (members: union members, a whole number ≥ 0; budget: the year's consumption-aid budget in
// yuan, at most 2 decimals, ≥ 0). Codes are unique: a repeated code is an error of the
// later row. It returns the good branches in file order, one RowError per bad cell, and a
// *ParseError for a file it cannot read at all.
func ParseBranches(f File) ([]Branch, []RowError, error) {
	p, err := parseBranches(f)
	if err != nil {
		return nil, nil, err
	}
	return values(p.good), p.errs, nil
}

func parseBranches(f File) (parsed[Branch], error) {
	t, pre, err := readCSV(f, branchColumns)
	if err != nil {
		return parsed[Branch]{}, err
	}
	seen := map[string]int{}
	return run(t, pre, func(rr *rowReader) Branch {
		b := Branch{
			Code:    rr.code("code"),
			Name:    rr.text("name", 100),
			Company: rr.text("company", 100),
			Members: rr.count("members", 0, 10_000_000),
		}
		rr.unique(seen, "code", b.Code, "branch code")
		if v, ok := rr.required("budget"); ok {
			f, err := money.ParseYuan(foldWidth(v))
			switch {
			case err != nil:
				rr.fail("budget", v, "not an amount in yuan with at most 2 decimals")
			case f < 0:
				rr.fail("budget", v, "negative budget")
			default:
				b.Budget = f
			}
		}
		return b
	}), nil
}

var supplierColumns = []string{"code", "name", "uscc", "county_code", "kind"}

// ParseSuppliers reads suppliers.csv (UTF-8 or GB18030): code,name,uscc,county_code,kind.
// uscc is checked by GB 32100-2015 (ValidateUSCC; surrounding spaces, full-width forms and
// lowercase letters are normalised first); county_code is a six-digit GB/T 2260 code;
// kind is cooperative, enterprise or household. Codes and USCCs are unique within the
// file: a repeat is an error of the later row. It returns the good suppliers in file
// order, one RowError per bad cell, and a *ParseError for a file it cannot read at all.
func ParseSuppliers(f File) ([]Supplier, []RowError, error) {
	p, err := parseSuppliers(f)
	if err != nil {
		return nil, nil, err
	}
	return values(p.good), p.errs, nil
}

var sixDigits = regexp.MustCompile(`^[0-9]{6}$`)

func parseSuppliers(f File) (parsed[Supplier], error) {
	t, pre, err := readCSV(f, supplierColumns)
	if err != nil {
		return parsed[Supplier]{}, err
	}
	seenCode, seenUSCC := map[string]int{}, map[string]int{}
	return run(t, pre, func(rr *rowReader) Supplier {
		s := Supplier{Code: rr.code("code"), Name: rr.text("name", 100)}
		rr.unique(seenCode, "code", s.Code, "supplier code")
		if v, ok := rr.required("uscc"); ok {
			u := strings.ToUpper(foldWidth(v))
			if err := ValidateUSCC(u); err != nil {
				rr.fail("uscc", v, err.Error())
			} else {
				s.USCC = u
				rr.unique(seenUSCC, "uscc", u, "USCC")
			}
		}
		if v, ok := rr.required("county_code"); ok {
			c := foldWidth(v)
			if !sixDigits.MatchString(c) || !isProvinceCode(int(c[0]-'0')*10+int(c[1]-'0')) {
				rr.fail("county_code", v, "not a six-digit GB/T 2260 division code")
			} else {
				s.CountyCode = c
			}
		}
		if v, ok := rr.required("kind"); ok {
			switch k := SupplierKind(v); k {
			case SupplierCooperative, SupplierEnterprise, SupplierHousehold:
				s.Kind = k
			default:
				rr.fail("kind", v, "unknown kind, want cooperative, enterprise or household")
			}
		}
		return s
	}), nil
}

// productColumns are the columns every products file has; each mall's listing adds a pair
// (listingColumnsOf).
var productColumns = []string{"sku", "name", "category", "spec", "unit", "supplier_code", "aid_cert_no"}

// listingIDColumn is a mall's item id column, <code>_item_id.
var listingIDColumn = regexp.MustCompile(`^([a-z][a-z0-9]*)_item_id$`)

// listingCols are one mall's listing columns in a products file.
type listingCols struct {
	mall, idCol, priceCol string
	fen                   bool // the price column is <code>_price_fen (whole fen), else <code>_price (yuan)
}

// listingColumnsOf finds the listing columns of t: for each <code>_item_id, exactly one of
// <code>_price (yuan) and <code>_price_fen (fen). When malls is not empty every code must
// be one of them (the registered malls); at least one mall's columns must be present.
func listingColumnsOf(t *table, malls []string) ([]listingCols, error) {
	var out []listingCols
	has := func(c string) bool { _, ok := t.index[c]; return ok }
	for _, h := range t.header {
		m := listingIDColumn.FindStringSubmatch(canonHeader(h))
		if m == nil {
			continue
		}
		code := m[1]
		if len(malls) > 0 && !slices.Contains(malls, code) {
			return nil, &ParseError{Reason: fmt.Sprintf("column %s: %q is not a mall of this service (%s)", h, code, strings.Join(malls, ", "))}
		}
		lc := listingCols{mall: code, idCol: code + "_item_id"}
		switch yuan, fen := has(code+"_price"), has(code+"_price_fen"); {
		case yuan && fen:
			return nil, &ParseError{Reason: fmt.Sprintf("columns %s_price and %s_price_fen both present: give the price once", code, code)}
		case yuan:
			lc.priceCol = code + "_price"
		case fen:
			lc.priceCol, lc.fen = code+"_price_fen", true
		default:
			return nil, &ParseError{Reason: fmt.Sprintf("column %s has no price column %s_price (yuan) or %s_price_fen (fen)", h, code, code)}
		}
		out = append(out, lc)
	}
	for _, h := range t.header {
		c := canonHeader(h)
		for _, suffix := range []string{"_price_fen", "_price"} {
			if code, ok := strings.CutSuffix(c, suffix); ok && code != "" && !has(code+"_item_id") {
				return nil, &ParseError{Reason: fmt.Sprintf("column %s has no item id column %s_item_id", h, code)}
			}
		}
	}
	if len(out) == 0 {
		return nil, &ParseError{Reason: "no listing columns: want <mall>_item_id with <mall>_price (yuan) or <mall>_price_fen (fen), e.g. ccb_item_id,ccb_price"}
	}
	return out, nil
}

// ParseProducts reads products.csv (UTF-8 or GB18030):
// sku,name,category,spec,unit,supplier_code,aid_cert_no and, per mall, <code>_item_id
// with <code>_price (yuan, at most 2 decimals) or <code>_price_fen (a whole number of
// fen) — the bundles have ccb_item_id,ccb_price,abc_item_id,abc_price_fen. malls, when
// given, are the mall codes the service knows; a listing column of another code is a
// *ParseError. category is apple, peppercorn or walnut; a mall that does not list the SKU
// has both its columns empty (one without the other is an error), a listed price is > 0.
// SKUs are unique within the file. Whether the supplier exists is not checked here
// (Registry.Import does). It returns the good products in file order, one RowError per
// bad cell, and a *ParseError for a file it cannot read at all.
func ParseProducts(f File, malls ...string) ([]Product, []RowError, error) {
	p, err := parseProducts(f, malls)
	if err != nil {
		return nil, nil, err
	}
	return values(p.good), p.errs, nil
}

func parseProducts(f File, malls []string) (parsed[Product], error) {
	t, pre, err := readCSV(f, productColumns)
	if err != nil {
		return parsed[Product]{}, err
	}
	lcs, err := listingColumnsOf(t, malls)
	if err != nil {
		return parsed[Product]{}, err
	}
	seen := map[string]int{}
	return run(t, pre, func(rr *rowReader) Product {
		p := Product{
			SKU:          rr.code("sku"),
			Name:         rr.text("name", 200),
			Spec:         rr.optional("spec", 100),
			Unit:         rr.optional("unit", 20),
			SupplierCode: rr.code("supplier_code"),
			AidCertNo:    rr.optional("aid_cert_no", 64),
		}
		rr.unique(seen, "sku", p.SKU, "SKU")
		if v, ok := rr.required("category"); ok {
			switch c := Category(v); c {
			case CategoryApple, CategoryPeppercorn, CategoryWalnut:
				p.Category = c
			default:
				rr.fail("category", v, "unknown category, want apple, peppercorn or walnut")
			}
		}
		for _, lc := range lcs {
			parse, want := money.ParseYuan, "an amount in yuan with at most 2 decimals"
			if lc.fen {
				parse, want = parseFen, "a whole number of fen"
			}
			if id, price := rr.listing(lc.idCol, lc.priceCol, parse, want); id != "" {
				if p.Listings == nil {
					p.Listings = map[string]Listing{}
				}
				p.Listings[lc.mall] = Listing{ItemID: id, Price: price}
			}
		}
		return p
	}), nil
}

// parseFen reads a whole number of fen.
func parseFen(s string) (money.Fen, error) {
	n, ok := atoi(s)
	if !ok {
		return 0, money.ErrInvalidAmount
	}
	return money.Fen(n), nil
}

// listing reads a mall's (item id, price) pair: both empty means not listed.
func (rr *rowReader) listing(idCol, priceCol string, parse func(string) (money.Fen, error), want string) (string, money.Fen) {
	id, price := foldWidth(rr.get(idCol)), foldWidth(rr.get(priceCol))
	switch {
	case id == "" && price == "":
		return "", 0
	case id == "":
		rr.fail(idCol, "", fmt.Sprintf("empty while %s is set: a listed SKU needs both", priceCol))
		return "", 0
	case price == "":
		rr.fail(priceCol, "", fmt.Sprintf("empty while %s is set: a listed SKU needs both", idCol))
		return "", 0
	}
	ok := true
	if !codePattern.MatchString(id) {
		rr.fail(idCol, id, "not an item id: want up to 40 letters, digits, '-', '_' or '.'")
		ok = false
	}
	f, err := parse(price)
	switch {
	case err != nil:
		rr.fail(priceCol, price, "not a price: want "+want)
		ok = false
	case f <= 0:
		rr.fail(priceCol, price, "a listed price must be above zero")
		ok = false
	}
	if !ok {
		return "", 0
	}
	return id, f
}

var linkageColumns = []string{"supplier_code", "household_no", "type", "weight", "valid_from", "valid_to"}

// weightPattern is a plain positive decimal: digits, optionally a point and digits.
var weightPattern = regexp.MustCompile(`^[0-9]{1,12}(\.[0-9]+)?$`)

// ParseLinkages reads linkages.csv (UTF-8 or GB18030):
// supplier_code,household_no,type,weight,valid_from,valid_to (ATTRIBUTION.md, Terms).
// type is produce_purchase, shareholding, employment or land_lease; weight a positive
// decimal with at most 4 decimal places (trailing zeros beyond do not count); dates are
// YYYY-MM-DD business days; valid_to is empty (open-ended) or after valid_from. A repeated
// (supplier_code, household_no, type, valid_from) is an error of the later row. Whether
// the supplier and the household exist is not checked here (Registry.Import does). It
// returns the good linkages in file order, one RowError per bad cell, and a *ParseError
// for a file it cannot read at all.
func ParseLinkages(f File) ([]Linkage, []RowError, error) {
	p, err := parseLinkages(f)
	if err != nil {
		return nil, nil, err
	}
	return values(p.good), p.errs, nil
}

func parseLinkages(f File) (parsed[Linkage], error) {
	t, pre, err := readCSV(f, linkageColumns)
	if err != nil {
		return parsed[Linkage]{}, err
	}
	seen := newLinkagesSeen()
	return run(t, pre, func(rr *rowReader) Linkage { return rr.linkage(seen) }), nil
}

// linkage reads a linkages row (ParseLinkages's rules); seen keeps the file's keys for
// the duplicate check.
func (rr *rowReader) linkage(seen *linkagesSeen) Linkage {
	l := Linkage{SupplierCode: rr.code("supplier_code"), HouseholdNo: HouseholdNo(rr.code("household_no"))}
	if v, ok := rr.required("type"); ok {
		switch lt := LinkageType(v); lt {
		case LinkProducePurchase, LinkShareholding, LinkEmployment, LinkLandLease:
			l.Type = lt
		default:
			rr.fail("type", v, "unknown type, want produce_purchase, shareholding, employment or land_lease")
		}
	}
	if v, ok := rr.required("weight"); ok {
		w := foldWidth(v)
		d, err := decimal.NewFromString(w)
		switch {
		case !weightPattern.MatchString(w) || err != nil:
			rr.fail("weight", v, "not a decimal number")
		case !d.IsPositive():
			rr.fail("weight", v, "not positive")
		case !d.Round(4).Equal(d):
			rr.fail("weight", v, "more than 4 decimal places")
		default:
			l.Weight = d
		}
	}
	if v, ok := rr.required("valid_from"); ok {
		if d, err := parseDay(v); err != nil {
			rr.fail("valid_from", v, "not a date: want YYYY-MM-DD")
		} else {
			l.ValidFrom = d
		}
	}
	if v := rr.get("valid_to"); v != "" {
		d, err := parseDay(v)
		switch {
		case err != nil:
			rr.fail("valid_to", v, "not a date: want YYYY-MM-DD or empty")
		case !l.ValidFrom.IsZero() && !l.ValidFrom.Before(d):
			rr.fail("valid_to", v, "not after valid_from "+l.ValidFrom.String()+" (valid_to is exclusive)")
		default:
			l.ValidTo = d
		}
	}
	if l.SupplierCode != "" && l.HouseholdNo != "" && l.Type != "" && !l.ValidFrom.IsZero() {
		if first, dup := seen.firstRow(l, rr.r.n); dup {
			rr.fail("valid_from", l.ValidFrom.String(), fmt.Sprintf("duplicate linkage (supplier_code, household_no, type, valid_from), first in row %d", first))
		}
	}
	return l
}

// parseDay reads a YYYY-MM-DD business day of the years 1900–2199.
func parseDay(v string) (bizday.Day, error) {
	d, err := bizday.Parse(foldWidth(v))
	if err != nil {
		return bizday.Day{}, err
	}
	if y := d.Start().Year(); y < 1900 || y > 2199 {
		return bizday.Day{}, fmt.Errorf("year %d out of range", y)
	}
	return d, nil
}
