// Package households is the domain of the registry and catalogue: registered poor
// households (建档立卡贫困户), suppliers (cooperatives 专业合作社, leading enterprises 龙头企业,
// households), benefit linkages (利益联结) between them, union branches (工会) and the product
// catalogue with each mall's listing. It holds the types, the identity-number checks
// (GB 11643 resident ID, GB 32100 unified social credit code) and the parsers of the
// registry files as people hand them over; it imports no SQL, HTTP or Redis code.
package households

import (
	"github.com/shopspring/decimal"

	"aidmall/bizday"
	"aidmall/money"
)

// HouseholdNo is a registered poor household's number (户编号) as the county registry
// writes it: text, leading zeros kept. It is what a linkage and a ledger entry name.
type HouseholdNo string

// Branch is a union branch (工会) that places orders.
type Branch struct {
	Code    string    `json:"code"`
	Name    string    `json:"name"`
	Company string    `json:"company"`
	Members int       `json:"members"` // union members (职工人数)
	Budget  money.Fen `json:"budget"`  // the budget column of the branches file
	// BudgetYear is the year Budget is the consumption-aid budget of (the import's
	// --budget-year); 0 when the import names none, and Budget is then not stored.
	BudgetYear int `json:"budget_year,omitempty"`
}

// SupplierKind is what a supplier is.
type SupplierKind string

const (
	SupplierCooperative SupplierKind = "cooperative" // 专业合作社
	SupplierEnterprise  SupplierKind = "enterprise"  // 龙头企业
	SupplierHousehold   SupplierKind = "household"   // 农户
)

// Supplier produces SKUs; it lies in one county.
type Supplier struct {
	Code       string       `json:"code"`
	Name       string       `json:"name"`
	USCC       string       `json:"uscc"`        // 统一社会信用代码, GB 32100
	CountyCode string       `json:"county_code"` // GB/T 2260 six-digit code, e.g. 610630
	Kind       SupplierKind `json:"kind"`
}

// Category is a product category.
type Category string

const (
	CategoryApple      Category = "apple"      // 苹果
	CategoryPeppercorn Category = "peppercorn" // 花椒
	CategoryWalnut     Category = "walnut"     // 核桃
)

// Product is one SKU of the catalogue with its listings, keyed by mall code ("ccb"). A
// mall that does not list the SKU has no entry.
type Product struct {
	SKU          string             `json:"sku"`
	Name         string             `json:"name"`
	Category     Category           `json:"category"`
	Spec         string             `json:"spec"`
	Unit         string             `json:"unit"`
	SupplierCode string             `json:"supplier_code"`
	AidCertNo    string             `json:"aid_cert_no"` // 扶贫产品认定编号
	Listings     map[string]Listing `json:"listings,omitempty"`
}

// Listing is a product as one mall lists it: the mall's item id and its price.
type Listing struct {
	ItemID string    `json:"item_id"`
	Price  money.Fen `json:"price"`
}

// Listing returns the item id and listed price of the product at mall (a mall code), and
// whether that mall lists it (an item id and a price above zero).
func (p Product) Listing(mall string) (itemID string, price money.Fen, ok bool) {
	l, found := p.Listings[mall]
	if !found {
		return "", 0, false
	}
	return l.ItemID, l.Price, l.ItemID != "" && l.Price > 0
}

// Household is a registered poor household (建档立卡贫困户) as the county registry exports
// it. IDNumber and Phone are personal data: stored sealed, shown masked.
type Household struct {
	No        HouseholdNo `json:"household_no"` // 户编号, text (leading zeros kept)
	HeadName  string      `json:"head_name"`    // 户主姓名
	IDNumber  string      `json:"id_number"`    // 证件号码, GB 11643 18 characters
	Members   int         `json:"members"`      // 家庭人口数, 1–12
	County    string      `json:"county"`       // 县(市、区), the name
	Township  string      `json:"township"`     // 乡(镇)
	Village   string      `json:"village"`      // 行政村
	Attribute string      `json:"attribute"`    // 贫困户属性: 一般贫困户 / 低保贫困户 / 特困供养贫困户
	ExitYear  int         `json:"exit_year"`    // 脱贫年度, 0 if not yet
	Phone     string      `json:"phone"`        // 联系电话
}

// LinkageType is the kind of a benefit linkage (利益联结).
type LinkageType string

const (
	LinkProducePurchase LinkageType = "produce_purchase" // 订单收购
	LinkShareholding    LinkageType = "shareholding"     // 入股分红
	LinkEmployment      LinkageType = "employment"       // 务工就业
	LinkLandLease       LinkageType = "land_lease"       // 土地流转
)

// Linkage ties a household to a supplier with a weight over a half-open interval of
// business days [ValidFrom, ValidTo); a zero ValidTo is open-ended (ATTRIBUTION.md, Terms).
type Linkage struct {
	SupplierCode string          `json:"supplier_code"`
	HouseholdNo  HouseholdNo     `json:"household_no"`
	Type         LinkageType     `json:"type"`
	Weight       decimal.Decimal `json:"weight"` // positive, at most 4 decimal places
	ValidFrom    bizday.Day      `json:"valid_from"`
	ValidTo      bizday.Day      `json:"valid_to"`
}

// ActiveOn reports whether l is in force on business day d: ValidFrom <= d and
// (ValidTo is empty or d < ValidTo).
func (l Linkage) ActiveOn(d bizday.Day) bool {
	if d.Before(l.ValidFrom) {
		return false
	}
	return l.ValidTo.IsZero() || d.Before(l.ValidTo)
}

// View is a household as the service shows it to people: 户主姓名, 证件号码 and 联系电话
// masked (张*, 610630********123X, 138****0000); the clear values never leave the sealed
// columns.
type View struct {
	No        HouseholdNo `json:"household_no"`
	HeadName  string      `json:"head_name"`
	IDNumber  string      `json:"id_number"`
	Phone     string      `json:"phone"`
	Members   int         `json:"members"`
	County    string      `json:"county"`
	Township  string      `json:"township"`
	Village   string      `json:"village"`
	Attribute string      `json:"attribute"`
	ExitYear  int         `json:"exit_year,omitempty"`
}
