package imports_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/imports"
	"aidmall/malls"
	"aidmall/orders"
)

// eventByEvent hides ApplyBatch: the statement is applied one event at a time, as before
// batches.
type eventByEvent struct{ svc *orders.Service }

func (e eventByEvent) Apply(ctx context.Context, ev orders.FulfilmentEvent) (orders.ApplyResult, error) {
	return e.svc.Apply(ctx, ev)
}

// yearStore is a fresh store on a database open makes, with the example bundle's
// registry, catalogue and order history loaded, and the service over it.
func yearStore(t *testing.T, open func(testing.TB) *sqlstore.DB) (*orders.Service, *sqlstore.Store) {
	t.Helper()
	st := sqltest.Store(t, open(t))
	sqltest.ImportBundle(t, st, sqltest.ExampleBundle())
	svc, err := orders.NewService(st, []orders.MallInfo{{Code: ccb.Code}, {Code: abc.Code}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := imports.HistoryFS(context.Background(), svc, orders.Caller{Role: orders.RoleAidOffice}, os.DirFS(sqltest.ExampleBundle()))
	if err != nil || len(rep.Errors) > 0 || rep.Created == 0 {
		t.Fatalf("history: %v, %d created, bad %v", err, rep.Created, rep.Errors)
	}
	return svc, st
}

// yearEvents reads the example bundle's statement of mall.
func yearEvents(t *testing.T, mall orders.Mall) []orders.FulfilmentEvent {
	t.Helper()
	name := map[orders.Mall]string{ccb.Code: "statement-ccb.csv", abc.Code: "statement-abc.jsonl"}[mall]
	f, err := os.Open(filepath.Join(sqltest.ExampleBundle(), name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	scan := map[orders.Mall]func(io.Reader, func(orders.FulfilmentEvent) error, func(malls.RowError)) error{
		ccb.Code: ccb.ScanStatement, abc.Code: abc.ScanStatement}[mall]
	var evs []orders.FulfilmentEvent
	if err := scan(f, func(e orders.FulfilmentEvent) error { evs = append(evs, e); return nil }, func(e malls.RowError) { t.Fatal(e) }); err != nil {
		t.Fatal(err)
	}
	return evs
}

// stateOf is everything applying events decides, as text, comparable between databases:
// each event's state, each line's quantities, each order's state, the ledger's net sums
// per event, household and day, and the rollups' non-zero rows.
func stateOf(t *testing.T, st *sqlstore.Store) map[string][]string {
	t.Helper()
	if diffs, _, err := st.VerifyRollups(context.Background()); err != nil || len(diffs) > 0 {
		t.Fatalf("rollups differ from the ledger: %v %+v", err, diffs)
	}
	qs := map[string]string{
		"events": `SELECT mall || '|' || out_order_no || '|' || event_id || '|' || state || '|' || held_reason || '|' ||
			CASE WHEN order_id IS NULL THEN 'parked' ELSE 'order' END FROM fulfilment_events`,
		"lines": `SELECT o.out_order_no || '|' || l.line_no || '|' || l.shipped_qty || '|' || l.delivered_qty || '|' || l.refunded_fen || '|' || l.held_events
			FROM order_lines l JOIN group_orders o ON o.id = l.order_id`,
		"orders": `SELECT out_order_no || '|' || status || '|' || mall_order_no || '|' || CASE WHEN accepted THEN 'a' ELSE '' END ||
			CASE WHEN cancelled THEN 'c' ELSE '' END FROM group_orders`,
		"ledger": `SELECT e.out_order_no || '|' || e.event_id || '|' || COALESCE(le.household_no, '') || '|' || le.business_day || '|' ||
			le.concerns_day || '|' || SUM(le.amount_fen) FROM ledger_entries le JOIN fulfilment_events e ON e.id = le.event_row_id
			GROUP BY e.out_order_no, e.event_id, le.household_no, le.business_day, le.concerns_day HAVING SUM(le.amount_fen) <> 0`,
		"rollups": `SELECT grp || '|' || month || '|' || k1 || k2 || k3 || k4 || k5 || k6 || k7 || '|' || household_no || '|' ||
			amount_fen || '/' || union_fen || '/' || delivered_fen || '/' || refunded_fen FROM ledger_rollups
			WHERE amount_fen <> 0 OR union_fen <> 0 OR delivered_fen <> 0 OR refunded_fen <> 0`,
		"day_rollups": `SELECT grp || '|' || business_day || '|' || k1 || k2 || k3 || k4 || k5 || k6 || k7 || '|' || household_no || '|' ||
			amount_fen || '/' || union_fen || '/' || delivered_fen || '/' || refunded_fen FROM ledger_day_rollups
			WHERE amount_fen <> 0 OR union_fen <> 0 OR delivered_fen <> 0 OR refunded_fen <> 0`,
		"units": `SELECT month || '|' || sku || '|' || funding || '|' || branch_code || '|' || mall || '|' || units || '/' || events
			FROM unit_month_rollups WHERE events <> 0 OR units <> 0`,
	}
	out := map[string][]string{}
	for name, q := range qs {
		var rows []string
		if err := st.DB().SelectContext(context.Background(), &rows, q); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		slices.Sort(rows)
		out[name] = rows
	}
	return out
}

// TestStatementInBatchesIsEventByEvent: a year's statements applied in batches
// (orders.Service.ApplyBatch, StatementBatch events a transaction) leave every event,
// line, order, ledger sum and rollup exactly as applying them one event at a time — in
// the file's order, and reversed (refunds before their deliveries, deliveries before
// their shipments, an order's events across batches). Applying them again changes
// nothing, and a batch with an event for an order not loaded yet parks it. The one by
// one reference is applied on SQLite (on PostgreSQL it takes minutes on a loaded
// machine); the batched state of each database is compared with it.
func TestStatementInBatchesIsEventByEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, reversed := range []bool{false, true} {
		t.Run(fmt.Sprintf("reversed=%v", reversed), func(t *testing.T) {
			t.Parallel()
			statements := map[orders.Mall][]orders.FulfilmentEvent{}
			for _, mall := range []orders.Mall{ccb.Code, abc.Code} {
				evs := yearEvents(t, mall)
				if reversed {
					slices.Reverse(evs)
				}
				// Copies inside one batch and an event of an order not loaded.
				ghost := evs[0]
				ghost.OutOrderNo, ghost.EventID = "AM-NOT-LOADED-1", "GHOST-1"
				statements[mall] = append(evs[:3:3], append([]orders.FulfilmentEvent{evs[1], ghost, evs[2]}, evs[3:]...)...)
			}
			single, sst := yearStore(t, sqltest.SQLite)
			ref := map[orders.Mall]orders.Tally{}
			for _, mall := range []orders.Mall{ccb.Code, abc.Code} {
				s, err := imports.Statement(ctx, eventByEvent{single}, sst, parser(statements[mall]), mall, "s", strings.NewReader("file"), false)
				if err != nil {
					t.Fatal(err)
				}
				ref[mall] = s.Tally
			}
			want := stateOf(t, sst)
			for _, d := range sqltest.Dialects {
				t.Run(d.Name, func(t *testing.T) {
					batched, bst := yearStore(t, d.Open)
					for _, mall := range []orders.Mall{ccb.Code, abc.Code} {
						evs := statements[mall]
						b, err := imports.Statement(ctx, batched, bst, parser(evs), mall, "s", strings.NewReader("file"), false)
						if err != nil {
							t.Fatal(err)
						}
						s := ref[mall]
						if b.Tally.Total() != len(evs) || b.Tally.Duplicate != s.Duplicate || b.Tally.Duplicate < 2 || b.Tally.Parked != 1 {
							t.Fatalf("%s batched: tally %+v of %d events (one by one %+v): want each once, the same copies and 1 parked",
								mall, b.Tally, len(evs), s)
						}
						// An event held until a later one of its batch made it good counts as
						// applied in a batch (its state at the commit), as held one by one.
						if b.Tally.Applied+b.Tally.Held != s.Applied+s.Held || b.Tally.Held > s.Held {
							t.Fatalf("%s: batched tally %+v, one by one %+v", mall, b.Tally, s)
						}
						again, err := imports.Statement(ctx, batched, bst, parser(evs), mall, "s", strings.NewReader("file"), false)
						if err != nil || again.Tally.Duplicate != len(evs) {
							t.Fatalf("%s again: %v, tally %+v: want every event a duplicate", mall, err, again.Tally)
						}
					}
					got := stateOf(t, bst)
					for name := range want {
						if len(want[name]) == 0 {
							t.Fatalf("%s: nothing to compare", name)
						}
						if !slices.Equal(got[name], want[name]) {
							t.Errorf("%s differ: batched %d rows, one by one %d; first difference %s", name, len(got[name]), len(want[name]), firstDiff(got[name], want[name]))
						}
					}
				})
			}
		})
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("%q ≠ %q", a[i], b[i])
		}
	}
	return "in length"
}
