package api

import (
	"context"
	"fmt"

	"aidmall/attribution"
	"aidmall/households"
	"aidmall/orders"
)

// InTx runs fn over memTx: the smallest orders.Tx that lets the real orders.Service run on
// memStore (no rollback, no ledger; events are only recorded). It goes when the API tests
// move to sqlstore over a temporary database (issue 5, item 3).
func (s *memStore) InTx(_ context.Context, fn func(tx orders.Tx) error) error { return fn(memTx{s}) }

type memTx struct{ s *memStore }

func (t memTx) LockBranch(ctx context.Context, code string) (households.Branch, error) {
	return t.s.Branch(ctx, code)
}
func (t memTx) LockOrder(ctx context.Context, id int64) (*orders.GroupOrder, error) {
	return t.s.Order(ctx, id)
}
func (t memTx) LockOrderByOutOrderNo(_ context.Context, m orders.Mall, no string) (*orders.GroupOrder, error) {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	for _, o := range t.s.orders {
		if o.Mall == m && o.OutOrderNo == no {
			return cloneOrder(o), nil
		}
	}
	return nil, fmt.Errorf("order %s: %w", no, orders.ErrNotFound)
}
func (t memTx) OrdersOfSuppliers(context.Context, []string) ([]int64, error) { return nil, nil }
func (t memTx) InsertOrder(ctx context.Context, o *orders.GroupOrder) error {
	return t.s.CreateOrder(ctx, o)
}
func (t memTx) RequestCancel(ctx context.Context, id int64, reason string) error {
	return t.s.RequestCancel(ctx, id, reason)
}
func (t memTx) SaveOrderState(_ context.Context, o *orders.GroupOrder) error {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	if x, ok := t.s.orders[o.ID]; ok {
		x.Accepted, x.Cancelled, x.MallOrderNo, x.Status = o.Accepted, o.Cancelled, o.MallOrderNo, o.Status
	}
	return nil
}
func (t memTx) SaveLine(context.Context, orders.Line) error { return nil }
func (t memTx) RecordEvent(_ context.Context, ev orders.FulfilmentEvent, _ int64) (int64, bool, error) {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	k := string(ev.Mall) + "/" + ev.OutOrderNo + "/" + ev.EventID
	if t.s.events[k] {
		return 0, true, nil
	}
	t.s.events[k] = true
	return int64(len(t.s.events)), false, nil
}
func (t memTx) AdoptParked(context.Context, int64, orders.Mall, string) (int, error)   { return 0, nil }
func (t memTx) Events(context.Context, int64) ([]orders.RecordedEvent, error)          { return nil, nil }
func (t memTx) SaveEventState(context.Context, int64, orders.EventState, string) error { return nil }
func (t memTx) Supplies(context.Context, int64) (map[int64]orders.LineSupply, error)   { return nil, nil }
func (t memTx) Linkages(context.Context, string) ([]households.Linkage, error)         { return nil, nil }
func (t memTx) Booked(context.Context, int64) ([]attribution.Entry, error)             { return nil, nil }
func (t memTx) BookLedger(context.Context, *orders.GroupOrder, []orders.LedgerEntry) error {
	return nil
}
