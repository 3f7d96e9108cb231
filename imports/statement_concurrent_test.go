package imports_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/imports"
	"aidmall/orders"
)

// Two malls' statements imported at once (two operators, or a reconcile beside an
// import) share the figures' rows: the whole ledger's, a funding's, a county's. Both
// must go through, without a deadlock on PostgreSQL, and leave exactly what importing one
// after the other leaves. Each statement goes in pieces of a few events (a transaction
// each), so that the two overlap in many transactions.
func TestStatementsImportedAtOnce(t *testing.T) {
	ctx := context.Background()
	statements := map[orders.Mall][]orders.FulfilmentEvent{ccb.Code: yearEvents(t, ccb.Code), abc.Code: yearEvents(t, abc.Code)}
	const piece = 15
	apply := func(t *testing.T, svc *orders.Service, st imports.Auditor, mall orders.Mall) error {
		evs := statements[mall]
		for start := 0; start < len(evs); start += piece {
			part := evs[start:min(start+piece, len(evs))]
			if _, err := imports.Statement(ctx, svc, st, parser(part), mall, fmt.Sprintf("%s-%d", mall, start), strings.NewReader("piece"), false); err != nil {
				return fmt.Errorf("%s events %d…: %w", mall, start, err)
			}
		}
		return nil
	}
	for _, d := range sqltest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			one, ost := yearStore(t, d.Open)
			for _, mall := range []orders.Mall{ccb.Code, abc.Code} {
				if err := apply(t, one, ost, mall); err != nil {
					t.Fatal(err)
				}
			}
			want := stateOf(t, ost)

			both, bst := yearStore(t, d.Open)
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, mall := range []orders.Mall{ccb.Code, abc.Code} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = apply(t, both, bst, mall)
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatalf("imported at once: %v", err)
				}
			}
			got := stateOf(t, bst) // verifies every rollup and figure against the ledger first
			for name := range want {
				if strings.Join(got[name], "\n") != strings.Join(want[name], "\n") {
					t.Errorf("%s differ: at once %d rows, one after the other %d; first difference %s", name, len(got[name]), len(want[name]), firstDiff(got[name], want[name]))
				}
			}
		})
	}
}
