package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"aidmall/money"
	"aidmall/orders"
)

// checkBudgetYearFlag refuses an import of a branches file that names no budget year: the
// file's budget column is the budget of one year, and guessing it would set the wrong one.
func checkBudgetYearFlag(year int) error {
	if year == 0 {
		return errors.New("say which year the budget column is for: --budget-year YEAR")
	}
	if year < orders.MinBudgetYear || year > orders.MaxBudgetYear {
		return fmt.Errorf("--budget-year must be from %d to %d", orders.MinBudgetYear, orders.MaxBudgetYear)
	}
	return nil
}

// bundleBudgetYear is the year a bundle's branches budgets are stored for: flag when
// given, else the bundle's year — the Beijing year most of its orders.csv's orders were
// placed in (2019 for yichuan-dingbian-2019, whose orders.csv starts in late 2018).
func bundleBudgetYear(bundle fs.FS, flag int) (int, error) {
	if flag != 0 {
		return flag, checkBudgetYearFlag(flag)
	}
	rows, err := readCSV(bundle, "orders.csv")
	if errors.Is(err, fs.ErrNotExist) {
		return 0, errors.New("the bundle has no orders.csv to tell its year: say --budget-year YEAR")
	}
	if err != nil {
		return 0, err
	}
	count := map[int]int{}
	best := 0
	for _, r := range rows {
		t, err := time.Parse(time.RFC3339, r["placed_at"])
		if err != nil {
			continue
		}
		y := orders.BudgetYear(t)
		count[y]++
		if best == 0 || count[y] > count[best] || count[y] == count[best] && y > best {
			best = y
		}
	}
	if best == 0 {
		return 0, errors.New("the bundle's orders.csv tells no year: say --budget-year YEAR")
	}
	return best, nil
}

func newBudgetCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "budget", Short: "Branch budgets per year (union_funds orders use them)"}
	var year int
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "Each branch's budget for a year, what its union_funds orders use and what remains",
		Args:  cobra.NoArgs,
		RunE: g.withApp(true, func(ctx context.Context, a *app, _ []string) error {
			svc, err := orders.NewService(a.store, drivers.Infos(drivers.Codes()), nil)
			if err != nil {
				return err
			}
			bs, err := svc.Budgets(ctx, cliCaller(ctx, ""), year)
			if err != nil {
				return asFlags(err) // a year out of range: --year
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(bs)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintf(tw, "branch\tyear\tbudget\tused\tremaining\t\n")
			for _, b := range bs {
				budget, remaining := "no budget", "not limited"
				if b.Budget != nil {
					budget, remaining = b.Budget.String(), b.Remaining.String()
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t\n", b.BranchCode, b.Year, budget, b.Used, remaining)
			}
			return tw.Flush()
		}),
	}
	list.Flags().IntVar(&year, "year", orders.BudgetYear(time.Now()), "the budget year (Beijing)")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	set := &cobra.Command{
		Use:   "set BRANCH YEAR AMOUNT",
		Short: "Set a branch's budget for a year (AMOUNT in yuan, e.g. 928000.00)",
		Args:  cobra.ExactArgs(3),
		RunE: g.withApp(true, func(ctx context.Context, a *app, args []string) error {
			y, err := strconv.Atoi(args[1])
			if err != nil {
				return fmt.Errorf("YEAR %q is not a year", args[1])
			}
			amount, err := money.ParseYuan(args[2])
			if err != nil {
				return fmt.Errorf("AMOUNT %q: %w", args[2], err)
			}
			svc, err := orders.NewService(a.store, drivers.Infos(drivers.Codes()), nil)
			if err != nil {
				return err
			}
			b, before, err := svc.SetBudget(ctx, cliCaller(ctx, ""), args[0], y, amount)
			if err != nil {
				return err
			}
			was := "no budget"
			if before != nil {
				was = before.String()
			}
			fmt.Fprintf(g.stdout, "branch %s %d budget %s (was %s); used %s, remaining %s\n", b.BranchCode, b.Year, b.Budget, was, b.Used, b.Remaining)
			return nil
		}),
	}
	cmd.AddCommand(list, set)
	return cmd
}
