package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"aidmall/households"
	"aidmall/orders"
	"aidmall/reports"
)

// The fakes of this file stand in for the stores behind the API. Orders are served by the
// real orders.Service over memStore, an in-memory orders.Store loaded with the branches and
// catalogue of the yichuan-dingbian-2019 bundle, so that the API is tested against the
// domain's real rules (pricing, routing, roles).

const bundleDir = "../examples/yichuan-dingbian-2019"

// testCaller returns the caller of a test API key.
func testCaller(token string) (orders.Caller, bool) {
	switch token {
	case "key-hq":
		return orders.Caller{KeyID: 1, Name: "HQ union", Role: orders.RoleBranchStaff, BranchCode: "HQ"}, true
	case "key-s01":
		return orders.Caller{KeyID: 2, Name: "S01 union", Role: orders.RoleBranchStaff, BranchCode: "S01"}, true
	case "key-office":
		return orders.Caller{KeyID: 3, Name: "aid office", Role: orders.RoleAidOffice}, true
	case "key-auditor":
		return orders.Caller{KeyID: 4, Name: "auditor", Role: orders.RoleAuditor}, true
	}
	return orders.Caller{}, false
}

// fakeAuth knows the keys of testCaller; err, when set, is what every call fails with.
type fakeAuth struct{ err error }

func (a fakeAuth) Authenticate(_ context.Context, token string) (orders.Caller, error) {
	if a.err != nil {
		return orders.Caller{}, a.err
	}
	c, ok := testCaller(token)
	if !ok {
		return orders.Caller{}, fmt.Errorf("api key: %w", orders.ErrNotFound)
	}
	return c, nil
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// memStore is an in-memory orders.Store.
type memStore struct {
	mu       sync.Mutex
	now      func() time.Time
	branches map[string]households.Branch
	products map[string]households.Product
	orders   map[int64]*orders.GroupOrder
	events   map[string]bool // mall + event id
	nextID   int64
}

func newMemStore(t testing.TB, now func() time.Time) *memStore {
	t.Helper()
	s := &memStore{now: now, branches: map[string]households.Branch{}, products: map[string]households.Product{},
		orders: map[int64]*orders.GroupOrder{}, events: map[string]bool{}}
	for _, row := range readCSV(t, bundleDir+"/branches.csv") {
		s.branches[row["code"]] = households.Branch{Code: row["code"], Name: row["name"]}
	}
	f, err := os.Open(bundleDir + "/products.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ps, bad, err := households.ParseProducts(f)
	if err != nil || len(bad) > 0 {
		t.Fatalf("products.csv: %v %v", err, bad)
	}
	for _, p := range ps {
		s.products[p.SKU] = p
	}
	return s
}

func readCSV(t testing.TB, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open bundle: %v", err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) < 2 {
		t.Fatalf("read %s: %v", path, err)
	}
	var rows []map[string]string
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, h := range recs[0] {
			row[h] = rec[i]
		}
		rows = append(rows, row)
	}
	return rows
}

func cloneOrder(o *orders.GroupOrder) *orders.GroupOrder {
	c := *o
	c.Lines = slices.Clone(o.Lines)
	return &c
}

func (s *memStore) Branch(_ context.Context, code string) (households.Branch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.branches[code]
	if !ok {
		return b, fmt.Errorf("branch %q: %w", code, orders.ErrNotFound)
	}
	return b, nil
}

func (s *memStore) Products(_ context.Context, skus []string) (map[string]households.Product, error) {
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

func (s *memStore) CreateOrder(_ context.Context, o *orders.GroupOrder) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.orders {
		if x.BranchCode == o.BranchCode && x.OrderRef == o.OrderRef {
			return fmt.Errorf("order_ref %q of branch %s: %w", o.OrderRef, o.BranchCode, orders.ErrConflict)
		}
	}
	s.nextID++
	o.ID = s.nextID
	if o.OutOrderNo == "" {
		o.OutOrderNo = orders.NewOutOrderNo(o.PlacedAt)
	}
	o.CreatedAt = s.now()
	s.orders[o.ID] = cloneOrder(o)
	return nil
}

