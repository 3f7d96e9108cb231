package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/bizday"
	"aidmall/households"
	"aidmall/orders"
	"aidmall/reports"
)

// Benchmarks of issue 10, each beside its raw baseline measured in the same run:
//
//	go test ./adapters/sqlstore -run '^$' -bench 'BenchmarkRollup' -benchtime 20x
//	AIDMALL_BENCH_SCALE=100 go test ./adapters/sqlstore -run '^$' -bench 'BenchmarkRollupReport/postgres' -benchtime 20x -timeout 30m
//
// BenchmarkRollupReport: the year's breakdown through the store (rollups) vs a bare GROUP
// BY over the same ledger rows, on a synthetic ledger shaped like `aidmall gen --scale N`
// with N = AIDMALL_BENCH_SCALE (syntheticBundle: N × 27,000 entries, 630 households, 10
// suppliers, 15 SKUs, 19 branches), for the breakdowns by county, month, supplier,
// branch, county × month and county × branch (the last served by the all-columns set).
// BenchmarkRollupApply: recording and applying one delivery split over 50 households vs
// a bare insert of the same rows (event, line, 50 ledger entries, their rollup rows).

const benchEntriesPerScale = 27000

func benchScale(b *testing.B) int {
	n := 1
	if s := os.Getenv("AIDMALL_BENCH_SCALE"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			b.Fatalf("AIDMALL_BENCH_SCALE=%q: want a whole number ≥ 1", s)
		}
	}
	return n
}

// benchHouseholds registers households B0000..B(n-1) and links the first linked of them
// to S1 (weight 1 each).
func benchHouseholds(b *testing.B, st *sqlstore.Store, n, linked int) {
	b.Helper()
	ctx := context.Background()
	hs := make([]households.SealedHousehold, 0, n)
	var ls []households.Linkage
	for i := 0; i < n; i++ {
		no := households.HouseholdNo(fmt.Sprintf("B%04d", i))
		hs = append(hs, households.SealedHousehold{No: no, NameSealed: []byte("n"), NameMasked: "张*", IDSealed: []byte("i"),
			IDHash: "h" + string(no), IDMasked: "610630********0000", PhoneHash: "p" + string(no), PhoneMasked: "138****0000", Members: 1 + i%6,
			County: "宜川县", Township: "t", Village: "v", Attribute: "一般贫困户", Fingerprint: "f" + string(no)})
		if i < linked {
			ls = append(ls, households.Linkage{SupplierCode: "S1", HouseholdNo: no, Type: households.LinkProducePurchase,
				Weight: decimal.NewFromInt(1), ValidFrom: bizday.MustParse("2018-01-01")})
		}
	}
	if _, err := st.UpsertHouseholds(ctx, hs); err != nil {
		b.Fatal(err)
	}
	if len(ls) > 0 {
		if _, err := st.UpsertLinkages(ctx, ls, false); err != nil {
			b.Fatal(err)
		}
	}
}

