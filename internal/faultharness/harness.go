// Package faultharness runs the real service as replicas under faults and checks that
// the figures come out as from a quiet run: `aidmall serve` replicas (the real binary) on
// one fresh PostgreSQL database and a Redis of the harness's own, behind a round-robin
// reverse proxy; both malls simulated out of process (`aidmall mallsim`) with duplicated,
// reordered, failing, throttled, forged and delayed traffic, one mall down for a while;
// one replica killed with SIGKILL and restarted, Redis restarted. The bundle's orders
// (examples/yichuan-dingbian-2019) are placed concurrently through the proxy as the demo
// places them, plus `mall: auto` orders of today placed while a mall is down.
//
// Run gives a Result; Compare holds a fault run against the quiet run of the same bundle
// (one process, SQLite, no faults). cmd/aidmall-faults runs both and prints the checks;
// TestFaultHarness runs them in CI.
package faultharness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"aidmall/adapters/mallsim"
	"aidmall/adapters/sqlstore"
	"aidmall/internal/bundleorders"
)

// Year is the bundle's year, whose report is compared.
const Year = 2019

// Config is one run.
type Config struct {
	Bin      string // the aidmall binary (Build)
	Root     string // the repository (its examples/yichuan-dingbian-2019 is the bundle)
	WorkDir  string // this run's files: database, keys, logs
	Replicas int    // `aidmall serve` processes (default 1)
	// PostgresURL is a DSN of a PostgreSQL server: the run makes a fresh database there and
	// drops it at the end. "": SQLite in WorkDir.
	PostgresURL string
	// Faults turns on everything that goes wrong: the simulator's faults (MallFaults, with
	// Seed), a replica killed with SIGKILL and restarted, Redis restarted, a mall down for
	// DownFor while ExtraAuto `auto` orders of today are placed. Off: the quiet run.
	Faults    bool
	Seed      uint64
	Redis     bool          // a Redis of the run's own (required with Faults)
	Clients   int           // orders placed at once (default 8)
	ExtraAuto int           // `auto` orders placed while a mall is down (default 6 with Faults)
	DownFor   time.Duration // default 15s
	// FailoverAfter is given to the replicas as AIDMALL_FAILOVER_AFTER (default 5s).
	FailoverAfter time.Duration
	// RescueAfter is given to the replicas as AIDMALL_JOB_RESCUE_AFTER (default 15s): River
	// runs again, elsewhere, the jobs the killed replica left running. The harness does not
	// rescue them itself: a job still stuck keeps the run from settling, and it fails.
	RescueAfter time.Duration
	// Malls, when set, are malls already running (the reference sandbox); else the run
	// starts our simulator.
	Malls Malls
	Log   io.Writer // progress lines (default: discard)
	// KeepDatabase leaves the PostgreSQL database for a look after the run.
	KeepDatabase bool
}

