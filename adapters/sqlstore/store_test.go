package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/bizday"
	"aidmall/households"
	"aidmall/money"
	"aidmall/orders"
	"aidmall/reports"
)

// fixture is a store with a small registry: branch HQ, suppliers S1 (county 610630, three
// households weight 1 each, H001–H003) and S2 (county 610825, no linkages), products
// P1 (S1, ccb 68.00, abc 69.00) and P2 (S2, ccb only 50.00).
type fixture struct {
	store *sqlstore.Store
	svc   *orders.Service
	enq   *sqltest.Jobs
}

var aidOffice = orders.Caller{KeyID: 1, Role: orders.RoleAidOffice}

func newFixture(t testing.TB, open func(testing.TB) *sqlstore.DB) *fixture {
	t.Helper()
	enq := &sqltest.Jobs{}
	st := sqltest.Store(t, open(t), sqltest.WithEnqueuer(enq))
	sqltest.Seed(t, st)
	svc, err := orders.NewService(st, connected(mallCCB, mallABC), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{store: st, svc: svc, enq: enq}
}

func (f *fixture) place(t testing.TB, ref string, mall orders.Mall, lines ...orders.PlaceLine) *orders.GroupOrder {
	t.Helper()
	at := time.Date(2019, 3, 1, 10, 0, 0, 0, bizday.Beijing)
	o, err := f.svc.Place(context.Background(), aidOffice, orders.PlaceRequest{
		OrderRef: ref, BranchCode: "HQ", Mall: mall, Funding: orders.FundingUnion, DeliveryMode: orders.DeliveryBulk,
		ShipTo: orders.ShipTo{Name: "王*", Phone: "13800000000", Address: "北京"}, Lines: lines, PlacedAt: &at,
	})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func ev(o *orders.GroupOrder, id string, typ orders.EventType, line int, qty int64, refund money.Fen, at string) orders.FulfilmentEvent {
	ts, err := time.ParseInLocation("2006-01-02 15:04", at, bizday.Beijing)
	if err != nil {
		panic(err)
	}
	return orders.FulfilmentEvent{Mall: o.Mall, EventID: orders.MallEventID(id), Type: typ, OutOrderNo: o.OutOrderNo, MallOrderNo: "M1",
		LineNo: line, Quantity: qty, RefundFen: refund, OccurredAt: ts}
}

// ledger sums the ledger per household ("" = unattributed) and business day.
func ledger(t testing.TB, st *sqlstore.Store) map[string]money.Fen {
	t.Helper()
	rows, _, err := st.LedgerRows(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]money.Fen{}
	for _, r := range rows {
		out[string(r.HouseholdNo)+"@"+r.Day.String()] += r.Amount
	}
	for k, v := range out {
		if v == 0 {
			delete(out, k)
		}
	}
	return out
}

func TestStore(t *testing.T) {
	for _, d := range sqltest.Dialects {
		name, open := d.Name, d.Open
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			t.Run("order_is_stored_with_its_dispatch_job_in_one_transaction", func(t *testing.T) {
				f := newFixture(t, open)
				o := f.place(t, "2019-HQ-0001", mallCCB, orders.PlaceLine{SKU: "P1", Quantity: 10})
				got, err := f.store.Order(context.Background(), o.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.OutOrderNo != o.OutOrderNo || len(got.Lines) != 1 || got.Lines[0].UnitPrice != 6800 || got.Status != orders.StatusPending {
					t.Fatalf("stored order differs: %+v", got)
				}
				if len(got.OutOrderNo) != orders.OutOrderNoLen {
					t.Fatalf("out_order_no %q is not valid at the malls", got.OutOrderNo)
				}
				if d := f.enq.Dispatched(); len(d) != 1 || d[0] != o.ID {
					t.Fatalf("dispatch jobs = %v, want [%d]", d, o.ID)
				}
				f.enq.Fail = errors.New("queue down")
				at := time.Now()
				_, err = f.svc.Place(context.Background(), aidOffice, orders.PlaceRequest{OrderRef: "2019-HQ-0002", BranchCode: "HQ",
					Mall: mallCCB, Funding: orders.FundingUnion, DeliveryMode: orders.DeliveryBulk,
					ShipTo: orders.ShipTo{Name: "a", Phone: "13800000000", Address: "b"}, Lines: []orders.PlaceLine{{SKU: "P1", Quantity: 1}}, PlacedAt: &at})
				if err == nil {
					t.Fatal("placing succeeded although its job could not be enqueued")
				}
				list, _, err := f.store.ListOrders(context.Background(), orders.ListFilter{})
				if err != nil || len(list) != 1 {
					t.Fatalf("after a failed enqueue there are %d orders (%v), want 1", len(list), err)
				}
			})
			t.Run("same_order_ref_twice_conflicts", func(t *testing.T) {
				f := newFixture(t, open)
				f.place(t, "R1", mallCCB, orders.PlaceLine{SKU: "P1", Quantity: 1})
				at := time.Now()
				_, err := f.svc.Place(context.Background(), aidOffice, orders.PlaceRequest{OrderRef: "R1", BranchCode: "HQ",
					Mall: mallCCB, Funding: orders.FundingUnion, DeliveryMode: orders.DeliveryBulk,
					ShipTo: orders.ShipTo{Name: "a", Phone: "13800000000", Address: "b"}, Lines: []orders.PlaceLine{{SKU: "P1", Quantity: 1}}, PlacedAt: &at})
				if !errors.Is(err, orders.ErrOrderRefTaken) || !errors.Is(err, orders.ErrConflict) {
					t.Fatalf("err = %v, want ErrOrderRefTaken (an ErrConflict)", err)
				}
				if got := orders.ErrorMessage(err); got != `branch HQ already has an order with order_ref "R1"` {
					t.Errorf("client message %q", got)
				}
			})
			t.Run("same_out_order_no_twice_conflicts", func(t *testing.T) {
				f := newFixture(t, open)
				h := orders.HistoryOrder{OrderRef: "OLD-1", BranchCode: "HQ", Mall: mallCCB, Funding: orders.FundingUnion,
					DeliveryMode: orders.DeliveryBulk, PlacedAt: time.Date(2019, 3, 1, 10, 0, 0, 0, bizday.Beijing),
					OutOrderNo: "AMOLD1", MallOrderNo: "CCB-OLD-1", Lines: []orders.HistoryLine{{LineNo: 1, SKU: "P1", Quantity: 2, UnitPrice: 6800}}}
				if _, _, err := f.svc.LoadHistory(context.Background(), aidOffice, h); err != nil {
					t.Fatal(err)
				}
				h.OrderRef = "OLD-2"
				_, _, err := f.svc.LoadHistory(context.Background(), aidOffice, h)
				if !errors.Is(err, orders.ErrOutOrderNoTaken) || !errors.Is(err, orders.ErrConflict) {
					t.Fatalf("err = %v, want ErrOutOrderNoTaken (an ErrConflict)", err)
				}
				if got := orders.ErrorMessage(err); got != `out_order_no "AMOLD1" is already taken` {
					t.Errorf("client message %q", got)
				}
			})
			t.Run("list_pages_newest_first_without_gaps_or_repeats", func(t *testing.T) {
				f := newFixture(t, open)
				for i := 0; i < 7; i++ {
					f.place(t, fmt.Sprintf("R%d", i), mallCCB, orders.PlaceLine{SKU: "P1", Quantity: 1})
				}
				seen := map[int64]bool{}
				cursor, pages := "", 0
				var last int64 = 1 << 62
				for {
					page, next, err := f.store.ListOrders(context.Background(), orders.ListFilter{Limit: 3, Cursor: cursor})
					if err != nil {
						t.Fatal(err)
					}
					pages++
					for _, o := range page {
						if seen[o.ID] || o.ID > last {
							t.Fatalf("order %d repeated or out of order", o.ID)
						}
						seen[o.ID], last = true, o.ID
						if len(o.Lines) != 1 {
							t.Fatalf("order %d listed with %d lines", o.ID, len(o.Lines))
						}
					}
					if next == "" {
						break
					}
					cursor = next
				}
				if len(seen) != 7 || pages != 3 {
					t.Fatalf("saw %d orders in %d pages, want 7 in 3", len(seen), pages)
				}
			})
			t.Run("an_event_has_effect_once_however_often_it_arrives", func(t *testing.T) {
				f := newFixture(t, open)
				o := f.place(t, "R1", mallCCB, orders.PlaceLine{SKU: "P1", Quantity: 10})
				d := ev(o, "N1", orders.EventDelivered, 1, 10, 0, "2019-03-05 14:00")
				var wg sync.WaitGroup
				var dups atomic32
				errs := make(chan error, 8)
				for i := 0; i < 8; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						res, err := f.svc.Apply(context.Background(), d)
						if err != nil {
							errs <- err
						}
						if res.Duplicate {
							dups.add()
						}
					}()
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Fatal(err)
				}
				if dups.n != 7 {
					t.Fatalf("%d of 8 concurrent copies were duplicates, want 7", dups.n)
				}
				got := ledger(t, f.store)
				want := map[string]money.Fen{"H001@2019-03-05": 22667, "H002@2019-03-05": 22667, "H003@2019-03-05": 22666}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("ledger = %v, want %v (ATTRIBUTION.md §4)", got, want)
				}
				o2, _ := f.store.Order(context.Background(), o.ID)
				if o2.Status != orders.StatusDelivered || o2.Lines[0].DeliveredQty != 10 {
					t.Fatalf("order after delivery: status %s delivered %d", o2.Status, o2.Lines[0].DeliveredQty)
				}
			})
			t.Run("ledger_depends_on_the_set_of_events_not_their_order", func(t *testing.T) {
				var want map[string]money.Fen
				for round := 0; round < 4; round++ {
					f := newFixture(t, open)
					o := f.place(t, "R1", mallCCB, orders.PlaceLine{SKU: "P1", Quantity: 10}, orders.PlaceLine{SKU: "P2", Quantity: 4})
					es := []orders.FulfilmentEvent{
						ev(o, "A", orders.EventAccepted, 0, 0, 0, "2019-03-01 11:00"),
						ev(o, "S1", orders.EventShipped, 1, 10, 0, "2019-03-02 11:00"),
						ev(o, "D1", orders.EventDelivered, 1, 6, 0, "2019-03-31 23:30"),
						ev(o, "D2", orders.EventDelivered, 1, 4, 0, "2019-04-01 00:10"),
						ev(o, "R1", orders.EventRefunded, 1, 1, 6800, "2019-04-03 09:00"),
						ev(o, "R2", orders.EventRefunded, 1, 0, 60000, "2019-04-02 09:00"), // beyond D1 alone (408.00): applies only once D2 counts
						ev(o, "D3", orders.EventDelivered, 2, 4, 0, "2019-04-05 09:00"),
					}
					rng := rand.New(rand.NewPCG(uint64(round), 7))
					rng.Shuffle(len(es), func(i, j int) { es[i], es[j] = es[j], es[i] })
					for _, e := range es {
						if _, err := f.svc.Apply(context.Background(), e); err != nil {
							t.Fatal(err)
						}
					}
					got := ledger(t, f.store)
					if round == 0 {
						want = got
						var sum money.Fen
						for _, v := range got {
							sum += v
						}
						// 10×68 + 4×50 − 600 − 68 = 212.00 yuan
						if sum != 68000+20000-60000-6800 {
							t.Fatalf("ledger total %s, want 212.00", sum)
						}
						continue
					}
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Fatalf("round %d: ledger %v differs from round 0 %v", round, got, want)
					}
				}
			})
			t.Run("event_before_its_order_is_parked_then_applied", func(t *testing.T) {
				f := newFixture(t, open)
				placed := time.Date(2019, 3, 1, 10, 0, 0, 0, bizday.Beijing)
				no := orders.NewOutOrderNo(placed)
				early := orders.FulfilmentEvent{Mall: mallCCB, EventID: "E1", Type: orders.EventDelivered,
					OutOrderNo: no, LineNo: 1, Quantity: 2, OccurredAt: time.Date(2019, 3, 3, 0, 0, 0, 0, bizday.Beijing)}
				res, err := f.svc.Apply(context.Background(), early)
				if err != nil || !res.Parked {
					t.Fatalf("res %+v err %v, want parked", res, err)
				}
				if len(ledger(t, f.store)) != 0 {
					t.Fatal("a parked event moved money")
				}
				o, created, err := f.svc.LoadHistory(context.Background(), aidOffice, orders.HistoryOrder{OrderRef: "R1", BranchCode: "HQ",
					Funding: orders.FundingUnion, DeliveryMode: orders.DeliveryBulk, PlacedAt: placed, Mall: mallCCB, OutOrderNo: no,
					MallOrderNo: "M1", Lines: []orders.HistoryLine{{LineNo: 1, SKU: "P1", Quantity: 10, UnitPrice: 6800}}})
				if err != nil || !created {
					t.Fatalf("load history: created %v, %v", created, err)
				}
				var sum money.Fen
				for _, v := range ledger(t, f.store) {
					sum += v
				}
				if sum != 2*6800 {
					t.Fatalf("after the order arrived the ledger holds %s, want 136.00", sum)
				}
				if o.Status != orders.StatusPartiallyDelivered || o.Lines[0].DeliveredQty != 2 {
					t.Fatalf("order after adopting its parked event: %s, delivered %d", o.Status, o.Lines[0].DeliveredQty)
				}
			})
			t.Run("an_event_left_parked_beside_its_order_is_adopted_by_its_next_copy", func(t *testing.T) {
				// What a history load racing a statement can leave on PostgreSQL: the event
				// parked while the order's transaction was uncommitted.
				f := newFixture(t, open)
				o := f.place(t, "R1", mallCCB, orders.PlaceLine{SKU: "P1", Quantity: 10})
				e := ev(o, "E1", orders.EventDelivered, 1, 10, 0, "2019-03-05 14:00")
				_, err := f.store.DB().ExecContext(context.Background(), f.store.DB().Rebind(`INSERT INTO fulfilment_events
					(mall, event_id, out_order_no, mall_order_no, type, line_no, quantity, refund_fen, occurred_at, business_day,
					 source, received_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'parked')`),
					e.Mall, e.EventID, e.OutOrderNo, "M1", e.Type, e.LineNo, e.Quantity, 0, e.OccurredAt.UTC(), "2019-03-05", "statement", time.Now().UTC())
				if err != nil {
					t.Fatal(err)
				}
				res, err := f.svc.Apply(context.Background(), e)
				if err != nil || !res.Duplicate {
					t.Fatalf("res %+v err %v, want a duplicate", res, err)
				}
				var sum money.Fen
				for _, v := range ledger(t, f.store) {
					sum += v
				}
				if p, _ := f.store.Progress(context.Background()); sum != 68000 || p.Parked != 0 {
					t.Fatalf("ledger %s, parked %d: want 680.00 and nothing parked", sum, p.Parked)
				}
			})
			t.Run("refund_beyond_delivered_is_held_and_moves_no_money", func(t *testing.T) {
				f := newFixture(t, open)
				o := f.place(t, "R1", mallCCB, orders.PlaceLine{SKU: "P2", Quantity: 2})
				f.svc.Apply(context.Background(), ev(o, "D", orders.EventDelivered, 1, 1, 0, "2019-03-02 10:00"))
				res, err := f.svc.Apply(context.Background(), ev(o, "R", orders.EventRefunded, 1, 1, 5001, "2019-03-03 10:00"))
				if err != nil || !res.Held {
					t.Fatalf("res %+v err %v, want held", res, err)
				}
				if got := ledger(t, f.store); got["@2019-03-02"] != 5000 || len(got) != 1 {
					t.Fatalf("ledger %v, want only the unattributed 50.00 delivery", got)
				}
			})
			t.Run("report_agrees_with_the_reference_computation", func(t *testing.T) {
				f := newFixture(t, open)
				o1 := f.place(t, "R1", mallCCB, orders.PlaceLine{SKU: "P1", Quantity: 10}, orders.PlaceLine{SKU: "P2", Quantity: 3})
				o2 := f.place(t, "R2", mallABC, orders.PlaceLine{SKU: "P1", Quantity: 7})
				for _, e := range []orders.FulfilmentEvent{
					ev(o1, "a", orders.EventDelivered, 1, 10, 0, "2019-03-05 10:00"),
					ev(o1, "b", orders.EventDelivered, 2, 3, 0, "2019-03-06 10:00"),
					ev(o1, "c", orders.EventRefunded, 1, 10, 68000, "2019-04-06 10:00"),
					ev(o2, "d", orders.EventDelivered, 1, 7, 0, "2019-04-07 10:00"),
					ev(o2, "e", orders.EventRefunded, 1, 1, 100, "2019-12-31 23:59"),
				} {
					if _, err := f.svc.Apply(context.Background(), e); err != nil {
						t.Fatal(err)
					}
				}
				rows, members, err := f.store.LedgerRows(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				for _, by := range []string{"county", "category", "sku", "supplier", "branch", "mall", "month", "funding"} {
					for _, p := range [][2]string{{"2019-01-01", "2019-12-31"}, {"2019-03-01", "2019-03-31"}, {"2019-04-01", "2019-04-30"}} {
						b, _ := reports.ParseBy(by)
						q := reports.Query{From: bizday.MustParse(p[0]), To: bizday.MustParse(p[1]), By: b}
						got, err := f.store.Benefit(context.Background(), q)
						if err != nil {
							t.Fatal(err)
						}
						want := reports.Compute(rows, members, nil, q)
						if fmt.Sprint(got.Totals) != fmt.Sprint(want.Totals) || len(got.Rows) != len(want.Rows) {
							t.Fatalf("%s %v: SQL %+v, reference %+v", by, p, got, want)
						}
						for i := range got.Rows {
							g, w := got.Rows[i], want.Rows[i]
							if g.Key != w.Key || g.Households != w.Households || g.People != w.People || g.NetAmount != w.NetAmount {
								t.Fatalf("%s %v row %d: SQL %+v, reference %+v", by, p, i, g, w)
							}
						}
					}
				}
				// March counts the three households; April's refund takes them to 0 for R1 but
				// o2's delivery gives them money again: the year counts each once.
				year, _ := f.store.Benefit(context.Background(), reports.Query{From: bizday.MustParse("2019-01-01"), To: bizday.MustParse("2019-12-31"), By: "month"})
				if year.Totals.Households != 3 || year.Totals.People != 12 {
					t.Fatalf("year totals %+v, want 3 households, 12 people", year.Totals)
				}
			})
			t.Run("a_new_linkage_set_reworks_the_ledger_of_past_deliveries", func(t *testing.T) {
				f := newFixture(t, open)
				o := f.place(t, "R1", mallCCB, orders.PlaceLine{SKU: "P1", Quantity: 10})
				if _, err := f.svc.Apply(context.Background(), ev(o, "D", orders.EventDelivered, 1, 10, 0, "2019-03-05 14:00")); err != nil {
					t.Fatal(err)
				}
				// The county re-exports S1's linkages: H003's is gone.
				var ls []households.Linkage
				for _, no := range []string{"H001", "H002"} {
					ls = append(ls, households.Linkage{SupplierCode: "S1", HouseholdNo: households.HouseholdNo(no), Type: households.LinkProducePurchase,
						Weight: decimal.NewFromInt(1), ValidFrom: bizday.MustParse("2018-01-01")})
				}
				c, err := f.store.UpsertLinkages(context.Background(), ls, true)
				if err != nil {
					t.Fatal(err)
				}
				if c != (households.Counts{Unchanged: 2, Removed: 1}) {
					t.Fatalf("counts %+v, want 2 unchanged and 1 removed", c)
				}
				got := ledger(t, f.store)
				want := map[string]money.Fen{"H001@2019-03-05": 34000, "H002@2019-03-05": 34000}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("ledger after the new set %v, want %v", got, want)
				}
				again, err := f.store.UpsertLinkages(context.Background(), ls, true)
				if err != nil || again != (households.Counts{Unchanged: 2}) {
					t.Fatalf("the same set again: %+v %v, want all unchanged", again, err)
				}
			})
			t.Run("reimporting_the_same_registry_changes_nothing", func(t *testing.T) {
				f := newFixture(t, open)
				c, err := f.store.UpsertProducts(context.Background(), []households.Product{
					{SKU: "P1", Name: "苹果", Category: households.CategoryApple, SupplierCode: "S1", Listings: map[string]households.Listing{"ccb": {ItemID: "C1", Price: 6800}, "abc": {ItemID: "A1", Price: 6900}}},
					{SKU: "P2", Name: "核桃", Category: households.CategoryWalnut, SupplierCode: "S2", Listings: map[string]households.Listing{"ccb": {ItemID: "C2", Price: 5100}}},
				})
				if err != nil {
					t.Fatal(err)
				}
				if c != (households.Counts{Unchanged: 1, Updated: 1}) {
					t.Fatalf("counts %+v, want 1 unchanged, 1 updated", c)
				}
			})
		})
	}
}

