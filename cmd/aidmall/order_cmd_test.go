package main

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/orders"
)

// `aidmall order retry ID` sends an order whose dispatch gave up to its mall again: one
// dispatch job in River's table (worked by serve), the order pending, audited as the
// operator; a second retry is refused.
func TestOrderRetryCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "a.db")
	mustCLI(t, path, dir, "migrate")
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st := sqltest.Store(t, db, sqltest.WithEnqueuer(&sqltest.Jobs{}))
	sqltest.Seed(t, st)
	svc, err := orders.NewService(st, drivers.Infos(drivers.Codes()), nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := svc.Place(ctx, orders.Caller{KeyID: 1, Role: orders.RoleAidOffice}, orders.PlaceRequest{
		OrderRef: "R-1", BranchCode: "HQ", Mall: "ccb", Funding: orders.FundingUnion, DeliveryMode: orders.DeliveryBulk,
		ShipTo: orders.ShipTo{Name: "王工", Phone: "13800000000", Address: "北京市"}, Lines: []orders.PlaceLine{{SKU: "P1", Quantity: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	id := strconv.FormatInt(o.ID, 10)
	if _, err := cli(t, path, dir, "order", "retry", id); err == nil || !strings.Contains(err.Error(), "not dispatch_failed") {
		t.Fatalf("retry of a pending order: %v, want refused", err)
	}
	f := orders.DispatchFailureOf("ccb", &orders.MallError{Mall: "ccb", Retryable: true, HTTPStatus: 503}, 25, time.Now())
	if _, err := svc.MarkDispatchFailed(ctx, o.ID, f); err != nil {
		t.Fatal(err)
	}
	out := mustCLI(t, path, dir, "order", "retry", id)
	if !strings.Contains(out, "sent again to ccb as "+string(o.OutOrderNo)) || !strings.Contains(out, "pending") {
		t.Errorf("retry printed %q", out)
	}
	got, err := st.Order(ctx, o.ID)
	if err != nil || got.Status != orders.StatusPending || got.DispatchFailure != nil {
		t.Fatalf("after the retry: %+v %v", got, err)
	}
	var jobs int
	if err := db.GetContext(ctx, &jobs, `SELECT COUNT(*) FROM river_job WHERE kind = 'aidmall_dispatch'`); err != nil || jobs != 1 {
		t.Errorf("%d dispatch jobs (%v), want 1", jobs, err)
	}
	if _, err := cli(t, path, dir, "order", "retry", id); err == nil || !strings.Contains(err.Error(), "is pending, not dispatch_failed") {
		t.Errorf("second retry: %v, want refused", err)
	}
	if err := db.GetContext(ctx, &jobs, `SELECT COUNT(*) FROM river_job WHERE kind = 'aidmall_dispatch'`); err != nil || jobs != 1 {
		t.Errorf("%d dispatch jobs after a second retry, want 1", jobs)
	}
	var actor string
	if err := db.GetContext(ctx, &actor, `SELECT actor FROM audit_log WHERE action = 'order.retry_dispatch'`); err != nil || !strings.HasPrefix(actor, "cli:") {
		t.Errorf("audited as %q (%v), want the operator cli:<user>", actor, err)
	}
}
