package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/bizday"
	"aidmall/households"
	"aidmall/orders"
	"aidmall/reports"
)

// registerAgain stores the fixture's households H001–H003 again with these member counts
// (家庭人口数), as a registry import does, through the batch import (UpsertHouseholds) or
// the streaming one (ImportHouseholds).
func registerAgain(t *testing.T, st interface {
	UpsertHouseholds(context.Context, []households.SealedHousehold) (households.Counts, error)
	ImportHouseholds(context.Context, func() ([]households.SealedHousehold, error), func() (households.ImportInfo, bool)) (households.Counts, error)
}, stream bool, members ...int) {
	t.Helper()
	if err := storeMembers(st, stream, members...); err != nil {
		t.Fatal(err)
	}
}

// storeMembers is registerAgain, returning its error.
func storeMembers(st interface {
	UpsertHouseholds(context.Context, []households.SealedHousehold) (households.Counts, error)
	ImportHouseholds(context.Context, func() ([]households.SealedHousehold, error), func() (households.ImportInfo, bool)) (households.Counts, error)
}, stream bool, members ...int) error {
	var hs []households.SealedHousehold
	for i, m := range members {
		no := households.HouseholdNo(fmt.Sprintf("H00%d", i+1))
		hs = append(hs, households.SealedHousehold{No: no, NameSealed: []byte("n"), NameMasked: "张*", IDSealed: []byte("i"),
			IDHash: "h" + string(no), IDMasked: "610630********0000", PhoneHash: "p" + string(no), PhoneMasked: "138****0000", Members: m,
			County: "宜川县", Township: "t", Village: "v", Attribute: "一般贫困户", Fingerprint: fmt.Sprintf("f%s-%d", no, m)})
	}
	ctx := context.Background()
	var err error
	if stream {
		sent := false
		_, err = st.ImportHouseholds(ctx, func() ([]households.SealedHousehold, error) {
			if sent {
				return nil, nil
			}
			sent = true
			return hs, nil
		}, func() (households.ImportInfo, bool) { return households.ImportInfo{}, true })
	} else {
		_, err = st.UpsertHouseholds(ctx, hs)
	}
	return err
}

// TestBenefitFiguresAnswerAsTheLedger: the office's reports of one whole year or month
// are read from the benefit figures (not the rollups), and give exactly the reference
// computation from the ledger rows, in every slice, with the month beside any slice and
// for branch × funding (the responsibility letter's amounts),
// after a random year and after the registry import changed the households' member
// counts (both import paths). A member count changed behind the import's back sends the
// reports back to the rollups until the figures are rebuilt; they are right throughout.
func TestBenefitFiguresAnswerAsTheLedger(t *testing.T) {
	t.Parallel()
	for _, d := range sqltest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			rng := rand.New(rand.NewPCG(seed, 11))
			f := newFixture(t, d.Open)
			randomYear(t, f, rng) // closes 2019-01..03

			day := bizday.MustParse
			open := []reports.Period{reports.YearPeriod(2019), {From: day("2019-04-01"), To: day("2019-04-30")},
				{From: day("2019-06-01"), To: day("2019-06-30")}, {From: day("2019-12-01"), To: day("2019-12-31")}}
			check := func(step string, fromFigures bool) {
				t.Helper()
				if diffs, _, err := f.store.VerifyRollups(ctx); err != nil || len(diffs) > 0 {
					t.Fatalf("%s: rollups and figures differ from the ledger: %+v, %v", step, diffs, err)
				}
				t.Logf("checking the reports %s", step) // the last one logged is the one that failed
				ref := ledgerReference(t, f.store)
				for _, p := range open {
					if ok, err := f.store.FiguresAnswer(ctx, p.From, p.To); err != nil || ok != fromFigures {
						t.Fatalf("%s: report of %s..%s from the figures: %v (want %v), %v", step, p.From, p.To, ok, fromFigures, err)
					}
					for _, a := range reports.Dimensions() {
						bys := [][]reports.By{{a}}
						if a != reports.ByMonth {
							bys = append(bys, []reports.By{a, reports.ByMonth}, []reports.By{reports.ByMonth, a})
						}
						if a == reports.ByBranch {
							bys = append(bys, []reports.By{reports.ByBranch, reports.ByFunding}, []reports.By{reports.ByFunding, reports.ByBranch})
						}
						for _, by := range bys {
							sameBreakdown(t, f.store, ref, reports.BreakdownQuery{Period: p, By: by})
						}
						if a != reports.ByMonth {
							sameBenefit(t, f.store, ref, reports.Query{From: p.From, To: p.To, By: a})
						}
					}
				}
			}
			check("after the year", true)
			registerAgain(t, f.store, false, 7, 1, 12)
			check("after a registry import", true)
			registerAgain(t, f.store, true, 2, 9, 4)
			check("after a streamed registry import", true)
			if _, err := f.store.DB().ExecContext(ctx, `UPDATE households SET members = members % 12 + 1`); err != nil {
				t.Fatal(err)
			}
			check("after a change outside the import", false)
			if err := f.store.RebuildRollups(ctx); err != nil {
				t.Fatal(err)
			}
			check("after the rebuild", true)
		})
	}
}

