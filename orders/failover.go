package orders

import (
	"context"
	"fmt"
	"time"

	"aidmall/audit"
	"aidmall/households"
	"aidmall/money"
)

// Failover for `auto` (docs/MALLS.md, "Giving up and failover"). An order placed with mall
// "auto" went to the connected mall that lists every line at the lowest total. When it has
// not reached that mall after a while, and that mall is failing, and another connected mall
// lists every line and is not failing, the order moves there:
//
//  1. the dispatch job asks the first mall for the order (query) — not found, or found
//     cancelled, is the first mall's word that it does not hold a live order under that
//     out_order_no; anything else (found live: it reached its mall after all; no answer)
//     and the order does not move;
//  2. MoveToMall moves it, in one transaction, with both steps on its timeline and in the
//     audit log;
//  3. only then does the dispatch job call the second mall's create.
//
// So an order never exists at two malls. If the first mall cannot be reached to confirm,
// the order does NOT move: a create sent earlier may have landed there, unseen (the specs
// say a mall "may answer slowly — having already acted — or not at all"), and a bank or
// an auditor would then find one group order bought twice, paid at two malls. Waiting
// costs a delay; moving blind could cost the money twice.
//
// The moved order gets a new out_order_no. Both specs make the number unique per partner
// at one mall (ccb-mall.md: "unique per partner"; abc-mall.md: idempotent on
// partnerOrderNo), so keeping it would be allowed, but this service treats an
// out_order_no as the name of one mall order (stored unique, events keyed by mall and
// number): the first mall's records name the old number (absent or cancelled there), the
// second mall's the new one, and the order's timeline lists both, so an auditor follows
// each mall's record to the one group order without two malls' orders sharing a name.
//
// Prices: the order is re-priced at the second mall's listing (a mall refuses any other
// price, PRICE_MISMATCH). Among the malls it could move to, the rule is auto's own: the
// lowest total, ties to the service's order of malls. A move that would take a union_funds
// order past its branch's budget is not made (the order stays, and gives up visibly if
// its mall stays down).

// DefaultFailoverAfter is how long an `auto` order may fail to reach its mall before it
// may move to another (AIDMALL_FAILOVER_AFTER).
const DefaultFailoverAfter = 5 * time.Minute

// MallHealth is what the dispatch job knows of a mall's health (its circuit breaker and
// consecutive failures).
type MallHealth struct {
	// Failing: the mall's breaker is open or half-open, or its last calls failed.
	Failing bool
}

// FailoverFacts are the facts a failover decision is made from.
type FailoverFacts struct {
	Now   time.Time
	After time.Duration // how long the order must have failed to reach its mall
	// Malls are the connected malls, in the service's order (ties).
	Malls []Mall
	// Health of each mall; a mall absent is healthy.
	Health map[Mall]MallHealth
	// Products are the catalogue entries of the order's SKUs, with their listings.
	Products map[string]households.Product
}

// FailoverTarget decides whether order o moves, and where: the mall, or "" with why not.
// It is a pure function of the order and the facts.
func FailoverTarget(o *GroupOrder, f FailoverFacts) (Mall, string) {
	switch {
	case !o.AutoRouted:
		return "", "placed for a named mall: never moved"
	case DispatchDecision(o, false) != DispatchCreate:
		return "", "at its mall, settled or being cancelled"
	case o.DispatchFailure != nil:
		return "", "its dispatch gave up: a person decides"
	case f.After < 0:
		return "", "failover is turned off"
	case f.Now.Sub(o.CreatedAt) < f.After:
		return "", fmt.Sprintf("not yet %s since it was stored", f.After)
	case !f.Health[o.Mall].Failing:
		return "", fmt.Sprintf("%s is not failing", o.Mall)
	}
	best, bestTotal := Mall(""), money.Fen(0)
	for _, m := range f.Malls {
		if m == o.Mall || f.Health[m].Failing {
			continue
		}
		total, ok := repriced(o, m, f.Products)
		if !ok {
			continue
		}
		if best == "" || total < bestTotal {
			best, bestTotal = m, total
		}
	}
	if best == "" {
		return "", "no other connected mall that is not failing lists every line"
	}
	return best, ""
}

// repriced returns o's total at mall m's listings, and whether m lists every line.
func repriced(o *GroupOrder, m Mall, products map[string]households.Product) (money.Fen, bool) {
	var total money.Fen
	for _, l := range o.Lines {
		p, known := products[l.SKU]
		if !known {
			return 0, false
		}
		_, price, ok := p.Listing(string(m))
		if !ok {
			return 0, false
		}
		total += price * money.Fen(l.Quantity)
	}
	return total, true
}

// FailoverTarget is the package function over order o with the service's malls and the
// catalogue's listings of o's lines, now and after as given; health is the dispatch job's.
func (s *Service) FailoverTarget(ctx context.Context, o *GroupOrder, health map[Mall]MallHealth, now time.Time, after time.Duration) (Mall, string, error) {
	if !o.AutoRouted {
		m, why := FailoverTarget(o, FailoverFacts{})
		return m, why, nil
	}
	products, err := s.store.Products(ctx, skusOf(o))
	if err != nil {
		return "", "", fmt.Errorf("load products: %w", err)
	}
	malls := make([]Mall, len(s.malls))
	for i, m := range s.malls {
		malls[i] = m.Code
	}
	m, why := FailoverTarget(o, FailoverFacts{Now: now, After: after, Malls: malls, Health: health, Products: products})
	return m, why, nil
}

