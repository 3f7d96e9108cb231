package orders

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"aidmall/audit"
	"aidmall/households"
	"aidmall/money"
)

// FieldError is one problem with one field of a request, with a JSON pointer (RFC 6901)
// to it, e.g. "/lines/0/unit_price".
type FieldError struct {
	Pointer string `json:"pointer"`
	Detail  string `json:"detail"`
}

// ValidationError is a request refused for its content; it lists every bad field and
// wraps ErrInvalid. The API answers it with 422 and one entry per field.
type ValidationError struct{ Fields []FieldError }

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Pointer + ": " + f.Detail
	}
	return "invalid: " + strings.Join(parts, "; ")
}

func (e *ValidationError) Unwrap() error { return ErrInvalid }

// add records a problem at ptr unless ptr has one already: the first problem of a
// field (its text, then its shape, then its value) is the one worth reading.
func (e *ValidationError) add(ptr, format string, a ...any) {
	for _, f := range e.Fields {
		if f.Pointer == ptr {
			return
		}
	}
	e.Fields = append(e.Fields, FieldError{Pointer: ptr, Detail: fmt.Sprintf(format, a...)})
}

// PlaceRequest is a group order as a branch asks for it (POST /v1/orders).
type PlaceRequest struct {
	OrderRef     string
	BranchCode   string
	Mall         Mall // ccb, abc or auto
	Funding      Funding
	DeliveryMode DeliveryMode
	ShipTo       ShipTo
	Lines        []PlaceLine
	PlacedAt     *time.Time // back-dating, aid_office only; nil = now
}

// PlaceLine is one requested line. UnitPrice, when given, must equal the chosen mall's
// listed price (a client's check that it pays what it saw).
type PlaceLine struct {
	SKU        string
	Quantity   int64
	UnitPrice  *money.Fen
	Recipients []Recipient
}

// Service is the orders use cases: placing, reading, listing and cancelling group orders,
// and applying the malls' fulfilment events.
type Service struct {
	store Store
	now   func() time.Time
	malls []MallInfo // the connected malls, in order: `auto` breaks ties in this order
	// applied is called after Apply's transaction commits, for an event applied (see
	// WithApplied); nil when no one listens.
	applied func(context.Context, FulfilmentEvent, ApplyResult)
	// placedAt bounds a back-dated placed_at (WithPlacedAtWindow).
	placedAt PlacedAtWindow
	// join queues the events of ApplyJoined (applyjoin.go).
	join joiner
	// placeJoin queues the placements of Place (placejoin.go).
	placeJoin placeJoiner
}

// Option configures a Service (NewService).
type Option func(*Service)

// WithApplied has f called after Apply commits an event that was applied to its order
// (neither a duplicate nor parked; a held event is applied to state), so that an observer
// (the dashboard's live updates) learns that figures may have changed. f runs on Apply's
// goroutine after the commit and must not block; it cannot undo or fail the Apply.
func WithApplied(f func(ctx context.Context, ev FulfilmentEvent, res ApplyResult)) Option {
	return func(s *Service) { s.applied = f }
}

// connected reports whether m is one of the service's malls.
func (s *Service) connected(m Mall) bool {
	_, ok := s.mallLimits(m)
	return ok
}

// mallLimits returns connected mall m's limits.
func (s *Service) mallLimits(m Mall) (MallLimits, bool) {
	for _, c := range s.malls {
		if c.Code == m {
			return c.Limits, true
		}
	}
	return MallLimits{}, false
}

// limitsFor returns the limits an order for mall m must meet: m's own when it is
// connected; for `auto` (or a mall not connected, refused at /mall anyway), those of
// every connected mall, any of which routing may choose.
func (s *Service) limitsFor(m Mall) MallLimits {
	if l, ok := s.mallLimits(m); ok {
		return l
	}
	all := make([]MallLimits, len(s.malls))
	for i, c := range s.malls {
		all[i] = c.Limits
	}
	return strictest(all)
}

// mallChoices is "ccb, abc" (the service's malls, for messages); "no mall" when none.
func (s *Service) mallChoices() string {
	if len(s.malls) == 0 {
		return "no mall"
	}
	names := make([]string, len(s.malls))
	for i, m := range s.malls {
		names[i] = string(m.Code)
	}
	return strings.Join(names, ", ")
}

