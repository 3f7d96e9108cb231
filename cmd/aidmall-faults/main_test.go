package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"aidmall/internal/faultharness"
	"aidmall/internal/repo"
	"aidmall/internal/sandboxtest"
)

// need skips the test when a service the harness needs is missing, and fails it instead
// under CI=true. It returns the PostgreSQL URL.
func need(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("fault harness: skipped in -short mode (builds aidmall, runs replicas for minutes)")
	}
	missing := func(why string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("fault harness: %s (CI=true: required)", why)
		}
		t.Skipf("fault harness: %s", why)
	}
	pg := os.Getenv("AIDMALL_TEST_POSTGRES")
	if pg == "" {
		missing("AIDMALL_TEST_POSTGRES is not set (a PostgreSQL server URL; the harness makes and drops its own database)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg)
	if err != nil {
		missing("PostgreSQL at AIDMALL_TEST_POSTGRES does not answer: " + err.Error())
	}
	conn.Close(ctx)
	if _, err := exec.LookPath("redis-server"); err != nil {
		missing("redis-server is not on PATH (the harness starts and restarts a Redis of its own)")
	}
	return pg
}

// shared is the aidmall binary and the quiet run, made once for both tests.
var shared struct {
	once  sync.Once
	bin   string
	quiet faultharness.Result
	err   error
}

func quiet(t *testing.T) (string, *faultharness.Result) {
	t.Helper()
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "aidmall-faults-test-")
		if err != nil {
			shared.err = err
			return
		}
		// Removed by TestMain's exit: the binary serves both tests.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		root := repo.Root()
		if shared.bin, shared.err = faultharness.Build(ctx, root, dir); shared.err != nil {
			return
		}
		shared.quiet, shared.err = faultharness.QuietRun(ctx, shared.bin, root, filepath.Join(dir, "quiet"), os.Stderr)
		tmpDirs = append(tmpDirs, dir)
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	if len(shared.quiet.Problems) > 0 {
		t.Fatalf("quiet run: %v", shared.quiet.Problems)
	}
	return shared.bin, &shared.quiet
}

var tmpDirs []string

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range tmpDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// Three replicas on PostgreSQL and Redis, malls that duplicate, reorder, fail, throttle,
// forge and delay, CCB down while auto orders are placed, a replica SIGKILLed and
// restarted, Redis restarted: the 2019 report, every event's state and the ledger are the
// quiet run's; every out_order_no was created once; every notification was applied once;
// no 5xx while every replica was up; at least one auto order moved to ABC while CCB was
// down, each move checked at both malls and on its timeline; no order dispatch_failed, or
// at its mall but not recorded as submitted; no retry before a 429's Retry-After; the jobs
// the killed replica left running were run again by River (AIDMALL_JOB_RESCUE_AFTER).
func TestFaultHarness(t *testing.T) {
	pg := need(t)
	bin, q := quiet(t)
	problems, err := faultharness.Check(context.Background(), faultharness.Options{
		Bin: bin, WorkDir: t.TempDir(), Replicas: 3, Duration: 4 * time.Minute, PostgresURL: pg, Quiet: q,
		Out: t.Output(),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// The reference sandbox, an independent counterparty, with its own faults (duplicates,
// reordering, 20% failing calls, forged signatures) against three replicas: the report is
// the quiet single-process run's, and no buyer reference has a second order.
func TestFaultHarnessSandbox(t *testing.T) {
	pg := need(t)
	sb := sandboxtest.Start(t, "--dup-rate", "0.3", "--reorder", "--fail-rate", "0.2", "--bad-sign-rate", "0.1",
		"--replay-gap", "20ms", "--quiet")
	bin, q := quiet(t)
	problems, err := faultharness.Check(context.Background(), faultharness.Options{
		Bin: bin, WorkDir: t.TempDir(), Replicas: 3, Duration: 4 * time.Minute, PostgresURL: pg, Quiet: q,
		Malls: faultharness.SandboxMalls{CCBURL: sb.CCBURL, ABCURL: sb.ABCURL, CCBAppID: sb.CCBAppID, ABCAppID: sb.ABCAppID,
			CCBPartnerPrivateKey: sb.CCBPartnerPrivateKey, CCBMallPublicKey: sb.CCBMallPublicKey,
			ABCPartnerPrivateKey: sb.ABCPartnerPrivateKey, ABCMallPublicKey: sb.ABCMallPublicKey},
		Out: t.Output(),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}
