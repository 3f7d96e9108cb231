package main

import (
	"aidmall/orders"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"aidmall/adapters/sqlstore"
	"aidmall/money"
	"aidmall/reports"
)

// labelledReportSet gives a breakdown's mall keys the registered drivers' display names,
// as labelledReports does for the benefit report.
type labelledReportSet struct{ *sqlstore.Store }

func (r labelledReportSet) Breakdown(ctx context.Context, q reports.BreakdownQuery) (reports.Breakdown, error) {
	b, err := r.Store.Breakdown(ctx, q)
	if err != nil {
		return b, err
	}
	labels := drivers.Labels()
	for i, d := range b.By {
		if d != reports.ByMall {
			continue
		}
		for j := range b.Rows {
			if l, ok := labels[b.Rows[j].Keys[i]]; ok {
				b.Rows[j].Labels[i] = l
			}
		}
	}
	return b, nil
}

// periodFlags are the flags of a report's period (reports.ParsePeriod).
type periodFlags struct{ p reports.PeriodParams }

func (f *periodFlags) add(cmd *cobra.Command) {
	f.p.Flags = true
	cmd.Flags().StringVar(&f.p.From, "from", "", "first business day, YYYY-MM-DD (with --to)")
	cmd.Flags().StringVar(&f.p.To, "to", "", "last business day, YYYY-MM-DD (with --from)")
	cmd.Flags().StringVar(&f.p.Month, "month", "", "a month, YYYY-MM")
	cmd.Flags().StringVar(&f.p.Quarter, "quarter", "", "a quarter, YYYYQn")
	cmd.Flags().StringVar(&f.p.Year, "year", "", "a year, YYYY")
}

func (f *periodFlags) period() (reports.Period, error) {
	p, err := reports.ParsePeriod(f.p)
	return p, asFlags(err)
}

// flagsError is a report query's *orders.ValidationError as the command line says it:
// each field by its flag (--from), where the API names it by its JSON pointer (/from).
// Fields with the same detail are said once, with their flags together (--month, --year:
// give one of …); a field without a pointer is the command's, said without a flag.
type flagsError struct{ ve *orders.ValidationError }

func (e flagsError) Error() string {
	var details []string
	flags := map[string][]string{}
	for _, f := range e.ve.Fields {
		if !slices.Contains(details, f.Detail) {
			details = append(details, f.Detail)
		}
		if f.Pointer != "" {
			flags[f.Detail] = append(flags[f.Detail], "--"+strings.ReplaceAll(strings.TrimPrefix(f.Pointer, "/"), "/", "."))
		}
	}
	parts := make([]string, len(details))
	for i, d := range details {
		parts[i] = d
		if fl := flags[d]; len(fl) > 0 {
			parts[i] = strings.Join(fl, ", ") + ": " + d
		}
	}
	return strings.Join(parts, "; ")
}

func (e flagsError) Unwrap() error { return e.ve }

// asFlags is err with a validation error's fields named by their flags (flagsError); any
// other error, or nil, as it is.
func asFlags(err error) error {
	var ve *orders.ValidationError
	if errors.As(err, &ve) {
		return flagsError{ve}
	}
	return err
}

