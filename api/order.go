package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"aidmall/bizday"
	"aidmall/households"
	"aidmall/internal/idempotency"
	"aidmall/internal/wire"
	"aidmall/money"
	"aidmall/orders"
)

// orderJSON is an order as the API shows it. Times are RFC 3339 in Beijing time (+08:00),
// money is yuan strings with 2 decimals, phones are masked unless the caller is aid_office.
type orderJSON struct {
	ID              int64               `json:"id"`
	OrderRef        string              `json:"order_ref"`
	BranchCode      string              `json:"branch_code"`
	Mall            orders.Mall         `json:"mall"`
	Funding         orders.Funding      `json:"funding"`
	DeliveryMode    orders.DeliveryMode `json:"delivery_mode"`
	ShipTo          contactJSON         `json:"ship_to"`
	PlacedAt        string              `json:"placed_at"`
	CreatedAt       string              `json:"created_at,omitempty"`
	Status          orders.Status       `json:"status"`
	CancelRequested bool                `json:"cancel_requested,omitempty"`
	CancelRefusal   string              `json:"cancel_refusal,omitempty"`
	CancelError     string              `json:"cancel_error,omitempty"`
	CancelAttempt   int                 `json:"cancel_attempt,omitempty"`
	CancelErrorAt   string              `json:"cancel_error_at,omitempty"`
	OutOrderNo      orders.OutOrderNo   `json:"out_order_no"`
	MallOrderNo     string              `json:"mall_order_no"`
	RejectCode      string              `json:"reject_code,omitempty"`
	RejectMessage   string              `json:"reject_message,omitempty"`
	Lines           []lineJSON          `json:"lines"`
	TotalAmount     money.Fen           `json:"total_amount"`

	// DispatchFailure says why the dispatch gave up (status dispatch_failed).
	DispatchFailure *dispatchFailureJSON `json:"dispatch_failure,omitempty"`
}

// dispatchFailureJSON is why an order's dispatch gave up (status dispatch_failed).
type dispatchFailureJSON struct {
	Reason      string      `json:"reason"`
	MallCode    orders.Mall `json:"mall_code"`
	MallMessage string      `json:"mall_message"`
	Attempts    int         `json:"attempts"`
	At          string      `json:"at"`
}

type contactJSON struct {
	Name     string `json:"name"`
	Phone    string `json:"phone"`
	Address  string `json:"address"`
	Quantity int64  `json:"quantity,omitempty"` // recipients only
}

type lineJSON struct {
	LineNo            int           `json:"line_no"`
	SKU               string        `json:"sku"`
	ItemID            string        `json:"item_id"`
	Quantity          int64         `json:"quantity"`
	UnitPrice         money.Fen     `json:"unit_price"`
	Amount            money.Fen     `json:"amount"`
	Recipients        []contactJSON `json:"recipients,omitempty"`
	ShippedQuantity   int64         `json:"shipped_quantity"`
	DeliveredQuantity int64         `json:"delivered_quantity"`
	RefundedAmount    money.Fen     `json:"refunded_amount"`
	HeldEvents        int           `json:"held_events"`
}

