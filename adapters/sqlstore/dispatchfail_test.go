package sqlstore_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/orders"
	"aidmall/review"
)

// Each give-up of an order is its own review item: dismissing one does not hide the next
// give-up after a retry. The failure and the steps round-trip through the store, on both
// databases.
func TestDispatchFailure_reviewItemPerGiveUp(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ctx := context.Background()
		st, svc := serviceOn(t, db)
		q, err := review.NewService(st, nil, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		o := placeAt(t, svc, "GU-1", time.Now().Add(-time.Hour))
		at := time.Date(2026, 12, 6, 9, 30, 0, 123000000, time.UTC)
		giveUp := func() {
			t.Helper()
			f := orders.DispatchFailureOf(mallCCB, &orders.MallError{Mall: mallCCB, HTTPStatus: 503, Retryable: true, Message: "down"}, 7, at)
			if marked, err := svc.MarkDispatchFailed(ctx, o.ID, f); err != nil || !marked {
				t.Fatalf("MarkDispatchFailed: %v %v", marked, err)
			}
		}
		giveUp()
		got, err := st.Order(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if f := got.DispatchFailure; got.Status != orders.StatusDispatchFailed || f == nil || f.Attempts != 7 || f.MallCode != mallCCB ||
			f.MallMessage != "HTTP 503 down" || !f.At.Equal(at) {
			t.Fatalf("stored %s %+v", got.Status, got.DispatchFailure)
		}
		id1 := "dispatch_failed:" + itoa(o.ID) + ":1"
		if _, err := q.Resolve(ctx, aidOffice, id1, review.Dismissed, "mall down, known"); err != nil {
			t.Fatalf("dismiss: %v", err)
		}
		if items, _ := q.List(ctx, aidOffice); len(items) != 0 {
			t.Fatalf("after dismissing: %+v", items)
		}
		if _, err := svc.RetryDispatch(ctx, aidOffice, o.ID); err != nil {
			t.Fatal(err)
		}
		giveUp()
		items, err := q.List(ctx, aidOffice)
		if err != nil || len(items) != 1 || items[0].ID != "dispatch_failed:"+itoa(o.ID)+":2" {
			t.Fatalf("after a second give-up: %+v %v, want its own item", items, err)
		}
		if it, err := q.Get(ctx, aidOffice, id1); err != nil || it.Resolved == nil {
			t.Errorf("the first give-up's item: %+v %v, want it kept as resolved", it, err)
		}
		if _, err := q.Get(ctx, aidOffice, "dispatch_failed:"+itoa(o.ID)+":3"); !errors.Is(err, orders.ErrNotFound) {
			t.Errorf("a give-up that never happened: %v", err)
		}
		steps, err := st.OrderSteps(ctx, o.ID)
		if err != nil || len(steps) != 3 || steps[0].Step != orders.StepDispatchFailed || steps[1].Step != orders.StepDispatchRetried ||
			steps[2].Step != orders.StepDispatchFailed || steps[1].Actor == "" {
			t.Errorf("steps %+v %v", steps, err)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
