package orders

import (
	"aidmall/audit"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"aidmall/attribution"
	"aidmall/bizday"
	"aidmall/households"
	"aidmall/money"
)

// PeriodRecord is a closed period as recorded (ATTRIBUTION.md §5.1, §5.4): who closed it,
// when and why, and, once reopened, who reopened it, when and why.
type PeriodRecord struct {
	attribution.ClosedPeriod
	ReopenedAt   *time.Time
	ReopenedBy   string
	ReopenReason string
}

// maxReason bounds a close or reopen reason (characters).
const maxReason = 500

func checkPeriodRequest(c Caller, name, reason string) (attribution.Period, error) {
	if c.Role != RoleAidOffice {
		return attribution.Period{}, Errorf(ErrForbidden, "only aid_office closes and reopens periods")
	}
	p, err := attribution.ParsePeriod(name)
	if err != nil {
		return p, &ValidationError{Fields: []FieldError{{Pointer: "/period", Detail: err.Error()}}}
	}
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > maxReason {
		return p, &ValidationError{Fields: []FieldError{{Pointer: "/reason", Detail: "say why, in at most 500 characters"}}}
	}
	return p, nil
}

// ClosePeriod closes a month or year (ATTRIBUTION.md §5.1) for the aid office, recording who,
// when and why, with every household's member count as registered now (§5.3). Refused
// (ErrConflict) while the period has not ended (Beijing), when it overlaps or precedes a
// closed period, or while an earlier month with ledger entries is open.
func (s *Service) ClosePeriod(ctx context.Context, c Caller, name, reason string) (attribution.ClosedPeriod, error) {
	p, err := checkPeriodRequest(c, name, reason)
	if err != nil {
		return attribution.ClosedPeriod{}, err
	}
	now := s.now()
	if !p.Last.Before(bizday.Of(now)) {
		return attribution.ClosedPeriod{}, Errorf(ErrConflict, "period %s has not ended yet (Beijing time)", p.Name)
	}
	cp := attribution.ClosedPeriod{Period: p, ClosedAt: now.UTC(), ClosedBy: c.Name, Reason: strings.TrimSpace(reason)}
	err = s.store.InTx(ctx, func(tx Tx) error {
		closed, err := tx.LockPeriods(ctx)
		if err != nil {
			return err
		}
		first, err := tx.FirstLedgerDay(ctx)
		if err != nil {
			return err
		}
		if err := closed.CheckClose(p, first); err != nil {
			return &Error{Kind: ErrConflict, Message: err.Error()}
		}
		if cp.ID, err = tx.ClosePeriod(ctx, cp); err != nil {
			return err
		}
		return auditPeriod(ctx, tx, c, audit.ActionPeriodClose, p.Name, nil, map[string]string{
			"first": p.First.String(), "last": p.Last.String(), "reason": cp.Reason})
	})
	return cp, err
}

// ReopenPeriod reopens the latest closed period (ATTRIBUTION.md §5.4) for the aid office,
// with a reason: every adjustment concerning one of its days that was booked on a later
// day is reversed there and booked on its own day, so the period's days hold what they
// would had it never been closed, and the ledger's total over all days is unchanged.
// ErrConflict when name is not the latest closed period.
func (s *Service) ReopenPeriod(ctx context.Context, c Caller, name, reason string) (attribution.ClosedPeriod, error) {
	if _, err := checkPeriodRequest(c, name, reason); err != nil {
		return attribution.ClosedPeriod{}, err
	}
	var p attribution.ClosedPeriod
	err := s.store.InTx(ctx, func(tx Tx) error {
		closed, err := tx.LockPeriods(ctx)
		if err != nil {
			return err
		}
		if p, err = closed.CheckReopen(name); err != nil {
			return &Error{Kind: ErrConflict, Message: err.Error()}
		}
		adjs, err := tx.Adjustments(ctx, p.Period)
		if err != nil {
			return err
		}
		byOrder := map[int64][]LedgerEntry{}
		for _, a := range adjs {
			back := a.LedgerEntry // reversed where it was booked, still an adjustment
			back.Amount = -a.Amount
			back.Correction = true
			own := a.LedgerEntry // booked on the day it concerns: no longer an adjustment
			own.Day, own.Concerns, own.Adjustment, own.Correction = a.Concerns, bizday.Day{}, false, true
			byOrder[a.OrderID] = append(byOrder[a.OrderID], back, own)
		}
		ids := make([]int64, 0, len(byOrder))
		for id := range byOrder {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			o, err := tx.LockOrder(ctx, id)
			if err != nil {
				return err
			}
			supplies, err := tx.Supplies(ctx, id)
			if err != nil {
				return err
			}
			es := byOrder[id]
			for i := range es {
				es[i].Supply = supplies[es[i].LineID]
			}
			if err := tx.BookLedger(ctx, o, es); err != nil {
				return err
			}
		}
		if err := tx.ReopenPeriod(ctx, p.ID, c.Name, strings.TrimSpace(reason)); err != nil {
			return err
		}
		var moved money.Fen
		for _, a := range adjs {
			moved += a.Amount
		}
		return auditPeriod(ctx, tx, c, audit.ActionPeriodReopen, p.Name,
			map[string]string{"first": p.First.String(), "last": p.Last.String(), "closed_by": p.ClosedBy, "reason": p.Reason},
			map[string]any{"reason": strings.TrimSpace(reason), "adjustments_moved": len(adjs), "adjustments_amount": moved.String()})
	})
	return p, err
}

