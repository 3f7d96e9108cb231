package orders

import (
	"context"
	"time"

	"aidmall/attribution"
	"aidmall/audit"
	"aidmall/bizday"
	"aidmall/households"
	"aidmall/money"
)

// Store is what the orders domain needs of the system of record. adapters/sqlstore
// implements it on SQLite and PostgreSQL. Reads outside a transaction are methods of
// Store; every use case that changes state runs in InTx and decides there, the Tx only
// loading, locking and saving. Methods return ErrNotFound and ErrConflict (wrapped) for
// missing rows and unique violations.
type Store interface {
	// Branch returns a union branch by code.
	Branch(ctx context.Context, code string) (households.Branch, error)
	// Products returns the catalogue entries for skus, keyed by SKU; unknown SKUs are absent.
	Products(ctx context.Context, skus []string) (map[string]households.Product, error)
	// BranchProducts is Branch and Products in one read (what Place reads before its
	// transaction): found is false for an unknown branch (or code ""), which is no error.
	BranchProducts(ctx context.Context, code string, skus []string) (branch households.Branch, found bool, products map[string]households.Product, err error)
	// Order returns the order with its lines; ErrNotFound if absent.
	Order(ctx context.Context, id int64) (*GroupOrder, error)
	// OrderByOutOrderNo returns the order with that out_order_no; ErrNotFound if absent.
	OrderByOutOrderNo(ctx context.Context, outOrderNo OutOrderNo) (*GroupOrder, error)
	// ListOrders returns one page of orders, newest first, and the cursor of the next page
	// ("" on the last).
	ListOrders(ctx context.Context, f ListFilter) ([]GroupOrder, string, error)
	// Branches returns every union branch, by code.
	Branches(ctx context.Context) ([]households.Branch, error)
	// Budgets returns the budgets set for year, by branch code (a branch without one is
	// absent).
	Budgets(ctx context.Context, year int) (map[string]money.Fen, error)
	// Used returns, by branch code, how much of its budget for year each branch's
	// union_funds orders placed in the year (BudgetYearSpan) use: exactly the sum of
	// BudgetUse over those orders as OrdersPlaced returns them, summed by the database
	// (the orders are not read). A branch without such orders may be absent.
	Used(ctx context.Context, year int) (map[string]money.Fen, error)
	// OrdersPlaced returns the orders of branch ("" for every branch) with funding placed
	// in [from, to), with their lines.
	OrdersPlaced(ctx context.Context, branch string, funding Funding, from, to time.Time) ([]GroupOrder, error)

	// InTx runs fn in one transaction: committed when fn returns nil, rolled back
	// otherwise (and fn's error returned). Rows locked through tx stay locked until then.
	// An error from a Tx method may have ended the transaction (PostgreSQL aborts it on
	// a failed statement): fn returns it rather than going on.
	InTx(ctx context.Context, fn func(tx Tx) error) error
}

