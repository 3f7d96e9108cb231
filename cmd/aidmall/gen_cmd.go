package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"aidmall/examples"
	"aidmall/internal/gen"
)

// newGenCmd is `aidmall gen --scale N --out DIR`: a bundle N times the embedded one, for
// imports and load runs at scale (internal/gen).
func newGenCmd(g *globals) *cobra.Command {
	var (
		scale int
		out   string
		seed  uint64
	)
	cmd := &cobra.Command{
		Use:   "gen --scale N --out DIR",
		Short: "Write a data bundle N times the embedded one (every file of it; its figures exactly N times the base's)",
		Long: `Write a bundle in the formats of the embedded yichuan-dingbian-2019 bundle with N copies of
it: each copy has its own branches, suppliers, products, households (valid, unique resident
ID numbers), linkages, orders and both malls' statement events, so every figure of the year
is N times the base's. Copy 0 is the base itself. The same seed writes the same bytes.
Load it with: aidmall import bundle DIR; aidmall import orders DIR; aidmall import statement
DIR/statement-ccb.csv (and statement-abc.jsonl); or aidmall demo --bundle DIR.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("say where with --out DIR")
			}
			if scale < 1 || scale > gen.MaxScale {
				return fmt.Errorf("--scale %d: want 1 to %d", scale, gen.MaxScale)
			}
			err := gen.Write(examples.YichuanDingbian2019(), out, gen.Options{Ctx: cmd.Context(), Scale: scale, Seed: seed})
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "wrote %s: %d copies of yichuan-dingbian-2019 (seed %d)\n", out, scale, seed)
			return nil
		},
	}
	cmd.Flags().IntVar(&scale, "scale", 1, "copies of the base bundle")
	cmd.Flags().StringVar(&out, "out", "", "the folder to write (created if needed)")
	cmd.Flags().Uint64Var(&seed, "seed", 0, "picks the copies' birth dates; the same seed writes the same bytes")
	return cmd
}
