// Command aidmall-faults runs the fault harness (internal/faultharness): the bundle's year
// once quietly and once through --replicas `aidmall serve` replicas on PostgreSQL and a
// Redis of its own, with faulty malls, a replica killed and Redis restarted, and checks
// that the figures agree. It exits 1 when a check fails, 2 when a run could not be made.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"aidmall/internal/faultharness"
)

func main() {
	var o faultharness.Options
	flag.IntVar(&o.Replicas, "replicas", 3, "aidmall serve replicas behind the proxy")
	flag.DurationVar(&o.Duration, "duration", 4*time.Minute, "bound of the whole check (both runs)")
	flag.Uint64Var(&o.Seed, "seed", 0, "seed of the malls' faults (0: random)")
	flag.StringVar(&o.PostgresURL, "postgres", os.Getenv("AIDMALL_TEST_POSTGRES"), "PostgreSQL server URL; a fresh database is made there and dropped (default $AIDMALL_TEST_POSTGRES)")
	flag.BoolVar(&o.FailoverOptional, "failover-optional", false, "do not fail when no auto order placed while its mall was down moved to the other mall")
	flag.StringVar(&o.WorkDir, "keep", "", "keep the runs' files (logs, keys, SQLite) in this directory")
	flag.BoolVar(&o.KeepDatabase, "keep-db", false, "leave the fault run's PostgreSQL database")
	flag.StringVar(&o.Bin, "bin", "", "an aidmall binary to run (default: built from this repository)")
	flag.Parse()
	o.Out = os.Stdout
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.WorkDir != "" {
		if err := os.MkdirAll(o.WorkDir, 0o700); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	problems, err := faultharness.Check(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "aidmall-faults:", err)
		os.Exit(2)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
}