// Tx loads, locks and saves inside one transaction of Store.InTx. Locks: an order is
// locked (LockOrder, LockOrderByOutOrderNo) before its events, lines or ledger are read,
// so concurrent use cases on one order run one after the other, each seeing what the one
// before committed; several orders are locked in id order.
type Tx interface {
	// LockBranch locks branch code until the transaction ends and returns it (ErrNotFound
	// if absent): orders of one branch placed concurrently are checked one after the
	// other (a budget check sees every order committed before it).
	LockBranch(ctx context.Context, code string) (households.Branch, error)
	// LockOrder locks order id and returns it with its lines; ErrNotFound if absent.
	LockOrder(ctx context.Context, id int64) (*GroupOrder, error)
	// Budget returns branch's budget for year; ok false when none is set.
	Budget(ctx context.Context, branch string, year int) (amount money.Fen, ok bool, err error)
	// BudgetUsed returns branch's budget for year (ok false when none is set) and, when
	// there is one, how much of it the branch's union_funds orders placed in the year
	// (BudgetYearSpan) use, leaving out order except (0: none): exactly the sum of
	// BudgetUse over those orders as OrdersPlaced returns them, summed by the database in
	// one statement (the orders are not read). Without a budget used is 0.
	BudgetUsed(ctx context.Context, branch string, year int, except int64) (amount money.Fen, ok bool, used money.Fen, err error)
	// SetBudget stores branch's budget for year.
	SetBudget(ctx context.Context, branch string, year int, amount money.Fen) error
	// OrdersPlaced is Store.OrdersPlaced inside the transaction.
	OrdersPlaced(ctx context.Context, branch string, funding Funding, from, to time.Time) ([]GroupOrder, error)
	// LockOrderByOutOrderNo locks the order of mall with outOrderNo and returns it with its
	// lines; ErrNotFound if absent.
	LockOrderByOutOrderNo(ctx context.Context, mall Mall, outOrderNo OutOrderNo) (*GroupOrder, error)
	// OrdersOfSuppliers returns the ids, ascending, of every order with a line of a product
	// of one of suppliers.
	OrdersOfSuppliers(ctx context.Context, suppliers []string) ([]int64, error)

	// InsertOrder stores o (o.Status as given) with its lines and, unless o.Submitted
	// (already at its mall), the job that dispatches it. It sets o.ID, o.CreatedAt and
	// each line's ID. An error wrapping ErrOrderRefTaken when the branch already has
	// o.OrderRef, ErrOutOrderNoTaken when the out_order_no is taken.
	InsertOrder(ctx context.Context, o *GroupOrder) error
	// RequestCancel records on order id that a cancel was asked for (clearing an earlier
	// refusal) and enqueues the job that asks the mall.
	RequestCancel(ctx context.Context, id int64, reason string) error
	// SaveOrderState stores what is known of o's mall order and its derived state:
	// submitted, accepted, cancelled, the cancel request and refusal, the rejection,
	// the dispatch failure and give-ups, mall_order_no and status.
	SaveOrderState(ctx context.Context, o *GroupOrder) error
	// EnqueueDispatch enqueues the dispatch job of order id (a retry by hand); a live
	// dispatch job of the order already there is kept and no second one is made.
	EnqueueDispatch(ctx context.Context, id int64) error
	// MoveOrder stores o's new mall, out_order_no (ErrOutOrderNoTaken when taken) and its
	// lines' item ids and unit prices (a failover, MoveToMall).
	MoveOrder(ctx context.Context, o *GroupOrder) error
	// RecordStep appends step to order id's timeline.
	RecordStep(ctx context.Context, id int64, step OrderStep) error
	// SaveLine stores l's fulfilment quantities: shipped, delivered, refunded, held events.
	SaveLine(ctx context.Context, l Line) error

	// RecordEvent stores ev as received now, unique on (mall, out_order_no, event id), for
	// order orderID in state EventApplied, or parked (EventParked) when orderID is 0. It
	// returns the event's row, or duplicate true (and nothing stored) when that key is
	// already recorded.
	RecordEvent(ctx context.Context, ev FulfilmentEvent, orderID int64) (row int64, duplicate bool, err error)
	// RecordedEvents returns the events recorded for keys of mall, as recorded (a key not
	// recorded is absent): what a copy is compared with.
	RecordedEvents(ctx context.Context, mall Mall, keys []EventKey) (map[EventKey]FulfilmentEvent, error)
	// AdoptParked gives order orderID the events parked for its (mall, out_order_no), as
	// applied, and returns how many there were.
	AdoptParked(ctx context.Context, orderID int64, mall Mall, outOrderNo OutOrderNo) (int, error)
	// Events returns the events recorded for order orderID, in the order they were recorded.
	Events(ctx context.Context, orderID int64) ([]RecordedEvent, error)
	// SaveEventState stores the state of event row (and why it is held; "" otherwise).
	SaveEventState(ctx context.Context, row int64, state EventState, reason string) error

	// Supplies returns where the goods of each line of order orderID come from, by line ID.
	Supplies(ctx context.Context, orderID int64) (map[int64]LineSupply, error)
	// Linkages returns every benefit linkage of supplier (active or not).
	Linkages(ctx context.Context, supplier string) ([]households.Linkage, error)
	// Booked returns what the ledger holds for line lineID, summed per (event, household,
	// business day).
	Booked(ctx context.Context, lineID int64) ([]attribution.Entry, error)
	// BookLedger books es, entries of lines of order o, in batches (not one statement per
	// entry), as booked now.
	BookLedger(ctx context.Context, o *GroupOrder, es []LedgerEntry) error

	// Audit appends e to the audit log in this transaction (package audit): the entry
	// exists if and only if the change it records commits. Appends are serialised, so
	// concurrent transactions never fork the chain.
	Audit(ctx context.Context, e audit.Entry) error
	// ClosedPeriods returns the periods closed now (ATTRIBUTION.md §5), in the order of
	// their days, holding until the transaction ends a shared lock that closing and
	// reopening take exclusively: every use case that books ledger entries calls it before
	// it locks an order, so no entry is booked on a day while that day is being closed.
	ClosedPeriods(ctx context.Context) (attribution.Closed, error)
	// LockPeriods is ClosedPeriods with the lock taken exclusively (closing, reopening).
	LockPeriods(ctx context.Context) (attribution.Closed, error)
	// FirstLedgerDay returns the earliest business day of the ledger; zero when it is empty.
	FirstLedgerDay(ctx context.Context) (bizday.Day, error)
	// ClosePeriod records p as closed (p.ID is ignored) with the member count of every
	// registered household as of now, and returns its id.
	ClosePeriod(ctx context.Context, p attribution.ClosedPeriod) (int64, error)
	// ReopenPeriod records closed period id as reopened now by whom, and why.
	ReopenPeriod(ctx context.Context, id int64, by, reason string) error
	// Adjustments returns the adjustments booked on a day after p that concern a day of p,
	// summed per (line, event, household, day booked, day concerned).
	Adjustments(ctx context.Context, p attribution.Period) ([]BookedAdjustment, error)
}