// ledgerReference reads the reference of st's ledger.
func ledgerReference(t *testing.T, st *sqlstore.Store) reference {
	t.Helper()
	var ref reference
	var err error
	if ref.rows, ref.members, err = st.LedgerRows(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ref.units, err = st.UnitRows(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ref
}

// reference is the ledger's rows, units and member counts, for the reference computation
// (reports.ComputeBreakdown, reports.Compute) the store's reports are held to.
type reference struct {
	rows    []reports.LedgerRow
	units   []reports.UnitRow
	members map[households.HouseholdNo]int
}

// sameBreakdown and sameBenefit fail t unless the store's report q has the figures of the
// reference computation: totals, and each row's keys and figures.
func sameBreakdown(t *testing.T, st *sqlstore.Store, ref reference, q reports.BreakdownQuery) {
	t.Helper()
	got, err := st.Breakdown(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := breakdownFigures(got), breakdownFigures(reports.ComputeBreakdown(ref.rows, ref.units, ref.members, nil, q)); g != w {
		t.Fatalf("breakdown %v over %s..%s:\nstore  %s\nledger %s", q.By, q.Period.From, q.Period.To, g, w)
	}
}

func sameBenefit(t *testing.T, st *sqlstore.Store, ref reference, q reports.Query) {
	t.Helper()
	got, err := st.Benefit(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := benefitFigures(got), benefitFigures(reports.Compute(ref.rows, ref.members, nil, q)); g != w {
		t.Fatalf("benefit by %s over %s..%s:\nstore  %s\nledger %s", q.By, q.From, q.To, g, w)
	}
}

// breakdownFigures and benefitFigures print a report's figures: totals, and each row's
// keys and figures (not its labels, which the reference computation does not know).
func breakdownFigures(b reports.Breakdown) string {
	out := fmt.Sprintf("%+v", b.Totals)
	for _, r := range b.Rows {
		out += fmt.Sprintf("\n%v %+v", r.Keys, r.Figures)
	}
	return out
}

func benefitFigures(b reports.Benefit) string {
	out := fmt.Sprintf("%+v", b.Totals)
	for _, r := range b.Rows {
		out += fmt.Sprintf("\n%s %s %d %d", r.Key, r.NetAmount, r.Households, r.People)
	}
	return out
}

// TestBenefitFiguresUnderConcurrentImports: deliveries and refunds applied by several
// writers at once, while the registry import changes the member counts of the households
// they are split among, leave the figures exactly as recomputed from the ledger and the
// registry (on PostgreSQL, where the writers and the import really overlap: the import
// carries its changes in under the closed periods' lock, so no writer's count is missed).
func TestBenefitFiguresUnderConcurrentImports(t *testing.T) {
	t.Parallel()
	for _, d := range sqltest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t, d.Open)
			const writers, perWriter = 4, 12
			var os []*orders.GroupOrder
			for w := range writers {
				os = append(os, f.place(t, fmt.Sprintf("C%d", w), mallCCB, orders.PlaceLine{SKU: "P1", Quantity: 1000}))
			}
			errs := make(chan error, writers+1)
			done := make(chan struct{})
			go func() { // the registry import, again and again, until the writers are done
				for i := 0; ; i++ {
					select {
					case <-done:
						errs <- nil
						return
					default:
					}
					if err := storeMembers(f.store, i%2 == 1, 1+i%12, 1+(i+5)%12, 1+(i+9)%12); err != nil {
						errs <- err
						return
					}
				}
			}()
			var wg sync.WaitGroup
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range perWriter {
						// Each writer books in months of its own, a delivery then (every third
						// time) a refund of all of it: nets cross zero up and down.
						at := fmt.Sprintf("2019-%02d-%02d 10:00", 1+(w*perWriter+i)%12, 1+w)
						e := ev(os[w], fmt.Sprintf("D%d", i), orders.EventDelivered, 1, 1, 0, at)
						if _, err := f.svc.Apply(ctx, e); err != nil {
							errs <- err
							return
						}
						if i%3 == 0 {
							r := ev(os[w], fmt.Sprintf("R%d", i), orders.EventRefunded, 1, 1, 6800, at)
							if _, err := f.svc.Apply(ctx, r); err != nil {
								errs <- err
								return
							}
						}
					}
				}()
			}
			wg.Wait()
			close(done)
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
			if diffs, _, err := f.store.VerifyRollups(ctx); err != nil || len(diffs) > 0 {
				t.Fatalf("figures differ from the ledger and the registry: %+v, %v", diffs, err)
			}
			if ok, err := f.store.FiguresAnswer(ctx, bizday.MustParse("2019-01-01"), bizday.MustParse("2019-12-31")); err != nil || !ok {
				t.Fatalf("the year is not read from the figures: %v, %v", ok, err)
			}
		})
	}
}

