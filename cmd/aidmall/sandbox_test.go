package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"aidmall/config"
	"aidmall/examples"
	"aidmall/internal/sandboxtest"
	"aidmall/orders"
)

// sandboxState is the part of the reference sandbox's /sandbox/state this test reads.
type sandboxState struct {
	Orders []struct {
		OutOrderNo         string `json:"out_order_no"`
		BuyerRef           string `json:"buyer_ref"`
		CreateCalls        int    `json:"create_calls"`
		ConflictingCreates int    `json:"conflicting_creates"`
	} `json:"orders"`
	Notifications []struct {
		ID           string `json:"id"`
		Acked        bool   `json:"acked"`
		GaveUp       bool   `json:"gave_up"`
		BadSignAcked int    `json:"bad_sign_acked"`
	} `json:"notifications"`
}

func fetchState(ctx context.Context, base string) (sandboxState, error) {
	var st sandboxState
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/sandbox/state", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}

// The whole year against the reference sandbox, an independent counterparty, with its
// faults on: duplicated and reordered notifications, 20% of API calls failing, and forged
// signatures. The report must be the one the rules give, every notification acknowledged
// only when genuine, and every out_order_no created at its mall once.
func TestSandboxYearWithFaultsAgreesWithTheRules(t *testing.T) {
	sb := sandboxtest.Start(t, "--dup-rate", "0.3", "--reorder", "--fail-rate", "0.2", "--bad-sign-rate", "0.1",
		"--replay-gap", "20ms", "--quiet")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	dir := t.TempDir()
	cfg := config.Defaults()
	cfg.DataDir = dir
	cfg.DatabaseURL = filepath.Join(dir, "aidmall.db")
	cfg.Jobs.PollInterval = 100 * time.Millisecond
	cfg.Dispatch.BackoffBase = 200 * time.Millisecond
	cfg.Dispatch.BackoffCap = 2 * time.Second
	cfg.Breaker.Cooldown = time.Second
	cfg.RateLimit.Requests = 100000
	cfg.ReconcileInterval = 0
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := openApp(ctx, cfg, log, true)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	reg, err := a.registry(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.ImportBundle(ctx, examples.YichuanDingbian2019(), false); err != nil {
		t.Fatal(err)
	}
	// The malls are configured as in production: by code, from the sandbox's key files.
	a.cfg.Malls = map[orders.Mall]config.MallConfig{
		"ccb": {URL: sb.CCBURL, AppID: sb.CCBAppID, PrivateKeyFile: sb.CCBPartnerPrivateKey, MallPublicKeyFile: sb.CCBMallPublicKey},
		"abc": {URL: sb.ABCURL, AppID: sb.ABCAppID, PrivateKeyFile: sb.ABCPartnerPrivateKey, MallPublicKeyFile: sb.ABCMallPublicKey},
	}
	ms, err := mallsFromConfig(a.cfg, nonceStore(a), log, a.store.KeepUnreadable)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rt, err := startRuntime(ctx, a, ms, ln)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		sctx, c := context.WithTimeout(context.Background(), 20*time.Second)
		defer c()
		rt.Stop(sctx)
	}()
	token, _, err := a.store.CreateAPIKey(ctx, "sandbox run", orders.RoleAidOffice, "")
	if err != nil {
		t.Fatal(err)
	}
	n, err := placeBundleOrders(ctx, a, rt.URL(), token, examples.YichuanDingbian2019(), 4, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	idle := func(ctx context.Context) (bool, error) {
		total := 0
		for _, base := range []string{sb.CCBURL, sb.ABCURL} {
			st, err := fetchState(ctx, base)
			if err != nil {
				return false, err
			}
			total += len(st.Orders)
			for _, nt := range st.Notifications {
				if !nt.Acked && !nt.GaveUp {
					return false, nil
				}
			}
		}
		return total == n, nil
	}
	if err := waitSettled(ctx, a, rt, idle, io.Discard); err != nil {
		t.Fatalf("%v\nservice log:\n%s\nsandbox log:\n%s", err, logs.String(), sb.Log())
	}
	seen := map[string]bool{}
	for _, base := range []string{sb.CCBURL, sb.ABCURL} {
		st, err := fetchState(ctx, base)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range st.Orders {
			if seen[o.OutOrderNo] {
				t.Fatalf("out_order_no %s created twice", o.OutOrderNo)
			}
			seen[o.OutOrderNo] = true
			if o.ConflictingCreates != 0 {
				t.Fatalf("order %s: %d creates with other content", o.OutOrderNo, o.ConflictingCreates)
			}
		}
		for _, nt := range st.Notifications {
			if nt.GaveUp {
				t.Fatalf("the sandbox gave up notifying %s", nt.ID)
			}
			if nt.BadSignAcked > 0 {
				t.Fatalf("a forged copy of %s was acknowledged", nt.ID)
			}
		}
	}
	if len(seen) != n {
		t.Fatalf("%d orders at the malls, %d placed", len(seen), n)
	}
	assertYearReport(t, a.store)
	assertIndependent(t, a.store)
}
