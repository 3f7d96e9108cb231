package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"aidmall/examples"
	"aidmall/internal/gen"
)

// newGenCmd is `aidmall gen --scale N --out DIR`: a bundle N times the embedded one, for
// imports and load runs at scale (internal/gen).
func newGenCmd(g *globals) *cobra.Command {
	var (
		scale string
		out   string
		seed  uint64
		force bool
	)
	cmd := &cobra.Command{
		Use:   "gen --scale N --out DIR",
		Short: "Write a data bundle N times the embedded one (every file of it; its figures exactly N times the base's)",
		Long: `Write a bundle in the formats of the embedded yichuan-dingbian-2019 bundle with N copies of
it: each copy has its own branches, suppliers, products, households (unique resident ID
numbers), linkages, orders and both malls' statement events, so every figure of the year
is N times the base's. Copy 0 is the base itself, and every copy repeats the base's rows
that are bad on purpose (three households rows). The same seed writes the same bytes.
The bundle is written beside DIR and renamed to DIR once complete: a run that fails or
is interrupted leaves DIR as it was. A DIR that is not empty is refused unless --force.
Load it with: aidmall import bundle DIR; aidmall import orders DIR; aidmall import statement
DIR/statement-ccb.csv (and statement-abc.jsonl); or aidmall demo --bundle DIR.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("--out: say which folder to write the bundle to, e.g. --out /tmp/n10")
			}
			n, err := gen.ParseScale(scale)
			if err != nil {
				return fmt.Errorf("--scale: %w", err)
			}
			err = gen.Write(examples.YichuanDingbian2019(), out, gen.Options{Ctx: cmd.Context(), Scale: n, Seed: seed, Force: force})
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "wrote %s: %s of yichuan-dingbian-2019 (seed %d)\n", out, gen.Copies(n), seed)
			return nil
		},
	}
	cmd.Flags().StringVar(&scale, "scale", "1", fmt.Sprintf("`N` copies of the base bundle, a whole number from 1 to %d", gen.MaxScale))
	cmd.Flags().StringVar(&out, "out", "", "the folder to write (created; one that is not empty is refused unless --force)")
	cmd.Flags().BoolVar(&force, "force", false, "replace --out and everything in it (once the new bundle is complete)")
	cmd.Flags().Uint64Var(&seed, "seed", 0, "picks the copies' birth dates; the same seed writes the same bytes")
	return cmd
}