// put stores o as is (test setup).
func (s *memStore) put(o orders.GroupOrder) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	o.ID = s.nextID
	s.orders[o.ID] = cloneOrder(&o)
	return o.ID
}

func (s *memStore) Order(_ context.Context, id int64) (*orders.GroupOrder, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return nil, fmt.Errorf("order %d: %w", id, orders.ErrNotFound)
	}
	return cloneOrder(o), nil
}

func (s *memStore) OrderByOutOrderNo(_ context.Context, no string) (*orders.GroupOrder, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.orders {
		if o.OutOrderNo == no {
			return cloneOrder(o), nil
		}
	}
	return nil, fmt.Errorf("order %s: %w", no, orders.ErrNotFound)
}

// ListOrders pages newest first (placed_at, then id); the cursor is the offset.
func (s *memStore) ListOrders(_ context.Context, f orders.ListFilter) ([]orders.GroupOrder, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []orders.GroupOrder
	for _, o := range s.orders {
		switch {
		case f.BranchCode != "" && o.BranchCode != f.BranchCode,
			f.Mall != "" && o.Mall != f.Mall,
			f.Status != "" && o.Status != f.Status,
			f.Funding != "" && o.Funding != f.Funding,
			!f.From.IsZero() && o.PlacedAt.Before(f.From),
			!f.To.IsZero() && !o.PlacedAt.Before(f.To):
			continue
		}
		all = append(all, *cloneOrder(o))
	}
	slices.SortFunc(all, func(a, b orders.GroupOrder) int {
		if c := b.PlacedAt.Compare(a.PlacedAt); c != 0 {
			return c
		}
		return int(b.ID - a.ID)
	})
	off := 0
	if f.Cursor != "" {
		n, err := strconv.Atoi(f.Cursor)
		if err != nil || n < 0 {
			return nil, "", fmt.Errorf("%w: bad cursor", orders.ErrInvalid)
		}
		off = min(n, len(all))
	}
	end := min(off+f.Limit, len(all))
	next := ""
	if end < len(all) {
		next = strconv.Itoa(end)
	}
	return all[off:end], next, nil
}

func (s *memStore) MarkSubmitted(context.Context, int64, string) error        { return nil }
func (s *memStore) MarkRejected(context.Context, int64, string, string) error { return nil }
func (s *memStore) MarkCancelled(context.Context, int64) error                { return nil }

func (s *memStore) RequestCancel(_ context.Context, id int64, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return orders.ErrNotFound
	}
	o.CancelReq = true
	return nil
}

// fakeOrders is the real service with hooks: Place may block until release is closed,
// fail a set number of times, and Get panics for id 666. Calls are counted.
type fakeOrders struct {
	*orders.Service
	mu         sync.Mutex
	placeCalls int
	applyCalls []orders.FulfilmentEvent
	placeFails int   // the next placeFails calls fail with a store error
	applyErr   error // every Apply fails with it
	entered    chan struct{}
	release    chan struct{}
}

func (f *fakeOrders) Place(ctx context.Context, c orders.Caller, req orders.PlaceRequest) (*orders.GroupOrder, error) {
	f.mu.Lock()
	f.placeCalls++
	fail := f.placeFails > 0
	if fail {
		f.placeFails--
	}
	entered, release := f.entered, f.release
	f.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
		<-release
	}
	if fail {
		return nil, errors.New("store: connection reset by peer")
	}
	return f.Service.Place(ctx, c, req)
}

func (f *fakeOrders) Get(ctx context.Context, c orders.Caller, id int64) (*orders.GroupOrder, error) {
	if id == 666 {
		panic("boom: nil map in the store")
	}
	return f.Service.Get(ctx, c, id)
}