// BookedAdjustment is an adjustment as booked (ATTRIBUTION.md §5.2), with its order.
type BookedAdjustment struct {
	OrderID int64
	LedgerEntry
}

// EventState is where a recorded fulfilment event stands.
type EventState string

const (
	EventApplied EventState = "applied" // applied to its order
	EventParked  EventState = "parked"  // no order has its out_order_no yet
	EventHeld    EventState = "held"    // applied to state but kept for review (ATTRIBUTION.md §1.6)
)

// Reasons an event is held besides attribution's.
const (
	// ReasonUnknownLine: the event names a line the order does not have.
	ReasonUnknownLine = "unknown_line"
)

// RecordedEvent is a fulfilment event as recorded: its row, state and held reason.
type RecordedEvent struct {
	Row        int64
	Event      FulfilmentEvent
	State      EventState
	HeldReason string
}

// LineSupply is where a line's goods come from, what its ledger entries are booked under.
type LineSupply struct {
	SKU          string
	Category     string
	SupplierCode string
	CountyCode   string
}

// LedgerEntry is one ledger amount to book for a line: an original entry, or a correction
// of what was booked before (ATTRIBUTION.md §1.5).
type LedgerEntry struct {
	LineID      int64
	EventRow    int64
	HouseholdNo households.HouseholdNo // "" for the unattributed part
	Day         bizday.Day
	Amount      money.Fen
	Source      EventType // the event's type
	Correction  bool      // the event already had entries booked
	Supply      LineSupply
	// An adjustment (ATTRIBUTION.md §5.2): booked on Day, the adjustment day, for its
	// event's own day Concerns, which was closed. Zero and false for every other entry.
	Concerns   bizday.Day
	Adjustment bool
}

// ApplyResult says what Apply did.
type ApplyResult struct {
	Duplicate bool // the event was already recorded: nothing changed
	Parked    bool // no order has its out_order_no yet: kept for later
	Held      bool // applied to state but kept for review (ATTRIBUTION.md §1.6)
	// Differs, on a duplicate, says how its content differs from the event recorded
	// under the same key (FulfilmentEvent.Differences); "" for a true copy. The recorded
	// event stands and the copy changes nothing: a mall sending other content under an
	// event id it already used is reported (the statement import lists it, the webhook
	// logs it), for someone to look into, not applied.
	Differs string
}

// ListFilter selects orders. Zero fields do not filter.
type ListFilter struct {
	BranchCode string
	Mall       Mall
	Status     Status
	Funding    Funding
	OrderRef   string    // the branch's own reference, exactly
	From, To   time.Time // placed_at in [From, To)
	Limit      int       // 1–200; default 50
	Cursor     string    // opaque, from a previous page
}
