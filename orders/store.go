package orders

import (
	"context"
	"time"

	"aidmall/households"
)

// Store is what the orders domain needs of the system of record. adapters/sqlstore
// implements it on SQLite and PostgreSQL. Methods return ErrNotFound and ErrConflict
// (wrapped) for missing rows and unique violations.
type Store interface {
	// Branch returns a union branch by code.
	Branch(ctx context.Context, code string) (households.Branch, error)
	// Products returns the catalogue entries for skus, keyed by SKU; unknown SKUs are absent.
	Products(ctx context.Context, skus []string) (map[string]households.Product, error)

	// CreateOrder stores o with its lines in one transaction, together with the job that
	// dispatches it to its mall, and applies any parked events already received for its
	// out_order_no. It sets o.ID, o.CreatedAt, o.Status, and o.OutOrderNo when empty
	// (NewOutOrderNo of PlacedAt). ErrConflict when the branch already has o.OrderRef.
	CreateOrder(ctx context.Context, o *GroupOrder) error
	// Order returns the order with its lines; ErrNotFound if absent.
	Order(ctx context.Context, id int64) (*GroupOrder, error)
	// OrderByOutOrderNo returns the order with that out_order_no; ErrNotFound if absent.
	OrderByOutOrderNo(ctx context.Context, outOrderNo string) (*GroupOrder, error)
	// ListOrders returns one page of orders, newest first, and the cursor of the next page
	// ("" on the last).
	ListOrders(ctx context.Context, f ListFilter) ([]GroupOrder, string, error)

	// MarkSubmitted records that the mall took the order and its mall order number.
	MarkSubmitted(ctx context.Context, id int64, mallOrderNo string) error
	// MarkRejected records the mall's final refusal (code and message as the mall gave them).
	MarkRejected(ctx context.Context, id int64, code, message string) error
	// RequestCancel records that a cancel was asked for and enqueues the job that asks the
	// mall, in one transaction. ErrNotAllowed when the order can no longer be cancelled.
	RequestCancel(ctx context.Context, id int64, reason string) error
	// MarkCancelled records a cancellation that needs no word from the mall (the order never
	// reached it).
	MarkCancelled(ctx context.Context, id int64) error

	// ApplyEvent records ev (unique on mall, out_order_no and event id) and applies it in
	// one transaction: line quantities, order state, attribution ledger. An event for an
	// order not yet known is parked and applied when the order is created.
	ApplyEvent(ctx context.Context, ev FulfilmentEvent) (ApplyResult, error)
}

// ApplyResult says what ApplyEvent did.
type ApplyResult struct {
	Duplicate bool // the event was already recorded: nothing changed
	Parked    bool // no order has its out_order_no yet: kept for later
	Held      bool // applied to state but kept for review (ATTRIBUTION.md §1.6)
}

// ListFilter selects orders. Zero fields do not filter.
type ListFilter struct {
	BranchCode string
	Mall       Mall
	Status     Status
	Funding    Funding
	From, To   time.Time // placed_at in [From, To)
	Limit      int       // 1–200; default 50
	Cursor     string    // opaque, from a previous page
}
