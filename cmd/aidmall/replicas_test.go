package main

// Three replicas of `aidmall serve` — three runtimes in this process, each with its own
// app (database pool, Redis client and Health), job runner (LISTENing), API server and
// nonce cache — on one PostgreSQL schema and one Redis of the test's own, which the test
// stops and starts again midway. The malls are the in-process simulators, shared by the
// three as a real mall is.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"aidmall/adapters/mallsim"
	"aidmall/adapters/redisx/redistest"
	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/config"
	"aidmall/examples"
	"aidmall/orders"
)

// postgresURL is the URL of db (a sqltest.Postgres schema): the test server's with db's
// search_path, as every replica's DATABASE_URL names the one database.
func postgresURL(t *testing.T, db *sqlstore.DB) string {
	t.Helper()
	var schema string
	if err := db.QueryRowContext(context.Background(), `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(os.Getenv(sqltest.PostgresEnv))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// getJSON GETs url and decodes its JSON body into v, returning the status.
func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode
}

// metricLine returns the first line of url's /metrics starting with prefix.
func metricLine(t *testing.T, base, prefix string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

func TestReplicas_threeOnOnePostgresAndRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("three replicas and a redis-server: not in -short")
	}
	srv := redistest.Start(t)
	dbURL := postgresURL(t, sqltest.Postgres(t))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	cfg := config.Defaults()
	cfg.DataDir = t.TempDir() // one seal key file for the three
	cfg.DatabaseURL, cfg.RedisURL = dbURL, srv.URL()
	cfg.Jobs.Workers = 2
	cfg.Jobs.PollInterval = 5 * time.Second // LISTEN/NOTIFY starts jobs; polling is the fallback
	cfg.RateLimit.Requests, cfg.RateLimit.Burst = 1<<20, 1<<20
	cfg.ReconcileInterval = 0
	log := slog.New(slog.DiscardHandler)

	keys, err := mallsim.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	var (
		apps []*app
		rts  []*runtime
		sim  *mallsim.Sim
	)
	for i := range 3 {
		a, err := openApp(ctx, cfg, log, i == 0) // the first migrates, as a deploy's migrate step
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		if i == 0 {
			reg, err := a.registry(ctx, true)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := reg.ImportBundle(ctx, examples.YichuanDingbian2019(), false); err != nil {
				t.Fatal(err)
			}
			catalogue, err := a.store.Catalogue(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if sim, err = mallsim.Start(ctx, mallsim.Options{Keys: keys, Catalogue: catalogue, Logger: log}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = sim.Close() })
		}
		ms, err := simMalls(sim, keys, nonceStore(a), log, a.store.KeepUnreadable)
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
		if !rt.runner.Listening() {
			t.Fatal("a replica on PostgreSQL does not LISTEN for jobs")
		}
		t.Cleanup(func() {
			sctx, c := context.WithTimeout(context.Background(), 20*time.Second)
			defer c()
			if err := rt.Stop(sctx); err != nil {
				t.Errorf("stop replica: %v", err)
			}
		})
		apps, rts = append(apps, a), append(rts, rt)
	}
	token, _, err := apps[0].store.CreateAPIKey(ctx, "replicas", orders.RoleAidOffice, "")
	if err != nil {
		t.Fatal(err)
	}
	branches := map[string]string{}
	bs, err := apps[0].store.Branches(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		branches[b.Code] = b.Name
	}
	bundle, err := loadBundleOrders(examples.YichuanDingbian2019(), func(c string) string { return branches[c] })
	if err != nil {
		t.Fatal(err)
	}
	const perPhase = 6
	bundle = bundle[:3*perPhase]

	placed := 0
	place := func(o bundleOrder) {
		t.Helper()
		rt := rts[placed%len(rts)] // round-robin, as a load balancer
		body, _ := json.Marshal(o)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, rt.URL()+"/v1/orders", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "replicas-"+o.OrderRef)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("order %s on replica %d: %d %s", o.OrderRef, placed%len(rts), resp.StatusCode, b)
		}
		placed++
	}
	ready := func(i int) map[string]string {
		var body map[string]string
		if code := getJSON(t, rts[i].URL()+"/readyz", &body); code != http.StatusOK {
			t.Fatalf("readyz of replica %d: %d %v", i, code, body)
		}
		return body
	}
	waitReady := func(status string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for i := range rts {
			for ready(i)["status"] != status {
				if time.Now().After(deadline) {
					t.Fatalf("replica %d readyz %v, want status %s", i, ready(i), status)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}

	// Redis up.
	waitReady("ready")
	for _, o := range bundle[:perPhase] {
		place(o)
	}
	// Redis goes away: orders are still taken (rate limits in process), notifications
	// still applied (nonce cache in process), and every replica says it is degraded.
	srv.Stop()
	for _, o := range bundle[perPhase : 2*perPhase] {
		place(o)
	}
	waitReady("degraded")
	if r := ready(0); !strings.HasPrefix(r["redis"], "unreachable: ") || r["database"] != "ok" {
		t.Errorf("degraded readyz %v: want redis unreachable with the reason, database ok", r)
	}
	if l := metricLine(t, rts[0].URL(), "aidmall_redis_up "); l != "aidmall_redis_up 0" {
		t.Errorf("while Redis is away: %q", l)
	}
	if l := metricLine(t, rts[0].URL(), `aidmall_redis_fallbacks_total{part="ratelimit"} `); l == "" || strings.HasSuffix(l, " 0") {
		t.Errorf("rate limit fallbacks not counted: %q", l)
	}
	// Redis comes back: every replica finds it again without a restart.
	srv.Restart()
	waitReady("ready")
	if l := metricLine(t, rts[1].URL(), "aidmall_redis_up "); l != "aidmall_redis_up 1" {
		t.Errorf("after Redis came back: %q", l)
	}
	for _, o := range bundle[2*perPhase:] {
		place(o)
	}

	idle := func(context.Context) (bool, error) { return sim.Idle(), nil }
	if err := waitSettled(ctx, apps[0], rts[0], idle, io.Discard); err != nil {
		t.Fatal(err)
	}
	st := sim.Stats()
	if creates := st.CCB.Creates + st.ABC.Creates; creates != placed {
		t.Errorf("%d orders created at the malls for %d placed", creates, placed)
	}
	if dup := st.CCB.DuplicateCreates + st.ABC.DuplicateCreates; dup != 0 {
		t.Errorf("%d orders sent to their mall again (a dispatch job ran twice)", dup)
	}
	if gaveUp := st.CCB.GaveUp + st.ABC.GaveUp; gaveUp != 0 {
		t.Errorf("the malls gave up %d notifications", gaveUp)
	}
	db := apps[0].store.DB()
	var undelivered, wrongLedger, held int
	if err := db.GetContext(ctx, &undelivered, `SELECT count(*) FROM order_lines WHERE delivered_qty <> quantity`); err != nil {
		t.Fatal(err)
	}
	// Each delivery booked once: every line's ledger sums to its delivered value.
	if err := db.GetContext(ctx, &wrongLedger, `SELECT count(*) FROM order_lines l
		WHERE l.delivered_qty * l.unit_price_fen <> (SELECT coalesce(sum(e.amount_fen), 0) FROM ledger_entries e WHERE e.line_id = l.id)`); err != nil {
		t.Fatal(err)
	}
	if err := db.GetContext(ctx, &held, `SELECT count(*) FROM fulfilment_events WHERE state <> 'applied'`); err != nil {
		t.Fatal(err)
	}
	if undelivered != 0 || wrongLedger != 0 || held != 0 {
		t.Errorf("lines not delivered in full: %d; lines whose ledger is not their delivered value: %d; events not applied: %d",
			undelivered, wrongLedger, held)
	}
	// The periodic maintenance job (run on start by the leader) ran on one replica. The
	// leader is elected and enqueues it in the background, possibly after the orders
	// above were done: wait for it (bounded), then a little longer, for a second one
	// that must not come.
	var maint int
	countMaint := func() {
		if err := db.GetContext(ctx, &maint, `SELECT count(*) FROM river_job WHERE kind = 'aidmall_maintenance'`); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if countMaint(); maint > 0 || time.Now().After(deadline) {
			break
		}
	}
	time.Sleep(2 * time.Second)
	countMaint()
	if maint != 1 {
		t.Errorf("%d maintenance jobs for 3 replicas, want 1 (the leader's)", maint)
	}
	t.Logf("%d orders over 3 replicas (Redis away for %d of them): %+v", placed, perPhase, st)
}