func (f *fakeOrders) Apply(ctx context.Context, ev orders.FulfilmentEvent) (orders.ApplyResult, error) {
	f.mu.Lock()
	f.applyCalls = append(f.applyCalls, ev)
	err := f.applyErr
	f.mu.Unlock()
	if err != nil {
		return orders.ApplyResult{}, err
	}
	return f.Service.Apply(ctx, ev)
}

func (f *fakeOrders) counts() (place, apply int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.placeCalls, len(f.applyCalls)
}

// memIdempotency is an in-memory IdempotencyStore with the contract's semantics.
type memIdempotency struct {
	mu   sync.Mutex
	recs map[IdempotencyScope]IdempotencyRecord
}

func newMemIdempotency() *memIdempotency {
	return &memIdempotency{recs: map[IdempotencyScope]IdempotencyRecord{}}
}

func (m *memIdempotency) Claim(_ context.Context, scope IdempotencyScope, rec IdempotencyRecord, staleBefore time.Time) (IdempotencyRecord, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	held, ok := m.recs[scope]
	if !ok || held.Response == nil && held.Fingerprint == rec.Fingerprint && held.LockedAt.Before(staleBefore) {
		m.recs[scope] = rec
		return rec, true, nil
	}
	return held, false, nil
}

func (m *memIdempotency) Complete(_ context.Context, scope IdempotencyScope, token string, resp StoredResponse) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	held, ok := m.recs[scope]
	switch {
	case !ok:
		return orders.ErrNotFound
	case held.Token != token:
		return orders.ErrConflict
	}
	resp.Body = bytes.Clone(resp.Body)
	held.Response = &resp
	m.recs[scope] = held
	return nil
}

func (m *memIdempotency) Release(_ context.Context, scope IdempotencyScope, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if held, ok := m.recs[scope]; ok && held.Token == token && held.Response == nil {
		delete(m.recs, scope)
	}
	return nil
}

// fakeReports returns benefit for any query and records the queries.
type fakeReports struct {
	mu      sync.Mutex
	benefit reports.Benefit
	queries []reports.Query
}

func (r *fakeReports) Benefit(_ context.Context, q reports.Query) (reports.Benefit, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queries = append(r.queries, q)
	b := r.benefit
	b.From, b.To, b.By = q.From, q.To, q.By
	return b, nil
}

// fakeWebhook verifies a notification by its X-Test-Signature header ("good") and reads
// the body as a FulfilmentEvent in JSON (a verified body that is not such JSON is
// orders.ErrUnreadableEvent, as with the real adapters); it answers like CCB: 200
// "success", else "fail".
type fakeWebhook struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (w *fakeWebhook) Parse(_ context.Context, r *http.Request, body []byte) (orders.FulfilmentEvent, error) {
	w.mu.Lock()
	w.bodies = append(w.bodies, bytes.Clone(body))
	w.mu.Unlock()
	if r.Header.Get("X-Test-Signature") != "good" {
		return orders.FulfilmentEvent{}, errors.New("signature does not verify")
	}
	var ev orders.FulfilmentEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return ev, fmt.Errorf("malformed notification: %w: %w", orders.ErrUnreadableEvent, err)
	}
	return ev, nil
}

func (w *fakeWebhook) Ack(*http.Request) (int, http.Header, []byte) {
	return http.StatusOK, http.Header{"Content-Type": {"text/plain"}}, []byte("success")
}

func (w *fakeWebhook) Nack(*http.Request, error) (int, http.Header, []byte) {
	return http.StatusOK, http.Header{"Content-Type": {"text/plain"}}, []byte("fail")
}

func (w *fakeWebhook) parsed() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.bodies)
}

// fakeLimiter allows until denied is set; err makes it fail.
type fakeLimiter struct {
	mu     sync.Mutex
	denied map[string]time.Duration
	err    error
	keys   []string
}

func (l *fakeLimiter) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.keys = append(l.keys, key)
	if l.err != nil {
		return false, 0, l.err
	}
	if d, ok := l.denied[key]; ok {
		return false, d, nil
	}
	return true, 0, nil
}