// Counts are what happened in a run.
type Counts struct {
	Orders        int `json:"orders"`             // bundle orders placed
	ExtraOrders   int `json:"extra_auto_orders"`  // auto orders placed while a mall was down
	Creates       int `json:"creates"`            // orders created at the malls
	RepeatCreates int `json:"repeat_creates"`     // idempotent repeats of a create
	Sent          int `json:"notifications_sent"` // events notified (genuine)
	Duplicated    int `json:"notifications_duplicated"`
	Forged        int `json:"notifications_forged"`
	NotifyRetries int `json:"notification_retries"`
	PlaceRetries  int `json:"placement_retries"` // POST /v1/orders tried again (5xx, 429, 409, no answer)
	// FoundByRef: orders whose answer was lost with a killed replica, and whose retry under
	// the same Idempotency-Key met 409 for the order_ref (the key had been released), so
	// the client found the order by GET /v1/orders?order_ref=.
	FoundByRef int `json:"orders_found_by_order_ref_after_a_lost_answer"`
	// RescuedJobs: jobs the killed replica left "running" (most seen at once), which River
	// ran again after AIDMALL_JOB_RESCUE_AFTER (Config.RescueAfter); the run settles only
	// once none is left.
	RescuedJobs int `json:"jobs_left_running_by_the_killed_replica"`
	// AtMallNotSubmitted: orders known at their mall (mall order number, events applied)
	// but not marked submitted (a notification came before the create's answer, which was
	// lost): must be 0, the retried dispatch records them as submitted.
	AtMallNotSubmitted int `json:"orders_at_their_mall_not_marked_submitted"`
	// DispatchFailed: orders that ended dispatch_failed (the job gave up): must be 0.
	DispatchFailed int `json:"orders_dispatch_failed"`
	// Failovers: auto orders placed while their mall was down that moved to the other mall
	// (a new out_order_no there, the first mall asked first): at least one is required.
	Failovers int `json:"failovers"`
	// Throttled: requests a mall answered 429 with Retry-After; ThrottledRetries: the same
	// call for the same order made again afterwards (each no sooner than its Retry-After).
	Throttled        int            `json:"429_answers"`
	ThrottledRetries int            `json:"429_retries"`
	Kills            int            `json:"replica_kills"`
	RedisRestarts    int            `json:"redis_restarts"`
	Requests         int            `json:"proxied_requests"`
	Excused5xx       int            `json:"5xx_while_a_replica_was_down"`
	ClientGone       int            `json:"requests_whose_client_gave_up_first"` // e.g. a notification past the mall\'s 5 s
	Faults           map[string]int `json:"faults"`                              // by kind, both malls
	Seconds          float64        `json:"seconds"`
}

// Result is one run's figures and what its own checks found.
type Result struct {
	Report map[string]json.RawMessage `json:"report"` // by county and by category, canonical JSON
	// Events maps "order_ref event_id" of the bundle's orders to the event's final state.
	Events map[string]string `json:"-"`
	// Ledger maps "order_ref household business_day" to net fen booked (non-zero only).
	Ledger   map[string]int64 `json:"-"`
	Counts   Counts           `json:"counts"`
	Problems []string         `json:"problems"`
}

// run is the state of one Run.
type run struct {
	cfg      Config
	log      io.Writer
	env      []string // every child's environment
	dbURL    string
	token    string
	proxy    *proxy
	redis    *redisServer
	sim      *simProcess
	malls    Malls
	bundle   string
	mu       sync.Mutex
	reps     []*proc
	counts   Counts
	problem  []string
	killedAt time.Time // the last SIGKILL
}

func (r *run) lastKill() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.killedAt
}

func (r *run) logf(format string, a ...any) { fmt.Fprintf(r.log, format+"\n", a...) }

func (r *run) fail(format string, a ...any) {
	r.mu.Lock()
	r.problem = append(r.problem, fmt.Sprintf(format, a...))
	r.mu.Unlock()
}

