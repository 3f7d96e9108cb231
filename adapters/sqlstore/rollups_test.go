package sqlstore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/bizday"
	"aidmall/households"
	"aidmall/money"
	"aidmall/orders"
	"aidmall/reports"
)

// randomYear books a year of random orders through the service: two branches, both
// fundings and malls, deliveries in parts, refunds (some beyond what was delivered, so
// held until a later-arriving delivery covers them), events arriving out of order, a
// linkage change that re-works past deliveries, and a closed quarter whose late events
// go to the adjustment day. It returns the number of events applied.
func randomYear(t *testing.T, f *fixture, rng *rand.Rand) int {
	t.Helper()
	ctx := context.Background()
	if _, err := f.store.UpsertBranches(ctx, []households.Branch{{Code: "B2", Name: "二分工会", Company: "二分", Members: 5, Budget: 100000}}); err != nil {
		t.Fatal(err)
	}
	var evs []orders.FulfilmentEvent
	fundings := []orders.Funding{orders.FundingUnion, orders.FundingEmployeePays, orders.FundingExternal}
	for i := 0; i < 40; i++ {
		day := bizday.MustParse("2019-01-01").AddDays(rng.IntN(300))
		sku, mall := "P1", mallCCB
		if rng.IntN(3) == 0 {
			sku = "P2"
		} else if rng.IntN(2) == 0 {
			mall = mallABC
		}
		qty := int64(2 + rng.IntN(9))
		at := day.Start().Add(10 * time.Hour)
		branch := []string{"HQ", "B2"}[rng.IntN(2)]
		o, err := f.svc.Place(ctx, aidOffice, orders.PlaceRequest{
			OrderRef: fmt.Sprintf("R%d", i), BranchCode: branch, Mall: mall, Funding: fundings[rng.IntN(3)], DeliveryMode: orders.DeliveryBulk,
			ShipTo: orders.ShipTo{Name: "王*", Phone: "13800000000", Address: "北京"}, Lines: []orders.PlaceLine{{SKU: sku, Quantity: qty}}, PlacedAt: &at,
		})
		if err != nil {
			t.Fatal(err)
		}
		price := o.Lines[0].UnitPrice
		delivered := int64(0)
		for k := 0; delivered < qty && k < 3; k++ {
			q := 1 + rng.Int64N(qty-delivered)
			delivered += q
			when := day.AddDays(1 + rng.IntN(40)).Start().Add(time.Duration(rng.IntN(24*60)) * time.Minute)
			e := ev(o, fmt.Sprintf("D%d", k), orders.EventDelivered, 1, q, 0, "2019-01-01 00:00")
			e.OccurredAt = when
			evs = append(evs, e)
		}
		for k := 0; k < rng.IntN(3); k++ {
			amount := money.Fen(1 + rng.Int64N(int64(price)*delivered/2+1)) // a refund is of at least a fen
			e := ev(o, fmt.Sprintf("F%d", k), orders.EventRefunded, 1, 1, amount, "2019-01-01 00:00")
			e.OccurredAt = day.AddDays(rng.IntN(80)).Start().Add(time.Duration(rng.IntN(24*60)) * time.Minute)
			evs = append(evs, e)
		}
	}
	rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	for i, e := range evs {
		if i == len(evs)/2 {
			// S2's households change half way: its past deliveries are worked out again.
			ls := []households.Linkage{
				{SupplierCode: "S2", HouseholdNo: "H002", Type: households.LinkShareholding, Weight: decimal.NewFromInt(2), ValidFrom: bizday.MustParse("2019-05-01")},
				{SupplierCode: "S2", HouseholdNo: "H003", Type: households.LinkEmployment, Weight: decimal.RequireFromString("0.5"),
					ValidFrom: bizday.MustParse("2019-01-01"), ValidTo: bizday.MustParse("2019-07-01")},
			}
			if _, err := f.store.UpsertLinkages(ctx, ls, false); err != nil {
				t.Fatal(err)
			}
		}
		if i == 2*len(evs)/3 {
			for _, m := range []string{"2019-01", "2019-02", "2019-03"} {
				if _, err := f.svc.ClosePeriod(ctx, aidOffice, m, "filed"); err != nil {
					t.Fatalf("close %s: %v", m, err)
				}
			}
		}
		if _, err := f.svc.Apply(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	return len(evs)
}

// TestRollupsAnswerAsTheLedger: over a random year (corrections, held refunds, a linkage
// re-work, closed months and adjustments), every report read from the rollups equals the
// reference computation straight from the ledger rows (reports.Compute,
// reports.ComputeBreakdown) for random ranges whose ends cut months, in every slice and
// pair of slices; and the rollups equal their recomputation from the ledger.
func TestRollupsAnswerAsTheLedger(t *testing.T) {
	t.Parallel()
	for _, d := range sqltest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			rng := rand.New(rand.NewPCG(seed, 7))
			f := newFixture(t, d.Open)
			randomYear(t, f, rng)

			diffs, _, err := f.store.VerifyRollups(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(diffs) > 0 {
				t.Fatalf("rollups differ from the ledger: %+v", diffs)
			}
			ref := ledgerReference(t, f.store)
			rows := ref.rows
			dims := reports.Dimensions()
			periods := []reports.Period{reports.YearPeriod(2019), {From: bizday.MustParse("2019-02-01"), To: bizday.MustParse("2019-02-28")}}
			for len(periods) < 14 {
				a := bizday.MustParse("2019-01-01").AddDays(rng.IntN(420) - 20)
				periods = append(periods, reports.Period{From: a, To: a.AddDays(rng.IntN(200))})
			}
			for _, p := range periods {
				for _, a := range dims {
					by := []reports.By{a}
					if b := dims[rng.IntN(len(dims))]; b != a && rng.IntN(2) == 0 {
						by = append(by, b)
					}
					sameBreakdown(t, f.store, ref, reports.BreakdownQuery{Period: p, By: by})
					if a != reports.ByMonth {
						sameBenefit(t, f.store, ref, reports.Query{From: p.From, To: p.To, By: a})
					}
				}
				// Households report: a row per household with an entry in the range, its net.
				h, err := f.store.HouseholdsReport(ctx, p.From, p.To)
				if err != nil {
					t.Fatal(err)
				}
				nets := map[households.HouseholdNo]money.Fen{}
				for _, r := range rows {
					if r.HouseholdNo != "" && p.Contains(r.Day) {
						nets[r.HouseholdNo] += r.Amount
					}
				}
				if len(h.Rows) != len(nets) {
					t.Fatalf("households report over %s..%s: %d rows, the ledger has %d households", p.From, p.To, len(h.Rows), len(nets))
				}
				for _, r := range h.Rows {
					if nets[r.HouseholdNo] != r.NetAmount {
						t.Fatalf("households report over %s..%s: %s nets %s, the ledger %s", p.From, p.To, r.HouseholdNo, r.NetAmount, nets[r.HouseholdNo])
					}
				}
			}
		})
	}
}

