package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	. "aidmall/api"
	"aidmall/orders"
)

// gatedStore holds the first order transaction until open is closed.
type gatedStore struct {
	*sqlstore.Store
	once          sync.Once
	entered, open chan struct{}
}

func (g *gatedStore) hold() {
	g.once.Do(func() {
		close(g.entered)
		<-g.open
	})
}

func (g *gatedStore) InTx(ctx context.Context, fn func(orders.Tx) error) error {
	g.hold()
	return g.Store.InTx(ctx, fn)
}

func (g *gatedStore) InSavepointTx(ctx context.Context, fn func(orders.SavepointTx) error) error {
	g.hold()
	return g.Store.InSavepointTx(ctx, fn)
}

// TestJoinedPlacementsOverHTTP: two requests with one Idempotency-Key and one body, and
// a third order, sent while another order's transaction runs, are stored in one shared
// transaction (group commit): one order for the key, whose request gets 201 and the
// other the same answer replayed, and the third order placed.
func TestJoinedPlacementsOverHTTP(t *testing.T) {
	t.Parallel()
	for _, d := range sqltest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			var svc *orders.Service
			g := &gatedStore{entered: make(chan struct{}), open: make(chan struct{})}
			h := newHarnessOn(t, d.Open(t), func(cfg *Config) {
				g.Store = cfg.Idempotency.(*sqlstore.Store)
				var err error
				svc, err = orders.NewService(g, []orders.MallInfo{{Code: mallCCB, Limits: ccb.Limits}, {Code: mallABC, Limits: abc.Limits}},
					cfg.Now)
				if err != nil {
					t.Fatal(err)
				}
				cfg.Orders = &fakeOrders{Service: svc}
			})
			first := make(chan *httptest.ResponseRecorder, 1)
			go func() { first <- h.place("key-hq", `"k-first"`, orderBody(map[string]any{"order_ref": "J-FIRST"})) }()
			<-g.entered
			type answer struct {
				i   int
				rec *httptest.ResponseRecorder
			}
			answers := make(chan answer, 3)
			bodies := []string{orderBody(nil), orderBody(nil), orderBody(map[string]any{"order_ref": "J-OTHER"})}
			keys := []string{`"k-dup"`, `"k-dup"`, `"k-other"`}
			for i := range bodies {
				go func() { answers <- answer{i, h.place("key-hq", keys[i], bodies[i])} }()
			}
			for deadline := time.Now().Add(10 * time.Second); svc.PlaceJoinStats().Waiting < 3; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) { // a hang guard, not a timing
					close(g.open)
					t.Fatal("the three requests never queued behind the first")
				}
			}
			close(g.open)
			if r := <-first; r.Code != http.StatusCreated {
				t.Fatalf("the first order: %d %s", r.Code, r.Body)
			}
			got := make([]*httptest.ResponseRecorder, 3)
			for range 3 {
				select {
				case a := <-answers:
					got[a.i] = a.rec
				case <-time.After(10 * time.Second): // a hang guard, not a timing
					t.Fatal("a request of the shared transaction is still waiting")
				}
			}
			for i, r := range got {
				if r.Code != http.StatusCreated {
					t.Fatalf("request %d: %d %s", i, r.Code, r.Body)
				}
			}
			replayed := 0
			for _, r := range got[:2] {
				if r.Header().Get("Idempotent-Replayed") == "true" {
					replayed++
				}
			}
			if replayed != 1 || got[0].Body.String() != got[1].Body.String() || got[0].Header().Get("Location") != got[1].Header().Get("Location") {
				t.Errorf("the two requests of one key: %d replayed, bodies %s / %s: want one placed and its answer replayed to the other",
					replayed, got[0].Body, got[1].Body)
			}
			if ids := ordersWithRef(t, h, "2019-HQ-0042"); len(ids) != 1 {
				t.Errorf("orders of the key's body %v, want exactly one", ids)
			}
			if ids := ordersWithRef(t, h, "J-OTHER"); len(ids) != 1 {
				t.Errorf("the third order: %v, want it placed once", ids)
			}
			if s := svc.PlaceJoinStats(); s.Transactions >= s.Orders {
				t.Errorf("stats %+v: want the three stored together", s)
			}
		})
	}
}
