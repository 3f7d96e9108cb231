package orders

// Outcome is what applying one fulfilment event came to: exactly one of the four.
type Outcome string

const (
	OutcomeApplied   Outcome = "applied"   // new, applied to the order
	OutcomeDuplicate Outcome = "duplicate" // already recorded: nothing changed
	OutcomeParked    Outcome = "parked"    // for an order not known yet: kept for later
	OutcomeHeld      Outcome = "held"      // applied but kept for review (ATTRIBUTION.md §1.6)
)

// Outcome returns the one outcome of r. A duplicate is nothing else; a parked event has
// no order to be held on; otherwise it is held or applied.
func (r ApplyResult) Outcome() Outcome {
	switch {
	case r.Duplicate:
		return OutcomeDuplicate
	case r.Parked:
		return OutcomeParked
	case r.Held:
		return OutcomeHeld
	}
	return OutcomeApplied
}

// LabelDuplicateDiffers is Label's name for a duplicate whose content differs from the
// event recorded under its key (ApplyResult.Differs): its outcome is still a duplicate.
const LabelDuplicateDiffers = "duplicate_differs"

// Label is r's outcome as metrics and logs name it: the Outcome, with a duplicate that
// differs from the event recorded told apart (LabelDuplicateDiffers).
func (r ApplyResult) Label() string {
	if r.Duplicate && r.Differs != "" {
		return LabelDuplicateDiffers
	}
	return string(r.Outcome())
}

// Tally counts the outcomes of applied events (a webhook, a statement, a reconciliation).
// Applied does not include Held. Differing counts, among the duplicates, those whose
// content differs from the event recorded under their key (ApplyResult.Differs): not
// applied, for someone to look into.
type Tally struct {
	Applied   int
	Duplicate int
	Parked    int
	Held      int
	Differing int
}

// Add counts r and returns its outcome.
func (t *Tally) Add(r ApplyResult) Outcome {
	o := r.Outcome()
	switch o {
	case OutcomeDuplicate:
		t.Duplicate++
		if r.Differs != "" {
			t.Differing++
		}
	case OutcomeParked:
		t.Parked++
	case OutcomeHeld:
		t.Held++
	default:
		t.Applied++
	}
	return o
}

// Total is the number of events counted.
func (t Tally) Total() int { return t.Applied + t.Duplicate + t.Parked + t.Held }