// Run runs the bundle through cfg.Replicas replicas and returns its figures, counts and
// the problems its checks found. An error means the run could not be made (a process
// would not start, the deadline passed before the orders settled).
func Run(ctx context.Context, cfg Config) (res Result, err error) {
	if cfg.Replicas < 1 {
		cfg.Replicas = 1
	}
	if cfg.Clients < 1 {
		cfg.Clients = 8
	}
	if cfg.Faults && cfg.ExtraAuto == 0 {
		cfg.ExtraAuto = 6
	}
	if cfg.DownFor <= 0 {
		cfg.DownFor = 15 * time.Second
	}
	if cfg.FailoverAfter <= 0 {
		cfg.FailoverAfter = 5 * time.Second
	}
	if cfg.RescueAfter <= 0 {
		cfg.RescueAfter = 15 * time.Second
	}
	r := &run{cfg: cfg, log: cfg.Log, bundle: filepath.Join(cfg.Root, "examples", "yichuan-dingbian-2019")}
	if r.log == nil {
		r.log = io.Discard
	}
	r.counts.Faults = map[string]int{}
	started := time.Now()
	if err := os.MkdirAll(filepath.Join(cfg.WorkDir, "data"), 0o700); err != nil {
		return res, err
	}

	// The database: a fresh PostgreSQL database, dropped at the end, or a SQLite file.
	if cfg.PostgresURL != "" {
		db, drop, err := freshDatabase(ctx, cfg.PostgresURL)
		if err != nil {
			return res, err
		}
		if !cfg.KeepDatabase {
			defer func() {
				if err := drop(); err != nil {
					r.logf("   %v", err)
				}
			}()
		}
		r.dbURL = db
	} else {
		r.dbURL = filepath.Join(cfg.WorkDir, "aidmall.db")
	}
	r.env = childEnv(map[string]string{
		"DATABASE_URL":                  r.dbURL,
		"AIDMALL_DATA_DIR":              filepath.Join(cfg.WorkDir, "data"), // one seal key for every replica
		"AIDMALL_LOG_LEVEL":             "warn",
		"AIDMALL_JOB_WORKERS":           "8",
		"AIDMALL_JOB_POLL_INTERVAL":     "100ms",
		"AIDMALL_DISPATCH_BACKOFF_BASE": "200ms",
		"AIDMALL_DISPATCH_BACKOFF_CAP":  "2s",
		"AIDMALL_BREAKER_COOLDOWN":      "2s", // a few probes while a mall is down for DownFor
		"AIDMALL_JOB_RESCUE_AFTER":      cfg.RescueAfter.String(),
		"AIDMALL_RECONCILE_INTERVAL":    "0",
		"AIDMALL_RATE_LIMIT":            "100000",
		"AIDMALL_RATE_LIMIT_BURST":      "1000",
		"AIDMALL_FAILOVER_AFTER":        cfg.FailoverAfter.String(),
	})
	if _, err := runOnce(ctx, cfg.Bin, r.env, cfg.WorkDir, "migrate"); err != nil {
		return res, err
	}
	if _, err := runOnce(ctx, cfg.Bin, r.env, cfg.WorkDir, "import", "bundle", r.bundle); err != nil {
		return res, err
	}
	tok, err := runOnce(ctx, cfg.Bin, r.env, cfg.WorkDir, "users", "add", "--role", "aid_office", "--name", "fault harness")
	if err != nil {
		return res, err
	}
	r.token = strings.TrimSpace(tok)

	if cfg.Redis || cfg.Faults {
		if r.redis, err = startRedis(ctx, cfg.WorkDir); err != nil {
			return res, err
		}
		defer r.redis.stop()
		r.env = append(r.env, "REDIS_URL="+r.redis.URL())
	}

	// The malls.
	r.malls = cfg.Malls
	if r.malls == nil {
		keys, err := mallsim.NewKeys()
		if err != nil {
			return res, err
		}
		keyDir := filepath.Join(cfg.WorkDir, "keys")
		if err := keys.WritePEM(keyDir); err != nil {
			return res, err
		}
		var faults *mallsim.Faults
		if cfg.Faults {
			f := MallFaults
			f.Seed = cfg.Seed
			faults = &f
		}
		if r.sim, err = startSim(ctx, cfg.Bin, r.env, cfg.WorkDir, keyDir, r.bundle, faults, 5*time.Millisecond); err != nil {
			return res, err
		}
		defer r.sim.close()
		r.malls = r.sim
	}
	r.env = append(r.env, r.malls.Env()...)

	// The proxy, then the replicas behind it; the malls notify through the proxy.
	if r.proxy, err = newProxy(cfg.Replicas); err != nil {
		return res, err
	}
	defer r.proxy.close()
	r.reps = make([]*proc, cfg.Replicas)
	addrs := make([]string, cfg.Replicas)
	for i := range r.reps {
		if addrs[i], err = freeAddr(); err != nil {
			return res, err
		}
		if err := r.startReplica(ctx, i, addrs[i]); err != nil {
			return res, err
		}
	}
	defer func() {
		for _, p := range r.reps {
			p.stop(20 * time.Second)
		}
	}()
	r.logf("   %d replica(s) behind %s on %s; malls: %T", cfg.Replicas, r.proxy.url, redact(r.dbURL), r.malls)

	// The orders, with the faults meanwhile.
	names, err := bundleorders.BranchNames(os.DirFS(r.bundle))
	if err != nil {
		return res, err
	}
	bos, err := bundleorders.Load(os.DirFS(r.bundle), func(code string) string {
		if n, ok := names[code]; ok {
			return n
		}
		return code
	})
	if err != nil {
		return res, err
	}
	r.counts.Orders = len(bos)
	var placed atomic.Int64
	chaosDone := make(chan error, 1)
	extra := make(chan []extraOrder, 1)
	if cfg.Faults {
		go func() { chaosDone <- r.chaos(ctx, &placed, int64(len(bos)), addrs, extra) }()
	} else {
		chaosDone <- nil
		extra <- nil
	}
	if err := r.placeAll(ctx, bos, &placed); err != nil {
		return res, err
	}
	if err := <-chaosDone; err != nil {
		return res, err
	}
	extras := <-extra
	r.counts.ExtraOrders = len(extras)
	r.logf("   %d bundle orders placed (%d retries), %d auto orders while a mall was down", len(bos), r.counts.PlaceRetries, len(extras))

	// Settle: every order at its mall, no job left, the malls idle.
	st, err := r.settle(ctx)
	if err != nil {
		return res, err
	}

	// Figures and checks.
	res.Report = map[string]json.RawMessage{}
	for _, by := range []string{"county", "category"} {
		b, err := r.api(ctx, http.MethodGet, fmt.Sprintf("/v1/reports/benefit?from=%d-01-01&to=%d-12-31&by=%s", Year, Year, by), nil)
		if err != nil {
			return res, err
		}
		if res.Report[by], err = canonical(b); err != nil {
			return res, fmt.Errorf("report by %s: %w", by, err)
		}
	}
	if res.Events, res.Ledger, err = r.readEvents(ctx, st); err != nil {
		return res, err
	}
	r.checkMalls(st)
	r.checkExchanges()
	if err := r.countFailovers(ctx, extras, st); err != nil {
		return res, err
	}
	r.checkRetryAfter(st)
	r.tally(st)
	r.counts.Seconds = time.Since(started).Seconds()
	res.Counts = r.counts
	res.Problems = r.problem
	return res, nil
}

