package main

// Load benchmarks of the whole service over HTTP. Each boots the real wiring — openApp on
// a fresh database with its migrations, the embedded bundle imported through the registry,
// startRuntime with its River job runner and Echo server on 127.0.0.1:0 — with the
// in-process mall simulators (adapters/mallsim) as the malls, as the demo does, and drives
// it with a fixed number of concurrent HTTP clients. They run only with -bench; their
// numbers, the machine and the commands are in docs/PERFORMANCE.md.
//
// Every benchmark runs on SQLite and, when AIDMALL_TEST_POSTGRES is set, on a PostgreSQL
// database made for it and dropped after (otherwise the postgres run is skipped, saying
// so). Besides ns/op (wall time divided by the operations: the inverse of throughput with
// benchClients clients), each reports req/s, the p50/p99 latency of one request, and how
// the database/sql pool served them (reportPool).

import (
	"bytes"
	"context"
	"crypto/rsa"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"aidmall/adapters/ccb"
	"aidmall/adapters/mallsim"
	"aidmall/adapters/sqlstore"
	"aidmall/bizday"
	"aidmall/config"
	"aidmall/examples"
	"aidmall/internal/bench"
	"aidmall/orders"
)

const (
	// benchClients is how many HTTP clients every benchmark runs at once.
	benchClients = 8
	// benchSKU is a bundle product listed by CCB at 68.00 yuan; its supplier YC01 has 60
	// linked households (linkages.csv), so each delivery is split among all those active.
	benchSKU       = "YC-APL-5KG-DZ"
	benchPriceFen  = 6800
	benchBranch    = "HQ"
	benchPlaceCap  = 50000 // most orders one place benchmark may place (its quiet script's size)
	benchOrdersCap = 20000 // most orders the webhook benchmark may place for its deliveries
	// Each webhook-benchmark order takes deliveriesPerOrder deliveries of deliveryQty of
	// its deliveriesPerOrder×deliveryQty units, so every delivery moves money (none is
	// beyond the ordered quantity) and an order carries at most 8 events — the bundle's
	// 139 CCB orders carry 678 statement events, about 5 each.
	deliveriesPerOrder = 8
	deliveryQty        = 10
)

// syncBuffer collects the service's warnings for a failure message.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// tail returns at most the last 4 KB written.
func (s *syncBuffer) tail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.b.Bytes()
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

// benchEnv is one running service with its simulated malls, an aid_office key and an
// HTTP client.
type benchEnv struct {
	a      *app
	rt     *runtime
	sim    *mallsim.Sim
	keys   *mallsim.Keys
	token  string
	client *http.Client
	logs   *syncBuffer
}

// onEachDatabase runs run as the sub-benchmark "sqlite" (a file in a temporary directory)
// and "postgres" (a fresh database on AIDMALL_TEST_POSTGRES, dropped after; skipped with
// a message when unset). run boots its service once and measures in sub-benchmarks of its
// own, so that the boot is not repeated for every b.N.
func onEachDatabase(b *testing.B, run func(b *testing.B, dbURL string)) {
	b.Run("sqlite", func(b *testing.B) { run(b, filepath.Join(b.TempDir(), "aidmall.db")) })
	b.Run("postgres", func(b *testing.B) {
		base := os.Getenv("AIDMALL_TEST_POSTGRES")
		if base == "" {
			// Printed as well: go test shows a skipped benchmark's message only with -v.
			msg := "AIDMALL_TEST_POSTGRES not set: the PostgreSQL run is skipped (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)"
			fmt.Printf("%s: %s\n", b.Name(), msg)
			b.Skip(msg)
		}
		run(b, freshPostgres(b, base))
	})
}

