package orders

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"aidmall/audit"
	"aidmall/money"
)

// HistoryOrder is a group order that was already placed at its mall before the service
// kept it (a bundle's orders.csv and order_lines.csv): it has its own out_order_no and
// mall_order_no, the prices actually paid, and needs no dispatch. Loading history lets a
// mall's statements (aidmall import statement) be applied to the orders they name.
type HistoryOrder struct {
	OrderRef     string
	BranchCode   string
	Mall         Mall
	Funding      Funding
	DeliveryMode DeliveryMode
	PlacedAt     time.Time
	OutOrderNo   OutOrderNo
	MallOrderNo  string
	Lines        []HistoryLine
}

// HistoryLine is one line of a HistoryOrder; UnitPrice is the price paid.
type HistoryLine struct {
	LineNo    int
	SKU       string
	Quantity  int64
	UnitPrice money.Fen
}

// LoadHistory stores h as an order already at its mall, with no dispatch job; events
// already parked for its out_order_no are applied. aid_office only. It returns created
// false, and changes nothing, when the branch already has h.OrderRef with the same
// out_order_no (a re-import). Errors: *ValidationError for bad content (pointers into the
// order: /mall, /lines/0/sku, …), ErrConflict when the order_ref or out_order_no is
// taken by another order, ErrForbidden for other roles.
func (s *Service) LoadHistory(ctx context.Context, caller Caller, h HistoryOrder) (*GroupOrder, bool, error) {
	if caller.Role != RoleAidOffice {
		return nil, false, Errorf(ErrForbidden, "only aid_office loads order history")
	}
	ve := &ValidationError{}
	if strings.TrimSpace(h.OrderRef) == "" {
		ve.add("/order_ref", "required")
	}
	if !s.connected(h.Mall) {
		ve.add("/mall", "must be one of %s", s.mallChoices())
	}
	if !h.Funding.Valid() {
		ve.add("/funding", "must be union_funds, employee_self_pay or external")
	}
	if !h.DeliveryMode.Valid() {
		ve.add("/delivery_mode", "must be bulk or per_recipient")
	}
	if h.PlacedAt.IsZero() {
		ve.add("/placed_at", "required")
	}
	if l := s.limitsFor(h.Mall); !l.ValidOutOrderNo(h.OutOrderNo) {
		ve.add("/out_order_no", "%s", l.outOrderNoRule())
	}
	if len(h.Lines) == 0 {
		ve.add("/lines", "at least one line is required")
	}
	var branchName string
	if b, err := s.store.Branch(ctx, h.BranchCode); errors.Is(err, ErrNotFound) {
		ve.add("/branch_code", "unknown branch %q", h.BranchCode)
	} else if err != nil {
		return nil, false, fmt.Errorf("load branch: %w", err)
	} else {
		branchName = b.Name
	}
	skus := make([]string, len(h.Lines))
	for i, l := range h.Lines {
		skus[i] = l.SKU
	}
	products, err := s.store.Products(ctx, skus)
	if err != nil {
		return nil, false, fmt.Errorf("load products: %w", err)
	}
	o := &GroupOrder{
		OrderRef: h.OrderRef, BranchCode: h.BranchCode, BuyerName: branchName, Funding: h.Funding,
		DeliveryMode: h.DeliveryMode, PlacedAt: h.PlacedAt, Mall: h.Mall, OutOrderNo: h.OutOrderNo,
		MallOrderNo: h.MallOrderNo, Submitted: true,
	}
	seen := map[int]bool{}
	for i, l := range h.Lines {
		p := fmt.Sprintf("/lines/%d", i)
		prod, ok := products[l.SKU]
		if !ok {
			ve.add(p+"/sku", "unknown SKU %q", l.SKU)
		}
		if l.LineNo <= 0 || seen[l.LineNo] {
			ve.add(p+"/line_no", "must be a positive number, once per order")
		}
		seen[l.LineNo] = true
		if l.Quantity <= 0 || l.Quantity > MaxQuantity {
			ve.add(p+"/quantity", "must be a whole number from 1 to %d", MaxQuantity)
		}
		if l.UnitPrice <= 0 {
			ve.add(p+"/unit_price", "must be positive")
		}
		itemID, _, _ := prod.Listing(string(h.Mall))
		o.Lines = append(o.Lines, Line{LineNo: l.LineNo, SKU: l.SKU, ItemID: itemID, Quantity: l.Quantity, UnitPrice: l.UnitPrice})
	}
	if len(ve.Fields) > 0 {
		return nil, false, ve
	}
	err = s.store.InTx(ctx, func(tx Tx) error {
		if err := create(ctx, tx, o); err != nil {
			return err
		}
		e, err := auditChange(caller, audit.ActionOrderHistory, o.ID, nil, o)
		if err != nil {
			return err
		}
		return tx.Audit(ctx, e)
	})
	if errors.Is(err, ErrConflict) {
		if have, gerr := s.store.OrderByOutOrderNo(ctx, h.OutOrderNo); gerr == nil && have.OrderRef == h.OrderRef && have.BranchCode == h.BranchCode {
			return have, false, nil
		}
	}
	if err != nil {
		return nil, false, err
	}
	return o, true, nil
}