// TestRollupsYearAnswersAsTheLedger: ranges that hold a whole calendar year (read from
// the year rollups) beside whole months and cut days give every breakdown and benefit
// report exactly as recomputed from the ledger rows, with people from the closed-period
// snapshot when the whole year is closed (and the households' members changed since) and
// from the register when it is not.
func TestRollupsYearAnswersAsTheLedger(t *testing.T) {
	t.Parallel()
	for _, d := range sqltest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			rng := rand.New(rand.NewPCG(seed, 11))
			f := newFixture(t, d.Open)
			// Deliveries on the days and in the months around the year that the ranges cut;
			// the months are closed in order, so 2018's before the year.
			deliver := func(i int, day string) {
				sku := []string{"P1", "P2"}[i%2] // P2's are unattributed until S2 has households
				o := f.placeOn(t, fmt.Sprintf("Y%d", i), day, orders.FundingUnion, mallCCB, orders.PlaceLine{SKU: sku, Quantity: int64(2 + i)})
				if _, err := f.svc.Apply(ctx, ev(o, "YD", orders.EventDelivered, 1, int64(2+i), 0, day+" 12:00")); err != nil {
					t.Fatal(err)
				}
			}
			closeMonths := func(ms ...string) {
				for _, m := range ms {
					if _, err := f.svc.ClosePeriod(ctx, aidOffice, m, "filed"); err != nil {
						t.Fatalf("close %s: %v", m, err)
					}
				}
			}
			for i, day := range []string{"2018-11-20", "2018-12-05", "2018-12-31"} {
				deliver(i, day)
			}
			closeMonths("2018-11", "2018-12")
			randomYear(t, f, rng) // closes 2019-01..03 on the way
			for i, day := range []string{"2020-01-01", "2020-01-15", "2020-02-05"} {
				deliver(3+i, day)
			}
			closeMonths("2019-04", "2019-05", "2019-06", "2019-07", "2019-08", "2019-09", "2019-10", "2019-11", "2019-12")
			db := f.store.DB()
			if _, err := db.ExecContext(ctx, `UPDATE households SET members = members % 12 + 1`); err != nil { // registered again since
				t.Fatal(err)
			}
			if diffs, _, err := f.store.VerifyRollups(ctx); err != nil || len(diffs) > 0 {
				t.Fatalf("rollups differ from the ledger: %+v, %v", diffs, err)
			}
			rows, current, err := f.store.LedgerRows(ctx)
			if err != nil {
				t.Fatal(err)
			}
			units, err := f.store.UnitRows(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var snap []struct {
				No      households.HouseholdNo `db:"household_no"`
				Members int                    `db:"members"`
			}
			if err := db.SelectContext(ctx, &snap, `SELECT household_no, members FROM closed_period_members
				WHERE period_id = (SELECT MAX(id) FROM closed_periods WHERE reopened_at IS NULL)`); err != nil {
				t.Fatal(err)
			}
			closed := map[households.HouseholdNo]int{}
			differ := false
			for _, m := range snap {
				closed[m.No] = m.Members
				differ = differ || current[m.No] != m.Members
			}
			if !differ {
				t.Fatal("the snapshot's members are the register's: the test could not tell them apart")
			}
			day := bizday.MustParse
			for _, c := range []struct {
				p       reports.Period
				members map[households.HouseholdNo]int
			}{
				{reports.YearPeriod(2019), closed},                                        // a whole closed year
				{reports.Period{From: day("2018-11-17"), To: day("2020-02-10")}, current}, // days, a month, the year, a month, days
				{reports.Period{From: day("2018-12-01"), To: day("2020-01-31")}, current}, // a month, the year, a month
				{reports.Period{From: day("2018-12-31"), To: day("2020-01-01")}, current}, // a day, the year, a day
			} {
				dims := reports.Dimensions()
				for _, a := range dims {
					for _, by := range [][]reports.By{{a}, {a, dims[rng.IntN(len(dims))]}} {
						if len(by) == 2 && by[0] == by[1] {
							continue
						}
						sameBreakdown(t, f.store, reference{rows, units, c.members}, reports.BreakdownQuery{Period: c.p, By: by})
					}
					if a != reports.ByMonth {
						sameBenefit(t, f.store, reference{rows, units, c.members}, reports.Query{From: c.p.From, To: c.p.To, By: a})
					}
				}
			}
		})
	}
}