// syntheticBundle writes a ledger shaped like `aidmall gen --scale n`: n copies of the
// 2019 bundle, each with its own 630 households (63 per supplier), 10 suppliers, 15 SKUs
// and 19 branches, and 27,000 entries (540 deliveries split over 50 of the supplier's
// households, one in 20 a refund, on one real line and event, for the keys), spread over
// 2019; it registers the households (for the people join), suppliers and branches, all
// set-based (INSERT … SELECT over a series), and rebuilds the rollups from the ledger.
func syntheticBundle(b *testing.B, f *fixture, n int) {
	b.Helper()
	ctx := context.Background()
	db := f.store.DB()
	o := f.place(b, "SYN", mallCCB, orders.PlaceLine{SKU: "P1", Quantity: 1})
	if _, err := f.svc.Apply(ctx, ev(o, "SYN", orders.EventShipped, 1, 1, 0, "2019-03-05 14:00")); err != nil {
		b.Fatal(err)
	}
	var line, event int64
	if err := db.GetContext(ctx, &line, `SELECT MIN(id) FROM order_lines`); err != nil {
		b.Fatal(err)
	}
	if err := db.GetContext(ctx, &event, `SELECT MIN(id) FROM fulfilment_events`); err != nil {
		b.Fatal(err)
	}
	series := func(count int) string { // the numbers 0..count-1 as column g
		if db.Dialect == sqlstore.Postgres {
			return `generate_series(0, ` + strconv.Itoa(count-1) + `) AS s(g)`
		}
		return `(WITH RECURSIVE s(g) AS (SELECT 0 UNION ALL SELECT g + 1 FROM s WHERE g < ` + strconv.Itoa(count-1) + `) SELECT g FROM s) s`
	}
	hhNo := `printf('B%07d', h)`
	bytes, day := `X'6e'`, `date('2019-01-01', '+' || (j * 13 % 365) || ' days')`
	if db.Dialect == sqlstore.Postgres {
		hhNo, bytes, day = `'B' || lpad(h::text, 7, '0')`, `'\x6e'::bytea`, `to_char(date '2019-01-01' + (j * 13 % 365), 'YYYY-MM-DD')`
	}
	start := time.Now()
	for _, q := range []string{
		`INSERT INTO households (household_no, name_sealed, name_masked, id_sealed, id_hash, id_masked, phone_hash, phone_masked, members,
			county, township, village, attribute, exit_year, fingerprint, updated_at)
			SELECT ` + hhNo + `, ` + bytes + `, '张*', ` + bytes + `, 'h' || h, '610630********0000', 'p' || h, '138****0000', 1 + h % 6,
			'宜川县', 't', 'v', '一般贫困户', 2019, 'f' || h, CURRENT_TIMESTAMP FROM (SELECT g AS h FROM ` + series(630*n) + `) x`,
		`INSERT INTO branches (code, name, company, members, updated_at)
			SELECT 'BR' || g, '分工会' || g, 'c', 10, CURRENT_TIMESTAMP FROM ` + series(19*n),
		`INSERT INTO suppliers (code, name, uscc, county_code, kind, updated_at)
			SELECT 'SUP' || g, '合作社' || g, 'u' || g, CASE WHEN g % 10 < 5 THEN '610630' ELSE '610825' END, 'cooperative', CURRENT_TIMESTAMP FROM ` + series(10*n),
		// g: entry; d = g / 50: delivery; c = d / 540: copy; j = d % 540: its delivery in the
		// copy; sp = j % 10: the supplier in the copy (its households sp*63..sp*63+62,
		// SKUs sp and sp+10 below 15); t = j / 10.
		`INSERT INTO ledger_entries (line_id, event_row_id, household_no, business_day, amount_fen, source, correction, booked_at,
			funding, county_code, category, sku, supplier_code, branch_code, mall, concerns_day, adjustment)
			SELECT ` + strconv.FormatInt(line, 10) + `, ` + strconv.FormatInt(event, 10) + `, ` + hhNo + `, ` + day + `,
			CASE WHEN j % 20 = 0 THEN -(100 + g % 900) ELSE 100 + g % 5000 END,
			CASE WHEN j % 20 = 0 THEN 'refunded' ELSE 'delivered' END, FALSE, CURRENT_TIMESTAMP,
			CASE (t + sp) % 3 WHEN 0 THEN 'union_funds' WHEN 1 THEN 'employee_self_pay' ELSE 'external' END,
			CASE WHEN sp < 5 THEN '610630' ELSE '610825' END, CASE sk % 3 WHEN 0 THEN 'apple' WHEN 1 THEN 'peppercorn' ELSE 'walnut' END,
			'SKU' || (c * 15 + sk), 'SUP' || (c * 10 + sp), 'BR' || (c * 19 + (t * 3 + sp) % 19), CASE t % 2 WHEN 0 THEN 'ccb' ELSE 'abc' END, '', FALSE
			FROM (SELECT g, c, j, sp, t, c * 630 + sp * 63 + (t * 7 + g % 50) % 63 AS h, CASE WHEN sp < 5 THEN sp + 10 * (t % 2) ELSE sp END AS sk
				FROM (SELECT g, g / 50 / 540 AS c, g / 50 % 540 AS j, g / 50 % 540 % 10 AS sp, g / 50 % 540 / 10 AS t FROM ` + series(benchEntriesPerScale*n) + `) y) x`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	loaded := time.Since(start)
	// On PostgreSQL the rollups' keys are made after the rebuild fills them (a sorted
	// build instead of millions of index inserts): the same tables, built sooner.
	keyed := map[string]string{"ledger_rollups": "grp, month, k1, k2, k3, k4, k5, k6, k7, household_no",
		"ledger_day_rollups":  "grp, business_day, k1, k2, k3, k4, k5, k6, k7, household_no",
		"ledger_year_rollups": "grp, year, k1, k2, k3, k4, k5, k6, k7, household_no", "benefit_nets": "dim, period, slice, household_no"}
	// AIDMALL_BENCH_FIGURES_ONLY=1 builds the benefit figures alone (not the rollups, whose
	// rebuild at N = 100 takes half an hour here): the reports they answer read nothing
	// else; the reports they do not answer are then skipped.
	figuresOnly := os.Getenv("AIDMALL_BENCH_FIGURES_ONLY") != ""
	if figuresOnly {
		keyed = map[string]string{"benefit_nets": keyed["benefit_nets"]}
	}
	if db.Dialect == sqlstore.Postgres {
		for t := range keyed {
			if _, err := db.ExecContext(ctx, `ALTER TABLE `+t+` DROP CONSTRAINT `+t+`_pkey`); err != nil {
				b.Fatal(err)
			}
		}
	}
	rebuild := f.store.RebuildRollups
	if figuresOnly {
		rebuild = f.store.RebuildBenefitFigures
	}
	if err := rebuild(ctx); err != nil {
		b.Fatal(err)
	}
	if db.Dialect == sqlstore.Postgres {
		for t, key := range keyed {
			if _, err := db.ExecContext(ctx, `ALTER TABLE `+t+` ADD CONSTRAINT `+t+`_pkey PRIMARY KEY (`+key+`)`); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := f.store.Analyze(ctx); err != nil {
		b.Fatal(err)
	}
	var entries, hh, rolled, yearly, nets, figures int
	for _, c := range []struct {
		n *int
		q string
	}{{&entries, `SELECT COUNT(*) FROM ledger_entries`}, {&hh, `SELECT COUNT(*) FROM households`},
		{&rolled, `SELECT COUNT(*) FROM ledger_rollups`}, {&yearly, `SELECT COUNT(*) FROM ledger_year_rollups`},
		{&nets, `SELECT COUNT(*) FROM benefit_nets`}, {&figures, `SELECT COUNT(*) FROM benefit_figures`}} {
		if err := db.GetContext(ctx, c.n, c.q); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("%s N=%d: %d ledger entries, %d households, %d month and %d year rollup rows, %d household nets, %d slice figures; loaded in %s, rollups and statistics in %s",
		db.Dialect, n, entries, hh, rolled, yearly, nets, figures, loaded.Round(time.Millisecond), (time.Since(start) - loaded).Round(time.Millisecond))
}

func BenchmarkRollupReport(b *testing.B) {
	scale := benchScale(b)
	for _, d := range sqltest.Dialects {
		b.Run(d.Name, func(b *testing.B) {
			f := newFixture(b, d.Open)
			syntheticBundle(b, f, scale)
			ctx := context.Background()
			db := f.store.DB()
			year := reports.YearPeriod(2019)
			shapes := [][]reports.By{{reports.ByCounty}, {reports.ByMonth}, {reports.BySupplier}, {reports.ByBranch},
				{reports.ByCounty, reports.ByMonth}, {reports.ByBranch, reports.ByFunding}, {reports.ByCounty, reports.ByBranch}}
			if os.Getenv("AIDMALL_BENCH_FIGURES_ONLY") != "" {
				shapes = shapes[:len(shapes)-1] // county × branch: read from the rollups, not built
			}
			for _, by := range shapes {
				name := fmt.Sprint(by)
				var cols []string
				for _, x := range by {
					cols = append(cols, map[reports.By]string{reports.ByCounty: "county_code", reports.ByMonth: "substr(business_day, 1, 7)",
						reports.BySupplier: "supplier_code", reports.ByBranch: "branch_code", reports.ByFunding: "funding"}[x])
				}
				bare := db.Rebind(`SELECT ` + strings.Join(cols, ", ") + `, SUM(amount_fen) FROM ledger_entries WHERE business_day BETWEEN ? AND ? GROUP BY ` + strings.Join(cols, ", "))
				if os.Getenv("AIDMALL_BENCH_EXPLAIN") != "" && db.Dialect == sqlstore.Postgres {
					q, args := sqlstore.BreakdownFiguresSQL(year, by...)
					var plan []string
					if err := db.SelectContext(ctx, &plan, db.Rebind(`EXPLAIN (ANALYZE, BUFFERS) `+q), args...); err != nil {
						b.Fatal(err)
					}
					b.Logf("%s rows, households and people:\n%s", name, strings.Join(plan, "\n"))
				}
				b.Run(strings.Trim(strings.ReplaceAll(name, " ", "×"), "[]"), func(b *testing.B) {
					var rep, raw time.Duration
					for i := 0; i < b.N; i++ {
						t0 := time.Now()
						if _, err := f.store.Breakdown(ctx, reports.BreakdownQuery{Period: year, By: by}); err != nil {
							b.Fatal(err)
						}
						t1 := time.Now()
						rows, err := db.QueryContext(ctx, bare, "2019-01-01", "2019-12-31")
						if err != nil {
							b.Fatal(err)
						}
						for rows.Next() {
						}
						rows.Close()
						rep, raw = rep+t1.Sub(t0), raw+time.Since(t1)
					}
					b.ReportMetric(float64(rep.Microseconds())/1000/float64(b.N), "report-ms/op")
					b.ReportMetric(float64(raw.Microseconds())/1000/float64(b.N), "bare-groupby-ms/op")
					b.ReportMetric(float64(rep)/float64(raw), "report/bare")
				})
			}
		})
	}
}

func BenchmarkRollupApply(b *testing.B) {
	for _, d := range sqltest.Dialects {
		b.Run(d.Name, func(b *testing.B) {
			f := newFixture(b, d.Open)
			benchHouseholds(b, f.store, 47, 47) // S1: H001–H003 and these 47, 50 households
			ctx := context.Background()
			db := f.store.DB()
			const nOrders = 64
			os := make([]*orders.GroupOrder, 0, nOrders)
			for i := 0; i < nOrders; i++ {
				os = append(os, f.place(b, fmt.Sprintf("A%d", i), mallCCB, orders.PlaceLine{SKU: "P1", Quantity: 100000}))
			}
			base := time.Date(2019, 3, 5, 14, 0, 0, 0, bizday.Beijing)
			var apply, bare time.Duration
			for i := 0; i < b.N; i++ {
				o := os[i%nOrders]
				e := ev(o, fmt.Sprintf("E%d", i), orders.EventDelivered, 1, 1, 0, "2019-03-05 14:00")
				e.OccurredAt = base.Add(time.Duration(i) * time.Minute)
				t0 := time.Now()
				if _, err := f.svc.Apply(ctx, e); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := bareDelivery(ctx, db, o, i, e.OccurredAt); err != nil {
					b.Fatal(err)
				}
				apply, bare = apply+t1.Sub(t0), bare+time.Since(t1)
			}
			b.ReportMetric(float64(apply.Microseconds())/1000/float64(b.N), "apply-ms/op")
			b.ReportMetric(float64(bare.Microseconds())/1000/float64(b.N), "bare-insert-ms/op")
			b.ReportMetric(float64(bare)/float64(apply), "apply-throughput/bare")
		})
	}
}

// bareDelivery writes the rows one applied delivery of 1 unit split over 50 households
// writes, without reading or deciding anything: the event, the line's quantities, 50
// ledger entries and their month, day and year rollup rows, the benefit figures' rows,
// and the units rollup rows, in one
// transaction, through the same driver.
func bareDelivery(ctx context.Context, db *sqlstore.DB, o *orders.GroupOrder, i int, at time.Time) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	day := bizday.Of(at).String()
	var row int64
	if err := tx.GetContext(ctx, &row, tx.Rebind(`INSERT INTO fulfilment_events (mall, event_id, out_order_no, mall_order_no, type, line_no,
		quantity, refund_fen, occurred_at, business_day, source, received_at, order_id, state)
		VALUES (?, ?, ?, 'M1', 'delivered', 1, 1, 0, ?, ?, 'notification', ?, ?, 'applied') RETURNING id`),
		o.Mall, fmt.Sprintf("X%d", i), o.OutOrderNo, at.UTC(), day, time.Now().UTC(), o.ID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE order_lines SET delivered_qty = delivered_qty + 1 WHERE id = ?`), o.Lines[0].ID); err != nil {
		return err
	}
	var le strings.Builder
	var leArgs []any
	type key struct{ grp, k1, k2, k3, k4, k5, k6, k7 string }
	slice := key{"slice", "union_funds", "610630", "apple", "P1", "S1", "HQ", "ccb"} // the one set the rollups keep
	var rr [3]strings.Builder
	var rrArgs [3][]any
	for h := 0; h < 50; h++ {
		no := fmt.Sprintf("B%04d", h-3)
		if h < 3 {
			no = fmt.Sprintf("H00%d", h+1)
		}
		if h > 0 {
			le.WriteString(", ")
		}
		le.WriteString("(?, ?, ?, ?, 136, 'delivered', FALSE, ?, 'union_funds', '610630', 'apple', 'P1', 'S1', 'HQ', 'ccb', '', FALSE)")
		leArgs = append(leArgs, o.Lines[0].ID, row, no, day, time.Now().UTC())
		for g, p := range []string{day[:7], day, day[:4]} {
			k := slice
			if rr[g].Len() > 0 {
				rr[g].WriteString(", ")
			}
			rr[g].WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 136, 136, 136, 0)")
			rrArgs[g] = append(rrArgs[g], k.grp, p, k.k1, k.k2, k.k3, k.k4, k.k5, k.k6, k.k7, no)
		}
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO ledger_entries (line_id, event_row_id, household_no, business_day, amount_fen, source,
		correction, booked_at, funding, county_code, category, sku, supplier_code, branch_code, mall, concerns_day, adjustment) VALUES `+le.String()), leArgs...); err != nil {
		return err
	}
	for g, t := range [3][2]string{{"ledger_rollups", "month"}, {"ledger_day_rollups", "business_day"}, {"ledger_year_rollups", "year"}} {
		keys := "grp, " + t[1] + ", k1, k2, k3, k4, k5, k6, k7, household_no"
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO `+t[0]+` (`+keys+`, amount_fen, union_fen, delivered_fen, refunded_fen)
			VALUES `+rr[g].String()+` ON CONFLICT (`+keys+`) DO UPDATE SET amount_fen = `+t[0]+`.amount_fen + excluded.amount_fen,
			union_fen = `+t[0]+`.union_fen + excluded.union_fen, delivered_fen = `+t[0]+`.delivered_fen + excluded.delivered_fen,
			refunded_fen = `+t[0]+`.refunded_fen + excluded.refunded_fen`), rrArgs[g]...); err != nil {
			return err
		}
	}
	// The benefit figures: each household's net per year and month in the whole ledger and
	// the slice of each of 8 dimensions, then those 18 slices' figures.
	dims := [][2]string{{"", ""}, {"county_code", "610630"}, {"category", "apple"}, {"sku", "P1"}, {"supplier_code", "S1"},
		{"branch_code", "HQ"}, {"mall", "ccb"}, {"funding", "union_funds"}, {"branch_code,funding", "HQ/union_funds"}}
	var bn, bf strings.Builder
	var bnArgs, bfArgs []any
	for _, p := range []string{day[:4], day[:7]} {
		for _, dm := range dims {
			if bf.Len() > 0 {
				bf.WriteString(", ")
			}
			bf.WriteString("(?, ?, ?, 6800, 6800, 6800, 0, 0, 0, 0)")
			bfArgs = append(bfArgs, p, dm[0], dm[1])
			for h := 0; h < 50; h++ {
				no := fmt.Sprintf("B%04d", h-3)
				if h < 3 {
					no = fmt.Sprintf("H00%d", h+1)
				}
				if bn.Len() > 0 {
					bn.WriteString(", ")
				}
				bn.WriteString("(?, ?, ?, ?, 136, 136, 136, 0)")
				bnArgs = append(bnArgs, p, dm[0], dm[1], no)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO benefit_nets (period, dim, slice, household_no, net_fen, union_fen, delivered_fen, refunded_fen)
		VALUES `+bn.String()+` ON CONFLICT (period, dim, slice, household_no) DO UPDATE SET net_fen = benefit_nets.net_fen + excluded.net_fen,
		union_fen = benefit_nets.union_fen + excluded.union_fen, delivered_fen = benefit_nets.delivered_fen + excluded.delivered_fen`), bnArgs...); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO benefit_figures (period, dim, slice, amount_fen, union_fen, delivered_fen, refunded_fen,
		unattributed_fen, households, people) VALUES `+bf.String()+` ON CONFLICT (period, dim, slice) DO UPDATE SET
		amount_fen = benefit_figures.amount_fen + excluded.amount_fen, union_fen = benefit_figures.union_fen + excluded.union_fen,
		delivered_fen = benefit_figures.delivered_fen + excluded.delivered_fen`), bfArgs...); err != nil {
		return err
	}
	for _, t := range [][2]string{{"unit_month_rollups", "month"}, {"unit_day_rollups", "business_day"}} {
		p := day
		if t[1] == "month" {
			p = day[:7]
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO `+t[0]+` (`+t[1]+`, sku, funding, branch_code, mall, units, events)
			VALUES (?, 'P1', 'union_funds', 'HQ', 'ccb', 1, 1) ON CONFLICT (`+t[1]+`, sku, funding, branch_code, mall)
			DO UPDATE SET units = `+t[0]+`.units + excluded.units, events = `+t[0]+`.events + excluded.events`), p); err != nil {
			return err
		}
	}
	return tx.Commit()
}