// orderResponse converts o for caller: phones (ship_to and recipients) are masked for
// every role but aid_office (ARCHITECTURE.md, Invariants: least privilege).
func orderResponse(o *orders.GroupOrder, caller orders.Caller) orderJSON {
	phone := households.MaskPhone
	if caller.Role == orders.RoleAidOffice {
		phone = func(s string) string { return s }
	}
	out := orderJSON{
		ID: o.ID, OrderRef: o.OrderRef, BranchCode: o.BranchCode, Mall: o.Mall, Funding: o.Funding,
		DeliveryMode: o.DeliveryMode,
		ShipTo:       contactJSON{Name: o.ShipTo.Name, Phone: phone(o.ShipTo.Phone), Address: o.ShipTo.Address},
		PlacedAt:     beijingTime(o.PlacedAt), CreatedAt: beijingTime(o.CreatedAt),
		Status: o.Status, CancelRequested: o.CancelReq && o.Status != orders.StatusCancelled, CancelRefusal: o.CancelRefusal,
		OutOrderNo: o.OutOrderNo, MallOrderNo: o.MallOrderNo,
		RejectCode: o.RejectCode, RejectMessage: o.RejectMessage,
		Lines: make([]lineJSON, len(o.Lines)), TotalAmount: o.Total(),
	}
	if o.CancelError != "" {
		out.CancelError, out.CancelAttempt = o.CancelError, o.CancelAttempt
		if o.CancelErrorAt != nil {
			out.CancelErrorAt = beijingTime(*o.CancelErrorAt)
		}
	}
	if f := o.DispatchFailure; f != nil {
		out.DispatchFailure = &dispatchFailureJSON{Reason: f.Reason, MallCode: f.MallCode, MallMessage: f.MallMessage,
			Attempts: f.Attempts, At: beijingTime(f.At)}
	}
	for i, l := range o.Lines {
		lj := lineJSON{
			LineNo: l.LineNo, SKU: l.SKU, ItemID: l.ItemID, Quantity: l.Quantity, UnitPrice: l.UnitPrice,
			Amount: l.Amount(), ShippedQuantity: l.ShippedQty, DeliveredQuantity: l.DeliveredQty,
			RefundedAmount: l.RefundedFen, HeldEvents: l.HeldEvents,
		}
		for _, r := range l.Recipients {
			lj.Recipients = append(lj.Recipients, contactJSON{
				Name: r.Name, Phone: phone(r.Phone), Address: r.Address, Quantity: r.Quantity})
		}
		out.Lines[i] = lj
	}
	return out
}

// beijingTime writes t as RFC 3339 in +08:00; "" for the zero time.
func beijingTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(bizday.Beijing).Format(time.RFC3339)
}

// writeJSON encodes v before writing anything, so that an encoding failure is still a
// clean 500.
func writeJSON(c echo.Context, status int, v any) error {
	b, err := wire.MarshalJSON(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	return c.Blob(status, echo.MIMEApplicationJSON, b)
}

// placeOrder is POST /v1/orders: 201 with the order and its Location.
// placeTimeout bounds placing one order once its request is read (placeOrder).
const placeTimeout = 30 * time.Second

func (s *Server) placeOrder(c echo.Context) error {
	caller, _ := callerFrom(c)
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	req, err := decodePlaceRequest(c.Request().Header.Get(echo.HeaderContentType), body)
	if err != nil {
		return err
	}
	// The order is placed to the end even if the client hangs up meanwhile (a proxy's
	// timeout, a closed laptop): its retry, under the same Idempotency-Key, then gets the
	// order instead of racing a half-placed one. Bounded by placeTimeout.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), placeTimeout)
	defer cancel()
	keep := keepInTxFrom(ctx)
	var kept *idempotency.Response
	if keep != nil {
		// The response is made and kept inside Place's transaction, once the order has its
		// ID: the order and its Idempotency-Key answer commit together. A new key is taken
		// there with its answer, in one statement (keep.claim); a concurrent duplicate
		// waits for the first one's commit (its order_ref or its key) and is then answered
		// with what that one kept.
		ctx = orders.WithPlacedHook(ctx, func(ctx context.Context, tx orders.Tx, o *orders.GroupOrder) error {
			b, err := wire.MarshalJSON(orderResponse(o, caller))
			if err != nil {
				return fmt.Errorf("encode response: %w", err)
			}
			resp := idempotency.Response{Status: http.StatusCreated, ContentType: echo.MIMEApplicationJSON,
				Location: orderLocation(o.ID), Body: b}
			if keep.claim != nil {
				k, ok := tx.(idempotency.TxClaimer)
				if !ok {
					return fmt.Errorf("place order: the store's transaction cannot take an Idempotency-Key (%T)", tx)
				}
				claim := *keep.claim
				claim.Response = &resp
				took, err := k.ClaimInTx(ctx, keep.scope, claim)
				if err != nil {
					return err
				}
				if !took {
					return idempotency.ErrTaken // a request with this key committed first
				}
				kept = &resp
				return nil
			}
			k, ok := tx.(idempotency.TxKeeper)
			if !ok {
				return nil // the middleware completes the key after the handler
			}
			if err := k.KeepResponse(ctx, keep.scope, keep.token, resp); err != nil {
				return err
			}
			kept = &resp
			return nil
		})
	}
	o, err := s.cfg.Orders.Place(ctx, caller, req)
	if errors.Is(err, orders.ErrOrderRefTaken) && keep != nil && keep.claim != nil {
		// The key is taken after the order's insert: a duplicate of a request still in its
		// transaction waits there for the order_ref, and is refused once that commits.
		return &maybeTakenError{err: err}
	}
	if err != nil {
		return err
	}
	if kept != nil {
		// Committed with the order: send exactly what a replay will send.
		keep.kept = true
		c.Response().Header().Set(echo.HeaderLocation, kept.Location)
		return c.Blob(kept.Status, kept.ContentType, kept.Body)
	}
	c.Response().Header().Set(echo.HeaderLocation, orderLocation(o.ID))
	return writeJSON(c, http.StatusCreated, orderResponse(o, caller))
}

func orderLocation(id int64) string { return "/v1/orders/" + strconv.FormatInt(id, 10) }

// getOrder is GET /v1/orders/{id}; another branch's order is a 404 like a missing one.
func (s *Server) getOrder(c echo.Context) error {
	caller, _ := callerFrom(c)
	id, err := orderID(c)
	if err != nil {
		return err
	}
	o, err := s.cfg.Orders.Get(c.Request().Context(), caller, id)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, orderResponse(o, caller))
}

