package main

import (
	"bytes"
	"context"
	"io/fs"
	"log/slog"
	"path/filepath"
	"testing"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/config"
	"aidmall/examples"
	"aidmall/orders"
)

// The offline path — registry, order history, then the malls' statements, or the
// statements first (their events wait for their orders) — gives the same year as the
// rules, and loading the history again changes nothing.
func TestHistoryAndStatementsGiveTheYearOfTheRules(t *testing.T) {
	for _, statementsFirst := range []bool{false, true} {
		name := "orders_then_statements"
		if statementsFirst {
			name = "statements_then_orders"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := t.TempDir()
			cfg := config.Defaults()
			cfg.DataDir = dir
			cfg.DatabaseURL = filepath.Join(dir, "aidmall.db")
			a, err := openApp(ctx, cfg, slog.New(slog.DiscardHandler), true)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			bundle := examples.YichuanDingbian2019()
			reg, err := a.registry(ctx, true)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := reg.ImportBundle(ctx, bundle, false); err != nil {
				t.Fatal(err)
			}
			svc, err := orders.NewService(a.store, drivers.Infos(drivers.Codes()), nil)
			if err != nil {
				t.Fatal(err)
			}
			statements := func() {
				b, _ := fs.ReadFile(bundle, "statement-ccb.csv")
				ce, bad, err := ccb.ParseStatement(bytes.NewReader(b))
				if err != nil || len(bad) > 0 {
					t.Fatal(err, bad)
				}
				b, _ = fs.ReadFile(bundle, "statement-abc.jsonl")
				ae, bad2, err := abc.ParseStatement(bytes.NewReader(b))
				if err != nil || len(bad2) > 0 {
					t.Fatal(err, bad2)
				}
				for _, e := range append(ce, ae...) {
					if _, err := svc.Apply(ctx, e); err != nil {
						t.Fatal(err)
					}
				}
			}
			history := func() historyReport {
				rep, err := importHistory(ctx, svc, bundle)
				if err != nil || len(rep.Errors) > 0 {
					t.Fatalf("history: %v %v", err, rep.Errors)
				}
				return rep
			}
			if statementsFirst {
				statements()
				if p, _ := a.store.Progress(ctx); p.Parked != p.Events || p.Events == 0 {
					t.Fatalf("before any order every event should wait: %+v", p)
				}
				history()
			} else {
				history()
				statements()
			}
			if again := history(); again.Created != 0 || again.Unchanged != 238 {
				t.Fatalf("loading the history again: %+v", again)
			}
			p, err := a.store.Progress(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if p.Orders != 238 || p.Parked != 0 || p.Undispatched != 0 {
				t.Fatalf("after loading: %+v", p)
			}
			assertYearReport(t, a.store)
			assertIndependent(t, a.store)
		})
	}
}