// TestReportsAtTheEdgesOfTheDays: the first and last business days a report accepts are
// answered (compared with the year before, cut at the month after), not a panic; days
// beyond them are refused as invalid.
func TestReportsAtTheEdgesOfTheDays(t *testing.T) {
	t.Parallel()
	day := bizday.MustParse
	for _, d := range sqltest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t, d.Open)
			for _, p := range []reports.Period{{From: reports.FirstDay, To: day("1901-12-31")}, {From: day("1901-01-01"), To: day("1901-01-31")},
				{From: day("9998-12-02"), To: reports.LastDay}, {From: reports.FirstDay, To: reports.LastDay}} {
				if _, err := f.store.Breakdown(ctx, reports.BreakdownQuery{Period: p, By: []reports.By{reports.ByCounty}, Compare: true}); err != nil {
					t.Errorf("breakdown %s..%s: %v", p.From, p.To, err)
				}
				for _, err := range []error{
					func() error {
						_, err := f.store.Benefit(ctx, reports.Query{From: p.From, To: p.To, By: reports.ByMonth})
						return err
					}(),
					func() error { _, err := f.store.HouseholdsReport(ctx, p.From, p.To); return err }(),
					func() error { _, err := f.store.Spending(ctx, p); return err }(),
				} {
					if err != nil {
						t.Errorf("%s..%s: %v", p.From, p.To, err)
					}
				}
			}
			for _, p := range []reports.Period{{From: day("0001-01-01"), To: day("0001-12-31")}, {From: day("9999-12-15"), To: day("9999-12-31")}} {
				if _, err := f.store.Breakdown(ctx, reports.BreakdownQuery{Period: p, By: []reports.By{reports.ByCounty}, Compare: true}); !errors.Is(err, orders.ErrInvalid) {
					t.Errorf("breakdown %s..%s: %v, want invalid", p.From, p.To, err)
				}
				if _, err := f.store.HouseholdsReport(ctx, p.From, p.To); !errors.Is(err, orders.ErrInvalid) {
					t.Errorf("households %s..%s: %v, want invalid", p.From, p.To, err)
				}
			}
		})
	}
}
