package attribution

import (
	"fmt"
	"regexp"
	"time"

	"aidmall/bizday"
)

// Period is a calendar month ("2019-12") or year ("2019"), Beijing time: the unit the aid
// office closes (ATTRIBUTION.md §5.1). First and Last are its first and last days.
type Period struct {
	Name        string
	First, Last bizday.Day
}

var periodRE = regexp.MustCompile(`^\d{4}(-\d{2})?$`)

// ParsePeriod reads "YYYY" (a year) or "YYYY-MM" (a month).
func ParsePeriod(s string) (Period, error) {
	if !periodRE.MatchString(s) {
		return Period{}, fmt.Errorf("period %q: want a year YYYY or a month YYYY-MM", s)
	}
	if len(s) == 4 {
		first, err := bizday.Parse(s + "-01-01")
		if err != nil {
			return Period{}, fmt.Errorf("period %q: %w", s, err)
		}
		return Period{Name: s, First: first, Last: bizday.MustParse(s + "-12-31")}, nil
	}
	first, err := bizday.Parse(s + "-01")
	if err != nil {
		return Period{}, fmt.Errorf("period %q: %w", s, err)
	}
	return Period{Name: s, First: first, Last: NextMonth(first).AddDays(-1)}, nil
}

// MonthStart is the first day of d's month.
func MonthStart(d bizday.Day) bizday.Day { return bizday.MustParse(d.Month() + "-01") }

// NextMonth is the first day of the month after d's.
func NextMonth(d bizday.Day) bizday.Day { return MonthStart(MonthStart(d).AddDays(32)) }

// Contains reports whether day d lies in p.
func (p Period) Contains(d bizday.Day) bool { return !d.Before(p.First) && !p.Last.Before(d) }

// ClosedPeriod is a period the aid office closed: who, when and why (§5.1).
type ClosedPeriod struct {
	ID int64
	Period
	ClosedAt time.Time
	ClosedBy string
	Reason   string
}

// Closed is the set of periods closed now, in the order of their days (ascending, never
// overlapping, unbroken from the first: CheckClose keeps it so). The zero value closes
// nothing.
type Closed []ClosedPeriod

// Contains reports whether day d lies in a closed period.
func (c Closed) Contains(d bizday.Day) bool {
	for _, p := range c {
		if p.Contains(d) {
			return true
		}
	}
	return false
}

// Latest is the closed period with the latest days; ok false when nothing is closed.
func (c Closed) Latest() (ClosedPeriod, bool) {
	if len(c) == 0 {
		return ClosedPeriod{}, false
	}
	l := c[0]
	for _, p := range c[1:] {
		if l.Last.Before(p.Last) {
			l = p
		}
	}
	return l, true
}

// AdjustmentDay is the first day of the first open month after the closed ones (§5.2);
// zero when nothing is closed.
func (c Closed) AdjustmentDay() bizday.Day {
	l, ok := c.Latest()
	if !ok {
		return bizday.Day{}
	}
	return l.Last.AddDays(1)
}

// Place puts corrections where §5.2 says: an entry whose Day lies in a closed period is
// booked on the adjustment day instead, keeping the day it concerns (Concerns) and marked
// as an adjustment; the others are unchanged. Amounts are never changed, so the ledger's
// total over all days is what it would be with nothing closed. es is not modified.
func (c Closed) Place(es []Entry) []Entry {
	if len(c) == 0 || len(es) == 0 {
		return es
	}
	adj := c.AdjustmentDay()
	out := make([]Entry, len(es))
	for i, e := range es {
		if c.Contains(e.Day) {
			e.Concerns, e.Day, e.Adjustment = e.Day, adj, true
		}
		out[i] = e
	}
	return out
}

// CheckClose says why period p cannot be closed now (§5.1), nil when it can: none of its
// months is closed already, it lies after every closed period, and no earlier month is
// open that has ledger entries (firstLedgerDay, zero when the ledger is empty) or lies
// after the first closed month — so the closed months run unbroken from the first one.
func (c Closed) CheckClose(p Period, firstLedgerDay bizday.Day) error {
	for _, q := range c {
		if !q.Last.Before(p.First) {
			if !p.Last.Before(q.First) {
				return fmt.Errorf("period %s overlaps %s, already closed", p.Name, q.Name)
			}
			return fmt.Errorf("period %s lies before %s, already closed", p.Name, q.Name)
		}
	}
	from := p.First
	if !firstLedgerDay.IsZero() && firstLedgerDay.Before(from) {
		from = MonthStart(firstLedgerDay)
	}
	if len(c) > 0 && c[0].First.Before(from) {
		from = c[0].First
	}
	for m := from; m.Before(p.First); m = NextMonth(m) {
		if !c.Contains(m) {
			return fmt.Errorf("period %s cannot be closed while %s is open (close the months in order)", p.Name, m.Month())
		}
	}
	return nil
}

// CheckReopen says why period name cannot be reopened (§5.4): only the latest closed
// period can.
func (c Closed) CheckReopen(name string) (ClosedPeriod, error) {
	l, ok := c.Latest()
	if !ok {
		return ClosedPeriod{}, fmt.Errorf("no period is closed")
	}
	if l.Name != name {
		for _, p := range c {
			if p.Name == name {
				return ClosedPeriod{}, fmt.Errorf("only the latest closed period, %s, can be reopened", l.Name)
			}
		}
		return ClosedPeriod{}, fmt.Errorf("period %s is not closed", name)
	}
	return l, nil
}

// Snapshot is the closed period whose member counts a report of from..to takes (§5.3):
// when from..to lies wholly inside closed periods, the one closed last among those it
// touches (the report's figures as they were when its whole span became closed). ok is
// false when some day of from..to is open: current member counts apply.
func (c Closed) Snapshot(from, to bizday.Day) (ClosedPeriod, bool) {
	if len(c) == 0 || to.Before(from) {
		return ClosedPeriod{}, false
	}
	var snap ClosedPeriod
	found := false
	for d := from; !to.Before(d); {
		var in *ClosedPeriod
		for i := range c {
			if c[i].Contains(d) {
				in = &c[i]
				break
			}
		}
		if in == nil {
			return ClosedPeriod{}, false
		}
		if !found || snap.ClosedAt.Before(in.ClosedAt) || (snap.ClosedAt.Equal(in.ClosedAt) && snap.ID < in.ID) {
			snap, found = *in, true
		}
		d = in.Last.AddDays(1)
	}
	return snap, found
}
