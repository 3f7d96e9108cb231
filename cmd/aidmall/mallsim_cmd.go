package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"aidmall/adapters/mallsim"
)

// newMallsimCmd is the hidden `aidmall mallsim`: both simulated malls as their own process,
// with injected faults, for the fault harness (internal/faultharness). It reads the
// catalogue from the database (--db / DATABASE_URL, imported first), signs with the keys
// in --keys (mallsim.WritePEM's files), replays --bundle's statements, and prints one JSON
// line on stdout: {"ccb": URL, "abc": URL, "control": URL}; the control URL serves
// GET /sim/state and POST /sim/down?mall=ccb&for=20s. It runs until SIGINT or SIGTERM.
func newMallsimCmd(g *globals) *cobra.Command {
	var keyDir, bundle string
	var gap time.Duration
	var f mallsim.Faults
	cmd := &cobra.Command{
		Use:    "mallsim",
		Short:  "Both bank malls simulated, with faults, as their own process (for the fault harness)",
		Hidden: true,
		Args:   cobra.NoArgs,
	}
	cmd.Flags().StringVar(&keyDir, "keys", "", "directory of the eight PEM files (mallsim.WritePEM) (required)")
	cmd.Flags().StringVar(&bundle, "bundle", "", "a bundle folder whose statements script fulfilment (default: the default script)")
	cmd.Flags().DurationVar(&gap, "replay-gap", 0, "pause between one order's notifications")
	cmd.Flags().Uint64Var(&f.Seed, "seed", 0, "seed of the fault decisions (0: random)")
	cmd.Flags().Float64Var(&f.DupRate, "dup-rate", 0, "probability a notification is delivered again after its acknowledgement")
	cmd.Flags().BoolVar(&f.Reorder, "reorder", false, "send half of an order's consecutive notifications swapped")
	cmd.Flags().Float64Var(&f.FailRate, "fail-rate", 0, "probability an API request is answered 503 (half before, half after doing it)")
	cmd.Flags().Float64Var(&f.TooManyRate, "429-rate", 0, "probability an ABC API request is answered 429 with Retry-After: 1")
	cmd.Flags().Float64Var(&f.BadSignRate, "bad-sign-rate", 0, "probability a notification is first sent forged")
	cmd.Flags().Float64Var(&f.DelayRate, "delay-rate", 0, "probability an answer or a notification is held up to --max-delay")
	cmd.Flags().DurationVar(&f.MaxDelay, "max-delay", 0, "longest hold of --delay-rate")
	_ = cmd.MarkFlagRequired("keys")
	cmd.RunE = g.withApp(false, func(ctx context.Context, a *app, _ []string) error {
		keys, err := mallsim.ReadPEM(keyDir)
		if err != nil {
			return err
		}
		catalogue, err := a.store.Catalogue(ctx)
		if err != nil {
			return err
		}
		var script *mallsim.Script
		if bundle != "" {
			if script, err = mallsim.LoadScript(os.DirFS(bundle)); err != nil {
				return err
			}
		}
		sim, err := mallsim.Start(ctx, mallsim.Options{Keys: keys, Catalogue: catalogue, Script: script, ReplayGap: gap, Faults: f, Logger: a.log})
		if err != nil {
			return err
		}
		defer sim.Close()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: sim.ControlHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.log.Error("mallsim: control server stopped", "err", err)
			}
		}()
		defer srv.Close()
		line, _ := json.Marshal(map[string]string{"ccb": sim.CCBURL(), "abc": sim.ABCURL(), "control": "http://" + ln.Addr().String()})
		fmt.Fprintln(g.stdout, string(line))
		<-ctx.Done()
		return nil
	})
	return cmd
}