// addReportSetCmds adds indicators, breakdown, suppliers, unattributed and spending to
// the report command; each writes its report as report benefit does (--format
// table|json|csv|xlsx, --out, --charset, --headers: reportOutput).
func addReportSetCmds(g *globals, report *cobra.Command) {
	var year string
	var indOut reportOutput
	ind := &cobra.Command{
		Use:   "indicators",
		Short: "Responsibility-letter indicators (消费帮扶指标) of a year: per branch and for the group, with budgets and targets",
		Long: `The responsibility-letter indicators (定点帮扶责任书 消费帮扶指标) of --year (Beijing):
per branch and for the group, purchased (购买) and helped-to-sell (帮助销售) amounts,
households and people benefited, budget, used and percentage used; the group's targets
with the percentage reached.

` + reportFormatHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := reports.ParsePeriod(reports.PeriodParams{Year: year, Flags: true}) // a year whose days a report covers
			if err != nil {
				return asFlags(err)
			}
			y := p.From.Start().Year()
			if err := indOut.check(g); err != nil {
				return err
			}
			return g.withApp(false, func(ctx context.Context, a *app, _ []string) error {
				x, err := a.store.Indicators(ctx, y)
				if err != nil {
					return err
				}
				return indOut.write(g, "indicators", x)
			})(cmd, args)
		},
	}
	ind.Flags().StringVar(&year, "year", "", "the year, YYYY (required)")
	_ = ind.MarkFlagRequired("year")
	indOut.flags(ind)

	var by string
	var compare bool
	var bp periodFlags
	var bdOut reportOutput
	bd := &cobra.Command{
		Use:   "breakdown",
		Short: "Households, people, net amount and net units by one dimension or a pair (--by county,month)",
		Long: `Households and people benefited, net amount and net units over a period (--from and
--to, --month, --quarter or --year), by one dimension or a pair (--by county,month), with
--compare the same period a year before beside each row.

` + reportFormatHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := bp.period()
			if err != nil {
				return err
			}
			dims, err := reports.ParseDimensions(by)
			if err != nil {
				return asFlags(err)
			}
			if err := bdOut.check(g); err != nil {
				return err
			}
			return g.withApp(false, func(ctx context.Context, a *app, _ []string) error {
				b, err := labelledReportSet{a.store}.Breakdown(ctx, reports.BreakdownQuery{Period: p, By: dims, Compare: compare})
				if err != nil {
					return err
				}
				if b.Rows == nil {
					b.Rows = []reports.BreakdownRow{}
				}
				return bdOut.write(g, "breakdown", b)
			})(cmd, args)
		},
	}
	bd.Flags().StringVar(&by, "by", "county", "a dimension or a pair of county|category|sku|supplier|branch|mall|month|funding")
	bd.Flags().BoolVar(&compare, "compare", false, "show the same period a year before beside each row")
	bp.add(bd)
	bdOut.flags(bd)
	report.AddCommand(ind, bd)

	for _, r := range []struct {
		use, short string
		run        func(context.Context, *sqlstore.Store, reports.Period) (reports.Tabular, error)
	}{
		{"suppliers", "Every supplier's sales with its unattributed part and linked households", func(ctx context.Context, s *sqlstore.Store, p reports.Period) (reports.Tabular, error) {
			return s.SupplierSales(ctx, p)
		}},
		{"unattributed", "Unattributed sales (no linked household) by supplier", func(ctx context.Context, s *sqlstore.Store, p reports.Period) (reports.Tabular, error) {
			return s.Unattributed(ctx, p)
		}},
		{"spending", "Branch spending by month: placed, delivered, refunded, cancelled or rejected", func(ctx context.Context, s *sqlstore.Store, p reports.Period) (reports.Tabular, error) {
			return s.Spending(ctx, p)
		}},
	} {
		var pf periodFlags
		var out reportOutput
		c := &cobra.Command{
			Use: r.use, Short: r.short, Args: cobra.NoArgs,
			Long: r.short + ` over a period: --from and --to, --month, --quarter or --year (Beijing).

` + reportFormatHelp,
			RunE: func(cmd *cobra.Command, args []string) error {
				p, err := pf.period()
				if err != nil {
					return err
				}
				if err := out.check(g); err != nil {
					return err
				}
				return g.withApp(false, func(ctx context.Context, a *app, _ []string) error {
					v, err := r.run(ctx, a.store, p)
					if err != nil {
						return err
					}
					return out.write(g, r.use, v)
				})(cmd, args)
			},
		}
		pf.add(c)
		out.flags(c)
		report.AddCommand(c)
	}
}

// newTargetsCmd is "aidmall targets set|show": the group's yearly targets.
func newTargetsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "targets", Short: "The group's yearly targets of the responsibility letter (购买, 帮助销售)"}
	var year, purchased, helped, by string
	set := &cobra.Command{
		Use:   "set",
		Short: "Set a year's targets (yuan)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			y, err := reports.ParseYear(year)
			if err != nil {
				return fmt.Errorf("--year: %w", err)
			}
			p, err := money.ParseYuan(purchased)
			if err != nil {
				return fmt.Errorf("--purchased: %w", err)
			}
			h, err := money.ParseYuan(helped)
			if err != nil {
				return fmt.Errorf("--helped-sell: %w", err)
			}
			return g.withApp(true, func(ctx context.Context, a *app, _ []string) error {
				t := reports.Target{Year: y, PurchasedAmount: p, HelpedSellAmount: h, SetBy: by, SetAt: time.Now().UTC()}
				before, had, err := a.store.SetTarget(ctx, t)
				if err != nil {
					return err
				}
				if had {
					fmt.Fprintf(g.stdout, "targets %d: purchased %s → %s, helped to sell %s → %s\n", y, before.PurchasedAmount, p, before.HelpedSellAmount, h)
				} else {
					fmt.Fprintf(g.stdout, "targets %d set: purchased %s, helped to sell %s\n", y, p, h)
				}
				return nil
			})(cmd, args)
		},
	}
	set.Flags().StringVar(&year, "year", "", "the year, YYYY (required)")
	set.Flags().StringVar(&purchased, "purchased", "", "购买 target in yuan (required)")
	set.Flags().StringVar(&helped, "helped-sell", "", "帮助销售 target in yuan (required)")
	set.Flags().StringVar(&by, "by", "aid office (CLI)", "who sets them")
	for _, f := range []string{"year", "purchased", "helped-sell"} {
		_ = set.MarkFlagRequired(f)
	}
	cmd.AddCommand(set)
	return cmd
}
