package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

// newRollupsCmd is `aidmall rollups verify|rebuild`: the reports' rollups of the ledger
// (adapters/sqlstore rollups.go), checked against or recomputed from the ledger.
func newRollupsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "rollups", Short: "The ledger rollups and benefit figures the reports read: verify them against the ledger, or rebuild them"}
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Recompute every rollup and benefit figure from the ledger, the events and the registry: exit 1 naming the rows that differ",
		Args:  cobra.NoArgs,
		RunE: g.withApp(false, func(ctx context.Context, a *app, _ []string) error {
			diffs, total, err := a.store.VerifyRollups(ctx)
			if err != nil {
				return err
			}
			for i, d := range diffs {
				if i == 20 {
					fmt.Fprintf(g.stdout, "… and %d more\n", total-i)
					break
				}
				fmt.Fprintf(g.stdout, "%s %s: rollup %q, ledger %q\n", d.Table, d.Key, d.Have, d.Want)
			}
			if total > 0 {
				return fmt.Errorf("%d rollup rows differ from the ledger: run `aidmall rollups rebuild`", total)
			}
			fmt.Fprintln(g.stdout, "rollups agree with the ledger")
			return nil
		}),
	}
	rebuild := &cobra.Command{
		Use:   "rebuild",
		Short: "Recompute every rollup and benefit figure from the ledger, the events and the registry, in one transaction",
		Args:  cobra.NoArgs,
		RunE: g.withApp(false, func(ctx context.Context, a *app, _ []string) error {
			if err := a.store.RebuildRollups(ctx); err != nil {
				return err
			}
			if err := a.store.Analyze(ctx); err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, "rollups rebuilt from the ledger")
			return nil
		}),
	}
	cmd.AddCommand(verify, rebuild)
	return cmd
}
