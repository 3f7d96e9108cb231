package sqlstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/audit"
	"aidmall/households"
	"aidmall/orders"
)

// auditedStore is a store with a few real changes recorded: a key made by an operator, a
// registry file imported, an order placed and cancelled by a branch's key, a key revoked.
func auditedStore(t *testing.T, db *sqlstore.DB) (*sqlstore.Store, []audit.Entry) {
	t.Helper()
	st := sqltest.Store(t, db)
	fx := sqltest.Seed(t, st)
	ctx := audit.WithActor(context.Background(), audit.Actor{Name: "cli:alice", Role: "aid_office"})
	_, k, err := st.CreateAPIKey(ctx, "S1 staff", orders.RoleBranchStaff, fx.Branch)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := sqltest.Registry(t, st, nil).Import(ctx, households.KindBranches, "branches.csv",
		strings.NewReader("code,name,company,members,budget\nHQ,总部工会,总部,12,1000.00\nB2,二分会,总部,x,1.00\n"), false)
	if err != nil || rep.Counts.Updated != 1 || len(rep.Errors) != 1 {
		t.Fatalf("import: %+v %v", rep, err)
	}
	svc, err := orders.NewService(st, connected(mallCCB, mallABC), nil)
	if err != nil {
		t.Fatal(err)
	}
	caller := orders.Caller{KeyID: k.ID, Name: k.Name, Role: orders.RoleBranchStaff, BranchCode: fx.Branch}
	o, err := svc.Place(ctx, caller, orders.PlaceRequest{OrderRef: "R1", BranchCode: fx.Branch, Mall: "ccb", Funding: orders.FundingUnion,
		DeliveryMode: orders.DeliveryBulk, ShipTo: orders.ShipTo{Name: "王小明", Phone: "13912345678", Address: "总部工会"},
		Lines: []orders.PlaceLine{{SKU: "P1", Quantity: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Cancel(ctx, caller, o.ID, "wrong quantity"); err != nil {
		t.Fatal(err)
	}
	if err := st.RevokeAPIKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	es, next, err := st.AuditEntries(ctx, audit.Filter{})
	if err != nil || next != 0 {
		t.Fatal(next, err)
	}
	return st, es
}

func TestAuditRecordsChangesWithActorAndMaskedFields(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		_, es := auditedStore(t, db)
		var got []string
		for _, e := range es {
			got = append(got, e.Action+" "+e.Object+" by "+e.Actor.Name+"/"+e.Actor.Role)
		}
		want := []string{
			"key.create key:1 by cli:alice/aid_office",
			"registry.import file:branches/branches.csv by cli:alice/aid_office",
			"order.place order:1 by key:1:S1 staff/branch_staff",
			"order.cancel order:1 by key:1:S1 staff/branch_staff",
			"key.revoke key:1 by cli:alice/aid_office",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		var imp map[string]any
		if err := json.Unmarshal(es[1].After, &imp); err != nil {
			t.Fatal(err)
		}
		if len(imp["sha256"].(string)) != 64 || imp["rows"] != 2.0 || imp["updated"] != 1.0 || imp["rejected"] != 1.0 {
			t.Errorf("import entry: %s", es[1].After)
		}
		place := string(es[2].After)
		if strings.Contains(place, "王小明") || strings.Contains(place, "13912345678") || !strings.Contains(place, `"total":"136.00"`) {
			t.Errorf("order entry shows personal data in clear or lacks its total: %s", place)
		}
		if es[3].Before == nil || !strings.Contains(string(es[3].After), `"cancel_requested":true`) || !strings.Contains(string(es[3].After), "wrong quantity") {
			t.Errorf("cancel entry: before %s after %s", es[3].Before, es[3].After)
		}
		for i, e := range es {
			if e.Seq != int64(i+1) || (i > 0 && e.PrevHash != es[i-1].Hash) {
				t.Errorf("entry %d: seq %d prev %s", i, e.Seq, e.PrevHash)
			}
		}
	})
}

func TestAuditNoEntryWhenTheChangeRollsBack(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		st := sqltest.Store(t, db)
		ctx := context.Background()
		boom := errors.New("boom")
		err := st.InTx(ctx, func(tx orders.Tx) error {
			e, _ := audit.New(audit.System, "test.change", "thing:1", nil, map[string]int{"n": 1})
			if err := tx.Audit(ctx, e); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		// A refused key (unknown branch) leaves no entry either.
		if _, _, err := st.CreateAPIKey(ctx, "x", orders.RoleBranchStaff, "NOPE"); err == nil {
			t.Fatal("key for an unknown branch made")
		}
		es, _, err := st.AuditEntries(ctx, audit.Filter{})
		if err != nil || len(es) != 0 {
			t.Fatalf("entries after rollback: %v %v", es, err)
		}
		if n, err := st.VerifyAudit(ctx); err != nil || n != 0 {
			t.Fatalf("verify empty log: %d %v", n, err)
		}
	})
}

func TestAuditVerifyFindsTampering(t *testing.T) {
	tamper := []struct {
		name    string
		sql     []string
		wantSeq int64
	}{
		{"edited after", []string{`UPDATE audit_log SET after_json = REPLACE(after_json, '136.00', '13.60') WHERE seq = 3`}, 3},
		{"edited actor", []string{`UPDATE audit_log SET actor = 'cli:mallory' WHERE seq = 2`}, 2},
		{"edited time", []string{`UPDATE audit_log SET at = '2019-01-01T00:00:00.000000Z' WHERE seq = 4`}, 4},
		{"deleted middle", []string{`DELETE FROM audit_log WHERE seq = 2`}, 2},
		{"deleted last", []string{`DELETE FROM audit_log WHERE seq = 5`}, 5},
		{"deleted first", []string{`DELETE FROM audit_log WHERE seq = 1`}, 1},
		{"reordered", []string{
			`UPDATE audit_log SET seq = 100 WHERE seq = 3`,
			`UPDATE audit_log SET seq = 3 WHERE seq = 4`,
			`UPDATE audit_log SET seq = 4 WHERE seq = 100`}, 3},
		{"rehashed edit", []string{ // an editor who recomputes nothing but copies the next prev_hash
			`UPDATE audit_log SET object = 'order:2', hash = (SELECT prev_hash FROM audit_log WHERE seq = 4) WHERE seq = 3`}, 3},
	}
	for _, d := range sqltest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			for _, tc := range tamper {
				t.Run(tc.name, func(t *testing.T) {
					db := d.Open(t)
					st, es := auditedStore(t, db)
					if len(es) != 5 {
						t.Fatalf("%d entries", len(es))
					}
					ctx := context.Background()
					if n, err := st.VerifyAudit(ctx); err != nil || n != 5 {
						t.Fatalf("untouched log: %d %v", n, err)
					}
					for _, q := range tc.sql {
						if _, err := db.ExecContext(ctx, q); err != nil {
							t.Fatal(q, err)
						}
					}
					_, err := st.VerifyAudit(ctx)
					var b *audit.Break
					if !errors.As(err, &b) {
						t.Fatalf("tampered log verified: %v", err)
					}
					if b.Seq != tc.wantSeq {
						t.Errorf("break named entry %d (%s), want %d", b.Seq, b.Reason, tc.wantSeq)
					}
				})
			}
		})
	}
}

