package orders

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"aidmall/households"
)

// fakeStore is an in-memory Store for the service tests. It keeps what the service asked
// of it so that a test can check what reached the system of record.
type fakeStore struct {
	mu       sync.Mutex
	now      func() time.Time
	branches map[string]households.Branch
	products map[string]households.Product
	orders   map[int64]*GroupOrder
	nextID   int64

	created    int                // CreateOrder calls that stored an order
	lastFilter *ListFilter        // the filter ListOrders last received
	cancels    map[int64][]string // RequestCancel reasons by order id
	events     []FulfilmentEvent  // events given to ApplyEvent
}

var _ Store = (*fakeStore)(nil)

// newFakeStore returns a store with the HQ and S01 branches and five SKUs of the
// yichuan-dingbian-2019 catalogue (products.csv): one listed by both malls at different
// prices, two by CCB only, two by ABC only.
func newFakeStore(now func() time.Time) *fakeStore {
	s := &fakeStore{
		now: now,
		branches: map[string]households.Branch{
			"HQ":  {Code: "HQ", Name: "集团总部机关工会", Members: 860, Budget: 92_800_000},
			"S01": {Code: "S01", Name: "第一工程有限公司工会", Members: 9120, Budget: 21_600_000},
		},
		products: map[string]households.Product{},
		orders:   map[int64]*GroupOrder{},
		cancels:  map[int64][]string{},
	}
	for _, p := range []households.Product{
		{SKU: "YC-APL-5KG-DZ", Listings: map[string]households.Listing{"ccb": {ItemID: "CCB-YC-APL-05", Price: 6800}, "abc": {ItemID: "ABC-770031", Price: 6900}}},
		{SKU: "YC-APL-5KG-HK", Listings: map[string]households.Listing{"ccb": {ItemID: "CCB-YC-APL-05H", Price: 7200}}},
		{SKU: "YC-WKN-500G-HH", Listings: map[string]households.Listing{"ccb": {ItemID: "CCB-YC-WKN-500", Price: 3980}}},
		{SKU: "YC-PEP-250G-ZS", Listings: map[string]households.Listing{"abc": {ItemID: "ABC-771266", Price: 3990}}},
		{SKU: "DB-APL-10KG-ZY", Listings: map[string]households.Listing{"abc": {ItemID: "ABC-780012", Price: 11200}}},
		{SKU: "YC-APL-10KG-DZ", Listings: map[string]households.Listing{"ccb": {ItemID: "CCB-YC-APL-10", Price: 11800}, "abc": {ItemID: "ABC-770032", Price: 11600}}},
	} {
		s.products[p.SKU] = p
	}
	return s
}

func cloneOrder(o *GroupOrder) *GroupOrder {
	c := *o
	c.Lines = slices.Clone(o.Lines)
	return &c
}

func (s *fakeStore) Branch(_ context.Context, code string) (households.Branch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.branches[code]
	if !ok {
		return households.Branch{}, fmt.Errorf("branch %q: %w", code, ErrNotFound)
	}
	return b, nil
}

func (s *fakeStore) Products(_ context.Context, skus []string) (map[string]households.Product, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]households.Product{}
	for _, sku := range skus {
		if p, ok := s.products[sku]; ok {
			out[sku] = p
		}
	}
	return out, nil
}

func (s *fakeStore) CreateOrder(_ context.Context, o *GroupOrder) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.orders {
		if x.BranchCode == o.BranchCode && x.OrderRef == o.OrderRef {
			return fmt.Errorf("order_ref %q: %w", o.OrderRef, ErrConflict)
		}
	}
	s.nextID++
	o.ID = s.nextID
	if o.OutOrderNo == "" {
		o.OutOrderNo = NewOutOrderNo(o.PlacedAt)
	}
	o.CreatedAt = s.now()
	o.Status = DeriveStatus(o)
	s.orders[o.ID] = cloneOrder(o)
	s.created++
	return nil
}

// put stores o as it is (status included), for the read and cancel tests.
func (s *fakeStore) put(o GroupOrder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orders[o.ID] = cloneOrder(&o)
}

func (s *fakeStore) Order(_ context.Context, id int64) (*GroupOrder, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return nil, fmt.Errorf("order %d: %w", id, ErrNotFound)
	}
	return cloneOrder(o), nil
}

func (s *fakeStore) OrderByOutOrderNo(_ context.Context, no string) (*GroupOrder, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.orders {
		if o.OutOrderNo == no {
			return cloneOrder(o), nil
		}
	}
	return nil, fmt.Errorf("out_order_no %q: %w", no, ErrNotFound)
}

func (s *fakeStore) ListOrders(_ context.Context, f ListFilter) ([]GroupOrder, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastFilter = &f
	var out []GroupOrder
	for _, o := range s.orders {
		if f.BranchCode == "" || o.BranchCode == f.BranchCode {
			out = append(out, *cloneOrder(o))
		}
	}
	slices.SortFunc(out, func(a, b GroupOrder) int { return int(b.ID - a.ID) })
	if len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, "", nil
}

func (s *fakeStore) MarkSubmitted(_ context.Context, id int64, mallOrderNo string) error {
	return s.update(id, func(o *GroupOrder) { o.Submitted, o.MallOrderNo = true, mallOrderNo })
}

func (s *fakeStore) MarkRejected(_ context.Context, id int64, code, message string) error {
	return s.update(id, func(o *GroupOrder) { o.RejectCode, o.RejectMessage = code, message })
}

func (s *fakeStore) RequestCancel(_ context.Context, id int64, reason string) error {
	return s.update(id, func(o *GroupOrder) {
		o.CancelReq = true
		s.cancels[id] = append(s.cancels[id], reason)
	})
}

func (s *fakeStore) MarkCancelled(_ context.Context, id int64) error {
	return s.update(id, func(o *GroupOrder) { o.Cancelled = true })
}

func (s *fakeStore) update(id int64, f func(*GroupOrder)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return fmt.Errorf("order %d: %w", id, ErrNotFound)
	}
	f(o)
	o.Status = DeriveStatus(o)
	return nil
}

func (s *fakeStore) ApplyEvent(_ context.Context, ev FulfilmentEvent) (ApplyResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.events {
		if e.Mall == ev.Mall && e.OutOrderNo == ev.OutOrderNo && e.EventID == ev.EventID {
			return ApplyResult{Duplicate: true}, nil
		}
	}
	s.events = append(s.events, ev)
	return ApplyResult{Parked: true}, nil
}

func (s *fakeStore) counts() (created, events int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created, len(s.events)
}
