package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	. "aidmall/api"
	"aidmall/internal/idempotency"
	"aidmall/malls"
	"aidmall/orders"
	"aidmall/reports"
)

// The API is tested on the production store: sqlstore on a fresh SQLite database per
// harness (sqltest), loaded with the branches and catalogue of the yichuan-dingbian-2019
// bundle through the registry import, behind the real orders.Service, with real API keys
// and the real idempotency records. Function-field wrappers remain only where a test
// injects a fault (an authenticator that fails, a Place that fails or blocks, an Apply
// that fails) or counts calls; the mall verifier and the rate limiter stand in for
// adapters of their own (mall drivers, Redis) tested in their packages.

// testKeys are the API keys every harness creates in its store, by the alias the tests
// send: the alias is exchanged for the real bearer token the store issued.
var testKeys = []struct {
	alias, name string
	role        orders.Role
	branch      string
}{
	{"key-hq", "HQ union", orders.RoleBranchStaff, "HQ"},
	{"key-s01", "S01 union", orders.RoleBranchStaff, "S01"},
	{"key-office", "aid office", orders.RoleAidOffice, ""},
	{"key-auditor", "auditor", orders.RoleAuditor, ""},
}

// keyAuth authenticates against the store's API keys, after exchanging a test alias for
// the token the store issued (an unknown alias is sent as is and is unknown to the store).
type keyAuth struct {
	store  *sqlstore.Store
	tokens map[string]string
}

func (a keyAuth) Authenticate(ctx context.Context, token string) (orders.Caller, error) {
	if real, ok := a.tokens[token]; ok {
		token = real
	}
	return a.store.Authenticate(ctx, token)
}

// failingAuth fails every call with err (a database that is down).
type failingAuth struct{ err error }

func (a failingAuth) Authenticate(context.Context, string) (orders.Caller, error) {
	return orders.Caller{}, a.err
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

func (f *fakeOrders) ApplyJoined(ctx context.Context, ev orders.FulfilmentEvent) (orders.ApplyResult, error) {
	f.mu.Lock()
	f.applyCalls = append(f.applyCalls, ev)
	err := f.applyErr
	f.mu.Unlock()
	if err != nil {
		return orders.ApplyResult{}, err
	}
	return f.Service.ApplyJoined(ctx, ev)
}

func (f *fakeOrders) counts() (place, apply int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.placeCalls, len(f.applyCalls)
}

// recordingReports is the store's benefit report, recording the queries it ran.
type recordingReports struct {
	Reports
	mu      sync.Mutex
	queries []reports.Query
}

func (r *recordingReports) Benefit(ctx context.Context, q reports.Query) (reports.Benefit, error) {
	r.mu.Lock()
	r.queries = append(r.queries, q)
	r.mu.Unlock()
	return r.Reports.Benefit(ctx, q)
}

func (r *recordingReports) ran() []reports.Query {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]reports.Query(nil), r.queries...)
}

// fakeWebhook verifies a notification by its X-Test-Signature header ("good", else
// malls.ErrBadSignature) and reads the body as a FulfilmentEvent in JSON (a verified body
// that is not such JSON is malls.ErrMalformed and orders.ErrUnreadableEvent, as with the
// real adapters); it answers like CCB: 200
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
		return orders.FulfilmentEvent{}, fmt.Errorf("%w: signature does not verify", malls.ErrBadSignature)
	}
	var ev orders.FulfilmentEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return ev, fmt.Errorf("%w: %w: %w", malls.ErrMalformed, orders.ErrUnreadableEvent, err)
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

// harness is a Server over the production store.
type harness struct {
	t        testing.TB
	handler  http.Handler // the server, checked against its contract (contract_test.go)
	echo     http.Handler // the server itself
	clock    *fakeClock
	store    *sqlstore.Store
	orders   *fakeOrders
	idem     idempotency.Store
	reports  *recordingReports
	webhooks map[orders.Mall]*fakeWebhook
	limiter  *fakeLimiter
	logs     *syncBuffer
	ready    error
}

// testNow is the harness's clock start: 2019-03-12 10:00 Beijing time.
var testNow = time.Date(2019, 3, 12, 2, 0, 0, 0, time.UTC)

// newHarness is a Server over a fresh SQLite database.
func newHarness(t testing.TB, tweak ...func(*Config)) *harness {
	t.Helper()
	return newHarnessOn(t, sqltest.SQLite(t), tweak...)
}