func skusOf(o *GroupOrder) []string {
	skus := make([]string, len(o.Lines))
	for i, l := range o.Lines {
		skus[i] = l.SKU
	}
	return skus
}

// FirstMallAnswer is what the first mall said, when asked, of an order about to move.
type FirstMallAnswer struct {
	At        time.Time
	Cancelled bool   // found, cancelled there; false: not found (never created)
	Status    string // the mall's status word when found
}

// MoveToMall moves order id from mall `from` to mall `to` (FailoverTarget chose it, the
// first mall answered first): under the branch's and the order's locks it checks again
// that the order is still an `auto` order for `from` that has not reached it, that `to`
// lists every line, and that the re-priced order fits the branch's budget; then it gives
// the order `to`'s item ids and prices and a new out_order_no, and records both steps
// (the first mall's answer, the move) on the timeline and in the audit log. It returns
// the order as moved, or nil and why not when a check fails (nothing changed).
func (s *Service) MoveToMall(ctx context.Context, id int64, from, to Mall, first FirstMallAnswer) (*GroupOrder, string, error) {
	o, err := s.store.Order(ctx, id)
	if err != nil {
		return nil, "", err
	}
	products, err := s.store.Products(ctx, skusOf(o))
	if err != nil {
		return nil, "", fmt.Errorf("load products: %w", err)
	}
	var moved *GroupOrder
	why := ""
	err = s.store.InTx(ctx, func(tx Tx) error {
		if _, err := tx.LockBranch(ctx, o.BranchCode); err != nil {
			return fmt.Errorf("lock branch: %w", err)
		}
		o, err := tx.LockOrder(ctx, id)
		if err != nil {
			return err
		}
		switch {
		case !o.AutoRouted || o.Mall != from || DispatchDecision(o, false) != DispatchCreate || o.DispatchFailure != nil:
			why = "the order changed meanwhile"
			return nil
		case !s.connected(to):
			why = fmt.Sprintf("%s is not connected", to)
			return nil
		}
		if _, ok := repriced(o, to, products); !ok {
			why = fmt.Sprintf("%s does not list every line", to)
			return nil
		}
		before := *o
		before.Lines = append([]Line(nil), o.Lines...)
		for i := range o.Lines {
			l := &o.Lines[i]
			l.ItemID, l.UnitPrice, _ = products[l.SKU].Listing(string(to))
		}
		if fits, err := fitsBudgetMoved(ctx, tx, o); err != nil {
			return err
		} else if !fits {
			why = fmt.Sprintf("re-priced at %s's listing, %s yuan, the order exceeds branch %s's budget", to, o.Total(), o.BranchCode)
			return nil
		}
		o.Mall = to
		o.OutOrderNo = NewOutOrderNo(s.now())
		if err := tx.MoveOrder(ctx, o); err != nil {
			return err
		}
		step, word := StepFailoverAbsent, "confirmed it never created the order (query: not found)"
		if first.Cancelled {
			step, word = StepFailoverCancelled, "reports the order cancelled there (status "+first.Status+")"
		}
		system := audit.System.Name
		if err := tx.RecordStep(ctx, id, OrderStep{At: first.At.UTC(), Step: step, Mall: from, OutOrderNo: before.OutOrderNo,
			Detail: fmt.Sprintf("%s %s, asked before the order moved", from, word), Actor: system}); err != nil {
			return err
		}
		if err := tx.RecordStep(ctx, id, OrderStep{At: s.now().UTC(), Step: StepFailoverMoved, Mall: to, OutOrderNo: o.OutOrderNo,
			Detail: fmt.Sprintf("moved from %s (%s) to %s (%s): %s was failing; total %s → %s yuan at %s's listing",
				from, before.OutOrderNo, to, o.OutOrderNo, from, before.Total(), o.Total(), to), Actor: system}); err != nil {
			return err
		}
		e, err := auditChange(Caller{Name: system, Role: Role(audit.System.Role)}, audit.ActionOrderFailover, id, &before, o)
		if err != nil {
			return err
		}
		if err := tx.Audit(ctx, e); err != nil {
			return err
		}
		moved = o
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return moved, why, nil
}

// fitsBudgetMoved checks that o, re-priced, fits its branch's budget with the branch's
// other orders (o's own stored use left out).
func fitsBudgetMoved(ctx context.Context, tx Tx, o *GroupOrder) (bool, error) {
	add := BudgetUse(o)
	if add <= 0 {
		return true, nil
	}
	year := BudgetYear(o.PlacedAt)
	amount, ok, err := tx.Budget(ctx, o.BranchCode, year)
	if err != nil || !ok {
		return err == nil, err
	}
	from, to := BudgetYearSpan(year)
	placed, err := tx.OrdersPlaced(ctx, o.BranchCode, FundingUnion, from, to)
	if err != nil {
		return false, err
	}
	var used money.Fen
	for i := range placed {
		if placed[i].ID != o.ID {
			used += BudgetUse(&placed[i])
		}
	}
	_, fits := BudgetFits(&amount, used, add)
	return fits, nil
}