func TestAuditConcurrentAppendsKeepOneChain(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		st := sqltest.Store(t, db)
		fx := sqltest.Seed(t, st)
		ctx := context.Background()
		svc, err := orders.NewService(st, connected(mallCCB, mallABC), nil)
		if err != nil {
			t.Fatal(err)
		}
		office := orders.Caller{Name: "office", Role: orders.RoleAidOffice}
		const writers, each = 8, 6
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					var err error
					if i%2 == 0 { // an order placed: its entry in the order's transaction
						_, err = svc.Place(ctx, office, orders.PlaceRequest{OrderRef: fmt.Sprintf("W%d-%d", w, i), BranchCode: fx.Branch, Mall: "ccb",
							Funding: orders.FundingUnion, DeliveryMode: orders.DeliveryBulk,
							ShipTo: orders.ShipTo{Name: "王小明", Phone: "13912345678", Address: "总部"}, Lines: []orders.PlaceLine{{SKU: "P1", Quantity: 1}}})
					} else {
						var e audit.Entry
						e, err = audit.New(audit.Actor{Name: fmt.Sprintf("w%d", w), Role: "aid_office"}, "test.append", fmt.Sprintf("w:%d:%d", w, i), nil, nil)
						if err == nil {
							err = st.Audit(ctx, e)
						}
					}
					if err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		n, err := st.VerifyAudit(ctx)
		if err != nil || n != writers*each {
			t.Fatalf("verify: %d entries, %v; want %d intact", n, err, writers*each)
		}
		// Pages through the cursor see every entry once, in order.
		var seen int64
		f := audit.Filter{Limit: 7}
		for {
			page, next, err := st.AuditEntries(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page {
				seen++
				if e.Seq != seen {
					t.Fatalf("page gave entry %d, want %d", e.Seq, seen)
				}
			}
			if next == 0 {
				break
			}
			f.After = next
		}
		if seen != writers*each {
			t.Fatalf("paged %d entries", seen)
		}
	})
}

func TestAuditEntriesFilter(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		st, es := auditedStore(t, db)
		ctx := context.Background()
		count := func(f audit.Filter) int {
			t.Helper()
			got, _, err := st.AuditEntries(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			return len(got)
		}
		if n := count(audit.Filter{Action: "order."}); n != 2 {
			t.Errorf("order.*: %d", n)
		}
		if n := count(audit.Filter{Action: "key.create"}); n != 1 {
			t.Errorf("key.create: %d", n)
		}
		if n := count(audit.Filter{Object: "order:1"}); n != 2 {
			t.Errorf("order:1: %d", n)
		}
		if n := count(audit.Filter{From: es[0].At, To: es[len(es)-1].At.Add(time.Microsecond)}); n != 5 {
			t.Errorf("[first, last]: %d", n)
		}
		if n := count(audit.Filter{To: es[0].At}); n != 0 {
			t.Errorf("before the first: %d", n)
		}
	})
}
