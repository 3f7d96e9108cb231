package faultharness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"aidmall/adapters/mallsim"
)

// Malls is the mall side of a run: where the replicas find both malls, and what the
// malls did.
type Malls interface {
	// Env is the replicas' AIDMALL_<CODE>_* settings.
	Env() []string
	// State is what the malls did so far, in mallsim's terms.
	State(ctx context.Context) (mallsim.State, error)
	// Down takes one mall down for d (errors.ErrUnsupported when the malls cannot).
	Down(ctx context.Context, mall string, d time.Duration) error
}

// MallFaults are the faults of our simulator in a fault run (mallsim.Faults).
var MallFaults = mallsim.Faults{DupRate: 0.3, Reorder: true, FailRate: 0.15, TooManyRate: 0.1, BadSignRate: 0.1,
	DelayRate: 0.1, MaxDelay: 800 * time.Millisecond}

// simProcess is adapters/mallsim run as its own process (`aidmall mallsim`).
type simProcess struct {
	p                 *proc
	ccb, abc, control string
	keyDir            string
}

func startSim(ctx context.Context, bin string, env []string, dir, keyDir, bundle string, faults *mallsim.Faults, gap time.Duration) (*simProcess, error) {
	args := []string{"mallsim", "--keys", keyDir, "--bundle", bundle, "--replay-gap", gap.String()}
	if faults != nil {
		f := *faults
		args = append(args, "--seed", strconv.FormatUint(f.Seed, 10),
			"--dup-rate", ftoa(f.DupRate), "--fail-rate", ftoa(f.FailRate), "--429-rate", ftoa(f.TooManyRate),
			"--bad-sign-rate", ftoa(f.BadSignRate), "--delay-rate", ftoa(f.DelayRate), "--max-delay", f.MaxDelay.String())
		if f.Reorder {
			args = append(args, "--reorder")
		}
	}
	first := make(chan string, 1)
	p, err := start("mallsim", bin, args, env, dir, filepath.Join(dir, "mallsim.log"), first)
	if err != nil {
		return nil, err
	}
	select {
	case line := <-first:
		var u struct{ CCB, ABC, Control string }
		if err := json.Unmarshal([]byte(line), &u); err != nil || u.CCB == "" || u.Control == "" {
			p.stop(5 * time.Second)
			return nil, fmt.Errorf("mallsim's first line %q is not its addresses", line)
		}
		return &simProcess{p: p, ccb: u.CCB, abc: u.ABC, control: u.Control, keyDir: keyDir}, nil
	case <-p.done:
		return nil, fmt.Errorf("mallsim exited: %v (log %s)", p.err, filepath.Join(dir, "mallsim.log"))
	case <-ctx.Done():
		p.stop(5 * time.Second)
		return nil, ctx.Err()
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func (s *simProcess) Env() []string {
	k := func(name string) string { return filepath.Join(s.keyDir, name) }
	return []string{
		"AIDMALL_CCB_URL=" + s.ccb, "AIDMALL_CCB_APP_ID=" + mallsim.DefaultCCBAppID,
		"AIDMALL_CCB_PRIVATE_KEY_FILE=" + k(mallsim.FileCCBPartnerPrivate), "AIDMALL_CCB_MALL_PUBLIC_KEY_FILE=" + k(mallsim.FileCCBMallPublic),
		"AIDMALL_ABC_URL=" + s.abc, "AIDMALL_ABC_APP_ID=" + mallsim.DefaultABCAppID,
		"AIDMALL_ABC_PRIVATE_KEY_FILE=" + k(mallsim.FileABCPartnerPrivate), "AIDMALL_ABC_MALL_PUBLIC_KEY_FILE=" + k(mallsim.FileABCMallPublic),
	}
}

func (s *simProcess) State(ctx context.Context) (mallsim.State, error) {
	var st mallsim.State
	err := getJSON(ctx, s.control+"/sim/state", &st)
	return st, err
}

func (s *simProcess) Down(ctx context.Context, mall string, d time.Duration) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.control+"/sim/down?reads=up&mall="+mall+"&for="+d.String(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("mallsim down: HTTP %d", resp.StatusCode)
	}
	return nil
}

func (s *simProcess) close() { s.p.stop(5 * time.Second) }

func getJSON(ctx context.Context, url string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// errNoDown: the malls cannot be taken down on command.
var errNoDown = errors.ErrUnsupported
