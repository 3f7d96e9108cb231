package attribution

import (
	"cmp"
	"slices"

	"aidmall/bizday"
	"aidmall/households"
	"aidmall/money"
)

// entryKey is the identity of a ledger amount: one claimant of one event.
type entryKey struct {
	eventID     string
	householdNo households.HouseholdNo
}

// Corrections returns the entries to book so that, for every (EventID, HouseholdNo), the
// sum of the booked entries plus the corrections equals the sum of want's entries
// (ATTRIBUTION.md §1.5: a line worked out again after a late event books only the
// difference). booked is what the ledger already holds for a line (original and earlier
// correcting entries, in any order); want is what WorkOut now says.
//
// Each correction is one entry per pair whose sums differ, Amount = want − booked (fen,
// either sign), carrying the business day of its event — never the day it is booked: the
// Day of want's entries for that event when want has any, else the Day of the first booked
// entry of that event (every entry of one event carries the same day; an adjustment's is the
// day it concerns, ATTRIBUTION.md §5.2). Where a day is closed, Closed.Place moves the result. A pair that is in
// booked but no longer in want (a delivery now held, a household no longer a claimant) is
// reversed to zero.
//
// The result is sorted by EventID, then HouseholdNo (text, the unattributed "" last); it is
// nil when nothing changed. Neither input is modified.
func Corrections(booked, want []Entry) []Entry {
	diff := map[entryKey]money.Fen{}
	day := map[string]bizday.Day{} // event id → its business day; want's first
	for _, e := range want {
		diff[entryKey{e.EventID, e.HouseholdNo}] += e.Amount
		if _, ok := day[e.EventID]; !ok {
			day[e.EventID] = e.Day
		}
	}
	for _, e := range booked {
		diff[entryKey{e.EventID, e.HouseholdNo}] -= e.Amount
		if _, ok := day[e.EventID]; !ok {
			day[e.EventID] = e.Day
			if !e.Concerns.IsZero() { // an adjustment: its event's day is the day it concerns
				day[e.EventID] = e.Concerns
			}
		}
	}
	var out []Entry
	for k, a := range diff {
		if a != 0 {
			out = append(out, Entry{EventID: k.eventID, HouseholdNo: k.householdNo, Day: day[k.eventID], Amount: a})
		}
	}
	slices.SortFunc(out, func(a, b Entry) int {
		if c := cmp.Compare(a.EventID, b.EventID); c != 0 {
			return c
		}
		return HouseholdOrder(a.HouseholdNo, b.HouseholdNo)
	})
	return out
}