// orderListJSON is a page of orders; next_cursor is "" on the last page.
type orderListJSON struct {
	Items      []orderJSON `json:"items"`
	NextCursor string      `json:"next_cursor"`
}

// listOrders is GET /v1/orders: one page, newest first.
func (s *Server) listOrders(c echo.Context) error {
	caller, _ := callerFrom(c)
	f, err := parseListFilter(c.QueryParams(), s.cfg.Malls)
	if err != nil {
		return err
	}
	page, next, err := s.cfg.Orders.List(c.Request().Context(), caller, f)
	if f.Cursor != "" && orders.ErrorKind(err) == orders.ErrInvalid {
		// Only the store can read its cursor; one it cannot is a bad parameter like any other.
		return badParameters([]fieldProblem{{Parameter: "cursor", Detail: "not a next_cursor this service gave; start again without cursor"}})
	}
	if err != nil {
		return err
	}
	out := orderListJSON{Items: make([]orderJSON, len(page)), NextCursor: next}
	for i := range page {
		out.Items[i] = orderResponse(&page[i], caller)
	}
	return writeJSON(c, http.StatusOK, out)
}

// cancelOrder is POST /v1/orders/{id}/cancel with an optional body {"reason": "…"}
// (at most 200 characters): 200 with the order.
func (s *Server) cancelOrder(c echo.Context) error {
	caller, _ := callerFrom(c)
	id, err := orderID(c)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	var reason string
	if len(body) > 0 {
		err := decodeBody(c.Request().Header.Get(echo.HeaderContentType), body,
			topObject(object(map[string]fieldDecoder{"reason": str(&reason)})))
		if err != nil {
			return err
		}
		if utf8.RuneCountInString(reason) > 200 {
			return &orders.ValidationError{Fields: []orders.FieldError{{Pointer: "/reason", Detail: "at most 200 characters"}}}
		}
	}
	o, err := s.cfg.Orders.Cancel(c.Request().Context(), caller, id, reason)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, orderResponse(o, caller))
}