// freshPostgres creates a database on the server of base and returns its URL; the
// database is dropped when b ends.
func freshPostgres(b *testing.B, base string) string {
	b.Helper()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		b.Fatal(err)
	}
	name := fmt.Sprintf("aidmall_bench_%d", time.Now().UnixNano())
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		admin.Close()
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			b.Errorf("drop benchmark database %s: %v", name, err)
		}
		admin.Close()
	})
	u, q := base, ""
	if i := strings.Index(u, "?"); i >= 0 {
		u, q = u[:i], u[i:]
	}
	return u[:strings.LastIndex(u, "/")] + "/" + name + q
}

// quietScript is a mall script under which the orders prefix+"0000001"… (n of them, at
// CCB) are created at the mall and then never notified: the benchmark sends their events
// itself, or none.
func quietScript(b *testing.B, prefix string, n int) *mallsim.Script {
	b.Helper()
	var csv strings.Builder
	csv.WriteString("order_ref,mall,out_order_no\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&csv, "%s%07d,ccb,QUIET%07d\n", prefix, i, i)
	}
	s, err := mallsim.LoadScript(fstest.MapFS{mallsim.FileOrders: {Data: []byte(csv.String())}})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// bootService starts the whole service on dbURL as the demo does — the demo's 16 job
// workers polling every 100 ms, warnings-only logging, no rate limit in the way, periodic
// reconciliation off — with both malls simulated under script (nil: the default script,
// which notifies accepted, shipped and delivered for every order). Everything stops when
// b ends.
func bootService(b *testing.B, dbURL string, script *mallsim.Script) *benchEnv {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	cfg := config.Defaults()
	cfg.DataDir = dir
	cfg.DatabaseURL = dbURL
	cfg.Listen = "127.0.0.1:0"
	cfg.LogLevel = "warn"
	cfg.Jobs.Workers = 16
	cfg.Jobs.PollInterval = 100 * time.Millisecond
	cfg.RateLimit.Requests = 1 << 30
	cfg.ReconcileInterval = 0
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))

	a, err := openApp(ctx, cfg, log, true)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	reg, err := a.registry(ctx, true)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := reg.ImportBundle(ctx, examples.YichuanDingbian2019(), false); err != nil {
		b.Fatal(err)
	}
	keys, err := mallsim.NewKeys()
	if err != nil {
		b.Fatal(err)
	}
	catalogue, err := a.store.Catalogue(ctx)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	sim, err := mallsim.Start(ctx, mallsim.Options{Keys: keys, Catalogue: catalogue, Script: script, Logger: log})
	if err != nil {
		ln.Close()
		b.Fatal(err)
	}
	ms, err := simMalls(sim, keys, nonceStore(a), log, a.store.KeepUnreadable)
	if err != nil {
		sim.Close()
		ln.Close()
		b.Fatal(err)
	}
	rt, err := startRuntime(ctx, a, ms, ln)
	if err != nil {
		sim.Close()
		b.Fatal(err)
	}
	env := &benchEnv{a: a, rt: rt, sim: sim, keys: keys, logs: logs,
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2 * benchClients}}}
	b.Cleanup(func() {
		// The malls first, so that no notification is cut off mid-request.
		_ = sim.Close()
		env.client.CloseIdleConnections()
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := rt.Stop(sctx); err != nil {
			b.Errorf("stop the service: %v", err)
		}
	})
	if env.token, _, err = a.store.CreateAPIKey(ctx, "load benchmark", orders.RoleAidOffice, ""); err != nil {
		b.Fatal(err)
	}
	return env
}

// do sends one request and returns an error unless the answer has status want.
func (e *benchEnv) do(ctx context.Context, method, path string, header http.Header, body []byte, want int) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, e.rt.URL()+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return got, fmt.Errorf("%s %s: %s, want %d: %.300s", method, path, resp.Status, want, got)
	}
	return got, nil
}

