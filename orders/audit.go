package orders

import (
	"encoding/json"
	"fmt"
	"strconv"

	"aidmall/audit"
	"aidmall/households"
	"aidmall/money"
)

// Actor is the caller as the audit log records it: "key:<id>:<name>" and its role.
func (c Caller) Actor() audit.Actor {
	name := c.Name
	if c.KeyID != 0 {
		name = "key:" + strconv.FormatInt(c.KeyID, 10) + ":" + c.Name
	}
	if name == "" {
		name = "unknown"
	}
	return audit.Actor{Name: name, Role: string(c.Role)}
}

// AuditObject is how the audit log names order id.
func AuditObject(id int64) string { return "order:" + strconv.FormatInt(id, 10) }

// auditOrder is what the audit log keeps of an order: no personal field in clear (the
// consignee's name and phone masked, addresses left out, recipients only counted).
type auditOrder struct {
	OrderRef      string           `json:"order_ref"`
	Branch        string           `json:"branch_code"`
	Funding       Funding          `json:"funding"`
	DeliveryMode  DeliveryMode     `json:"delivery_mode"`
	Mall          Mall             `json:"mall"`
	OutOrderNo    OutOrderNo       `json:"out_order_no"`
	MallOrderNo   string           `json:"mall_order_no,omitempty"`
	PlacedAt      string           `json:"placed_at"`
	Status        Status           `json:"status"`
	CancelRequest bool             `json:"cancel_requested,omitempty"`
	DispatchFail  *DispatchFailure `json:"dispatch_failure,omitempty"`
	ShipToName    string           `json:"ship_to_name,omitempty"`
	ShipToPhone   string           `json:"ship_to_phone,omitempty"`
	Total         money.Fen        `json:"total"`
	Lines         []auditOrderLine `json:"lines"`
}

type auditOrderLine struct {
	LineNo     int       `json:"line_no"`
	SKU        string    `json:"sku"`
	Quantity   int64     `json:"quantity"`
	UnitPrice  money.Fen `json:"unit_price"`
	Recipients int       `json:"recipients,omitempty"`
}

func auditSnapshot(o *GroupOrder) auditOrder {
	a := auditOrder{
		OrderRef: o.OrderRef, Branch: o.BranchCode, Funding: o.Funding, DeliveryMode: o.DeliveryMode, Mall: o.Mall,
		OutOrderNo: o.OutOrderNo, MallOrderNo: o.MallOrderNo, PlacedAt: o.PlacedAt.UTC().Format(audit.TimeLayout),
		Status: o.Status, CancelRequest: o.CancelReq, DispatchFail: o.DispatchFailure, Total: o.Total(),
		Lines: make([]auditOrderLine, len(o.Lines)),
	}
	if o.ShipTo.Name != "" {
		a.ShipToName = households.MaskName(o.ShipTo.Name)
	}
	if o.ShipTo.Phone != "" {
		a.ShipToPhone = households.MaskPhone(o.ShipTo.Phone)
	}
	for i, l := range o.Lines {
		a.Lines[i] = auditOrderLine{LineNo: l.LineNo, SKU: l.SKU, Quantity: l.Quantity, UnitPrice: l.UnitPrice, Recipients: len(l.Recipients)}
	}
	return a
}

// auditChange builds the entry of caller's action on order o; before or after nil for none.
func auditChange(caller Caller, action string, id int64, before, after *GroupOrder) (audit.Entry, error) {
	var b, a any
	if before != nil {
		b = auditSnapshot(before)
	}
	if after != nil {
		a = auditSnapshot(after)
	}
	e, err := audit.New(caller.Actor(), action, AuditObject(id), b, a)
	if err != nil {
		return audit.Entry{}, fmt.Errorf("audit: %w", err)
	}
	return e, nil
}

// withReason adds the cancel reason to an order snapshot (JSON object).
func withReason(snapshot []byte, reason string) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(snapshot, &m); err != nil {
		return nil, err
	}
	m["cancel_reason"] = reason
	return json.Marshal(m)
}