// ChangeRow is the money a change moved for one household ("" the unattributed part) in
// one month, the month of the events it concerns. Closed: that month is closed, so the
// money went to the adjustment day (ATTRIBUTION.md §5.2).
type ChangeRow struct {
	HouseholdNo households.HouseholdNo
	Month       string // YYYY-MM
	Closed      bool
	Amount      money.Fen
}

// PeriodChange sums the rows of one month: Gained is what households (and the
// unattributed part) gained, Lost what they lost (≤ 0), Net their sum.
type PeriodChange struct {
	Month        string
	Closed       bool
	Gained, Lost money.Fen
	Net          money.Fen
}

// Changes is what a rework of the ledger moved (Rework): per household and month, closed
// months first, then by month and household; the adjustment day; and how much went to it
// (ToAdjustment, the sum of the adjustments' absolute amounts; AdjustmentNet their sum).
type Changes struct {
	Rows          []ChangeRow
	AdjustmentDay bizday.Day
	ToAdjustment  money.Fen
	AdjustmentNet money.Fen
}

// changesOf sums booked entries into Changes.
func changesOf(es []LedgerEntry, closed attribution.Closed) Changes {
	type key struct {
		hh    households.HouseholdNo
		month string
	}
	sum := map[key]money.Fen{}
	ch := Changes{AdjustmentDay: closed.AdjustmentDay()}
	for _, e := range es {
		day := e.Day
		if e.Adjustment {
			day = e.Concerns
			ch.ToAdjustment += max(e.Amount, -e.Amount)
			ch.AdjustmentNet += e.Amount
		}
		sum[key{e.HouseholdNo, day.Month()}] += e.Amount
	}
	for k, a := range sum {
		if a == 0 {
			continue
		}
		ch.Rows = append(ch.Rows, ChangeRow{HouseholdNo: k.hh, Month: k.month, Amount: a,
			Closed: closed.Contains(bizday.MustParse(k.month + "-01"))})
	}
	slices.SortFunc(ch.Rows, func(a, b ChangeRow) int {
		if a.Closed != b.Closed {
			if a.Closed {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(a.Month, b.Month); c != 0 {
			return c
		}
		return attribution.HouseholdOrder(a.HouseholdNo, b.HouseholdNo)
	})
	return ch
}

// Periods sums the rows per month, in the order of the rows (closed months first).
func (c Changes) Periods() []PeriodChange {
	var out []PeriodChange
	idx := map[string]int{}
	for _, r := range c.Rows {
		i, ok := idx[r.Month]
		if !ok {
			i = len(out)
			idx[r.Month] = i
			out = append(out, PeriodChange{Month: r.Month, Closed: r.Closed})
		}
		if r.Amount > 0 {
			out[i].Gained += r.Amount
		} else {
			out[i].Lost += r.Amount
		}
		out[i].Net += r.Amount
	}
	return out
}

// auditPeriod records a period's close or reopen in the audit log, in the change's
// transaction.
func auditPeriod(ctx context.Context, tx Tx, c Caller, action, name string, before, after any) error {
	e, err := audit.New(c.Actor(), action, "period:"+name, before, after)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return tx.Audit(ctx, e)
}