// placeBody is POST /v1/orders for one order of HQ: 1 line of benchSKU, quantity units,
// its listed price as the client's check; placedAt back-dates it unless empty.
func placeBody(orderRef string, quantity int64, placedAt string) []byte {
	o := map[string]any{
		"order_ref": orderRef, "branch_code": benchBranch, "mall": "ccb", "funding": "union_funds",
		"delivery_mode": "bulk",
		"ship_to":       map[string]string{"name": "集团总部机关工会 工会办公室", "phone": demoDeskPhone, "address": "集团总部机关工会"},
		"lines":         []map[string]any{{"sku": benchSKU, "quantity": quantity, "unit_price": "68.00"}},
	}
	if placedAt != "" {
		o["placed_at"] = placedAt
	}
	body, _ := json.Marshal(o)
	return body
}

// placeOrder posts one order under its own Idempotency-Key and wants 201.
func (e *benchEnv) placeOrder(ctx context.Context, body []byte, idemKey string) error {
	_, err := e.do(ctx, http.MethodPost, "/v1/orders", http.Header{
		"Authorization":   {"Bearer " + e.token},
		"Content-Type":    {"application/json"},
		"Idempotency-Key": {idemKey},
	}, body, http.StatusCreated)
	return err
}

// lastOrderID is the highest group order id so far (0 for none).
func (e *benchEnv) lastOrderID(ctx context.Context) (int64, error) {
	var id int64
	err := e.a.db.GetContext(ctx, &id, `SELECT COALESCE(MAX(id), 0) FROM group_orders`)
	return id, err
}

// waitAtMall waits until every order with an id above after has been created at its mall
// (the dispatch job got the mall's answer), and fails if any was rejected.
func (e *benchEnv) waitAtMall(ctx context.Context, after int64, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		var left int
		if err := e.a.db.GetContext(ctx, &left, e.a.db.Rebind(`SELECT COUNT(*) FROM group_orders
			WHERE id > ? AND NOT submitted AND reject_code = '' AND NOT cancelled`), after); err != nil {
			return err
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d orders not at their mall after %s\nservice log:\n%s", left, within, e.logs.tail())
		}
		time.Sleep(20 * time.Millisecond)
	}
	var rejected int
	if err := e.a.db.GetContext(ctx, &rejected, e.a.db.Rebind(`SELECT COUNT(*) FROM group_orders WHERE id > ? AND reject_code <> ''`), after); err != nil {
		return err
	}
	if rejected > 0 {
		return fmt.Errorf("the mall rejected %d orders\nservice log:\n%s", rejected, e.logs.tail())
	}
	return nil
}

// runClients calls op(i) for i in [0, b.N) from clients goroutines, each taking the next
// i, and returns each call's duration. The first error stops every client and fails b.
func runClients(b *testing.B, clients int, op func(i int) error) []time.Duration {
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				start := time.Now()
				if err := op(i); err != nil {
					errs <- err
					next.Store(int64(b.N))
					return
				}
				lat[i] = time.Since(start)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	return lat
}

