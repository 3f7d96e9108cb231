package imports_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"aidmall/adapters/registryfile"
	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/households"
	"aidmall/imports"
	"aidmall/orders"
)

type noSealer struct{}

func (noSealer) Seal(string, string) ([]byte, error) { return nil, fmt.Errorf("linkages seal nothing") }
func (noSealer) Hash(string) string                  { return "" }
func (noSealer) KeyName() string                     { return "none" }

func linkageRegistry(st households.RegistryStore) (*households.Registry, error) {
	return households.NewRegistry(st, noSealer{}, households.WithFileDecoder(registryfile.Decoder{}))
}

// ledgerSum is the store's ledger: each household's booked fen, as text.
func ledgerSum(t *testing.T, st *sqlstore.Store) string {
	t.Helper()
	var rows []struct {
		No  string `db:"household_no"`
		Sum int64  `db:"s"`
	}
	if err := st.DB().SelectContext(context.Background(), &rows, `SELECT household_no, SUM(amount_fen) AS s FROM ledger_entries GROUP BY household_no ORDER BY household_no`); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(rows)
}

// A linkages file read as a stream (imports.Linkages) moves the ledger of a delivered
// order: its dry run says what the import then does and stores nothing; a file with a bad
// row stores its good rows and removes no linkage.
func TestLinkagesStreamDryRunThenImport(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		svc, st, no := statementFixture(t, db, 5)
		evs := []orders.FulfilmentEvent{event(no, "N1", orders.EventShipped, 10, 13), event(no, "N2", orders.EventDelivered, 10, 14)}
		if _, err := imports.Statement(ctx, svc, st, parser(evs), mallCCB, "s.csv", strings.NewReader("file"), true); err != nil {
			t.Fatal(err)
		}
		before := ledgerSum(t, st)
		// S1's set becomes H001 alone, weight 2: H002 and H003 lose their share.
		file := "supplier_code,household_no,type,weight,valid_from,valid_to\nS1,H001,produce_purchase,2,2018-01-01,\n"
		rep, tried, err := imports.Linkages(ctx, st, linkageRegistry, "l.csv", strings.NewReader(file), true, true)
		if err != nil || rep.Refused || len(tried.Rows) == 0 {
			t.Fatalf("dry run: err %v, %+v, changes %+v: want money moved", err, rep, tried)
		}
		if ledgerSum(t, st) != before || count(t, st, "linkages") != 3 {
			t.Fatalf("the dry run stored something: ledger %s (was %s), %d linkages", ledgerSum(t, st), before, count(t, st, "linkages"))
		}
		rep, done, err := imports.Linkages(ctx, st, linkageRegistry, "l.csv", strings.NewReader(file), true, false)
		if err != nil || rep.Counts.Removed != 2 || rep.Counts.Updated != 1 {
			t.Fatalf("import: err %v, %+v: want H001 updated, 2 removed", err, rep.Counts)
		}
		if fmt.Sprintf("%+v", tried) != fmt.Sprintf("%+v", done) || ledgerSum(t, st) == before || count(t, st, "linkages") != 1 {
			t.Fatalf("the dry run said\n%+v\nthe import did\n%+v", tried, done)
		}
		// H002 back, and a bad row: H001, not in the file, stays.
		bad := "supplier_code,household_no,type,weight,valid_from,valid_to\nS1,H002,produce_purchase,1,2018-01-01,\nS1,H003,produce_purchase,-1,2018-01-01,\n"
		if rep, _, err := imports.Linkages(ctx, st, linkageRegistry, "l.csv", strings.NewReader(bad), false, false); err != nil || rep.Counts.Removed != 0 ||
			rep.Counts.Inserted != 1 || len(rep.Errors) != 1 || rep.Note == "" || count(t, st, "linkages") != 2 {
			t.Fatalf("a bad row: err %v, %+v: want H002 inserted, nothing removed and a note", err, rep)
		}
	})
}

func count(t *testing.T, st *sqlstore.Store, table string) int {
	t.Helper()
	var n int
	if err := st.DB().GetContext(context.Background(), &n, `SELECT COUNT(*) FROM `+table); err != nil {
		t.Fatal(err)
	}
	return n
}