// TestRollupsRebuild: rollups damaged by hand are found by VerifyRollups and mended by
// RebuildRollups, after which the reports are as before.
func TestRollupsRebuild(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		f := newFixture(t, func(testing.TB) *sqlstore.DB { return db })
		reportYear(t, f)
		q := reports.BreakdownQuery{Period: reports.YearPeriod(2019), By: []reports.By{reports.ByMonth}}
		before, err := f.store.Breakdown(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `UPDATE ledger_rollups SET amount_fen = amount_fen + 1 WHERE grp = 'slice'`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `DELETE FROM unit_day_rollups`); err != nil {
			t.Fatal(err)
		}
		diffs, total, err := f.store.VerifyRollups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if total != len(diffs) {
			t.Fatalf("verify counted %d differing rows and returned %d", total, len(diffs))
		}
		tables := map[string]bool{}
		for _, d := range diffs {
			tables[d.Table] = true
		}
		if !tables["ledger_rollups"] || !tables["unit_day_rollups"] || tables["ledger_day_rollups"] {
			t.Fatalf("verify found %+v, want the month ledger rollups and the day units rollups", diffs)
		}
		if err := f.store.RebuildRollups(ctx); err != nil {
			t.Fatal(err)
		}
		if diffs, _, err := f.store.VerifyRollups(ctx); err != nil || len(diffs) > 0 {
			t.Fatalf("after rebuild: %+v, %v", diffs, err)
		}
		after, err := f.store.Breakdown(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("after rebuild %+v, before %+v", after, before)
		}
	})
}