// childEnv is the process environment without any aidmall setting of the caller's, plus set.
func childEnv(set map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AIDMALL_") || k == "DATABASE_URL" || k == "REDIS_URL" {
			continue
		}
		env = append(env, kv)
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+set[k])
	}
	return env
}

// startReplica starts replica i on addr, waits until /readyz answers and marks it up.
func (r *run) startReplica(ctx context.Context, i int, addr string) error {
	env := append(append([]string(nil), r.env...), "AIDMALL_LISTEN="+addr, "AIDMALL_PUBLIC_URL="+r.proxy.url)
	p, err := start(fmt.Sprintf("replica %d", i), r.cfg.Bin, []string{"serve"}, env, r.cfg.WorkDir,
		filepath.Join(r.cfg.WorkDir, fmt.Sprintf("replica-%d.log", i)), nil)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.reps[i] = p
	r.mu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := waitReady(rctx, p, "http://"+addr+"/readyz"); err != nil {
		return err
	}
	if err := r.proxy.setTarget(i, "http://"+addr); err != nil {
		return err
	}
	r.proxy.setUp(i, true)
	return nil
}

// chaos does the faults that are not the malls': when a third of the orders are placed it
// kills the last replica with SIGKILL and restarts it; at half it restarts Redis; at two
// thirds it takes the mall of the auto orders down and places them meanwhile.
func (r *run) chaos(ctx context.Context, placed *atomic.Int64, total int64, addrs []string, extra chan<- []extraOrder) error {
	var extras []extraOrder
	defer func() { extra <- extras }()
	waitFor := func(n int64) error {
		for placed.Load() < n {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
		return nil
	}
	if err := waitFor(total / 3); err != nil {
		return err
	}
	victim := len(r.reps) - 1
	r.proxy.setUp(victim, false)
	r.mu.Lock()
	p := r.reps[victim]
	r.mu.Unlock()
	p.kill()
	r.mu.Lock()
	r.counts.Kills++
	r.killedAt = time.Now()
	r.mu.Unlock()
	r.logf("   replica %d killed (SIGKILL) after %d orders", victim, placed.Load())
	time.Sleep(2 * time.Second)
	if err := r.startReplica(ctx, victim, addrs[victim]); err != nil {
		return fmt.Errorf("restart replica %d: %w", victim, err)
	}
	r.logf("   replica %d restarted", victim)

	if err := waitFor(total / 2); err != nil {
		return err
	}
	if r.redis != nil {
		if err := r.redis.restart(ctx); err != nil {
			return fmt.Errorf("restart redis: %w", err)
		}
		r.counts.RedisRestarts++
		r.logf("   redis restarted after %d orders", placed.Load())
	}

	if err := waitFor(2 * total / 3); err != nil {
		return err
	}
	down := "ccb" // where auto routes the extra orders' SKU (CCB lists it cheaper)
	if err := r.malls.Down(ctx, down, r.cfg.DownFor); err != nil {
		if errors.Is(err, errNoDown) {
			return nil
		}
		return err
	}
	r.logf("   %s down for %s (creates unanswered, queries answered); placing %d auto orders of today", down, r.cfg.DownFor, r.cfg.ExtraAuto)
	for i := 0; i < r.cfg.ExtraAuto; i++ {
		ref := fmt.Sprintf("FAULTS-AUTO-%02d", i+1)
		body := fmt.Sprintf(`{"order_ref":%q,"branch_code":"HQ","mall":"auto","funding":"employee_self_pay","delivery_mode":"bulk",
			"ship_to":{"name":"集团总部机关工会","phone":%q,"address":"集团总部"},"lines":[{"sku":"YC-APL-5KG-DZ","quantity":%d}]}`,
			ref, bundleorders.DeskPhone, i+1)
		b, err := r.place(ctx, ref, []byte(body))
		if err != nil {
			return err
		}
		var o struct {
			ID         int64  `json:"id"`
			Mall       string `json:"mall"`
			OutOrderNo string `json:"out_order_no"`
		}
		if err := json.Unmarshal(b, &o); err != nil {
			return fmt.Errorf("order %s: %w", ref, err)
		}
		extras = append(extras, extraOrder{Ref: ref, ID: o.ID, Routed: o.Mall, OutOrderNo: o.OutOrderNo})
	}
	return nil
}

type extraOrder struct {
	Ref        string
	ID         int64
	Routed     string // the mall auto chose when it was placed
	OutOrderNo string // its number there
}

// placeAll places every order with Clients concurrent clients.
func (r *run) placeAll(ctx context.Context, bos []bundleorders.Order, placed *atomic.Int64) error {
	work := make(chan bundleorders.Order)
	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for i := 0; i < r.cfg.Clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range work {
				body, _ := json.Marshal(o)
				if _, err := r.place(ctx, o.OrderRef, body); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
				placed.Add(1)
			}
		}()
	}
