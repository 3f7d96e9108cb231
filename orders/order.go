// Package orders is the domain of group orders (团购订单) placed by union branches, the mall
// order each one becomes at a bank mall, their lines, and the fulfilment events the malls
// report. It holds types, rules (pricing, routing, state derived from line quantities) and
// the interfaces it needs (Store, MallClient); it imports no HTTP, SQL, Redis or mall code.
//
// One group order goes to exactly one mall as one mall order (the bundles' orders.csv
// names one mall per order); the mall order's fields (out_order_no, mall_order_no, its
// dispatch state) live on GroupOrder.
package orders

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"time"

	"aidmall/money"
)

// Domain errors. Adapters translate their own failures into these (sql.ErrNoRows →
// ErrNotFound, a unique violation → ErrConflict) and the API maps them to HTTP once.
var (
	ErrNotFound   = errors.New("not found")
	ErrConflict   = errors.New("conflict")
	ErrInvalid    = errors.New("invalid")
	ErrForbidden  = errors.New("forbidden")
	ErrNotAllowed = errors.New("not allowed in this state")
)

// Mall names a bank mall by its code, the lowercase code used in the API, config and data
// ("ccb", "abc"). Which malls exist is not this package's knowledge: each is a driver
// (package malls) and the Service is given the connected ones (NewService).
type Mall string

// MallAuto is accepted on POST /v1/orders only: pick a mall that lists every line.
const MallAuto Mall = "auto"

// OutOrderNo is our number for a mall order (商户订单号, CCB out_order_no, ABC
// merchantOrderNo): NewOutOrderNo makes it, a mall is idempotent on it, and its
// notifications name it. Which strings a mall takes as one its driver states
// (MallLimits.ValidOutOrderNo).
type OutOrderNo string

// MallEventID is a mall's id of one fulfilment event (事件编号: CCB notify_id, ABC
// eventId), unique per mall order; a repeated one is the same event.
type MallEventID string

// Funding is who pays for an order; it decides which consumption-aid indicator the money
// counts in (ATTRIBUTION.md §3.4).
type Funding string

const (
	FundingUnion        Funding = "union_funds"       // 工会经费: counts as purchased (购买)
	FundingEmployeePays Funding = "employee_self_pay" // 职工自费: helped to sell (帮助销售)
	FundingExternal     Funding = "external"          // 外部: helped to sell (帮助销售)
)

// Valid reports whether f is a known funding source.
func (f Funding) Valid() bool {
	return f == FundingUnion || f == FundingEmployeePays || f == FundingExternal
}

// DeliveryMode is how goods are shipped: one consignment, or per recipient.
type DeliveryMode string

const (
	DeliveryBulk         DeliveryMode = "bulk"
	DeliveryPerRecipient DeliveryMode = "per_recipient"
)

// Valid reports whether d is a known delivery mode.
func (d DeliveryMode) Valid() bool { return d == DeliveryBulk || d == DeliveryPerRecipient }

// ShipTo is where a consignment goes. Phone is personal data: masked in every response.
type ShipTo struct {
	Name    string `json:"name"`
	Phone   string `json:"phone"`
	Address string `json:"address"`
}

// Recipient is one consignee of a per_recipient line.
type Recipient struct {
	Name     string `json:"name"`
	Phone    string `json:"phone"`
	Address  string `json:"address"`
	Quantity int64  `json:"quantity"`
}

// Line is one sale line of an order: a SKU, a whole quantity, and the unit price paid
// (the mall's listed price when the order was placed), with what fulfilment has done to it.
type Line struct {
	ID         int64       `json:"-"`
	LineNo     int         `json:"line_no"`
	SKU        string      `json:"sku"`
	ItemID     string      `json:"item_id"` // the mall's item id for SKU
	Quantity   int64       `json:"quantity"`
	UnitPrice  money.Fen   `json:"unit_price"`
	Recipients []Recipient `json:"recipients,omitempty"`

	// Fulfilment, derived from the line's events (never set by a client).
	ShippedQty   int64     `json:"shipped_quantity"`
	DeliveredQty int64     `json:"delivered_quantity"` // deliveries that moved money
	RefundedFen  money.Fen `json:"refunded_amount"`
	HeldEvents   int       `json:"held_events"` // events kept for review (ATTRIBUTION.md §1.6)
}