// TestRollupsBackfilledByMigration: a database with a ledger from before the rollups gets
// them from migration 00013, equal to their recomputation from the ledger.
func TestRollupsBackfilledByMigration(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		f := newFixture(t, func(testing.TB) *sqlstore.DB { return db })
		reportYear(t, f)
		q := reports.BreakdownQuery{Period: reports.YearPeriod(2019), By: []reports.By{reports.ByCounty, reports.ByMonth}}
		before, err := f.store.Breakdown(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Remigrate(ctx, 12); err != nil {
			t.Fatal(err)
		}
		if diffs, _, err := f.store.VerifyRollups(ctx); err != nil || len(diffs) > 0 {
			t.Fatalf("after the migration: %+v, %v", diffs, err)
		}
		after, err := f.store.Breakdown(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(after) != fmt.Sprint(before) || len(after.Rows) == 0 {
			t.Fatalf("after the migration %+v, before %+v", after, before)
		}
	})
}

// countingReader is a ReportReader that counts the transactions begun on it.
type countingReader struct {
	db *sqlstore.DB
	n  int
}

func (c *countingReader) BeginTxx(ctx context.Context, opts *sql.TxOptions) (*sqlx.Tx, error) {
	c.n++
	return c.db.BeginTxx(ctx, opts)
}

// secondPool opens another connection pool onto db's database, as a replica would be.
func secondPool(t *testing.T, db *sqlstore.DB) *sqlstore.DB {
	t.Helper()
	ctx := context.Background()
	var u string
	if db.Dialect == sqlstore.Postgres {
		var path string
		if err := db.GetContext(ctx, &path, `SHOW search_path`); err != nil {
			t.Fatal(err)
		}
		pu, err := url.Parse(os.Getenv(sqltest.PostgresEnv))
		if err != nil {
			t.Fatal(err)
		}
		q := pu.Query()
		q.Set("search_path", path)
		pu.RawQuery = q.Encode()
		u = pu.String()
	} else {
		var rows []struct {
			Seq  int    `db:"seq"`
			Name string `db:"name"`
			File string `db:"file"`
		}
		if err := db.SelectContext(ctx, &rows, `PRAGMA database_list`); err != nil || len(rows) == 0 {
			t.Fatal(rows, err)
		}
		u = rows[0].File
	}
	r, err := sqlstore.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// TestReportsReadFromAReplica: with a replica given (here the same database on a second
// pool), every report reads in its transactions and answers as from the primary; the
// writes still go to the primary, and the replica sees them once there.
func TestReportsReadFromAReplica(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		f := newFixture(t, func(testing.TB) *sqlstore.DB { return db })
		reportYear(t, f)
		year := reports.YearPeriod(2019)
		all := func() string {
			t.Helper()
			var out []any
			b, err := f.store.Breakdown(ctx, reports.BreakdownQuery{Period: year, By: []reports.By{reports.ByCounty, reports.ByMonth}, Compare: true})
			out = append(out, b, err)
			bn, err := f.store.Benefit(ctx, reports.Query{From: year.From, To: year.To, By: reports.BySKU})
			out = append(out, bn, err)
			ss, err := f.store.SupplierSales(ctx, year)
			out = append(out, ss, err)
			un, err := f.store.Unattributed(ctx, reports.YearPeriod(2018))
			out = append(out, un, err)
			sp, err := f.store.Spending(ctx, year)
			out = append(out, sp, err)
			hh, err := f.store.HouseholdsReport(ctx, year.From, year.To)
			out = append(out, hh, err)
			pv, err := f.store.Provenance(ctx, "H001", year.From, year.To)
			out = append(out, pv, err)
			j, err := json.Marshal(out)
			if err != nil {
				t.Fatal(err)
			}
			return string(j)
		}
		primary := all()
		replica := &countingReader{db: secondPool(t, db)}
		f.store.ReadReportsFrom(replica)
		if got := all(); got != primary {
			t.Fatalf("from the replica:\n%s\nfrom the primary:\n%s", got, primary)
		}
		if replica.n < 7 {
			t.Fatalf("%d report transactions on the replica, want every report's", replica.n)
		}
		o := f.placeOn(t, "O9", "2019-09-01", orders.FundingUnion, mallCCB, orders.PlaceLine{SKU: "P1", Quantity: 1})
		if _, err := f.svc.Apply(ctx, ev(o, "z", orders.EventDelivered, 1, 1, 0, "2019-09-02 10:00")); err != nil {
			t.Fatal(err)
		}
		if got := all(); got == primary {
			t.Fatal("the replica does not show a delivery committed on the primary")
		}
		f.store.ReadReportsFrom(nil)
		if n := replica.n; all() == "" || replica.n != n {
			t.Fatalf("after ReadReportsFrom(nil) the reports still read the replica")
		}
	})
}