// syncBuffer is a log sink safe for concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// harness is a Server over the fakes.
type harness struct {
	t        testing.TB
	handler  http.Handler
	clock    *fakeClock
	store    *memStore
	orders   *fakeOrders
	idem     *memIdempotency
	reports  *fakeReports
	webhooks map[orders.Mall]*fakeWebhook
	limiter  *fakeLimiter
	logs     *syncBuffer
	ready    error
}

// testNow is the harness's clock start: 2019-03-12 10:00 Beijing time.
var testNow = time.Date(2019, 3, 12, 2, 0, 0, 0, time.UTC)

func newHarness(t testing.TB, tweak ...func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, clock: &fakeClock{t: testNow}, idem: newMemIdempotency(), reports: &fakeReports{},
		webhooks: map[orders.Mall]*fakeWebhook{orders.MallCCB: {}, orders.MallABC: {}},
		limiter:  &fakeLimiter{denied: map[string]time.Duration{}}, logs: &syncBuffer{}}
	h.store = newMemStore(t, h.clock.Now)
	svc, err := orders.NewService(h.store, []orders.Mall{orders.MallCCB, orders.MallABC}, h.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	h.orders = &fakeOrders{Service: svc}
	cfg := Config{
		Orders: h.orders, Auth: fakeAuth{}, Idempotency: h.idem, Reports: h.reports,
		Malls:    []orders.Mall{orders.MallCCB, orders.MallABC},
		Webhooks: map[orders.Mall]MallWebhook{orders.MallCCB: h.webhooks[orders.MallCCB], orders.MallABC: h.webhooks[orders.MallABC]},
		Ready:    func(context.Context) error { return h.ready },
		Logger:   slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:      h.clock.Now,
		Metrics:  prometheus.NewRegistry(),
	}
	for _, f := range tweak {
		f(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.handler = s.Handler()
	return h
}

// request describes one call.
type request struct {
	method, path, key, body string
	header                  map[string]string
}

func (h *harness) do(r request) *httptest.ResponseRecorder {
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req := httptest.NewRequest(r.method, r.path, body)
	if r.key != "" {
		req.Header.Set("Authorization", "Bearer "+r.key)
	}
	if r.body != "" && r.method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	return rec
}

// place posts an order with an idempotency key.
func (h *harness) place(key, idemKey, body string) *httptest.ResponseRecorder {
	return h.do(request{method: http.MethodPost, path: "/v1/orders", key: key, body: body,
		header: map[string]string{"Idempotency-Key": idemKey}})
}

// problemOf decodes a problem+json answer, failing the test if it is not one.
func problemOf(t testing.TB, rec *httptest.ResponseRecorder) problemBody {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != contentTypeProblem {
		t.Fatalf("Content-Type = %q, want %s; body %s", ct, contentTypeProblem, rec.Body)
	}
	var p problemBody
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("problem body: %v: %s", err, rec.Body)
	}
	if p.Status != rec.Code {
		t.Fatalf("problem status %d, response status %d", p.Status, rec.Code)
	}
	return p
}

// orderBody is a valid bulk order of HQ for 20 boxes of YC-APL-5KG-DZ, listed at 68.00
// yuan by CCB in the bundle's products.csv; fields may be overridden or removed (nil).
func orderBody(overrides map[string]any) string {
	m := map[string]any{
		"order_ref": "2019-HQ-0042", "branch_code": "HQ", "mall": "ccb", "funding": "union_funds",
		"delivery_mode": "bulk",
		"ship_to":       map[string]any{"name": "王*", "phone": "13800001234", "address": "北京市西城区某路1号"},
		"lines":         []any{map[string]any{"sku": "YC-APL-5KG-DZ", "quantity": 20, "unit_price": "68.00"}},
	}
	for k, v := range overrides {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, _ := json.Marshal(m)
	return string(b)
}
