package main

import (
	"aidmall/audit"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"aidmall/adapters/sqlstore"
	"aidmall/attribution"
	"aidmall/bizday"
	"aidmall/households"
	"aidmall/orders"
)

// periodsAPI serves api.Periods: the use cases of orders.Service and the store's reads.
type periodsAPI struct {
	svc *orders.Service
	*sqlstore.Store
}

func (p periodsAPI) ClosePeriod(ctx context.Context, c orders.Caller, name, reason string) (attribution.ClosedPeriod, error) {
	return p.svc.ClosePeriod(ctx, c, name, reason)
}

func (p periodsAPI) ReopenPeriod(ctx context.Context, c orders.Caller, name, reason string) (attribution.ClosedPeriod, error) {
	return p.svc.ReopenPeriod(ctx, c, name, reason)
}

// cliCaller is who acts from the command line: the aid office, named by --by (default the
// login name).
func cliCaller(ctx context.Context, by string) orders.Caller {
	name := audit.ActorFrom(ctx).Name // cli:<login>, put there by withApp
	if by != "" {
		name = "cli:" + by
	}
	return orders.Caller{Name: name, Role: orders.RoleAidOffice}
}

// newPeriodCmd is `aidmall period close|reopen|list`.
func newPeriodCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "period", Short: "Close and reopen months and years (filed figures stay as filed)"}
	var reason, by string
	change := func(reopen bool) func(*cobra.Command, []string) error {
		return g.withApp(false, func(ctx context.Context, a *app, args []string) error {
			svc, err := orders.NewService(a.store, drivers.Infos(drivers.Codes()), nil)
			if err != nil {
				return err
			}
			do, verb := svc.ClosePeriod, "closed"
			if reopen {
				do, verb = svc.ReopenPeriod, "reopened"
			}
			p, err := do(ctx, cliCaller(ctx, by), args[0], reason)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s %s (%s to %s): %s\n", verb, p.Name, p.First, p.Last, reason)
			return nil
		})
	}
	closeCmd := &cobra.Command{Use: "close PERIOD", Short: "Close a year (YYYY) or a month (YYYY-MM), Beijing time", Args: cobra.ExactArgs(1), RunE: change(false)}
	reopenCmd := &cobra.Command{Use: "reopen PERIOD", Short: "Reopen the latest closed period", Args: cobra.ExactArgs(1), RunE: change(true)}
	for _, c := range []*cobra.Command{closeCmd, reopenCmd} {
		c.Flags().StringVar(&reason, "reason", "", "why (required, recorded)")
		c.Flags().StringVar(&by, "by", "", "who acts (default: the login name)")
		_ = c.MarkFlagRequired("reason")
		cmd.AddCommand(c)
	}
	cmd.AddCommand(&cobra.Command{
		Use: "list", Short: "Every period closed, reopened ones too, latest first", Args: cobra.NoArgs,
		RunE: g.withApp(false, func(ctx context.Context, a *app, _ []string) error {
			ps, err := a.store.Periods(ctx)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "期间 period\t从 from\t到 to\t关闭 closed at\t由 by\t原因 reason\t重开 reopened")
			for _, p := range ps {
				re := ""
				if p.ReopenedAt != nil {
					re = fmt.Sprintf("%s by %s: %s", p.ReopenedAt.In(bizday.Beijing).Format("2006-01-02 15:04"), p.ReopenedBy, p.ReopenReason)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.First, p.Last, p.ClosedAt.In(bizday.Beijing).Format("2006-01-02 15:04"),
					p.ClosedBy, p.Reason, re)
			}
			return w.Flush()
		}),
	})
	return cmd
}

// newHouseholdCmd is `aidmall household provenance NO`.
func newHouseholdCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "household", Short: "One household's figures (aid office; personal data masked)"}
	var asJSON bool
	var pf periodFlags
	prov := &cobra.Command{
		Use: "provenance NO", Short: "Every ledger entry behind a household's net benefit in a period", Args: cobra.ExactArgs(1),
		RunE: g.withApp(false, func(ctx context.Context, a *app, args []string) error {
			per, err := pf.period()
			if err != nil {
				return err
			}
			p, err := a.store.Provenance(ctx, households.HouseholdNo(args[0]), per.From, per.To)
			if errors.Is(err, orders.ErrNotFound) {
				return fmt.Errorf("household %s: not found in the registry", args[0])
			} else if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(g.stdout).Encode(p)
			}
			fmt.Fprintf(g.stdout, "户 %s (证件 %s) %s 至 %s: 净额 net %s, %d entries\n", p.HouseholdNo, p.IDNumber, p.From, p.To, p.NetAmount, len(p.Entries))
			w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(w, "day\tamount\tkind\torder_ref\tline\tsku\tmall\tevent\tsupplier\tlinkage\tweight\t")
			for _, e := range p.Entries {
				day := e.Day.String()
				if e.Concerns != nil {
					day += " (for " + e.Concerns.String() + ")"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", day, e.Amount, e.Kind, e.OrderRef, e.LineNo, e.SKU, e.Mall,
					e.MallEventID, e.Supplier, orDash(strings.Join(e.LinkageTypes, ",")), orDash(e.Weight))
			}
			return w.Flush()
		}),
	}
	pf.add(prov)
	prov.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(prov)
	return cmd
}

// newHouseholdsReportCmd is `aidmall report households`.
func newHouseholdsReportCmd(g *globals) *cobra.Command {
	var pf periodFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use: "households", Short: "Per-household net benefit in a period (masked ID, people, linked suppliers)", Args: cobra.NoArgs,
		RunE: g.withApp(false, func(ctx context.Context, a *app, _ []string) error {
			per, err := pf.period()
			if err != nil {
				return err
			}
			h, err := a.store.HouseholdsReport(ctx, per.From, per.To)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(g.stdout).Encode(h)
			}
			fmt.Fprintf(g.stdout, "%s 至 %s: 受益户数 %d, 人口 %d, 净额 %s\n", h.From, h.To, h.Totals.Households, h.Totals.People, h.Totals.NetAmount)
			w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "户编号\t证件号码\t人口\t净额\t受益\t联结主体")
			for _, r := range h.Rows {
				benefited := "否"
				if r.Benefited {
					benefited = "是"
				}
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\n", r.HouseholdNo, r.IDNumber, r.Members, r.NetAmount, benefited, orDash(strings.Join(r.Suppliers, ",")))
			}
			return w.Flush()
		}),
	}
	pf.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// orDash is s, or "-" for an empty cell of a table for people.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
