package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"aidmall/adapters/registryfile"
	"aidmall/households"
	"aidmall/imports"
	"aidmall/orders"
)

// newImportLinkagesCmd is `aidmall import linkages [--dry-run] FILE`.
func newImportLinkagesCmd(g *globals, strict, progress *bool) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "linkages FILE",
		Short: "Import a linkages file; it prints what it changed in money per period (--dry-run: what it would, storing nothing)",
		Long: `Import benefit linkages (利益联结). A clean file is each named supplier's whole set. The
ledger follows: every order of a changed supplier is worked out again, and what moved is
printed per household and month, closed periods first; the share of closed periods is
booked on the adjustment day (ATTRIBUTION.md §5). With --dry-run the same work is done and
rolled back: nothing is stored.`,
		Args:    cobra.ExactArgs(1),
		PreRunE: importInput("linkages", false),
		RunE: g.withApp(true, func(ctx context.Context, a *app, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			// The file is read as a stream: a progress bar with the rows read, as for households.
			bar := newImportBar(g, *progress, args[0], "linkages")
			newRegistry := func(st households.RegistryStore) (*households.Registry, error) {
				return newLinkageRegistry(st, households.WithProgress(bar.rows))
			}
			rep, changes, err := imports.Linkages(ctx, a.store, newRegistry, args[0], bar.reader(f), *strict, dryRun)
			bar.finish()
			if err != nil {
				return err
			}
			if dryRun {
				fmt.Fprintln(g.stdout, "DRY RUN — nothing was stored. The file would do this:")
			}
			rep.WriteText(g.stdout)
			writeChanges(g.stdout, changes, dryRun)
			return refusedErr(rep)
		}),
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what the file would change, per household and period, and store nothing")
	return cmd
}

// linkageRegistry is the registry a linkages import runs through, over st (the store of
// imports.Linkages): linkages hold no personal data, so nothing is sealed.
func linkageRegistry(st households.RegistryStore) (*households.Registry, error) {
	return newLinkageRegistry(st)
}

// newLinkageRegistry is linkageRegistry with options (the command's progress bar).
func newLinkageRegistry(st households.RegistryStore, opts ...households.RegistryOption) (*households.Registry, error) {
	return households.NewRegistry(st, noSealer{}, append([]households.RegistryOption{households.WithMalls(mallCodes()...),
		households.WithFileDecoder(registryfile.Decoder{})}, opts...)...)
}

// writeChanges prints what a linkages import moved in the ledger: per period, then per
// household and period (closed periods first).
func writeChanges(w io.Writer, ch orders.Changes, dryRun bool) {
	verb := "changed"
	if dryRun {
		verb = "would change"
	}
	if len(ch.Rows) == 0 {
		fmt.Fprintf(w, "The ledger: nothing %s (no money moves).\n", map[bool]string{true: "would change", false: "changed"}[dryRun])
		return
	}
	fmt.Fprintf(w, "The ledger %s, per month (yuan):\n", verb)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "month\tstate\tgained\tlost\tnet\t")
	for _, p := range ch.Periods() {
		state := "open"
		if p.Closed {
			state = "closed → " + ch.AdjustmentDay.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", p.Month, state, p.Gained, p.Lost, p.Net)
	}
	tw.Flush()
	if ch.ToAdjustment != 0 {
		fmt.Fprintf(w, "To the adjustment day %s: %s moved (net %s); closed periods' figures stay as filed.\n",
			ch.AdjustmentDay, ch.ToAdjustment, ch.AdjustmentNet)
	}
	fmt.Fprintln(w, "Per household and month (yuan; 未归属 = unattributed):")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "household\tmonth\tstate\tamount\t")
	for _, r := range ch.Rows {
		hh := string(r.HouseholdNo)
		if hh == "" {
			hh = "未归属"
		}
		state := "open"
		if r.Closed {
			state = "closed"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", hh, r.Month, state, r.Amount)
	}
	tw.Flush()
}