feed:
	for _, o := range bos {
		select {
		case work <- o:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

// place posts one order as the demo does (Idempotency-Key demo-<order_ref>), trying again
// on no answer, 5xx, 429 and 409 (the same key still in flight), and returns the body.
func (r *run) place(ctx context.Context, ref string, body []byte) ([]byte, error) {
	client := &http.Client{Timeout: 30 * time.Second}
	var last string
	for attempt := 0; attempt < 40; attempt++ {
		if attempt > 0 {
			r.mu.Lock()
			r.counts.PlaceRetries++
			r.mu.Unlock()
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(min(attempt, 10)) * 200 * time.Millisecond):
			}
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.proxy.url+"/v1/orders", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+r.token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "demo-"+ref)
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			last = err.Error()
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK:
			return b, nil
		case resp.StatusCode == http.StatusConflict && attempt > 0 && bytes.Contains(b, []byte("already has an order with order_ref")):
			// An earlier try was placed but its answer lost (its replica killed after the
			// commit) and its Idempotency-Key released: the order is found by its order_ref,
			// as a client would find it.
			found, err := r.byOrderRef(ctx, body, ref)
			if err != nil {
				return nil, err
			}
			r.mu.Lock()
			r.counts.FoundByRef++
			r.mu.Unlock()
			return found, nil
		case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusConflict:
			last = fmt.Sprintf("%s: %s", resp.Status, b)
			continue
		}
		return nil, fmt.Errorf("order %s: %s: %s", ref, resp.Status, b)
	}
	return nil, fmt.Errorf("order %s: still failing after 40 tries: %s", ref, last)
}

