package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

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

// entries lists the names in dir.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// A gen that is stopped half way (Ctrl-C: its context ends) or fails leaves --out as it
// was: absent stays absent, a complete bundle stays that bundle byte for byte; nothing
// is left beside it.
func TestGenInterruptedLeavesOutAsItWas(t *testing.T) {
	t.Parallel()
	base := examples.YichuanDingbian2019()
	stopMidway := func() gen.Options {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		return gen.Options{Ctx: ctx, Scale: 3, Force: true, Progress: func(file string, done int) {
			if file == "households.csv" && done == 2 {
				cancel()
			}
		}}
	}
	t.Run("absent_stays_absent", func(t *testing.T) {
		t.Parallel()
		parent := t.TempDir()
		out := filepath.Join(parent, "bundle")
		if err := gen.Write(base, out, stopMidway()); !errors.Is(err, context.Canceled) {
			t.Fatalf("stopped gen: %v, want context.Canceled", err)
		}
		if left := entries(t, parent); len(left) != 0 {
			t.Fatalf("stopped gen left %v", left)
		}
	})
	t.Run("a_complete_bundle_stays_as_it_was", func(t *testing.T) {
		t.Parallel()
		parent := t.TempDir()
		out := filepath.Join(parent, "bundle")
		if err := gen.Write(base, out, gen.Options{Scale: 1}); err != nil {
			t.Fatal(err)
		}
		before := map[string][]byte{}
		for _, name := range gen.Files {
			before[name], _ = os.ReadFile(filepath.Join(out, name))
		}
		if err := gen.Write(base, out, stopMidway()); !errors.Is(err, context.Canceled) {
			t.Fatalf("stopped gen: %v, want context.Canceled", err)
		}
		// A base missing a file fails after the files before it were written.
		broken := fstest.MapFS{}
		for _, name := range gen.Files[:len(gen.Files)-1] {
			b, _ := fs.ReadFile(base, name)
			broken[name] = &fstest.MapFile{Data: b}
		}
		if err := gen.Write(broken, out, gen.Options{Scale: 2, Force: true}); err == nil {
			t.Fatal("gen from a base missing a file succeeded")
		}
		if left := entries(t, parent); !reflect.DeepEqual(left, []string{"bundle"}) {
			t.Fatalf("the failed gens left %v beside the bundle", left)
		}
		if got := entries(t, out); len(got) != len(gen.Files) {
			t.Fatalf("bundle holds %v after failed gens", got)
		}
		for _, name := range gen.Files {
			if got, _ := os.ReadFile(filepath.Join(out, name)); !bytes.Equal(got, before[name]) {
				t.Fatalf("%s changed by a failed gen", name)
			}
		}
	})
}

// gen refuses an --out that holds anything (naming it) and leaves it alone; with Force
// it replaces it whole (nothing of the old folder is left); an empty folder is written
// into; a file is refused.
func TestGenRefusesAFolderThatIsNotEmpty(t *testing.T) {
	t.Parallel()
	base := examples.YichuanDingbian2019()
	parent := t.TempDir()
	out := filepath.Join(parent, "bundle")
	if err := os.Mkdir(out, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := gen.Write(base, out, gen.Options{Scale: 1}); err != nil {
		t.Fatalf("an empty folder: %v", err)
	}
	mine := filepath.Join(out, "notes.txt")
	if err := os.WriteFile(mine, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := gen.Write(base, out, gen.Options{Scale: 2})
	if !errors.Is(err, gen.ErrNotEmpty) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("a folder with files: %v, want ErrNotEmpty mentioning --force", err)
	}
	if b, err := os.ReadFile(mine); err != nil || string(b) != "mine" {
		t.Fatalf("the refused folder changed: %q %v", b, err)
	}
	if err := gen.Write(base, out, gen.Options{Scale: 2, Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(mine); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("notes.txt after --force: %v, want the folder replaced whole", err)
	}
	if got := entries(t, out); len(got) != len(gen.Files) {
		t.Fatalf("replaced folder holds %v", got)
	}
	if left := entries(t, parent); !reflect.DeepEqual(left, []string{"bundle"}) {
		t.Fatalf("--force left %v beside the bundle", left)
	}
	file := filepath.Join(parent, "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := gen.Write(base, file, gen.Options{Scale: 1, Force: true}); err == nil || !strings.Contains(err.Error(), "not a folder") {
		t.Fatalf("a file as --out: %v, want it refused", err)
	}
}

// aidmall gen answers a --scale that is no whole number from 1 to gen.MaxScale with what
// was given and what is wanted (never strconv's words), refuses a full --out without
// --force, and counts its copies in good English.
func TestGenCommandMessages(t *testing.T) {
	t.Parallel()
	gencli := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"gen"}, args...), env(nil), &out, &errOut)
		return out.String(), err
	}
	dir := t.TempDir()
	for _, s := range []string{"abc", "0", "-3", "1.5", "10001", ""} {
		_, err := gencli("--scale", s, "--out", filepath.Join(dir, "x"))
		if err == nil || !strings.Contains(err.Error(), `"`+s+`"`) || !strings.Contains(err.Error(), "whole number from 1 to 10000") || strings.Contains(err.Error(), "strconv") {
			t.Errorf("--scale %q: %v, want what was given and a whole number from 1 to 10000", s, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a refused --scale wrote %s", filepath.Join(dir, "x"))
	}
	if _, err := gencli("--scale", "2"); err == nil || !strings.HasPrefix(err.Error(), "--out: ") {
		t.Errorf("gen without --out: %v, want the flag named", err)
	}
	out, err := gencli("--scale", "1", "--out", filepath.Join(dir, "one"))
	if err != nil || !strings.Contains(out, ": 1 copy of yichuan-dingbian-2019") {
		t.Fatalf("scale 1: %q %v, want 1 copy", out, err)
	}
	if _, err := gencli("--scale", "2", "--out", filepath.Join(dir, "one")); !errors.Is(err, gen.ErrNotEmpty) {
		t.Fatalf("gen over a full folder: %v, want ErrNotEmpty", err)
	}
	out, err = gencli("--scale", "2", "--out", filepath.Join(dir, "one"), "--force")
	if err != nil || !strings.Contains(out, ": 2 copies of yichuan-dingbian-2019") {
		t.Fatalf("scale 2 --force: %q %v, want 2 copies", out, err)
	}
}
