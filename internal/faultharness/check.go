package faultharness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"aidmall/internal/repo"
)

// Options are a whole check: the quiet run, then the fault run, then the comparison.
type Options struct {
	Root     string        // the repository (default: repo.Root())
	WorkDir  string        // where both runs keep their files (default: a temporary directory, removed)
	Bin      string        // a built aidmall binary (default: built into WorkDir)
	Replicas int           // replicas of the fault run (default 3)
	Duration time.Duration // bound of the whole check (default 4m)
	Seed     uint64        // the malls' fault seed (0: random)
	// PostgresURL is the server the fault run makes its database on (required).
	PostgresURL string
	// FailoverOptional: no failover is required. By default the check fails when auto
	// orders were placed while their mall was down (our simulator; the sandbox cannot be
	// taken down) and none moved to the other mall.
	FailoverOptional bool
	// Malls, when set, replace our simulator in the fault run (the reference sandbox).
	Malls Malls
	Out   io.Writer // progress, counts and problems (default: discard)
	// KeepDatabase leaves the fault run's PostgreSQL database (its name is printed).
	KeepDatabase bool
	// Quiet is the quiet run's result when already made (QuietRun); nil: Check makes it.
	Quiet *Result
}

// Check runs the bundle quietly (one process, SQLite, no faults) and then under faults
// (Replicas replicas on PostgreSQL and Redis), compares them and prints the counts. It
// returns the problems found (none: the service came through) or an error when a run
// could not be made.
func Check(ctx context.Context, o Options) ([]string, error) {
	if o.Root == "" {
		o.Root = repo.Root()
	}
	if o.Replicas == 0 {
		o.Replicas = 3
	}
	if o.Duration == 0 {
		o.Duration = 4 * time.Minute
	}
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	if o.PostgresURL == "" {
		return nil, fmt.Errorf("faultharness: a PostgreSQL URL is required (AIDMALL_TEST_POSTGRES or --postgres)")
	}
	if o.WorkDir == "" {
		dir, err := os.MkdirTemp("", "aidmall-faults-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		o.WorkDir = dir
	}
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	if o.Bin == "" {
		fmt.Fprintln(out, "building aidmall …")
		bin, err := Build(ctx, o.Root, o.WorkDir)
		if err != nil {
			return nil, err
		}
		o.Bin = bin
	}

	var quiet Result
	if o.Quiet != nil {
		fmt.Fprintln(out, "1. quiet run: given")
		quiet = *o.Quiet
	} else {
		fmt.Fprintln(out, "1. quiet run: one process, SQLite, no faults")
		var err error
		if quiet, err = QuietRun(ctx, o.Bin, o.Root, filepath.Join(o.WorkDir, "quiet"), out); err != nil {
			return nil, err
		}
	}
	problems := prefixed("quiet run: ", quiet.Problems)

	fmt.Fprintf(out, "2. fault run: %d replicas, PostgreSQL, Redis of its own, faults at the malls\n", o.Replicas)
	faulty, err := Run(ctx, Config{Bin: o.Bin, Root: o.Root, WorkDir: filepath.Join(o.WorkDir, "faults"), Replicas: o.Replicas,
		PostgresURL: o.PostgresURL, Faults: true, Seed: o.Seed, Malls: o.Malls, Log: out, KeepDatabase: o.KeepDatabase})
	if err != nil {
		return problems, fmt.Errorf("fault run: %w", err)
	}
	problems = append(problems, faulty.Problems...)
	problems = append(problems, Compare(quiet, faulty)...)
	if !o.FailoverOptional && faulty.Counts.ExtraOrders > 0 && faulty.Counts.Failovers == 0 {
		problems = append(problems, fmt.Sprintf("no failover: %d auto orders were placed while their mall was down and none moved to the other mall", faulty.Counts.ExtraOrders))
	}

	fmt.Fprintf(out, "\n3. the %d report (GET /v1/reports/benefit), the same in both runs: %v\n", Year, len(Compare(quiet, faulty)) == 0)
	for _, by := range []string{"county", "category"} {
		fmt.Fprintf(out, "by %s:\n%s\n", by, faulty.Report[by])
	}
	counts, _ := json.MarshalIndent(faulty.Counts, "", "  ")
	fmt.Fprintf(out, "\n4. counts of the fault run:\n%s\n", counts)
	c := faulty.Counts
	fmt.Fprintf(out, "   failovers %d of %d auto orders placed while their mall was down; dispatch_failed %d; 429 answers %d, retried %d (none before its Retry-After); jobs left running by the killed replica and rescued by River %d\n",
		c.Failovers, c.ExtraOrders, c.DispatchFailed, c.Throttled, c.ThrottledRetries, c.RescuedJobs)
	if len(problems) == 0 {
		fmt.Fprintln(out, "\nOK: every check passed")
	} else {
		fmt.Fprintf(out, "\n%d problems:\n", len(problems))
		for _, p := range problems {
			fmt.Fprintln(out, " -", p)
		}
	}
	return problems, nil
}

func prefixed(p string, ss []string) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		out = append(out, p+s)
	}
	return out
}

// QuietRun runs the bundle in one replica on SQLite with no faults: the figures a fault
// run must reproduce.
func QuietRun(ctx context.Context, bin, root, workDir string, log io.Writer) (Result, error) {
	res, err := Run(ctx, Config{Bin: bin, Root: root, WorkDir: workDir, Replicas: 1, Log: log})
	if err != nil {
		return res, fmt.Errorf("quiet run: %w", err)
	}
	return res, nil
}