// byOrderRef finds the one order of body's branch with order_ref ref.
func (r *run) byOrderRef(ctx context.Context, body []byte, ref string) ([]byte, error) {
	var o struct {
		BranchCode string `json:"branch_code"`
	}
	if err := json.Unmarshal(body, &o); err != nil {
		return nil, err
	}
	b, err := r.api(ctx, http.MethodGet, "/v1/orders?branch="+url.QueryEscape(o.BranchCode)+"&order_ref="+url.QueryEscape(ref), nil)
	if err != nil {
		return nil, err
	}
	var page struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		return nil, err
	}
	if len(page.Items) != 1 {
		return nil, fmt.Errorf("order %s: 409 for its order_ref, and %d orders have it", ref, len(page.Items))
	}
	return page.Items[0], nil
}

// api calls the service through the proxy with the harness's key and returns a 200's body.
func (r *run) api(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequestWithContext(ctx, method, r.proxy.url+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+r.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return b, nil
		}
		if resp.StatusCode < 500 || attempt >= 5 {
			return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// settle waits until every order has reached its mall or been refused, no job is left
// and the malls are idle; it returns the malls' last state.
func (r *run) settle(ctx context.Context) (mallsim.State, error) {
	db, err := openDB(ctx, r.dbURL)
	if err != nil {
		return mallsim.State{}, err
	}
	defer db.Close()
	start := time.Now()
	var last string
	var calm time.Time
	for {
		var undispatched, jobs, stuck int
		// At its mall as the demo and operators count it (Progress): submitted, refused or
		// cancelled. An order given up (dispatch_failed) is not waited for: it fails the run.
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM group_orders WHERE NOT submitted AND reject_code = '' AND NOT cancelled AND status <> 'dispatch_failed'`).Scan(&undispatched); err != nil {
			return mallsim.State{}, err
		}
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM river_job WHERE state NOT IN ('completed', 'discarded', 'cancelled')`).Scan(&jobs); err != nil {
			return mallsim.State{}, err
		}
		if kill := r.lastKill(); !kill.IsZero() {
			// Jobs the killed replica was running stay "running" until River's rescuer takes
			// them back (AIDMALL_JOB_RESCUE_AFTER): counted, and waited for like any job.
			if err := db.QueryRowContext(ctx, db.Rebind(`SELECT COUNT(*) FROM river_job WHERE state = 'running' AND attempted_at < ?`), kill).Scan(&stuck); err != nil {
				return mallsim.State{}, err
			}
			r.counts.RescuedJobs = max(r.counts.RescuedJobs, stuck)
		}
		st, err := r.malls.State(ctx)
		if err != nil {
			return st, err
		}
		pending := st.Stats.CCB.Pending + st.Stats.ABC.Pending
		last = fmt.Sprintf("%d orders not at their mall, %d jobs pending (%d left running by the killed replica), %d notifications pending, malls idle %v", undispatched, jobs, stuck, pending, st.Idle)
		// Settled when nothing is left twice in a row a second apart (a mall may hold
		// notifications back, and a job may be between its attempts).
		done := undispatched == 0 && jobs == 0 && st.Idle
		if !done {
			calm = time.Time{}
		} else if calm.IsZero() {
			calm = time.Now()
		}
		if done && time.Since(calm) >= time.Second {
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM group_orders WHERE NOT submitted AND mall_order_no <> ''`).Scan(&r.counts.AtMallNotSubmitted); err != nil {
				return st, err
			}
			if r.counts.AtMallNotSubmitted > 0 {
				r.fail("%d orders are at their mall (a mall order number) but not recorded as submitted", r.counts.AtMallNotSubmitted)
			}
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM group_orders WHERE status = 'dispatch_failed'`).Scan(&r.counts.DispatchFailed); err != nil {
				return st, err
			}
			if r.counts.DispatchFailed > 0 {
				r.fail("%d orders ended dispatch_failed (their dispatch gave up)", r.counts.DispatchFailed)
			}
			r.logf("   settled %s after the last order", time.Since(start).Round(time.Millisecond))
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("not settled: %s: %w%s", last, ctx.Err(), pendingJobs(db))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// countFailovers counts the extra orders that moved to another mall than they were
// routed to (jobs/failover.go: an auto order whose mall is failing moves once the first
// mall, asked, answers not found or cancelled) and checks each move: a NEW out_order_no,
// created at the second mall only; the first mall holds no live order under the old
// number; the timeline shows the first mall's answer, then the move.
func (r *run) countFailovers(ctx context.Context, extras []extraOrder, st mallsim.State) error {
	type key struct{ mall, no string }
	at := map[key]mallsim.OrderState{}
	for _, o := range st.Orders {
		at[key{string(o.Mall), o.OutOrderNo}] = o
	}
	db, err := openDB(ctx, r.dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, x := range extras {
		b, err := r.api(ctx, http.MethodGet, "/v1/orders/"+strconv.FormatInt(x.ID, 10), nil)
		if err != nil {
			return err
		}
		var o struct {
			Mall       string `json:"mall"`
			OutOrderNo string `json:"out_order_no"`
		}
		if err := json.Unmarshal(b, &o); err != nil {
			return err
		}
		if o.Mall == x.Routed {
			continue
		}
		r.counts.Failovers++
		if o.OutOrderNo == x.OutOrderNo {
			r.fail("order %s moved from %s to %s under the same out_order_no %s", x.Ref, x.Routed, o.Mall, o.OutOrderNo)
		}
		if m, ok := at[key{o.Mall, o.OutOrderNo}]; !ok || m.Cancelled {
			r.fail("order %s moved to %s as %s, which that mall does not hold live (present %v)", x.Ref, o.Mall, o.OutOrderNo, ok)
		}
		if m, ok := at[key{x.Routed, x.OutOrderNo}]; ok && !m.Cancelled {
			r.fail("order %s moved to %s, but %s still holds it live as %s", x.Ref, o.Mall, x.Routed, x.OutOrderNo)
		}
		if _, ok := at[key{x.Routed, o.OutOrderNo}]; ok {
			r.fail("order %s's new number %s was created at its first mall %s too", x.Ref, o.OutOrderNo, x.Routed)
		}
		rows, err := db.QueryContext(ctx, db.Rebind(`SELECT step, mall, out_order_no FROM order_steps WHERE order_id = ? ORDER BY id`), x.ID)
		if err != nil {
			return err
		}
		var steps []string
		for rows.Next() {
			var step, mall, no string
			if err := rows.Scan(&step, &mall, &no); err != nil {
				rows.Close()
				return err
			}
			steps = append(steps, step+" "+mall+" "+no)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if !movedTimeline(steps, x.Routed, x.OutOrderNo, o.Mall, o.OutOrderNo) {
			r.fail("order %s moved from %s (%s) to %s (%s), but its timeline is %q: want the first mall's answer, then the move",
				x.Ref, x.Routed, x.OutOrderNo, o.Mall, o.OutOrderNo, steps)
		}
	}
	return nil
}

// movedTimeline reports whether steps ("step mall out_order_no", in order) hold the first
// mall's answer about the old number (not found, or cancelled there) followed at once by
// the move to the new mall under the new number, and no other move.
func movedTimeline(steps []string, from, oldNo, to, newNo string) bool {
	moves := 0
	ok := false
	for i, s := range steps {
		if !strings.HasPrefix(s, "failover_moved ") {
			continue
		}
		moves++
		if i > 0 && s == "failover_moved "+to+" "+newNo &&
			(steps[i-1] == "failover_confirmed_absent "+from+" "+oldNo || steps[i-1] == "failover_cancelled_at_first "+from+" "+oldNo) {
			ok = true
		}
	}
	return ok && moves == 1
}

// checkRetryAfter: a create a mall answered 429 with Retry-After is not sent again for
// the same order before then (the sim's request log has the times).
func (r *run) checkRetryAfter(st mallsim.State) {
	type key struct{ mall, method, path, no string }
	throttled := map[key]mallsim.RequestRecord{}
	for _, q := range st.Requests {
		if q.OutOrderNo == "" {
			continue
		}
		k := key{string(q.Mall), q.Method, q.Path, q.OutOrderNo}
		if prev, ok := throttled[k]; ok {
			delete(throttled, k)
			r.counts.ThrottledRetries++
			if gap := q.At.Sub(prev.At); gap < prev.RetryAfter {
				r.fail("%s %s %s for %s at %s came %s after a 429 asking %s", q.Mall, q.Method, q.Path, q.OutOrderNo,
					q.At.Format("15:04:05.000"), gap.Round(time.Millisecond), prev.RetryAfter)
			}
		}
		if q.Status == http.StatusTooManyRequests {
			r.counts.Throttled++
			throttled[k] = q
		}
	}
}

// tally adds the malls' counters.
func (r *run) tally(st mallsim.State) {
	for _, s := range []mallsim.MallStats{st.Stats.CCB, st.Stats.ABC} {
		r.counts.Creates += s.Creates
		r.counts.RepeatCreates += s.DuplicateCreates
		r.counts.Sent += s.Sent
		r.counts.NotifyRetries += s.Retried
	}
	for _, fk := range st.Faults {
		for k, n := range fk {
			r.counts.Faults[k] += n
		}
	}
	for _, n := range st.Notifications {
		r.counts.Duplicated += n.Duplicates
		r.counts.Forged += n.Forged
	}
	r.counts.Requests = len(r.proxy.exchanges())
}

// canonical re-encodes JSON with sorted keys.
func canonical(b []byte) (json.RawMessage, error) {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return json.MarshalIndent(v, "", "  ")
}

// freshDatabase makes an empty database on the server of admin and returns its URL and a
// function that drops it.
func freshDatabase(ctx context.Context, admin string) (string, func() error, error) {
	u, err := url.Parse(admin)
	if err != nil {
		return "", nil, fmt.Errorf("postgres url: %w", err)
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("postgres: %w", err)
	}
	name := fmt.Sprintf("aidmall_faults_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	conn.Close(ctx)
	u.Path = "/" + name
	drop := func() error {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(dctx, admin)
		if err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		defer c.Close(dctx)
		if _, err := c.Exec(dctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	return u.String(), drop, nil
}

// redact hides a URL's password.
func redact(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	}
	return s
}

// pendingJobs describes the jobs not finished, for a run that did not settle.
func pendingJobs(db *sqlstore.DB) string {
	if db.Dialect != sqlstore.Postgres {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, `SELECT kind, state, attempt, COALESCE(attempted_by::text, ''), args::text, COALESCE(attempted_at::text, '')
		FROM river_job WHERE state NOT IN ('completed', 'discarded', 'cancelled') ORDER BY id LIMIT 20`)
	if err != nil {
		return "; jobs: " + err.Error()
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var kind, state, by, args, at string
		var attempt int
		if err := rows.Scan(&kind, &state, &attempt, &by, &args, &at); err != nil {
			return b.String()
		}
		fmt.Fprintf(&b, "\n   job %s %s attempt %d by %s at %s: %s", kind, state, attempt, by, at, args)
	}
	return b.String()
}