// reportLatency reports the p50 and p99 of lat in milliseconds, and n operations over
// elapsed as per-second throughput under unit.
func reportLatency(b *testing.B, lat []time.Duration, n int, elapsed time.Duration, unit string) {
	s := slices.Clone(lat)
	slices.Sort(s)
	at := func(p float64) float64 {
		return float64(s[min(len(s)-1, int(p*float64(len(s))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(float64(n)/elapsed.Seconds(), unit)
}

// reportPool reports how the database/sql pool served the n operations since before:
// the time requests waited for a free connection, and the connections closed on release
// because more than MaxIdleConns were idle (each reopened later: on PostgreSQL a new
// backend process), per operation.
func reportPool(b *testing.B, before, after sql.DBStats, n int) {
	b.ReportMetric(float64(after.WaitDuration-before.WaitDuration)/float64(time.Millisecond)/float64(n), "conn-wait-ms/op")
	b.ReportMetric(float64(after.MaxIdleClosed-before.MaxIdleClosed)/float64(n), "conns-closed/op")
}

// BenchmarkPlaceOrderHTTP measures POST /v1/orders with an aid_office key: distinct
// Idempotency-Keys and order_refs, one line of a bundle SKU for branch HQ, from
// benchClients clients. The timer runs from the first request until every order placed
// has been created at the (simulated) CCB mall by its dispatch job, so ns/op is the
// sustained cost of an order through the API and dispatch; drain-ms is how long dispatch
// ran on after the last answer. The mall notifies nothing (quietScript), so no webhook
// traffic competes.
func BenchmarkPlaceOrderHTTP(b *testing.B) {
	onEachDatabase(b, func(b *testing.B, dbURL string) {
		const prefix = "PERF-P-"
		env := bootService(b, dbURL, quietScript(b, prefix, benchPlaceCap))
		ctx := context.Background()
		placed := 0
		b.Run(fmt.Sprintf("clients=%d", benchClients), func(b *testing.B) {
			if placed+b.N > benchPlaceCap {
				b.Fatalf("%d orders asked for, the benchmark stops at %d: use a shorter -benchtime", placed+b.N, benchPlaceCap)
			}
			bodies := make([][]byte, b.N)
			for i := range bodies {
				bodies[i] = placeBody(fmt.Sprintf("%s%07d", prefix, placed+i+1), 20, "")
			}
			first := placed
			placed += b.N
			after, err := env.lastOrderID(ctx)
			if err != nil {
				b.Fatal(err)
			}
			var afterJob int64
			if err := env.a.db.GetContext(ctx, &afterJob, `SELECT COALESCE(MAX(id), 0) FROM river_job`); err != nil {
				b.Fatal(err)
			}
			pool := env.a.db.Stats()
			b.ResetTimer()
			lat := runClients(b, benchClients, func(i int) error {
				return env.placeOrder(ctx, bodies[i], fmt.Sprintf("perf-place-%07d", first+i+1))
			})
			answered := b.Elapsed()
			if err := env.waitAtMall(ctx, after, 5*time.Minute); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			reportPool(b, pool, env.a.db.Stats(), b.N)
			reportLatency(b, lat, b.N, answered, "req/s")
			b.ReportMetric(float64((b.Elapsed() - answered).Milliseconds()), "drain-ms")
			env.reportDispatchJobs(ctx, b, afterJob)
			env.reportBareOrders(ctx, b, after, fmt.Sprintf("perf-place-%07d", first+1), float64(b.N)/answered.Seconds())
		})
	})
}

// reportBareOrders reports, beside the API's rate (req/s), the baseline measured in the
// same run: the bare insert of the rows the first order of the run wrote (the order, its
// line, its dispatch job, its idempotency key; read back from the database) b.N times
// from benchClients clients through the same pool, and the ratio of the two.
func (e *benchEnv) reportBareOrders(ctx context.Context, b *testing.B, after int64, idemKey string, apiRate float64) {
	var id int64
	if err := e.a.db.GetContext(ctx, &id, e.a.db.Rebind(`SELECT MIN(id) FROM group_orders WHERE id > ?`), after); err != nil {
		b.Fatal(err)
	}
	var rows []bench.Row
	for _, q := range []struct{ table, where string }{
		{"group_orders", `id = ?`}, {"order_lines", `order_id = ? ORDER BY id`},
	} {
		rs, err := bench.SelectRows(ctx, e.a.db.DB, q.table, e.a.db.Rebind(q.where), id)
		if err != nil {
			b.Fatal(err)
		}
		rows = append(rows, rs...)
	}
	jobOf := `json_extract(args, '$.order_id') = ?` // SQLite: text or JSONB alike
	if e.a.db.Dialect == sqlstore.Postgres {
		jobOf = `(args->>'order_id')::bigint = ?`
	}
	job, err := bench.SelectRows(ctx, e.a.db.DB, "river_job", e.a.db.Rebind(`kind = 'aidmall_dispatch' AND `+jobOf), id)
	if err != nil {
		b.Fatal(err)
	}
	rows = append(rows, job...)
	idem, err := bench.SelectRows(ctx, e.a.db.DB, "idempotency_keys", e.a.db.Rebind(`idem_key = ?`), idemKey)
	if err != nil {
		b.Fatal(err)
	}
	rows = append(rows, idem...)
	if len(rows) != 4 {
		b.Fatalf("the first order of the run wrote %d rows of group_orders, order_lines, river_job and idempotency_keys; want 4", len(rows))
	}
	op := bareOrderOp(e.a.db, rows)
	start := time.Now()
	runClients(b, benchClients, func(i int) error { return op(ctx, i) })
	bare := float64(b.N) / time.Since(start).Seconds()
	b.ReportMetric(bare, "bare-orders/s")
	b.ReportMetric(apiRate/bare, "ratio")
}

// reportDispatchJobs reports the median wait of this run's dispatch jobs (from insert to
// a worker's first attempt: River polls for them) and their median run (the attempt: load
// the order, the signed call to the mall, record the answer), in milliseconds.
func (e *benchEnv) reportDispatchJobs(ctx context.Context, b *testing.B, afterJob int64) {
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		var open int // River records completions in batches, after the work
		if err := e.a.db.GetContext(ctx, &open, e.a.db.Rebind(`SELECT COUNT(*) FROM river_job
			WHERE id > ? AND kind = 'aidmall_dispatch' AND finalized_at IS NULL`), afterJob); err != nil {
			b.Fatal(err)
		}
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d dispatch jobs not finished after a minute", open)
		}
	}
	var js []struct {
		Created   time.Time `db:"created_at"`
		Attempted time.Time `db:"attempted_at"`
		Finalized time.Time `db:"finalized_at"`
	}
	if err := e.a.db.SelectContext(ctx, &js, e.a.db.Rebind(`SELECT created_at, attempted_at, finalized_at FROM river_job
		WHERE id > ? AND kind = 'aidmall_dispatch' AND finalized_at IS NOT NULL`), afterJob); err != nil {
		b.Fatal(err)
	}
	if len(js) == 0 {
		b.Fatal("no finished dispatch job")
	}
	wait, run := make([]time.Duration, len(js)), make([]time.Duration, len(js))
	for i, j := range js {
		wait[i], run[i] = j.Attempted.Sub(j.Created), j.Finalized.Sub(j.Attempted)
	}
	median := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(ds[len(ds)/2]) / float64(time.Millisecond)
	}
	b.ReportMetric(median(wait), "job-wait-p50-ms")
	b.ReportMetric(median(run), "job-run-p50-ms")
}

// benchOrder is an order of the webhook benchmark as the mall knows it.
type benchOrder struct {
	ID          int64  `db:"id"`
	OutOrderNo  string `db:"out_order_no"`
	MallOrderNo string `db:"mall_order_no"`
}

// placeAtMall places n orders refs prefix+first+1… of deliveriesPerOrder×deliveryQty
// units each, back-dated to 2019-06-01, through the API, waits until the mall has created
// them all, and returns their numbers.
func (e *benchEnv) placeAtMall(ctx context.Context, b *testing.B, prefix string, first, n int) []benchOrder {
	b.Helper()
	after, err := e.lastOrderID(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, benchClients)
	for range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)); i <= n; i = int(next.Add(1)) {
				ref := fmt.Sprintf("%s%07d", prefix, first+i)
				if err := e.placeOrder(ctx, placeBody(ref, deliveriesPerOrder*deliveryQty, "2019-06-01T10:00:00+08:00"), "perf-"+ref); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	if err := e.waitAtMall(ctx, after, 5*time.Minute); err != nil {
		b.Fatal(err)
	}
	var os []benchOrder
	if err := e.a.db.SelectContext(ctx, &os, e.a.db.Rebind(`SELECT id, out_order_no, mall_order_no FROM group_orders WHERE id > ? ORDER BY id`), after); err != nil {
		b.Fatal(err)
	}
	if len(os) != n {
		b.Fatalf("%d orders at the mall, %d placed", len(os), n)
	}
	for _, o := range os {
		if o.MallOrderNo == "" {
			b.Fatalf("order %s has no mall order number after dispatch", o.OutOrderNo)
		}
	}
	return os
}

// signDeliveries returns the form bodies of count order.delivered notifications signed as
// the CCB mall (ccb-mall.md "Notifications" and "Signing"): event j delivers deliveryQty
// units of line 1 of order j mod len(os), on the (j div len(os))-th day from 2019-06-10,
// under notify_id "PERFN" + firstID+j. Signing (RSA 2048) runs on two goroutines.
func signDeliveries(b *testing.B, key *rsa.PrivateKey, os []benchOrder, firstID, count int) [][]byte {
	b.Helper()
	bodies := make([][]byte, count)
	start := time.Date(2019, 6, 10, 9, 0, 0, 0, bizday.Beijing)
	notifyTime := time.Now().In(bizday.Beijing).Format(ccb.TimeLayout)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := w; j < count; j += 2 {
				o := os[j%len(os)]
				at := start.AddDate(0, 0, j/len(os)).Add(time.Duration(j%len(os)) * time.Second)
				p := map[string]string{
					"notify_id": fmt.Sprintf("PERFN%09d", firstID+j), "notify_type": "order.delivered",
					"notify_time": notifyTime, "occurred_at": at.Format(ccb.TimeLayout),
					"app_id": mallsim.DefaultCCBAppID, "out_order_no": o.OutOrderNo, "mall_order_no": o.MallOrderNo,
					"line_no": "1", "quantity": strconv.Itoa(deliveryQty), "sign_type": ccb.SignType,
				}
				sign, err := ccb.Sign(key, ccb.SigningString(p, "sign", "sign_type"))
				if err != nil {
					errs <- err
					return
				}
				p["sign"] = sign
				form := url.Values{}
				for k, v := range p {
					form.Set(k, v)
				}
				bodies[j] = []byte(form.Encode())
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	return bodies
}

// BenchmarkWebhookApplyHTTP measures POST /webhooks/ccb: order.delivered notifications
// with distinct notify_ids, signed as the mall, for orders the mall has created (placed
// and dispatched outside the timer; at most deliveriesPerOrder deliveries each), from
// benchClients clients. Every answer must be 200 "success", and after the run no event
// may be held or parked and the ledger must book exactly the delivered amount.
//
// Its baseline, measured in the same run after the timed part (bare-events/s, and ratio
// = req/s ÷ bare-events/s): the bare insert of the rows one applied delivery wrote (one
// more, sent alone before the timer and read back), b.N times from benchClients clients
// through the same pool, as `aidmall bench`'s ingest part (bench.DeliveryCopy), booked on
// a spare order so that the ledger check above is unchanged.
func BenchmarkWebhookApplyHTTP(b *testing.B) {
	onEachDatabase(b, func(b *testing.B, dbURL string) {
		const prefix = "PERF-W-"
		env := bootService(b, dbURL, quietScript(b, prefix, benchOrdersCap))
		ctx := context.Background()
		placed, sent := 0, 0
		b.Run(fmt.Sprintf("clients=%d", benchClients), func(b *testing.B) {
			// One delivery more than b.N (the baseline's, sent first) and one order more
			// (the spare the baseline's copies are booked on).
			n := (b.N+1+deliveriesPerOrder-1)/deliveriesPerOrder + 1
			if placed+n > benchOrdersCap {
				b.Fatalf("%d orders needed, the benchmark stops at %d: use a shorter -benchtime", placed+n, benchOrdersCap)
			}
			after, err := env.lastOrderID(ctx)
			if err != nil {
				b.Fatal(err)
			}
			os := env.placeAtMall(ctx, b, prefix, placed, n)
			placed += n
			spare := os[n-1]
			os = os[:n-1]
			bodies := signDeliveries(b, env.keys.CCBMall, os, sent, b.N+1)
			sent += b.N + 1
			header := http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}}
			deliver := func(i int) error {
				got, err := env.do(ctx, http.MethodPost, "/webhooks/ccb", header, bodies[i], http.StatusOK)
				if err == nil && string(got) != "success" {
					err = fmt.Errorf("notification %d answered %q, want success", i, got)
				}
				return err
			}
			one, err := bench.RowsOf(ctx, env.a.db.DB, func() error { return deliver(b.N) }, "fulfilment_events", "ledger_entries")
			if err != nil {
				b.Fatal(err)
			}
			pool := env.a.db.Stats()
			b.ResetTimer()
			lat := runClients(b, benchClients, deliver)
			b.StopTimer()
			apiRate := float64(b.N) / b.Elapsed().Seconds()
			reportLatency(b, lat, b.N, b.Elapsed(), "req/s")
			reportPool(b, pool, env.a.db.Stats(), b.N)

			p, err := env.a.store.Progress(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if p.Held > 0 || p.Parked > 0 {
				b.Fatalf("after the run: %d events held, %d parked; every delivery fits its order", p.Held, p.Parked)
			}
			var booked int64
			if err := env.a.db.GetContext(ctx, &booked, env.a.db.Rebind(`SELECT COALESCE(SUM(le.amount_fen), 0)
				FROM ledger_entries le JOIN order_lines l ON l.id = le.line_id WHERE l.order_id > ? AND l.order_id <> ?`), after, spare.ID); err != nil {
				b.Fatal(err)
			}
			if want := int64(b.N+1) * deliveryQty * benchPriceFen; booked != want {
				b.Fatalf("ledger books %d fen for this run's orders, want %d (%d deliveries of %d at %d fen)", booked, want, b.N+1, deliveryQty, benchPriceFen)
			}
			env.reportBareDeliveries(ctx, b, one, spare, apiRate)
		})
	})
}

// reportBareDeliveries reports the baseline of BenchmarkWebhookApplyHTTP: rows (one
// applied delivery's) inserted again b.N times from benchClients clients through the
// same pool, booked on the order spare, and the ratio of apiRate to it.
func (e *benchEnv) reportBareDeliveries(ctx context.Context, b *testing.B, rows []bench.Row, spare benchOrder, apiRate float64) {
	var ev, ledger int
	for _, r := range rows {
		switch r.Table {
		case "fulfilment_events":
			ev++
		case "ledger_entries":
			ledger++
		}
	}
	if ev != 1 || ledger == 0 {
		b.Fatalf("one applied delivery wrote %s; want one event and its ledger entries", bench.Count(rows))
	}
	var line int64
	if err := e.a.db.GetContext(ctx, &line, e.a.db.Rebind(`SELECT id FROM order_lines WHERE order_id = ? AND line_no = 1`), spare.ID); err != nil {
		b.Fatal(err)
	}
	op := bench.DeliveryCopy(e.a.db.DB, rows, bench.DeliveryTarget{OrderID: spare.ID, LineID: line, OutOrderNo: spare.OutOrderNo, MallOrderNo: spare.MallOrderNo}, "~bare")
	bare, err := bench.Times(ctx, benchClients, b.N, op)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("baseline: bare insert of %s + 2 updates", bench.Count(rows))
	b.ReportMetric(bare, "bare-events/s")
	b.ReportMetric(apiRate/bare, "ratio")
}

// BenchmarkBenefitReportHTTP measures GET /v1/reports/benefit for 2019 by county, month
// and supplier, from benchClients clients, over the ledger of the demo's year: the
// bundle's 238 orders placed through the API (4 clients, as the demo) and fulfilled by the
// simulated malls from the bundle's statements, until everything is applied (done once,
// outside the timer, and logged with its duration).
//
// Its baseline, measured in the same run after the timed part (bare-reports/s, and ratio
// = req/s ÷ bare-reports/s): the bare GROUP BY of the report's grouping over the same
// ledger rows (bench.GroupBy, as `aidmall bench`'s reports part), b.N times from
// benchClients clients through the same pool.
//
// AIDMALL_BENCH_ORDERS=N places only the first N orders of the year (CI's smoke: a
// smaller ledger, the same paths).
func BenchmarkBenefitReportHTTP(b *testing.B) {
	onEachDatabase(b, func(b *testing.B, dbURL string) {
		year := examples.YichuanDingbian2019()
		bundle := firstOrders(b, year, os.Getenv("AIDMALL_BENCH_ORDERS"))
		script, err := mallsim.LoadScript(year) // the orders not placed are never played
		if err != nil {
			b.Fatal(err)
		}
		env := bootService(b, dbURL, script)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		start := time.Now()
		n, err := placeBundleOrders(ctx, env.a, env.rt.URL(), env.token, bundle, 4, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		idle := func(context.Context) (bool, error) { return env.sim.Idle(), nil }
		if err := waitSettled(ctx, env.a, env.rt, idle, io.Discard); err != nil {
			b.Fatalf("%v\nservice log:\n%s", err, env.logs.tail())
		}
		p, err := env.a.store.Progress(ctx)
		if err != nil {
			b.Fatal(err)
		}
		var entries int
		if err := env.a.db.GetContext(ctx, &entries, `SELECT COUNT(*) FROM ledger_entries`); err != nil {
			b.Fatal(err)
		}
		b.Logf("the demo's year loaded in %s: %d orders placed, %d events, %d ledger entries", time.Since(start).Round(time.Millisecond), n, p.Events, entries)
		header := http.Header{"Authorization": {"Bearer " + env.token}, "Accept": {"application/json"}}
		for _, by := range []string{"county", "month", "supplier"} {
			path := "/v1/reports/benefit?from=2019-01-01&to=2019-12-31&by=" + by
			bare, err := bench.GroupBy(env.a.db.DB, by, "2019-01-01", "2019-12-31")
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("by=%s/clients=%d", by, benchClients), func(b *testing.B) {
				pool := env.a.db.Stats()
				b.ResetTimer()
				lat := runClients(b, benchClients, func(int) error {
					got, err := env.do(ctx, http.MethodGet, path, header, nil, http.StatusOK)
					if err == nil && !bytes.Contains(got, []byte(`"households"`)) {
						err = fmt.Errorf("report by %s: no households in %.200s", by, got)
					}
					return err
				})
				b.StopTimer()
				reportLatency(b, lat, b.N, b.Elapsed(), "req/s")
				reportPool(b, pool, env.a.db.Stats(), b.N)
				b.ReportMetric(float64(entries), "ledger-rows")
				apiRate := float64(b.N) / b.Elapsed().Seconds()
				bareRate, err := bench.Times(ctx, benchClients, b.N, bare)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(bareRate, "bare-reports/s")
				b.ReportMetric(apiRate/bareRate, "ratio")
			})
		}
	})
}

// firstOrders returns bundle with only the first n (text, a whole number) orders of its
// orders.csv, the whole bundle when n is "".
func firstOrders(b *testing.B, bundle fs.FS, n string) fs.FS {
	b.Helper()
	if n == "" {
		return bundle
	}
	keep, err := strconv.Atoi(n)
	if err != nil || keep < 1 {
		b.Fatalf("AIDMALL_BENCH_ORDERS=%q: want a whole number ≥ 1", n)
	}
	out := fstest.MapFS{}
	err = fs.WalkDir(bundle, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(bundle, path)
		if err != nil {
			return err
		}
		if path == "orders.csv" {
			lines := strings.SplitAfter(string(data), "\n")
			data = []byte(strings.Join(lines[:min(len(lines), 1+keep)], ""))
		}
		out[path] = &fstest.MapFile{Data: data}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return out
}