// retryDispatch is POST /v1/orders/{id}/retry-dispatch (aid_office only): an order whose
// dispatch gave up (status dispatch_failed) is sent to its mall again under the same
// out_order_no; 200 with the order, now pending. Any other state is 409 problem+json (a
// second retry finds it pending: one job).
func (s *Server) retryDispatch(c echo.Context) error {
	caller, _ := callerFrom(c)
	id, err := orderID(c)
	if err != nil {
		return err
	}
	o, err := s.cfg.Orders.RetryDispatch(c.Request().Context(), caller, id)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, orderResponse(o, caller))
}

// orderID reads the {id} path parameter; anything but a positive integer names no order.
func orderID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("order %q: %w", c.Param("id"), orders.ErrNotFound)
	}
	return id, nil
}

// parseListFilter reads GET /v1/orders's query: branch, mall (one of malls), status, funding,
// order_ref, from and to (YYYY-MM-DD business days in Beijing time, to inclusive), limit (1–200,
// default 50) and cursor. An unknown or repeated parameter is refused: a typo must not
// silently widen a list.
func parseListFilter(q url.Values, malls []orders.Mall) (orders.ListFilter, error) {
	var (
		f        orders.ListFilter
		errs     []fieldProblem
		from, to bizday.Day
	)
	bad := func(name, detail string) { errs = append(errs, fieldProblem{Parameter: name, Detail: detail}) }
	for _, name := range slices.Sorted(maps.Keys(q)) {
		vs := q[name]
		if len(vs) > 1 {
			bad(name, "give this parameter once")
			continue
		}
		v := vs[0]
		switch name {
		case "branch":
			f.BranchCode = v
		case "mall":
			if f.Mall = orders.Mall(v); !slices.Contains(malls, f.Mall) {
				bad(name, "must be one of "+joinMalls(malls))
			}
		case "status":
			if f.Status = orders.Status(v); !knownStatus(f.Status) {
				bad(name, "unknown status")
			}
		case "funding":
			if f.Funding = orders.Funding(v); !f.Funding.Valid() {
				bad(name, "must be union_funds, employee_self_pay or external")
			}
		case "order_ref":
			f.OrderRef = v
		case "from", "to":
			d, err := bizday.Parse(v)
			if err != nil {
				bad(name, "must be a date YYYY-MM-DD (Beijing time)")
			} else if name == "from" {
				from = d
			} else {
				to = d
			}
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > orders.MaxListLimit {
				bad(name, fmt.Sprintf("must be a whole number from 1 to %d", orders.MaxListLimit))
			}
			f.Limit = n
		case "cursor":
			if _, err := orders.ParseListCursor(v); v != "" && err != nil {
				bad(name, "must be the next_cursor of a previous page")
			}
			f.Cursor = v
		default:
			bad(name, "unknown parameter")
		}
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		bad("to", "is before from")
	}
	if len(errs) > 0 {
		return f, badParameters(errs)
	}
	if !from.IsZero() {
		f.From = from.Start()
	}
	if !to.IsZero() {
		f.To = to.AddDays(1).Start() // the filter is half-open: [From, To)
	}
	return f, nil
}

func knownStatus(s orders.Status) bool {
	switch s {
	case orders.StatusPending, orders.StatusRejected, orders.StatusSubmitted, orders.StatusAccepted,
		orders.StatusPartiallyShipped, orders.StatusShipped, orders.StatusPartiallyDelivered,
		orders.StatusDelivered, orders.StatusRefunded, orders.StatusCancelled,
		orders.StatusCancelRequested, orders.StatusDispatchFailed:
		return true
	}
	return false
}

// joinMalls is "ccb, abc".
func joinMalls(malls []orders.Mall) string {
	codes := make([]string, len(malls))
	for i, m := range malls {
		codes[i] = string(m)
	}
	return strings.Join(codes, ", ")
}
