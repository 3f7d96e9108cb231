package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"aidmall/bizday"
	"aidmall/config"
	"aidmall/examples"
	"aidmall/imports"
	"aidmall/internal/gen"
	"aidmall/orders"
	"aidmall/reports"
)

// aidmall gen --scale 1 is the embedded bundle itself, byte for byte, and the same seed
// writes the same bytes.
func TestGenScaleOneIsTheBase(t *testing.T) {
	t.Parallel()
	base := examples.YichuanDingbian2019()
	dir := t.TempDir()
	if err := gen.Write(base, dir, gen.Options{Scale: 1}); err != nil {
		t.Fatal(err)
	}
	for _, name := range gen.Files {
		want, _ := fs.ReadFile(base, name)
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: %d bytes (err %v), want the base's %d", name, len(got), err, len(want))
		}
	}
	a, b := t.TempDir(), t.TempDir()
	for _, d := range []string{a, b} {
		if err := gen.Write(base, d, gen.Options{Scale: 4, Seed: 7}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range gen.Files {
		x, _ := os.ReadFile(filepath.Join(a, name))
		y, _ := os.ReadFile(filepath.Join(b, name))
		if !bytes.Equal(x, y) {
			t.Fatalf("%s differs between two runs of the same seed", name)
		}
	}
}

// A bundle of three copies, imported as the CLI imports it (import bundle, import orders,
// import statement for both malls) on SQLite, reports exactly three times the base year:
// amounts, households and people (each copy its own households), and every row by county,
// month, mall and funding; by supplier, SKU and branch three times the rows.
func TestGenScaleThreeReportsThreeTimesTheBase(t *testing.T) {
	t.Parallel()
	one, three := t.TempDir(), t.TempDir()
	if err := gen.Write(examples.YichuanDingbian2019(), one, gen.Options{Scale: 1}); err != nil {
		t.Fatal(err)
	}
	if err := gen.Write(examples.YichuanDingbian2019(), three, gen.Options{Scale: 3, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	year := func(dir string, n int) map[string]reports.Benefit {
		ctx := context.Background()
		cfg := config.Defaults()
		cfg.DataDir = t.TempDir()
		cfg.DatabaseURL = filepath.Join(cfg.DataDir, "aidmall.db")
		a, err := openApp(ctx, cfg, slog.New(slog.DiscardHandler), true)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		bundle := os.DirFS(dir)
		reg, err := a.registry(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		reps, err := reg.ImportBundle(ctx, bundle, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range reps {
			t.Logf("scale %d %s: %d rows, %d loaded, %d errors", n, r.File, r.Rows, r.Loaded, len(r.Errors))
		}
		svc, err := orders.NewService(a.store, drivers.Infos(drivers.Codes()), nil)
		if err != nil {
			t.Fatal(err)
		}
		h, err := importHistory(ctx, svc, bundle)
		if err != nil || len(h.Errors) > 0 || h.Created != 238*n {
			t.Fatalf("scale %d history: %+v %v", n, h, err)
		}
		for _, m := range []orders.Mall{"ccb", "abc"} {
			d, _ := drivers.Driver(m)
			name := "statement-ccb.csv"
			if m == "abc" {
				name = "statement-abc.jsonl"
			}
			f, err := os.Open(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			rep, err := imports.Statement(ctx, svc, a.store, d.ParseStatement, m, name, f, true)
			f.Close()
			if err != nil || rep.Tally.Parked != 0 {
				t.Fatalf("scale %d %s: %+v %v", n, name, rep, err)
			}
		}
		out := map[string]reports.Benefit{}
		for _, by := range []string{"county", "month", "mall", "funding", "supplier", "sku", "branch"} {
			b, _ := reports.ParseBy(by)
			got, err := a.store.Benefit(ctx, reports.Query{From: bizday.MustParse("2019-01-01"), To: bizday.MustParse("2019-12-31"), By: b})
			if err != nil {
				t.Fatal(err)
			}
			out[by] = got
		}
		return out
	}
	base, scaled := year(one, 1), year(three, 3)
	for by, b := range base {
		s := scaled[by]
		w := b.Totals
		w.Households, w.People = 3*w.Households, 3*w.People
		w.PurchasedAmount, w.HelpedSellAmount, w.UnattributedAmount = 3*w.PurchasedAmount, 3*w.HelpedSellAmount, 3*w.UnattributedAmount
		w.DeliveredAmount, w.RefundedAmount = 3*w.DeliveredAmount, 3*w.RefundedAmount
		if b.Totals.Households == 0 || b.Totals.PurchasedAmount <= 0 {
			t.Fatalf("base year is empty: %+v", b.Totals)
		}
		if s.Totals != w {
			t.Fatalf("by %s totals:\n got  %+v\n want 3× %+v", by, s.Totals, b.Totals)
		}
		switch by {
		case "supplier", "sku", "branch":
			if len(s.Rows) != 3*len(b.Rows) {
				t.Fatalf("by %s: %d rows, want 3×%d", by, len(s.Rows), len(b.Rows))
			}
		default:
			if len(s.Rows) != len(b.Rows) {
				t.Fatalf("by %s: %d rows, want %d", by, len(s.Rows), len(b.Rows))
			}
			for i, r := range b.Rows {
				g := s.Rows[i]
				if g.Key != r.Key || g.Households != 3*r.Households || g.People != 3*r.People || g.NetAmount != 3*r.NetAmount {
					t.Fatalf("by %s row %d:\n got  %+v\n want 3× %+v", by, i, g, r)
				}
			}
		}
	}
	t.Logf("2019 at scale 3: %+v", scaled["county"].Totals)
}

// gen refuses a scale past gen.MaxScale, and stops (with the reason) when its context
// ends, leaving no half-written file behind.
func TestGenIsBounded(t *testing.T) {
	dir := t.TempDir()
	if err := gen.Write(examples.YichuanDingbian2019(), dir, gen.Options{Scale: gen.MaxScale + 1}); err == nil {
		t.Fatalf("scale %d written; want a refusal", gen.MaxScale+1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := gen.Write(examples.YichuanDingbian2019(), dir, gen.Options{Ctx: ctx, Scale: 2})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled gen: %v, want context.Canceled", err)
	}
	left, _ := os.ReadDir(dir)
	for _, e := range left {
		t.Errorf("cancelled gen left %s", e.Name())
	}
}