// Amount returns quantity × unit price.
func (l Line) Amount() money.Fen { return money.Fen(l.Quantity) * l.UnitPrice }

// GroupOrder is a union branch's order (团购订单) and the mall order it became.
type GroupOrder struct {
	ID           int64        `json:"id"`
	OrderRef     string       `json:"order_ref"` // the branch's own reference, unique per branch
	BranchCode   string       `json:"branch_code"`
	BuyerName    string       `json:"buyer_name"` // the branch's name when placed, as sent to the mall
	Funding      Funding      `json:"funding"`
	DeliveryMode DeliveryMode `json:"delivery_mode"`
	ShipTo       ShipTo       `json:"ship_to"`
	PlacedAt     time.Time    `json:"placed_at"` // when the branch placed it (may be back-dated by aid_office)
	CreatedAt    time.Time    `json:"created_at"`
	Lines        []Line       `json:"lines"`

	// The mall order.
	Mall          Mall       `json:"mall"`
	OutOrderNo    OutOrderNo `json:"out_order_no"`  // our number at the mall (商户订单号)
	MallOrderNo   string     `json:"mall_order_no"` // the mall's number (商城订单号), once known
	Status        Status     `json:"status"`
	RejectCode    string     `json:"reject_code,omitempty"`
	RejectMessage string     `json:"reject_message,omitempty"`
	Accepted      bool       `json:"-"` // an accepted event was seen
	Cancelled     bool       `json:"-"` // a cancelled event was seen
	Submitted     bool       `json:"-"` // the mall confirmed create
	CancelReq     bool       `json:"-"` // a cancel was asked for and not yet confirmed
	// CancelRefusal is the mall's code and message when it refused a cancel (a line had
	// shipped); empty otherwise.
	CancelRefusal string `json:"cancel_refusal,omitempty"`
	// CancelError is why the last attempt to ask the mall to cancel did not reach it (no
	// answer, an error, its breaker open), CancelAttempt that attempt's number (1 for the
	// first) and CancelErrorAt when it failed; empty once an attempt reaches the mall.
	CancelError   string     `json:"cancel_error,omitempty"`
	CancelAttempt int        `json:"cancel_attempt,omitempty"`
	CancelErrorAt *time.Time `json:"cancel_error_at,omitempty"`
	// DispatchFailure is why the order's dispatch gave up (MarkDispatchFailed); nil unless
	// it did and no one has retried it since (RetryDispatch). It makes the status
	// dispatch_failed while the order has not reached its mall.
	DispatchFailure *DispatchFailure `json:"dispatch_failure,omitempty"`
	// DispatchGiveUps counts the times the order's dispatch gave up (each one is a review
	// item of its own).
	DispatchGiveUps int `json:"-"`
	// AutoRouted: the order was placed with mall "auto", so it may fail over to another
	// mall (FailoverTarget); an order placed for a named mall never moves.
	AutoRouted bool `json:"-"`
}

// Total returns the sum of the lines' amounts.
func (o *GroupOrder) Total() money.Fen {
	var t money.Fen
	for _, l := range o.Lines {
		t += l.Amount()
	}
	return t
}

// Line returns the line numbered no, or nil.
func (o *GroupOrder) Line(no int) *Line {
	for i := range o.Lines {
		if o.Lines[i].LineNo == no {
			return &o.Lines[i]
		}
	}
	return nil
}

// crockford is the ULID alphabet (Crockford's base32: no I, L, O, U).
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewOutOrderNo makes the service's out_order_no for an order placed at t: "AM" and a ULID
// — 10 characters of t's Unix milliseconds and 16 of 80 random bits, Crockford base32 —
// OutOrderNoLen (28) letters and digits in all, as in ccb-mall.md's example "AM01HZX…". It needs no
// database sequence, so a restored or reset database can never hand a mall a number the
// mall has already seen (the malls are idempotent on it: a repeated number would return
// another order, or be refused as a conflict). Numbers sort by t.
func NewOutOrderNo(t time.Time) OutOrderNo {
	var b [16]byte
	ms := uint64(t.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never fails (Go 1.24+)
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return OutOrderNo("AM" + string(out[:]))
}