// TestLedgerPartitions (PostgreSQL): an entry of a month with no partition lands in the
// default partition and counts; migrating an existing ledger puts every month in its own
// partition with the same rows; EnsureLedgerPartitions makes the months ahead of now.
func TestLedgerPartitions(t *testing.T) {
	t.Parallel()
	db := sqltest.Postgres(t)
	ctx := context.Background()
	f := newFixture(t, func(testing.TB) *sqlstore.DB { return db })
	reportYear(t, f) // 2018 and 2019: older than the migration's months
	count := func(table string) int {
		t.Helper()
		var n int
		if err := db.GetContext(ctx, &n, `SELECT COUNT(*) FROM `+table); err != nil {
			t.Fatal(err)
		}
		return n
	}
	total := count("ledger_entries")
	if total == 0 || count("ledger_entries_default") != total {
		t.Fatalf("%d entries, %d in the default partition: want all of them there", total, count("ledger_entries_default"))
	}
	if err := db.Remigrate(ctx, 13); err != nil {
		t.Fatal(err)
	}
	if count("ledger_entries") != total || count("ledger_entries_default") != 0 || count("ledger_entries_y2019m03") == 0 || count("ledger_entries_y2018m03") == 0 {
		t.Fatalf("after the migration: %d entries, %d in the default partition, %d in 2019-03", count("ledger_entries"), count("ledger_entries_default"), count("ledger_entries_y2019m03"))
	}
	if diffs, _, err := f.store.VerifyRollups(ctx); err != nil || len(diffs) > 0 {
		t.Fatalf("after the migration: %+v, %v", diffs, err)
	}
	now := time.Now().In(bizday.Beijing)
	ahead := "ledger_entries_y" + time.Date(now.Year(), now.Month()+2, 1, 0, 0, 0, 0, time.UTC).Format("2006m01")
	if _, err := db.ExecContext(ctx, `DROP TABLE `+ahead); err != nil {
		t.Fatal(err)
	}
	if err := f.store.EnsureLedgerPartitions(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.GetContext(ctx, &n, `SELECT COUNT(*) FROM pg_inherits WHERE inhparent = 'ledger_entries'::regclass
		AND inhrelid = $1::regclass`, ahead); err != nil || n != 1 {
		t.Fatalf("%s after EnsureLedgerPartitions: %d, %v", ahead, n, err)
	}
}

// TestBatchesPartitionTheirMonths (PostgreSQL): a batch of events (a statement applied
// offline) gives the months it books their partitions first, so that a past year loaded
// is partitioned by month; a month whose entries are in the default partition already
// keeps them there; no partition is made for a month too old, beyond the months kept
// ahead, or not a month; the figures agree with the ledger throughout.
func TestBatchesPartitionTheirMonths(t *testing.T) {
	t.Parallel()
	db := sqltest.Postgres(t)
	ctx := context.Background()
	f := newFixture(t, func(testing.TB) *sqlstore.DB { return db })
	o1 := f.placeOn(t, "O1", "2019-03-01", orders.FundingUnion, mallCCB, orders.PlaceLine{SKU: "P1", Quantity: 10})
	o2 := f.placeOn(t, "O2", "2019-04-02", orders.FundingEmployeePays, mallABC, orders.PlaceLine{SKU: "P1", Quantity: 7})
	o3 := f.placeOn(t, "O3", "2018-03-10", orders.FundingUnion, mallCCB, orders.PlaceLine{SKU: "P1", Quantity: 3})
	// One event alone books 2018-03 in the default partition (as before: Apply makes none).
	if _, err := f.svc.Apply(ctx, ev(o3, "d", orders.EventDelivered, 1, 2, 0, "2018-03-12 10:00")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ApplyBatch(ctx, []orders.FulfilmentEvent{
		ev(o1, "a", orders.EventDelivered, 1, 10, 0, "2019-03-05 10:00"),
		ev(o1, "b", orders.EventRefunded, 1, 1, 6800, "2019-04-06 10:00"),
		ev(o2, "c", orders.EventDelivered, 1, 7, 0, "2019-04-07 23:59"),
		ev(o3, "e", orders.EventDelivered, 1, 1, 0, "2018-03-20 10:00"),
	}); err != nil {
		t.Fatal(err)
	}
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := db.GetContext(ctx, &n, q, args...); err != nil {
			t.Fatal(err)
		}
		return n
	}
	partition := func(name string) int {
		t.Helper()
		return count(`SELECT COUNT(*) FROM pg_inherits WHERE inhparent = 'ledger_entries'::regclass AND inhrelid::regclass::text = $1`, name)
	}
	for _, m := range []string{"2019m03", "2019m04"} {
		if partition("ledger_entries_y"+m) != 1 || count(`SELECT COUNT(*) FROM ledger_entries_y`+m) == 0 {
			t.Fatalf("2019's months booked by the batch: partition %s %d, entries %d", m, partition("ledger_entries_y"+m), count(`SELECT COUNT(*) FROM ledger_entries_y`+m))
		}
	}
	if partition("ledger_entries_y2018m03") != 0 {
		t.Fatal("2018-03 had entries in the default partition, yet was given its own")
	}
	inDefault, of2018 := count(`SELECT COUNT(*) FROM ledger_entries_default`), count(`SELECT COUNT(*) FROM ledger_entries WHERE business_day LIKE '2018-03-%'`)
	if inDefault == 0 || inDefault != of2018 {
		t.Fatalf("the default partition holds %d entries, 2018-03 has %d: want exactly 2018-03's there", inDefault, of2018)
	}
	if diffs, _, err := f.store.VerifyRollups(ctx); err != nil || len(diffs) > 0 {
		t.Fatalf("figures against the ledger: %+v, %v", diffs, err)
	}
	before := count(`SELECT COUNT(*) FROM pg_inherits WHERE inhparent = 'ledger_entries'::regclass`)
	if err := f.store.PrepareLedgerMonths(ctx, []string{"2099-01", "1990-01", "2019-13x", ""}); err != nil {
		t.Fatal(err)
	}
	if after := count(`SELECT COUNT(*) FROM pg_inherits WHERE inhparent = 'ledger_entries'::regclass`); after != before {
		t.Fatalf("months too old, too far ahead or not months made %d partitions", after-before)
	}
}

// TestRollupsKeepTheSliceSetAlone: the month, day and year rollups hold the slice set's
// rows only, and the benefit nets the unattributed part too (migrations 00018–00020 make
// a database that had the other sets so), and reports whose ranges cut months, span
// months or keep a pair answer as before the migrations.
func TestRollupsKeepTheSliceSetAlone(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		f := newFixture(t, func(testing.TB) *sqlstore.DB { return db })
		reportYear(t, f)
		check := func(when string) {
			t.Helper()
			for _, table := range []string{"ledger_rollups", "ledger_day_rollups", "ledger_year_rollups"} {
				var slice, other int
				if err := db.QueryRowContext(ctx, `SELECT COUNT(CASE WHEN grp = 'slice' THEN 1 END), COUNT(CASE WHEN grp <> 'slice' THEN 1 END)
					FROM `+table).Scan(&slice, &other); err != nil {
					t.Fatal(err)
				}
				if slice == 0 || other != 0 {
					t.Fatalf("%s: %s has %d rows of the slice set, %d of others; want only the slice set's", when, table, slice, other)
				}
			}
			var unattributed int
			if err := db.GetContext(ctx, &unattributed, `SELECT COUNT(*) FROM benefit_nets WHERE household_no = ''`); err != nil || unattributed == 0 {
				t.Fatalf("%s: %d nets of the unattributed part, %v", when, unattributed, err)
			}
		}
		check("kept by the ledger's transactions")
		day := bizday.MustParse
		queries := []reports.BreakdownQuery{
			{Period: reports.Period{From: day("2019-03-10"), To: day("2019-08-20")}, By: []reports.By{reports.ByCounty}},
			{Period: reports.Period{From: day("2018-03-01"), To: day("2019-04-30")}, By: []reports.By{reports.ByBranch, reports.ByMonth}}, // months across a year
			{Period: reports.YearPeriod(2019), By: []reports.By{reports.ByCounty, reports.ByBranch}},
		}
		var before []string
		for _, q := range queries {
			b, err := f.store.Breakdown(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			before = append(before, fmt.Sprint(b))
		}
		if err := db.Remigrate(ctx, 17); err != nil { // 00020 to 00018 down (every set back) and up again
			t.Fatal(err)
		}
		check("after migrations 00018–00020")
		if diffs, _, err := f.store.VerifyRollups(ctx); err != nil || len(diffs) > 0 {
			t.Fatalf("after migrations 00018–00020: %+v, %v", diffs, err)
		}
		for i, q := range queries {
			after, err := f.store.Breakdown(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(after) != before[i] || len(after.Rows) == 0 {
				t.Fatalf("%+v after the migrations %+v, before %s", q, after, before[i])
			}
		}
	})
}
