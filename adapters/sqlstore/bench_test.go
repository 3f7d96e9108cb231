package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/bizday"
	"aidmall/orders"
	"aidmall/reports"
)

// BenchmarkApplyEvent measures recording and applying one delivery (ledger split among
// three households) and its duplicate, on SQLite, including the order's recomputation.
func BenchmarkApplyEvent(b *testing.B) {
	f := newFixture(b, sqltest.SQLite)
	ctx := context.Background()
	os := make([]*orders.GroupOrder, 0, 64)
	for i := 0; i < 64; i++ {
		os = append(os, f.place(b, fmt.Sprintf("B%d", i), mallCCB, orders.PlaceLine{SKU: "P1", Quantity: 1000}))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		o := os[i%len(os)]
		e := ev(o, fmt.Sprintf("E%d", i), orders.EventShipped, 1, 1, 0, "2019-03-05 14:00")
		if i%2 == 0 {
			e.Type = orders.EventDelivered
			e.OccurredAt = e.OccurredAt.Add(time.Duration(i) * time.Second)
		}
		if _, err := f.svc.Apply(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBenefitReport measures the year's report by month over a ledger of 20,000
// entries on SQLite.
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
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.store.Benefit(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
}
