package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/bizday"
	"aidmall/internal/bench"
	"aidmall/orders"
	"aidmall/reports"
)

// Each benchmark here reports, beside ns/op, its raw baseline measured in the same run
// after the timed loop, over the same count (bare-ns/op), and ratio = bare-ns/op ÷ ns/op:
// the store's throughput as a share of the baseline's (1 = as fast as the bare SQL).

// BenchmarkApplyEvent measures recording and applying one fulfilment event on SQLite,
// including the order's recomputation: in turns a delivery (ledger split among three
// households) and a shipment (no money) of one unit, over 64 orders.
//
// Baseline: the bare insert of the rows one applied delivery and one applied shipment
// wrote (applied once each before the timer, on an order of their own, and read back),
// in turns as the loop does, with the two updates the path makes (bench.DeliveryCopy, as
// `aidmall bench`'s ingest part), booked on a spare order.
func BenchmarkApplyEvent(b *testing.B) {
	f := newFixture(b, sqltest.SQLite)
	ctx := context.Background()
	os := make([]*orders.GroupOrder, 0, 64)
	for i := 0; i < 64; i++ {
		os = append(os, f.place(b, fmt.Sprintf("B%d", i), mallCCB, orders.PlaceLine{SKU: "P1", Quantity: 1000}))
	}
	event := func(i int) orders.FulfilmentEvent {
		o := os[i%len(os)]
		e := ev(o, fmt.Sprintf("E%d", i), orders.EventShipped, 1, 1, 0, "2019-03-05 14:00")
		if i%2 == 0 {
			e.Type = orders.EventDelivered
			e.OccurredAt = e.OccurredAt.Add(time.Duration(i) * time.Second)
		}
		return e
	}
	db := f.store.DB().DB
	base := f.place(b, "BASE", mallCCB, orders.PlaceLine{SKU: "P1", Quantity: 1000})
	spare := f.place(b, "SPARE", mallCCB, orders.PlaceLine{SKU: "P1", Quantity: 1000})
	var copies [2]bench.Op
	for k, typ := range []orders.EventType{orders.EventDelivered, orders.EventShipped} {
		e := ev(base, fmt.Sprintf("BASE%d", k), typ, 1, 1, 0, "2019-03-05 14:00")
		rows, err := bench.RowsOf(ctx, db, func() error { _, err := f.svc.Apply(ctx, e); return err }, "fulfilment_events", "ledger_entries")
		if err != nil {
			b.Fatal(err)
		}
		if k == 0 {
			b.Logf("baseline: bare insert of %s + 2 updates, then of the shipment's rows", bench.Count(rows))
		}
		copies[k] = bench.DeliveryCopy(db, rows, bench.DeliveryTarget{OrderID: spare.ID, LineID: spare.Lines[0].ID,
			OutOrderNo: string(spare.OutOrderNo), MallOrderNo: "M1"}, "~bare")
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.svc.Apply(ctx, event(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportBaseline(b, b.Elapsed(), func(i int) error { return copies[i%2](ctx, i) })
}

// BenchmarkBenefitReport measures the year's report by month over a ledger of 20,000
// entries on SQLite.
//
// Baseline: the bare GROUP BY by month over the same ledger rows (bench.GroupBy, as
// `aidmall bench`'s reports part).
func BenchmarkBenefitReport(b *testing.B) {
	f := newFixture(b, sqltest.SQLite)
	ctx := context.Background()
	for i := 0; i < 200; i++ {
		o := f.place(b, fmt.Sprintf("B%d", i), mallCCB, orders.PlaceLine{SKU: "P1", Quantity: 1000})
		for d := 0; d < 30; d++ {
			e := ev(o, fmt.Sprintf("D%d", d), orders.EventDelivered, 1, 1, 0, "2019-01-01 10:00")
			e.OccurredAt = e.OccurredAt.AddDate(0, 0, d*11)
			if _, err := f.svc.Apply(ctx, e); err != nil {
				b.Fatal(err)
			}
		}
	}
	q := reports.Query{From: bizday.MustParse("2019-01-01"), To: bizday.MustParse("2019-12-31"), By: "month"}
	bare, err := bench.GroupBy(f.store.DB().DB, "month", q.From.String(), q.To.String())
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.store.Benefit(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportBaseline(b, b.Elapsed(), func(i int) error { return bare(ctx, i) })
}

// reportBaseline runs op b.N times (the timer stopped) and reports its time per
// operation as bare-ns/op and the ratio bare-ns/op ÷ (elapsed / b.N).
func reportBaseline(b *testing.B, elapsed time.Duration, op func(i int) error) {
	b.Helper()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := op(i); err != nil {
			b.Fatal(err)
		}
	}
	bare := float64(time.Since(start).Nanoseconds()) / float64(b.N)
	b.ReportMetric(bare, "bare-ns/op")
	b.ReportMetric(bare/(float64(elapsed.Nanoseconds())/float64(b.N)), "ratio")
}