// NewService returns a Service over store for the malls it is connected to, in order
// (`auto` routing breaks a tie of totals in this order; an order naming another mall is
// refused at /mall), each with the limits its driver states; now is the clock (time.Now
// if nil); opts add observers (WithApplied). The malls' codes and limits come from the registered drivers (package malls),
// never from this package.
func NewService(store Store, malls []MallInfo, now func() time.Time, opts ...Option) (*Service, error) {
	if store == nil {
		return nil, errors.New("orders: nil store")
	}
	seen := map[Mall]bool{}
	for _, m := range malls {
		if m.Code == "" || m.Code == MallAuto || seen[m.Code] {
			return nil, fmt.Errorf("orders: mall %q is empty, auto or repeated", m.Code)
		}
		if max := m.Limits.OutOrderNoMax; max != 0 && max < OutOrderNoLen {
			return nil, fmt.Errorf("orders: mall %q takes out_order_no of at most %d characters; the service makes them of %d", m.Code, max, OutOrderNoLen)
		}
		seen[m.Code] = true
	}
	if now == nil {
		now = time.Now
	}
	s := &Service{store: store, now: now, malls: append([]MallInfo(nil), malls...), placedAt: DefaultPlacedAtWindow}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// MaxQuantity bounds one line's quantity, far above any real group order, so that a
// typo cannot place an order of a billion boxes and no amount can overflow.
const MaxQuantity = 1_000_000

// Place validates req for caller, prices every line from the chosen mall's listing,
// picks the mall for `auto`, and stores the order with its dispatch job. Errors:
// *ValidationError (ErrInvalid) for bad content, ErrForbidden when the caller may not place
// it, ErrConflict when the branch already has the order_ref. Concurrent calls share
// transactions (group commit, placejoin.go) with the outcome of placing one at a time.
func (s *Service) Place(ctx context.Context, caller Caller, req PlaceRequest) (*GroupOrder, error) {
	if !caller.CanPlaceOrders() {
		return nil, Errorf(ErrForbidden, "role %s may not place orders", caller.Role)
	}
	ve := &ValidationError{}
	limits := s.limitsFor(req.Mall)
	req = s.checkText(req, ve)
	switch {
	case req.OrderRef == "":
		ve.add("/order_ref", "required")
	case utf8.RuneCountInString(req.OrderRef) > orderRefMax(limits):
		ve.add("/order_ref", "at most %d characters (the malls' buyer_ref limit)", orderRefMax(limits))
	case !orderRefPattern.MatchString(req.OrderRef):
		ve.add("/order_ref", "%s", orderRefRule)
	}
	switch {
	case req.BranchCode == "":
		ve.add("/branch_code", "required")
	case !ValidCode(req.BranchCode):
		ve.add("/branch_code", "%s", codeRule)
	case caller.Role == RoleBranchStaff && req.BranchCode != caller.BranchCode:
		return nil, Errorf(ErrForbidden, "a branch key places orders for its own branch only")
	}
	if !s.connected(req.Mall) && req.Mall != MallAuto {
		ve.add("/mall", "must be one of %s or auto", s.mallChoices())
	}
	if !req.Funding.Valid() {
		ve.add("/funding", "must be union_funds, employee_self_pay or external")
	}
	if !req.DeliveryMode.Valid() {
		ve.add("/delivery_mode", "must be bulk or per_recipient")
	}
	placedAt := s.now()
	if req.PlacedAt != nil {
		if !caller.CanBackdate() {
			return nil, Errorf(ErrForbidden, "only aid_office may set placed_at")
		}
		if detail := s.placedAt.problem(*req.PlacedAt, placedAt); detail != "" {
			ve.add("/placed_at", "%s", detail)
		}
		placedAt = *req.PlacedAt
	}
	switch {
	case len(req.Lines) == 0:
		ve.add("/lines", "at least one line is required")
	case len(req.Lines) > MaxLines:
		ve.add("/lines", "at most %d lines", MaxLines)
	}
	bulk := req.DeliveryMode == DeliveryBulk
	perRecipient := req.DeliveryMode == DeliveryPerRecipient
	switch {
	case bulk && limits.ConsigneeRequired:
		// The mall ships a bulk order to its consignee: name, phone and address.
		checkContact(ve, "/ship_to", req.ShipTo.Name, req.ShipTo.Phone, req.ShipTo.Address, true)
	case req.ShipTo != (ShipTo{}):
		// Not needed, but when given it must be a contact the mall can use.
		checkContact(ve, "/ship_to", req.ShipTo.Name, req.ShipTo.Phone, req.ShipTo.Address, false)
	}
	skus := make([]string, 0, len(req.Lines))
	recipients := 0
	for i, l := range req.Lines {
		p := fmt.Sprintf("/lines/%d", i)
		// Two lines of one SKU are two lines (the malls take them, old order sheets have
		// them): lines are told apart by line_no, never by SKU.
		switch {
		case l.SKU == "":
			ve.add(p+"/sku", "required")
		case !ValidCode(l.SKU):
			ve.add(p+"/sku", "%s", codeRule)
		}
		skus = append(skus, l.SKU)
		if l.Quantity <= 0 || l.Quantity > MaxQuantity {
			ve.add(p+"/quantity", "must be a whole number from 1 to %d", MaxQuantity)
		}
		if l.UnitPrice != nil && *l.UnitPrice <= 0 {
			ve.add(p+"/unit_price", "must be positive")
		}
		switch {
		case bulk && len(l.Recipients) > 0:
			ve.add(p+"/recipients", "only per_recipient orders carry recipients")
		case perRecipient && len(l.Recipients) == 0:
			// A per_recipient line names who gets it; ship_to does not stand in.
			ve.add(p+"/recipients", "required: a per_recipient order names every line's recipients (or place it as bulk)")
		}
		recipients += len(l.Recipients)
		if len(l.Recipients) > 0 && !bulk {
			var sum int64
			for k, r := range l.Recipients {
				rp := fmt.Sprintf("%s/recipients/%d", p, k)
				if r.Quantity <= 0 || r.Quantity > MaxQuantity {
					ve.add(rp+"/quantity", "must be a whole number from 1 to %d", MaxQuantity)
				} else {
					sum += r.Quantity
				}
				checkContact(ve, rp, r.Name, r.Phone, r.Address, true)
			}
			if sum != l.Quantity {
				ve.add(p+"/recipients", "quantities add up to %d, the line has %d", sum, l.Quantity)
			}
		}
	}
	if recipients > MaxRecipients {
		ve.add("/lines", "at most %d recipients in one order (%d given): split it", MaxRecipients, recipients)
	}
	if len(ve.Fields) > 0 && len(req.Lines) > MaxLines {
		return nil, ve // no catalogue read for a body that is too long anyway
	}
	// The branch and the catalogue are looked up even when other fields are bad, so that
	// one answer names every bad field; both in one read (PostgreSQL: one round trip).
	branch, found, products, err := s.store.BranchProducts(ctx, req.BranchCode, skus)
	if err != nil {
		return nil, fmt.Errorf("load branch and products: %w", err)
	}
	if req.BranchCode != "" && !found {
		ve.add("/branch_code", "unknown branch %q", req.BranchCode)
	}
	for i, l := range req.Lines {
		if _, ok := products[l.SKU]; !ok && l.SKU != "" {
			ve.add(fmt.Sprintf("/lines/%d/sku", i), "unknown SKU %q", l.SKU)
		}
	}
	// Route (and so check prices) when the rest allows it, or when the mall is named:
	// a wrong unit_price is then named in the same answer as the other bad fields.
	var mall Mall
	if len(ve.Fields) == 0 || s.connected(req.Mall) {
		m, rerr := s.route(req, products)
		var rve *ValidationError
		switch {
		case errors.As(rerr, &rve):
			ve.Fields = append(ve.Fields, rve.Fields...)
		case rerr != nil:
			return nil, rerr
		default:
			mall = m
		}
	}
	o := &GroupOrder{
		OrderRef: req.OrderRef, BranchCode: req.BranchCode, BuyerName: branch.Name, Funding: req.Funding,
		OutOrderNo:   NewOutOrderNo(placedAt),
		DeliveryMode: req.DeliveryMode, ShipTo: req.ShipTo, PlacedAt: placedAt, Mall: mall,
		AutoRouted: req.Mall == MallAuto,
	}
	for i, l := range req.Lines {
		p, known := products[l.SKU]
		itemID, price, listed := p.Listing(string(mall))
		if mall != "" && known && listed && l.UnitPrice != nil && *l.UnitPrice > 0 && *l.UnitPrice != price {
			ve.add(fmt.Sprintf("/lines/%d/unit_price", i), "%s lists %s at %s yuan, not %s", mall, l.SKU, price, *l.UnitPrice)
		}
		o.Lines = append(o.Lines, Line{
			LineNo: i + 1, SKU: l.SKU, ItemID: itemID, Quantity: l.Quantity, UnitPrice: price,
			Recipients: l.Recipients,
		})
	}
	if len(ve.Fields) > 0 {
		return nil, ve
	}
	// The order is inserted first and the serialised part comes last, right before the
	// commit: on PostgreSQL the branch row lock (the budget rule, only for an order that
	// uses a budget) and the audit chain's head (every order) are held for the few
	// statements after them and the commit, not for the whole transaction. The budget
	// check then sees every order of the branch committed before the lock (READ COMMITTED:
	// each statement reads the latest commits) and leaves out the order itself.
	p := &placement{ctx: ctx, caller: caller, o: o, add: BudgetUse(o), placed: placedHookFrom(ctx)}
	if err := s.commitPlacement(ctx, p); err != nil {
		return nil, err
	}
	return o, nil
}

// insertPlaced does p's work in tx (placejoin.go: alone or beside others') up to its
// audit entry, which it returns for the caller to append last.
func (s *Service) insertPlaced(ctx context.Context, tx Tx, p *placement) (audit.Entry, error) {
	o := p.o
	// o's out_order_no was made just now (NewOutOrderNo: 80 random bits), never given
	// to a mall, so no notification can have been parked for it: nothing to adopt
	// (LoadHistory, whose numbers come from the malls, adopts).
	o.Status = DeriveStatus(o)
	if err := tx.InsertOrder(ctx, o); err != nil {
		return audit.Entry{}, taken(o, err)
	}
	if p.placed != nil {
		if err := p.placed(ctx, tx, o); err != nil {
			return audit.Entry{}, err
		}
	}
	if p.add > 0 {
		if _, err := tx.LockBranch(ctx, o.BranchCode); err != nil {
			return audit.Entry{}, fmt.Errorf("lock branch: %w", err)
		}
		if err := checkBudget(ctx, tx, o, p.add); err != nil {
			return audit.Entry{}, err
		}
	}
	return auditChange(p.caller, audit.ActionOrderPlace, o.ID, nil, o)
}

// PlacedHook is work done inside Place's transaction once the order, its lines and its
// dispatch job are inserted (o has its ID), before the budget check and the audit entry:
// the API takes the order's Idempotency-Key in it with the response it keeps, so that the
// key, the order and the answer to its request are committed together or not at all. An
// error rolls the order back; so does a refusal after the hook (the budget), so the hook
// must not act outside tx.
type PlacedHook func(ctx context.Context, tx Tx, o *GroupOrder) error

type placedHookKey struct{}

// WithPlacedHook returns ctx carrying f for the Place called with it.
func WithPlacedHook(ctx context.Context, f PlacedHook) context.Context {
	return context.WithValue(ctx, placedHookKey{}, f)
}

func placedHookFrom(ctx context.Context) PlacedHook {
	f, _ := ctx.Value(placedHookKey{}).(PlacedHook)
	return f
}

// route returns the mall for req: the one it names, which must be connected and list every
// line, or for `auto` the connected mall that lists every line at the lowest total (the
// buyer's money goes furthest), ties to the first of the service's malls.
func (s *Service) route(req PlaceRequest, products map[string]households.Product) (Mall, error) {
	lists := func(m Mall) []int {
		var missing []int
		for i, l := range req.Lines {
			p, known := products[l.SKU]
			if _, _, ok := p.Listing(string(m)); known && !ok {
				missing = append(missing, i)
			}
		}
		return missing
	}
	if req.Mall != MallAuto {
		if !s.connected(req.Mall) {
			ve := &ValidationError{}
			ve.add("/mall", "must be one of %s or auto", s.mallChoices())
			return "", ve
		}
		if missing := lists(req.Mall); len(missing) > 0 {
			ve := &ValidationError{}
			for _, i := range missing {
				ve.add(fmt.Sprintf("/lines/%d/sku", i), "%s does not list %s", req.Mall, req.Lines[i].SKU)
			}
			return "", ve
		}
		return req.Mall, nil
	}
	// auto: the connected mall that lists every line at the lowest total; a tie goes to
	// the first of the service's malls.
	// A mall whose listing differs from a unit_price the client sent is passed over while
	// another fits; if none fits, the cheapest is taken and the price check names the line.
	priced := func(m Mall) bool {
		for _, l := range req.Lines {
			p, known := products[l.SKU]
			_, price, _ := p.Listing(string(m))
			if known && l.UnitPrice != nil && *l.UnitPrice != price {
				return false
			}
		}
		return true
	}
	if m := s.cheapest(req, products, lists, priced); m != "" {
		return m, nil
	}
	if m := s.cheapest(req, products, lists, func(Mall) bool { return true }); m != "" {
		return m, nil
	}
	ve := &ValidationError{}
	ve.add("/mall", "no connected mall lists every line; split the order or name a mall")
	return "", ve
}

// cheapest returns the connected mall that lists every line (lists reports the lines it
// does not) and passes ok, at the lowest total; ties go to the first of s.malls; "" if none.
func (s *Service) cheapest(req PlaceRequest, products map[string]households.Product, lists func(Mall) []int, ok func(Mall) bool) Mall {
	best, bestTotal := Mall(""), money.Fen(0)
	for _, c := range s.malls {
		m := c.Code
		if len(lists(m)) > 0 || !ok(m) {
			continue
		}
		var total money.Fen
		for _, l := range req.Lines {
			_, price, _ := products[l.SKU].Listing(string(m))
			total += price * money.Fen(l.Quantity)
		}
		if best == "" || total < bestTotal {
			best, bestTotal = m, total
		}
	}
	return best
}

// Get returns order id if caller may see it; ErrNotFound otherwise (another branch's order
// is indistinguishable from a missing one).
func (s *Service) Get(ctx context.Context, caller Caller, id int64) (*GroupOrder, error) {
	o, err := s.store.Order(ctx, id)
	if err == nil && !caller.CanSeeOrder(o.BranchCode) {
		err = ErrNotFound
	}
	if err != nil {
		return nil, orderNotFound(id, err)
	}
	return o, nil
}

// orderNotFound gives a missing order (or one the caller may not see) its client message;
// other errors are returned as they are.
func orderNotFound(id int64, err error) error {
	if errors.Is(err, ErrNotFound) {
		return &Error{Kind: ErrNotFound, Message: fmt.Sprintf("order %d not found", id), Err: err}
	}
	return err
}

// List returns one page of the orders caller may see; a branch_staff caller's filter is
// pinned to its own branch.
func (s *Service) List(ctx context.Context, caller Caller, f ListFilter) ([]GroupOrder, string, error) {
	// Codes and references are compared as NFC, as Place stores them.
	f.BranchCode, f.OrderRef = NormalizeText(f.BranchCode), NormalizeText(f.OrderRef)
	switch caller.Role {
	case RoleAidOffice:
	case RoleBranchStaff:
		if caller.BranchCode == "" {
			// Pinning to "" would list every branch (CanSeeOrder refuses such a key too).
			return nil, "", Errorf(ErrForbidden, "a branch key without a branch reads no orders")
		}
		if f.BranchCode != "" && NormalizeText(f.BranchCode) != caller.BranchCode {
			return nil, "", nil
		}
		f.BranchCode = caller.BranchCode
	default:
		return nil, "", Errorf(ErrForbidden, "role %s may not read orders", caller.Role)
	}
	f.Limit = ListLimit(f.Limit)
	if f.Cursor != "" {
		if _, err := ParseListCursor(f.Cursor); err != nil {
			return nil, "", err
		}
	}
	return s.store.ListOrders(ctx, f)
}

// Cancel asks for order id to be cancelled: it records the request (status
// cancel_requested) and enqueues the cancel job, in one transaction. An order that never
// reached its mall is then cancelled by its dispatch job (orders.DispatchDecision);
// otherwise the cancel job asks the mall and the order shows cancelled once the mall
// notifies it, or back to its status with the refusal shown. ErrNotAllowed once any line
// has shipped or the order is final (Status.Cancellable); an order already cancelled, or
// whose cancel request is still open, is returned as it is: one cancel job per order at
// a time (the order row is locked, so two requests at once find one another).
func (s *Service) Cancel(ctx context.Context, caller Caller, id int64, reason string) (*GroupOrder, error) {
	if !caller.CanPlaceOrders() {
		return nil, Errorf(ErrForbidden, "role %s may not cancel orders", caller.Role)
	}
	err := s.store.InTx(ctx, func(tx Tx) error {
		o, err := tx.LockOrder(ctx, id)
		if err == nil && !caller.CanSeeOrder(o.BranchCode) {
			err = ErrNotFound
		}
		if err != nil {
			return orderNotFound(id, err)
		}
		if o.Status == StatusCancelled || DeriveStatus(o) == StatusCancelRequested {
			return nil
		}
		if !o.Status.Cancellable() {
			return Errorf(ErrNotAllowed, "order %d is %s and can no longer be cancelled", id, o.Status)
		}
		if err := tx.RequestCancel(ctx, id, reason); err != nil {
			return err
		}
		after := *o
		after.CancelReq, after.CancelRefusal = true, ""
		after.CancelError, after.CancelAttempt, after.CancelErrorAt = "", 0, nil
		after.Status = DeriveStatus(&after)
		if err := tx.SaveOrderState(ctx, &after); err != nil {
			return err
		}
		e, err := auditChange(caller, audit.ActionOrderCancel, id, o, &after)
		if err != nil {
			return err
		}
		if e.After, err = withReason(e.After, reason); err != nil {
			return err
		}
		return tx.Audit(ctx, e)
	})
	if err != nil {
		return nil, err
	}
	return s.store.Order(ctx, id)
}