// newHarnessOn is a Server over db (migrated, empty): it imports the bundle's catalogue,
// creates the testKeys and wires the store as cmd does.
func newHarnessOn(t testing.TB, db *sqlstore.DB, tweak ...func(*Config)) *harness {
	t.Helper()
	ctx := context.Background()
	h := &harness{t: t, clock: &fakeClock{t: testNow},
		webhooks: map[orders.Mall]*fakeWebhook{mallCCB: {}, mallABC: {}},
		limiter:  &fakeLimiter{denied: map[string]time.Duration{}}, logs: &syncBuffer{}}
	h.store = sqltest.Store(t, db, sqltest.WithClock(h.clock.Now))
	sqltest.ImportCatalogue(t, h.store, sqltest.ExampleBundle())
	auth := keyAuth{store: h.store, tokens: map[string]string{}}
	for _, k := range testKeys {
		token, _, err := h.store.CreateAPIKey(ctx, k.name, k.role, k.branch)
		if err != nil {
			t.Fatal(err)
		}
		auth.tokens[k.alias] = token
	}
	h.idem = h.store
	h.reports = &recordingReports{Reports: h.store}
	malls := []orders.Mall{mallCCB, mallABC}
	svc, err := orders.NewService(h.store, []orders.MallInfo{{Code: mallCCB, Limits: ccb.Limits}, {Code: mallABC, Limits: abc.Limits}}, h.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	h.orders = &fakeOrders{Service: svc}
	cfg := Config{
		Orders: h.orders, Auth: auth, Idempotency: h.idem, Reports: h.reports, ReportSet: h.store, Households: h.store, Budgets: svc, Periods: testPeriods{svc, h.store}, Malls: malls, Unreadable: h.store,
		Webhooks: map[orders.Mall]MallWebhook{mallCCB: h.webhooks[mallCCB], mallABC: h.webhooks[mallABC]},
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
	h.echo = s.Handler()
	// Every exchange of every API test is checked against the served contract.
	h.handler = contractChecked(t, h.echo)
	return h
}

// placeAt places an order through the service as the aid office, back-dated to at.
func (h *harness) placeAt(branch, ref string, at time.Time, phone string) *orders.GroupOrder {
	h.t.Helper()
	o, err := h.orders.Service.Place(context.Background(), orders.Caller{KeyID: 3, Role: orders.RoleAidOffice}, orders.PlaceRequest{
		OrderRef: ref, BranchCode: branch, Mall: mallCCB, Funding: orders.FundingUnion, DeliveryMode: orders.DeliveryBulk,
		ShipTo:   orders.ShipTo{Name: "李*", Phone: phone, Address: "西安市"},
		Lines:    []orders.PlaceLine{{SKU: "YC-APL-5KG-DZ", Quantity: 2}},
		PlacedAt: &at,
	})
	if err != nil {
		h.t.Fatalf("place %s: %v", ref, err)
	}
	return o
}

// advance applies the mall's notifications that bring o to status (accepted, shipped or
// delivered), as the webhook would.
func (h *harness) advance(o *orders.GroupOrder, status orders.Status) {
	h.t.Helper()
	steps := []struct {
		typ    orders.EventType
		status orders.Status
	}{{orders.EventAccepted, orders.StatusAccepted}, {orders.EventShipped, orders.StatusShipped}, {orders.EventDelivered, orders.StatusDelivered}}
	at := o.PlacedAt
	for _, s := range steps {
		at = at.Add(time.Hour)
		ev := orders.FulfilmentEvent{Mall: o.Mall, EventID: orders.MallEventID(string(o.OutOrderNo) + "-" + string(s.typ)), Type: s.typ,
			OutOrderNo: o.OutOrderNo, MallOrderNo: "M-" + string(o.OutOrderNo), OccurredAt: at}
		if s.typ != orders.EventAccepted {
			ev.LineNo, ev.Quantity = 1, o.Lines[0].Quantity
		}
		if _, err := h.orders.Service.Apply(context.Background(), ev); err != nil {
			h.t.Fatalf("apply %s to %s: %v", s.typ, o.OrderRef, err)
		}
		if s.status == status {
			return
		}
	}
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
	if r.body != "" && (r.method == http.MethodPost || r.method == http.MethodPut) {
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
func problemOf(t testing.TB, rec *httptest.ResponseRecorder) ProblemBody {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != ContentTypeProblem {
		t.Fatalf("Content-Type = %q, want %s; body %s", ct, ContentTypeProblem, rec.Body)
	}
	var p ProblemBody
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
