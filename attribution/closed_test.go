package attribution

import (
	"testing"
	"time"

	"aidmall/bizday"
)

func closedOf(t *testing.T, names ...string) Closed {
	t.Helper()
	var c Closed
	for i, n := range names {
		p, err := ParsePeriod(n)
		if err != nil {
			t.Fatal(err)
		}
		c = append(c, ClosedPeriod{ID: int64(i + 1), Period: p, ClosedAt: time.Date(2020, 1, 1+i, 0, 0, 0, 0, time.UTC)})
	}
	return c
}

func TestPlaceMovesClosedDaysToTheAdjustmentDay(t *testing.T) {
	c := closedOf(t, "2018-12", "2019")
	es := []Entry{
		{EventID: "a", HouseholdNo: "1", Day: bizday.MustParse("2019-06-30"), Amount: 100},
		{EventID: "b", HouseholdNo: "1", Day: bizday.MustParse("2018-11-30"), Amount: -5},
		{EventID: "c", HouseholdNo: "", Day: bizday.MustParse("2018-12-01"), Amount: 7},
		{EventID: "d", HouseholdNo: "2", Day: bizday.MustParse("2020-01-02"), Amount: 9},
	}
	got := c.Place(es)
	want := []Entry{
		{EventID: "a", HouseholdNo: "1", Day: bizday.MustParse("2020-01-01"), Amount: 100, Concerns: bizday.MustParse("2019-06-30"), Adjustment: true},
		es[1], // 2018-11 is open
		{EventID: "c", Day: bizday.MustParse("2020-01-01"), Amount: 7, Concerns: bizday.MustParse("2018-12-01"), Adjustment: true},
		es[3],
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if es[0].Adjustment {
		t.Fatal("Place modified its input")
	}
}

func TestCheckCloseKeepsClosedMonthsUnbroken(t *testing.T) {
	first := bizday.MustParse("2018-12-03")
	for _, tc := range []struct {
		closed []string
		period string
		ok     bool
	}{
		{nil, "2018-12", true},
		{nil, "2019", false},                    // 2018-12 has entries and is open
		{[]string{"2018-12"}, "2019", true},     // unbroken
		{[]string{"2018-12"}, "2019-02", false}, // 2019-01 would be a gap
		{[]string{"2018-12", "2019"}, "2019-05", false},
		{[]string{"2018-12", "2019"}, "2018-11", false}, // before a closed period
		{nil, "2018-11", true},                          // nothing earlier has entries
	} {
		p, _ := ParsePeriod(tc.period)
		err := closedOf(t, tc.closed...).CheckClose(p, first)
		if (err == nil) != tc.ok {
			t.Errorf("closed %v, close %s: err %v, want ok=%v", tc.closed, tc.period, err, tc.ok)
		}
	}
}

func TestReopenOnlyTheLatest(t *testing.T) {
	c := closedOf(t, "2018-12", "2019")
	if _, err := c.CheckReopen("2018-12"); err == nil {
		t.Fatal("reopened 2018-12 before 2019")
	}
	if p, err := c.CheckReopen("2019"); err != nil || p.Name != "2019" {
		t.Fatalf("reopen 2019: %v %v", p, err)
	}
}

func TestSnapshotOnlyWhollyInsideClosedPeriods(t *testing.T) {
	c := closedOf(t, "2018-12", "2019")
	d := bizday.MustParse
	if p, ok := c.Snapshot(d("2019-03-01"), d("2019-03-31")); !ok || p.Name != "2019" {
		t.Fatalf("March 2019: %v %v", p, ok)
	}
	if p, ok := c.Snapshot(d("2018-12-01"), d("2018-12-31")); !ok || p.Name != "2018-12" {
		t.Fatalf("December 2018: %v %v", p, ok)
	}
	if p, ok := c.Snapshot(d("2018-12-01"), d("2019-12-31")); !ok || p.Name != "2019" { // closed last
		t.Fatalf("2018-12..2019: %v %v", p, ok)
	}
	if _, ok := c.Snapshot(d("2019-12-01"), d("2020-01-31")); ok {
		t.Fatal("a period reaching an open month took a snapshot")
	}
}