type atomic32 struct {
	mu sync.Mutex
	n  int
}

func (a *atomic32) add() { a.mu.Lock(); a.n++; a.mu.Unlock() }

// The malls of the tests, by code: which malls exist is the drivers' knowledge, not the domain's.
const mallCCB, mallABC = orders.Mall("ccb"), orders.Mall("abc")

// connected is the malls codes as the service is given them, with no limits: the
// store's tests place orders the malls' limits allow (orders tests the limits).
func connected(codes ...orders.Mall) []orders.MallInfo {
	out := make([]orders.MallInfo, len(codes))
	for i, c := range codes {
		out[i].Code = c
	}
	return out
}

// TestNoJobsRefusesOrdersItCannotSend: a store opened for commands that only load
// history and apply events takes no dispatch or cancel job, so a Place or Cancel through
// it rolls back instead of leaving an order that no job will send or cancel. Loading
// history, which needs no job, goes through.
func TestNoJobsRefusesOrdersItCannotSend(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		jobs := &sqltest.Jobs{}
		withJobs := sqltest.Store(t, db, sqltest.WithEnqueuer(jobs))
		sqltest.Seed(t, withJobs)
		noJobs := sqltest.Store(t, db, sqltest.WithEnqueuer(sqlstore.NoJobs{}))
		svc, err := orders.NewService(noJobs, connected(mallCCB), nil)
		if err != nil {
			t.Fatal(err)
		}
		req := orders.PlaceRequest{OrderRef: "R1", BranchCode: "HQ", Mall: mallCCB, Funding: orders.FundingUnion,
			DeliveryMode: orders.DeliveryBulk, ShipTo: orders.ShipTo{Name: "王*", Phone: "13800000000", Address: "北京"},
			Lines: []orders.PlaceLine{{SKU: "P1", Quantity: 1}}}
		if _, err := svc.Place(ctx, aidOffice, req); !errors.Is(err, sqlstore.ErrNoJobs) {
			t.Fatalf("place through NoJobs: %v, want ErrNoJobs", err)
		}
		if list, _, err := noJobs.ListOrders(ctx, orders.ListFilter{}); err != nil || len(list) != 0 {
			t.Fatalf("after the refused place: %d orders (%v), want none", len(list), err)
		}

		withSvc, err := orders.NewService(withJobs, connected(mallCCB), nil)
		if err != nil {
			t.Fatal(err)
		}
		o, err := withSvc.Place(ctx, aidOffice, req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Cancel(ctx, aidOffice, o.ID, "no longer needed"); !errors.Is(err, sqlstore.ErrNoJobs) {
			t.Fatalf("cancel through NoJobs: %v, want ErrNoJobs", err)
		}
		if got, err := noJobs.Order(ctx, o.ID); err != nil || got.CancelReq {
			t.Fatalf("after the refused cancel: cancel requested %v (%v), want not", got.CancelReq, err)
		}

		h, loaded, err := svc.LoadHistory(ctx, aidOffice, orders.HistoryOrder{OrderRef: "OLD-1", BranchCode: "HQ", Mall: mallCCB,
			Funding: orders.FundingUnion, DeliveryMode: orders.DeliveryBulk, PlacedAt: time.Date(2019, 3, 1, 10, 0, 0, 0, bizday.Beijing),
			OutOrderNo: "AMOLD1", MallOrderNo: "CCB-OLD-1", Lines: []orders.HistoryLine{{LineNo: 1, SKU: "P1", Quantity: 2, UnitPrice: 6800}}})
		if err != nil || !loaded || h.ID == 0 {
			t.Fatalf("history through NoJobs: loaded %v, %v", loaded, err)
		}
	})
}
