package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"aidmall/households"
	"aidmall/money"
	"aidmall/orders"
)

var (
	_ orders.Store         = (*Store)(nil)
	_ orders.MonthPreparer = (*Store)(nil)
)

// Branch returns the branch with code; orders.ErrNotFound if absent.
func (s *Store) Branch(ctx context.Context, code string) (households.Branch, error) {
	var r branchRow
	err := s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT code, name, company, members FROM branches WHERE code = ?`), code)
	if err != nil {
		return households.Branch{}, fmt.Errorf("branch %q: %w", code, translate(err))
	}
	return r.branch(), nil
}

type branchRow struct {
	Code, Name, Company string
	Members             int
}

func (r branchRow) branch() households.Branch {
	return households.Branch{Code: r.Code, Name: r.Name, Company: r.Company, Members: r.Members}
}

type productRow struct {
	SKU          string `db:"sku"`
	Name         string `db:"name"`
	Category     string `db:"category"`
	Spec         string `db:"spec"`
	Unit         string `db:"unit"`
	SupplierCode string `db:"supplier_code"`
	AidCertNo    string `db:"aid_cert_no"`
}

func (r productRow) product() households.Product {
	return households.Product{
		SKU: r.SKU, Name: r.Name, Category: households.Category(r.Category), Spec: r.Spec, Unit: r.Unit,
		SupplierCode: r.SupplierCode, AidCertNo: r.AidCertNo,
	}
}

// listingRow is one row of product_listings: a product as one mall lists it.
type listingRow struct {
	SKU      string `db:"sku"`
	Mall     string `db:"mall"`
	ItemID   string `db:"item_id"`
	PriceFen int64  `db:"price_fen"`
}

const productCols = `sku, name, category, spec, unit, supplier_code, aid_cert_no`

// withListings adds each product's listings (product_listings) to ps, by SKU.
func withListings(ps map[string]*households.Product, ls []listingRow) {
	for _, l := range ls {
		p := ps[l.SKU]
		if p == nil {
			continue
		}
		if p.Listings == nil {
			p.Listings = map[string]households.Listing{}
		}
		p.Listings[l.Mall] = households.Listing{ItemID: l.ItemID, Price: money.Fen(l.PriceFen)}
	}
}

// Products returns the catalogue entries for skus keyed by SKU (unknown SKUs absent), with
// their listings.
func (s *Store) Products(ctx context.Context, skus []string) (map[string]households.Product, error) {
	_, _, out, err := s.branchProducts(ctx, "", false, skus)
	return out, err
}

// BranchProducts returns branch code (found false when there is none) and the catalogue
// entries for skus as Products does, in one query.
func (s *Store) BranchProducts(ctx context.Context, code string, skus []string) (households.Branch, bool, map[string]households.Product, error) {
	return s.branchProducts(ctx, code, true, skus)
}

// productListingCols are a product's columns and one of its listings' (empty without one).
const productListingCols = `p.sku, p.name, p.category, p.spec, p.unit, p.supplier_code, p.aid_cert_no,
		COALESCE(l.mall, '') AS mall, COALESCE(l.item_id, '') AS item_id, COALESCE(l.price_fen, 0) AS price_fen`

// branchProducts reads the products of skus, each with its listings (one row per listing,
// or one with no listing), and with withBranch the branch too: one row for the branch
// LEFT JOINed to the products' rows, so that an unknown branch or no product still gives
// the other. One round trip.
func (s *Store) branchProducts(ctx context.Context, code string, withBranch bool, skus []string) (households.Branch, bool, map[string]households.Product, error) {
	out := map[string]households.Product{}
	if len(skus) == 0 && !withBranch {
		return households.Branch{}, false, out, nil
	}
	products := `SELECT ` + productListingCols + ` FROM products p LEFT JOIN product_listings l ON l.sku = p.sku WHERE p.sku IN (?)`
	var q string
	var args []any
	var err error
	switch {
	case !withBranch:
		q, args, err = sqlx.In(products, skus)
	case len(skus) == 0:
		q, args = `SELECT b.code AS b_code, b.name AS b_name, b.company AS b_company, b.members AS b_members
			FROM (SELECT 1 AS one) one LEFT JOIN branches b ON b.code = ?`, []any{code}
	default:
		q, args, err = sqlx.In(`SELECT b.code AS b_code, b.name AS b_name, b.company AS b_company, b.members AS b_members, x.*
			FROM (SELECT 1 AS one) one LEFT JOIN branches b ON b.code = ?
			LEFT JOIN (`+products+`) x ON 1 = 1`, code, skus)
	}
	if err != nil {
		return households.Branch{}, false, nil, err
	}
	var rows []struct {
		BCode    sql.NullString `db:"b_code"`
		BName    sql.NullString `db:"b_name"`
		BCompany sql.NullString `db:"b_company"`
		BMembers sql.NullInt64  `db:"b_members"`

		SKU          sql.NullString `db:"sku"`
		Name         sql.NullString `db:"name"`
		Category     sql.NullString `db:"category"`
		Spec         sql.NullString `db:"spec"`
		Unit         sql.NullString `db:"unit"`
		SupplierCode sql.NullString `db:"supplier_code"`
		AidCertNo    sql.NullString `db:"aid_cert_no"`
		Mall         sql.NullString `db:"mall"`
		ItemID       sql.NullString `db:"item_id"`
		PriceFen     sql.NullInt64  `db:"price_fen"`
	}
	if err := s.db.SelectContext(ctx, &rows, s.db.Rebind(q), args...); err != nil {
		if withBranch {
			return households.Branch{}, false, nil, fmt.Errorf("branch %q and products: %w", code, err)
		}
		return households.Branch{}, false, nil, fmt.Errorf("products: %w", err)
	}
	var branch households.Branch
	found := false
	byKey := map[string]*households.Product{}
	var ls []listingRow
	for _, r := range rows {
		if r.BCode.Valid && !found {
			branch = branchRow{Code: r.BCode.String, Name: r.BName.String, Company: r.BCompany.String, Members: int(r.BMembers.Int64)}.branch()
			found = true
		}
		if !r.SKU.Valid {
			continue // the branch's row when no product matched
		}
		if byKey[r.SKU.String] == nil {
			p := productRow{SKU: r.SKU.String, Name: r.Name.String, Category: r.Category.String, Spec: r.Spec.String, Unit: r.Unit.String,
				SupplierCode: r.SupplierCode.String, AidCertNo: r.AidCertNo.String}.product()
			byKey[r.SKU.String] = &p
		}
		if r.Mall.String != "" {
			ls = append(ls, listingRow{SKU: r.SKU.String, Mall: r.Mall.String, ItemID: r.ItemID.String, PriceFen: r.PriceFen.Int64})
		}
	}
	withListings(byKey, ls)
	for k, p := range byKey {
		out[k] = *p
	}
	return branch, found, out, nil
}

// Catalogue returns every product with its listings, by SKU.
func (s *Store) Catalogue(ctx context.Context) ([]households.Product, error) {
	var rows []productRow
	if err := s.db.SelectContext(ctx, &rows, `SELECT `+productCols+` FROM products ORDER BY sku`); err != nil {
		return nil, fmt.Errorf("catalogue: %w", err)
	}
	var ls []listingRow
	if err := s.db.SelectContext(ctx, &ls, `SELECT sku, mall, item_id, price_fen FROM product_listings ORDER BY sku, mall`); err != nil {
		return nil, fmt.Errorf("catalogue listings: %w", err)
	}
	out := make([]households.Product, len(rows))
	byKey := map[string]*households.Product{}
	for i, r := range rows {
		out[i] = r.product()
		byKey[r.SKU] = &out[i]
	}
	withListings(byKey, ls)
	return out, nil
}

type orderRow struct {
	ID              int64              `db:"id"`
	OrderRef        string             `db:"order_ref"`
	BranchCode      string             `db:"branch_code"`
	BuyerName       string             `db:"buyer_name"`
	Funding         string             `db:"funding"`
	DeliveryMode    string             `db:"delivery_mode"`
	ShipToName      string             `db:"ship_to_name"`
	ShipToPhone     string             `db:"ship_to_phone"`
	ShipToAddress   string             `db:"ship_to_address"`
	PlacedAt        time.Time          `db:"placed_at"`
	CreatedAt       time.Time          `db:"created_at"`
	Mall            string             `db:"mall"`
	OutOrderNo      *orders.OutOrderNo `db:"out_order_no"`
	MallOrderNo     string             `db:"mall_order_no"`
	Status          string             `db:"status"`
	RejectCode      string             `db:"reject_code"`
	RejectMessage   string             `db:"reject_message"`
	Submitted       bool               `db:"submitted"`
	Accepted        bool               `db:"accepted"`
	Cancelled       bool               `db:"cancelled"`
	CancelRequested bool               `db:"cancel_requested"`
	CancelRefusal   string             `db:"cancel_refusal"`
	CancelError     string             `db:"cancel_error"`
	CancelAttempt   int                `db:"cancel_attempt"`
	CancelErrorAt   *time.Time         `db:"cancel_error_at"`
	// The dispatch failure (migration 00011): dispatch_failed_at NULL when none.
	DispatchFailedAt    *time.Time `db:"dispatch_failed_at"`
	DispatchFailReason  string     `db:"dispatch_failure_reason"`
	DispatchFailCode    string     `db:"dispatch_failure_mall_code"`
	DispatchFailMessage string     `db:"dispatch_failure_mall_message"`
	DispatchAttempts    int        `db:"dispatch_attempts"`
	DispatchGiveUps     int        `db:"dispatch_give_ups"`
	AutoRouted          bool       `db:"auto_routed"`
}

const orderCols = `id, order_ref, branch_code, buyer_name, funding, delivery_mode, ship_to_name, ship_to_phone, ship_to_address,
	placed_at, created_at, mall, out_order_no, mall_order_no, status, reject_code, reject_message,
	submitted, accepted, cancelled, cancel_requested, cancel_refusal, cancel_error, cancel_attempt, cancel_error_at,
	dispatch_failed_at, dispatch_failure_reason, dispatch_failure_mall_code, dispatch_failure_mall_message,
	dispatch_attempts, dispatch_give_ups, auto_routed`

func (r orderRow) order() *orders.GroupOrder {
	o := &orders.GroupOrder{
		ID: r.ID, OrderRef: r.OrderRef, BranchCode: r.BranchCode, BuyerName: r.BuyerName, Funding: orders.Funding(r.Funding),
		DeliveryMode: orders.DeliveryMode(r.DeliveryMode),
		ShipTo:       orders.ShipTo{Name: r.ShipToName, Phone: r.ShipToPhone, Address: r.ShipToAddress},
		PlacedAt:     r.PlacedAt, CreatedAt: r.CreatedAt, Mall: orders.Mall(r.Mall), MallOrderNo: r.MallOrderNo,
		Status: orders.Status(r.Status), RejectCode: r.RejectCode, RejectMessage: r.RejectMessage,
		Submitted: r.Submitted, Accepted: r.Accepted, Cancelled: r.Cancelled, CancelReq: r.CancelRequested, CancelRefusal: r.CancelRefusal,
	}
	if r.OutOrderNo != nil {
		o.OutOrderNo = *r.OutOrderNo
	}
	o.CancelError, o.CancelAttempt = r.CancelError, r.CancelAttempt
	if r.CancelErrorAt != nil {
		at := r.CancelErrorAt.UTC()
		o.CancelErrorAt = &at
	}
	o.DispatchGiveUps, o.AutoRouted = r.DispatchGiveUps, r.AutoRouted
	if r.DispatchFailedAt != nil {
		o.DispatchFailure = &orders.DispatchFailure{Reason: r.DispatchFailReason, MallCode: orders.Mall(r.DispatchFailCode),
			MallMessage: r.DispatchFailMessage, Attempts: r.DispatchAttempts, At: r.DispatchFailedAt.UTC()}
	}
	return o
}

type lineRow struct {
	ID           int64  `db:"id"`
	OrderID      int64  `db:"order_id"`
	LineNo       int    `db:"line_no"`
	SKU          string `db:"sku"`
	ItemID       string `db:"item_id"`
	Quantity     int64  `db:"quantity"`
	UnitPriceFen int64  `db:"unit_price_fen"`
	Recipients   string `db:"recipients"`
	ShippedQty   int64  `db:"shipped_qty"`
	DeliveredQty int64  `db:"delivered_qty"`
	RefundedFen  int64  `db:"refunded_fen"`
	HeldEvents   int    `db:"held_events"`
}

const lineCols = `id, order_id, line_no, sku, item_id, quantity, unit_price_fen, recipients, shipped_qty, delivered_qty, refunded_fen, held_events`

func (r lineRow) line() orders.Line {
	l := orders.Line{
		ID: r.ID, LineNo: r.LineNo, SKU: r.SKU, ItemID: r.ItemID, Quantity: r.Quantity,
		UnitPrice: money.Fen(r.UnitPriceFen), ShippedQty: r.ShippedQty, DeliveredQty: r.DeliveredQty,
		RefundedFen: money.Fen(r.RefundedFen), HeldEvents: r.HeldEvents,
	}
	if r.Recipients != "" {
		_ = json.Unmarshal([]byte(r.Recipients), &l.Recipients)
	}
	return l
}

func (s *Store) loadOrder(ctx context.Context, q sqlx.QueryerContext, id int64) (*orders.GroupOrder, error) {
	var r orderRow
	if err := sqlx.GetContext(ctx, q, &r, s.db.Rebind(`SELECT `+orderCols+` FROM group_orders WHERE id = ?`), id); err != nil {
		return nil, fmt.Errorf("order %d: %w", id, translate(err))
	}
	o := r.order()
	var lines []lineRow
	if err := sqlx.SelectContext(ctx, q, &lines, s.db.Rebind(`SELECT `+lineCols+` FROM order_lines WHERE order_id = ? ORDER BY line_no`), id); err != nil {
		return nil, fmt.Errorf("order %d lines: %w", id, err)
	}
	for _, l := range lines {
		o.Lines = append(o.Lines, l.line())
	}
	return o, nil
}

// Order returns order id with its lines; orders.ErrNotFound if absent.
func (s *Store) Order(ctx context.Context, id int64) (*orders.GroupOrder, error) {
	return s.loadOrder(ctx, s.db, id)
}

// OrderByOutOrderNo returns the order with that out_order_no; orders.ErrNotFound if absent.
func (s *Store) OrderByOutOrderNo(ctx context.Context, outOrderNo orders.OutOrderNo) (*orders.GroupOrder, error) {
	var id int64
	if err := s.db.GetContext(ctx, &id, s.db.Rebind(`SELECT id FROM group_orders WHERE out_order_no = ?`), outOrderNo); err != nil {
		return nil, fmt.Errorf("order %q: %w", outOrderNo, translate(err))
	}
	return s.Order(ctx, id)
}

// ListOrders returns one page of orders, newest placed first (keyset pagination on
// placed_at, id), and the next page's cursor ("" on the last page).
func (s *Store) ListOrders(ctx context.Context, f orders.ListFilter) ([]orders.GroupOrder, string, error) {
	where := []string{"1=1"}
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if f.BranchCode != "" {
		add("branch_code = ?", f.BranchCode)
	}
	if f.Mall != "" {
		add("mall = ?", f.Mall)
	}
	if f.Status != "" {
		add("status = ?", f.Status)
	}
	if f.Funding != "" {
		add("funding = ?", f.Funding)
	}
	if f.OrderRef != "" {
		add("order_ref = ?", f.OrderRef)
	}
	if !f.From.IsZero() {
		add("placed_at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		add("placed_at < ?", f.To.UTC())
	}
	if f.Cursor != "" {
		c, err := orders.ParseListCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "(placed_at < ? OR (placed_at = ? AND id < ?))")
		args = append(args, c.PlacedAt, c.PlacedAt, c.ID)
	}
	limit := orders.ListLimit(f.Limit)
	q := `SELECT ` + orderCols + ` FROM group_orders WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY placed_at DESC, id DESC LIMIT ` + strconv.Itoa(limit+1)
	var rows []orderRow
	if err := s.db.SelectContext(ctx, &rows, s.db.Rebind(q), args...); err != nil {
		return nil, "", fmt.Errorf("list orders: %w", err)
	}
	// limit+1 rows were asked for: one more than the page says another page exists.
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	out := make([]orders.GroupOrder, 0, len(rows))
	ids := make([]int64, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r.order())
		ids = append(ids, r.ID)
	}
	if len(ids) > 0 {
		q, a, _ := sqlx.In(`SELECT `+lineCols+` FROM order_lines WHERE order_id IN (?) ORDER BY order_id, line_no`, ids)
		var lines []lineRow
		if err := s.db.SelectContext(ctx, &lines, s.db.Rebind(q), a...); err != nil {
			return nil, "", fmt.Errorf("list order lines: %w", err)
		}
		byID := map[int64]int{}
		for i := range out {
			byID[out[i].ID] = i
		}
		for _, l := range lines {
			i := byID[l.OrderID]
			out[i].Lines = append(out[i].Lines, l.line())
		}
	}
	next := ""
	if more {
		next = orders.CursorAfter(out[len(out)-1]).String()
	}
	return out, next, nil
}

// lockOrder locks order id (its row first) and loads it with its lines.
func (s *Store) lockOrder(ctx context.Context, tx *sqlx.Tx, id int64) (*orders.GroupOrder, error) {
	var got int64
	if err := tx.GetContext(ctx, &got, tx.Rebind(`SELECT id FROM group_orders WHERE id = ?`+s.db.forUpdate()), id); err != nil {
		return nil, fmt.Errorf("order %d: %w", id, translate(err))
	}
	return s.loadOrder(ctx, tx, id)
}

// Progress counts what the service has in hand, for the demo and operators: orders, those
// not yet taken or refused by their mall, and fulfilment events by state.
type Progress struct {
	Orders       int `db:"orders"`
	Undispatched int `db:"undispatched"`
	Events       int `db:"events"`
	Parked       int `db:"parked"`
	Held         int `db:"held"`
}

// Progress returns the current counts.
func (s *Store) Progress(ctx context.Context) (Progress, error) {
	var p Progress
	err := s.db.GetContext(ctx, &p, `SELECT
		(SELECT COUNT(*) FROM group_orders) AS orders,
		(SELECT COUNT(*) FROM group_orders WHERE NOT submitted AND reject_code = '' AND NOT cancelled) AS undispatched,
		(SELECT COUNT(*) FROM fulfilment_events) AS events,
		(SELECT COUNT(*) FROM fulfilment_events WHERE state = 'parked') AS parked,
		(SELECT COUNT(*) FROM fulfilment_events WHERE state = 'held') AS held`)
	if err != nil {
		return p, fmt.Errorf("progress: %w", err)
	}
	return p, nil
}
