package web

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"aidmall/households"
	"aidmall/money"
	"aidmall/orders"
	"aidmall/reports"
)

// Catalogue is what the catalogue page and the order form read of the catalogue;
// *sqlstore.Store satisfies it.
type Catalogue interface {
	// Catalogue returns every product with its listings, by SKU.
	Catalogue(ctx context.Context) ([]households.Product, error)
	// Suppliers returns every supplier, by code.
	Suppliers(ctx context.Context) ([]households.Supplier, error)
	// Labels returns the reports' names of a dimension's keys (county, category).
	Labels(ctx context.Context, by reports.By) (map[string]string, error)
}

// product is one product of the catalogue as the pages show it: its names for people and
// each connected mall's price (0 where the mall does not list it).
type product struct {
	SKU, Name, Spec, Unit string
	Category              string // 苹果
	Supplier              string // its name
	County                string // 宜川县
	AidCertNo             string // 扶贫产品认定编号
	Prices                []money.Fen
	// PriceData is the prices for the order form's script: "ccb:6800 abc:6900" (fen; a
	// mall that does not list it is absent).
	PriceData string
}

// catalogue is the products and the malls whose prices they carry, in Config.Malls order.
type catalogue struct {
	Malls    []MallName
	Products []product
	bySKU    map[string]int
}

// Price returns sku's price at mall i, and whether mall i lists it.
func (c catalogue) Price(sku string, i int) (money.Fen, bool) {
	j, ok := c.bySKU[sku]
	if !ok || c.Products[j].Prices[i] <= 0 {
		return 0, false
	}
	return c.Products[j].Prices[i], true
}

// loadCatalogue reads the catalogue with the reports' labels for category and county.
func (s *Server) loadCatalogue(ctx context.Context) (catalogue, error) {
	ps, err := s.cfg.Catalogue.Catalogue(ctx)
	if err != nil {
		return catalogue{}, err
	}
	sups, err := s.cfg.Catalogue.Suppliers(ctx)
	if err != nil {
		return catalogue{}, err
	}
	cats, err := s.cfg.Catalogue.Labels(ctx, reports.ByCategory)
	if err != nil {
		return catalogue{}, err
	}
	counties, err := s.cfg.Catalogue.Labels(ctx, reports.ByCounty)
	if err != nil {
		return catalogue{}, err
	}
	bySupplier := map[string]households.Supplier{}
	for _, sp := range sups {
		bySupplier[sp.Code] = sp
	}
	label := func(m map[string]string, k string) string {
		if v, ok := m[k]; ok && v != "" {
			return v
		}
		return k
	}
	c := catalogue{Malls: s.cfg.Malls, bySKU: map[string]int{}}
	for _, p := range ps {
		sp := bySupplier[p.SupplierCode]
		out := product{SKU: p.SKU, Name: p.Name, Spec: p.Spec, Unit: p.Unit, Category: label(cats, string(p.Category)),
			Supplier: label(map[string]string{sp.Code: sp.Name}, p.SupplierCode), County: label(counties, sp.CountyCode),
			AidCertNo: p.AidCertNo, Prices: make([]money.Fen, len(s.cfg.Malls))}
		var data []string
		for i, m := range s.cfg.Malls {
			if _, price, ok := p.Listing(string(m.Code)); ok {
				out.Prices[i] = price
				data = append(data, fmt.Sprintf("%s:%d", m.Code, price))
			}
		}
		out.PriceData = strings.Join(data, " ")
		c.Products = append(c.Products, out)
	}
	sort.SliceStable(c.Products, func(i, j int) bool { return c.Products[i].SKU < c.Products[j].SKU })
	for i, p := range c.Products {
		c.bySKU[p.SKU] = i
	}
	return c, nil
}

// document lays the catalogue out as one table: a price column per mall, empty where
// the mall does not list the product.
func (c catalogue) document() reports.Document {
	t := reports.Table{Name: "商品目录", Columns: []reports.Column{
		{Name: "sku", Title: "商品编码"}, {Name: "name", Title: "商品名称"}, {Name: "spec", Title: "规格"}, {Name: "unit", Title: "单位"},
		{Name: "category", Title: "品类"}, {Name: "supplier", Title: "供应商"}, {Name: "county", Title: "县区"},
		{Name: "aid_cert_no", Title: "扶贫产品认定编号"},
	}}
	for _, m := range c.Malls {
		t.Columns = append(t.Columns, reports.Column{Name: string(m.Code) + "_price", Title: m.Name + "价格", Kind: reports.KindMoney})
	}
	for _, p := range c.Products {
		row := []reports.Value{reports.Text(p.SKU), reports.Text(p.Name), reports.Text(p.Spec), reports.Text(p.Unit),
			reports.Text(p.Category), reports.Text(p.Supplier), reports.Text(p.County), reports.Text(p.AidCertNo)}
		for _, price := range p.Prices {
			if price > 0 {
				row = append(row, reports.Money(price))
			} else {
				row = append(row, reports.Text("")) // not listed there
			}
		}
		t.Rows = append(t.Rows, row)
	}
	return reports.Document{Report: "catalogue", Title: "商品目录", Tables: []reports.Table{t}}
}

// cataloguePage is GET /catalogue: every product with each mall's price, supplier,
// county, 扶贫产品认定编号 and category, downloadable as XLSX or CSV.
func (s *Server) cataloguePage(c echo.Context) error {
	cat, err := s.loadCatalogue(c.Request().Context())
	if err != nil {
		return s.fail(c, err)
	}
	doc := cat.document()
	if done, err := s.download(c, doc); done {
		return err
	}
	return s.render(c, http.StatusOK, "catalogue.html", Page{Title: "商品目录", Data: struct {
		Tables []tableView
		Count  int
	}{s.tablesOf(c, doc), len(cat.Products)}})
}

// canOrder is the guard of every order page: branch staff and the aid office (auditors
// get the 404 page).
func canOrder(c orders.Caller) bool { return c.CanPlaceOrders() }
