package attribution

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"aidmall/bizday"
	"aidmall/households"
	"aidmall/money"
)

func TestCorrections(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		booked []Entry
		want   []Entry
		corr   []Entry
	}{
		{
			name:   "nothing_changed_gives_nothing",
			booked: []Entry{entry("D1", "H001", "2019-05-10", 100), entry("D1", "H002", "2019-05-10", 50)},
			want:   []Entry{entry("D1", "H002", "2019-05-10", 50), entry("D1", "H001", "2019-05-10", 100)},
		},
		{
			name: "first_working_out_books_every_entry",
			want: []Entry{entry("D1", "", "2019-05-10", 100), entry("D1", "H002", "2019-05-10", 50)},
			corr: []Entry{entry("D1", "H002", "2019-05-10", 50), entry("D1", "", "2019-05-10", 100)},
		},
		{
			name:   "changed_share_books_the_difference_on_the_event_day",
			booked: []Entry{entry("R1", "H001", "2019-06-01", -2266), entry("R1", "H002", "2019-06-01", -2268)},
			want:   []Entry{entry("R1", "H001", "2019-06-01", -2267), entry("R1", "H002", "2019-06-01", -2267)},
			corr:   []Entry{entry("R1", "H001", "2019-06-01", -1), entry("R1", "H002", "2019-06-01", 1)},
		},
		{
			// A delivery now held (or a claimant that lost its share) is reversed on the day
			// of its event, taken from the booked entry since want has none.
			name: "pair_no_longer_wanted_is_reversed_on_its_event_day",
			booked: []Entry{
				entry("D1", "H001", "2019-05-01", 600), entry("D2", "H001", "2019-06-01", 600),
			},
			want: []Entry{entry("D1", "H001", "2019-05-01", 600)},
			corr: []Entry{entry("D2", "H001", "2019-06-01", -600)},
		},
		{
			// Cannot happen while an event's occurred_at is fixed, but the rule is: want's day.
			name:   "want_decides_the_day_when_booked_disagrees",
			booked: []Entry{entry("D1", "H001", "2019-05-01", 100)},
			want:   []Entry{entry("D1", "H001", "2019-05-02", 150), entry("D1", "H002", "2019-05-02", 10)},
			corr:   []Entry{entry("D1", "H001", "2019-05-02", 50), entry("D1", "H002", "2019-05-02", 10)},
		},
		{
			name: "earlier_corrections_count_in_what_is_booked",
			booked: []Entry{
				entry("D1", "H001", "2019-05-01", 600), entry("D1", "H001", "2019-05-01", -600),
				entry("D1", "H002", "2019-05-01", 300),
			},
			want: []Entry{entry("D1", "H001", "2019-05-01", 600), entry("D1", "H002", "2019-05-01", 300)},
			corr: []Entry{entry("D1", "H001", "2019-05-01", 600)},
		},
		{
			name:   "corrections_sorted_by_event_then_household_unattributed_last",
			booked: nil,
			want: []Entry{
				entry("E2", "A", "2019-05-02", 1), entry("E1", "", "2019-05-01", 2),
				entry("E1", "B", "2019-05-01", 3), entry("E1", "A", "2019-05-01", 4),
			},
			corr: []Entry{
				entry("E1", "A", "2019-05-01", 4), entry("E1", "B", "2019-05-01", 3),
				entry("E1", "", "2019-05-01", 2), entry("E2", "A", "2019-05-02", 1),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Corrections(tc.booked, tc.want)
			if !reflect.DeepEqual(got, tc.corr) {
				t.Fatalf("Corrections:\n got  %+v\n want %+v", got, tc.corr)
			}
			checkCorrections(t, tc.booked, tc.want, got)
		})
	}
}

// TestCorrectionsAfterLateEvents books a line's outcome, lets a late event arrive, and
// checks that the corrections carry exactly the change the rules call for.
func TestCorrectionsAfterLateEvents(t *testing.T) {
	t.Parallel()
	line := Line{Quantity: 10, UnitPrice: 100, Linkages: threeEqual()[:1]}
	d2 := delivered("D2", "2019-06-01T10:00:00+08:00", 6)
	r1 := refunded("R1", "2019-06-02T10:00:00+08:00", 1000)

	t.Run("late_earlier_delivery_reverses_the_one_now_held_and_applies_the_refund", func(t *testing.T) {
		t.Parallel()
		booked := WorkOut(line, []Event{d2, r1}) // D2 600 applied, R1 held
		want := WorkOut(line, []Event{d2, r1, delivered("D1", "2019-05-01T10:00:00+08:00", 6)})
		// With D1 (600) first, D2 no longer fits (12 > 10) and R1 (1000) exceeds 600: held.
		got := Corrections(booked.Entries, want.Entries)
		wantCorr := []Entry{
			entry("D1", "H001", "2019-05-01", 600),
			entry("D2", "H001", "2019-06-01", -600),
		}
		if !reflect.DeepEqual(got, wantCorr) {
			t.Fatalf("got %+v, want %+v", got, wantCorr)
		}
	})
	t.Run("late_delivery_covering_a_held_refund_books_the_refund_on_its_own_day", func(t *testing.T) {
		t.Parallel()
		booked := WorkOut(line, []Event{d2, r1})
		want := WorkOut(line, []Event{d2, r1, delivered("D1", "2019-05-01T10:00:00+08:00", 4)})
		got := Corrections(booked.Entries, want.Entries)
		wantCorr := []Entry{
			entry("D1", "H001", "2019-05-01", 400),
			entry("R1", "H001", "2019-06-02", -1000),
		}
		if !reflect.DeepEqual(got, wantCorr) {
			t.Fatalf("got %+v, want %+v", got, wantCorr)
		}
	})
}

// checkCorrections asserts that booked plus corrections equals want for every pair.
func checkCorrections(t *testing.T, booked, want, corr []Entry) {
	t.Helper()
	sum := func(es ...[]Entry) map[entryKey]money.Fen {
		m := map[entryKey]money.Fen{}
		for _, list := range es {
			for _, e := range list {
				m[entryKey{e.EventID, e.HouseholdNo}] += e.Amount
			}
		}
		for k, v := range m {
			if v == 0 {
				delete(m, k)
			}
		}
		return m
	}
	if got, w := sum(booked, corr), sum(want); !reflect.DeepEqual(got, w) {
		t.Fatalf("booked + corrections = %v, want %v", got, w)
	}
	for _, c := range corr {
		if c.Amount == 0 {
			t.Fatalf("zero correction %+v", c)
		}
	}
}

func TestCorrectionsBringBookedToWant(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	random := func() []Entry {
		var es []Entry
		for range rng.IntN(12) {
			id := fmt.Sprintf("E%d", rng.IntN(4))
			h := []households.HouseholdNo{"", "H1", "H2", "H3"}[rng.IntN(4)]
			es = append(es, Entry{EventID: id, HouseholdNo: h, Day: bizday.MustParse("2019-05-01").AddDays(int(id[1] - '0')),
				Amount: money.Fen(rng.Int64N(2001) - 1000)})
		}
		return es
	}
	for range 1000 {
		booked, want := random(), random()
		corr := Corrections(booked, want)
		checkCorrections(t, booked, want, corr)
		if again := Corrections(append(slices.Clone(booked), corr...), want); again != nil {
			t.Fatalf("corrections are not final: a second round gives %+v", again)
		}
		for _, c := range corr {
			if c.Day != bizday.MustParse("2019-05-01").AddDays(int(c.EventID[1]-'0')) {
				t.Fatalf("correction %+v does not carry its event's day", c)
			}
		}
	}
}
