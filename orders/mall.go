package orders

import (
	"context"
	"fmt"
	"time"

	"aidmall/money"
)

// MallClient is what the service needs of a bank mall's partner API. adapters/ccb and
// adapters/abc implement it exactly per their specs. Every method returns a *MallError for
// anything the mall or the network refused; Retryable on it says whether the same call
// may be tried again (timeouts, 5xx, CCB 20000, ABC 429/503).
type MallClient interface {
	Mall() Mall
	// Create places the order. It is idempotent on req.OutOrderNo at the mall: the same
	// content again returns the existing order.
	Create(ctx context.Context, req CreateRequest) (CreateResult, error)
	// Query returns the mall's view of an order (ErrNotFound wrapped in a MallError with
	// NotFound set when the mall does not know it).
	Query(ctx context.Context, outOrderNo OutOrderNo) (MallOrderView, error)
	// Cancel asks the mall to cancel; refused (final) once a line has shipped.
	Cancel(ctx context.Context, outOrderNo OutOrderNo, reason string) error
}

// CreateRequest is a mall order as sent to a mall; amounts in fen, converted to the mall's
// own units (CCB yuan strings, ABC fen) by the adapter.
type CreateRequest struct {
	OutOrderNo   OutOrderNo
	BuyerRef     string // the group order's order_ref (≤ 64 characters)
	BuyerName    string // the branch's name
	DeliveryMode DeliveryMode
	ShipTo       ShipTo
	Lines        []CreateLine
	Total        money.Fen
	NotifyURL    string
}

// CreateLine is one line of a CreateRequest.
type CreateLine struct {
	LineNo     int
	ItemID     string
	Quantity   int64
	UnitPrice  money.Fen
	Recipients []Recipient
}

// CreateResult is the mall's answer to a successful create.
type CreateResult struct {
	MallOrderNo string
	Status      string // the mall's own status word, e.g. ACCEPTED, CREATED
}

// MallOrderView is the mall's view of an order (query).
type MallOrderView struct {
	MallOrderNo string
	OutOrderNo  OutOrderNo
	Status      string
	Lines       []MallLineView
}

// MallLineView is one line of a MallOrderView; quantities are as the mall reports them.
type MallLineView struct {
	LineNo    int
	Status    string
	Shipped   int64
	Delivered int64
	Refunded  money.Fen
}

// MallError is a mall's refusal or a failure to reach it.
type MallError struct {
	Mall       Mall
	HTTPStatus int           // 0 when no answer came
	Code       string        // the mall's code: CCB "40005"/"20000", ABC "PRICE_MISMATCH"
	SubCode    string        // CCB sub_code, e.g. PRICE_MISMATCH
	Message    string        // the mall's message, as given
	Retryable  bool          // the spec allows trying the same call again
	RetryAfter time.Duration // ABC 429 Retry-After; 0 if none
	NotFound   bool          // the mall does not know the order
	// AlreadyShipped: the mall refused a cancel because a line has shipped (final).
	// The mall's adapter decides it from the mall's own codes.
	AlreadyShipped bool
	Err            error // the underlying transport error, if any
}

func (e *MallError) Error() string {
	s := fmt.Sprintf("%s mall: ", e.Mall)
	if e.HTTPStatus != 0 {
		s += fmt.Sprintf("http %d ", e.HTTPStatus)
	}
	if e.Code != "" {
		s += e.Code + " "
	}
	if e.SubCode != "" {
		s += e.SubCode + " "
	}
	if e.Message != "" {
		s += e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *MallError) Unwrap() error { return e.Err }
