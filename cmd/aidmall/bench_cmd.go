package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing/fstest"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/spf13/cobra"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/adapters/mallsim"
	"aidmall/adapters/sqlstore"
	"aidmall/config"
	"aidmall/examples"
	"aidmall/internal/bench"
	"aidmall/internal/gen"
	"aidmall/orders"
)

type benchOpts struct {
	smoke    bool
	duration time.Duration
	clients  int
	parts    []string
	bundle   string
	scale    int
	year     int
	branch   string // intake: every order for this branch; "" spreads them over the branches
	cpuprof  string // file for a CPU profile of the whole run; "" for none
	// loaded: the reports part alone, on the database --db names as it stands (already
	// loaded, e.g. at a scale), one client at a time: each report's latency.
	loaded bool
	// scaleGiven: --scale was given (0 is then refused, not taken for "no scale").
	scaleGiven bool
}

// benchParts are the parts of `aidmall bench`, in the order they run.
var benchParts = []string{"verify", "intake", "ingest", "reports"}

func newBenchCmd(g *globals) *cobra.Command {
	o := benchOpts{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure intake, ingest, signature verification and reports, each beside its raw baseline",
		Long: `Boots the service as the demo does (a fresh SQLite database in a temporary folder unless
--db names a PostgreSQL server, on which a fresh database is made and dropped after; both
malls simulated in process; the server on 127.0.0.1) and measures, printing each figure
beside its raw baseline measured in the same run and the ratio of the two:

  verify   RSA2 (CCB) and SM2 (ABC) notification signatures verified per second, through
           the adapters and through the libraries alone
  intake   POST /v1/orders (3 lines, Idempotency-Key, dispatch job enqueued) at its peak
           with --clients clients, then paced at 70 % of that peak for p50/p99; against the
           bare insert of the rows one order writes (order, lines, job, idempotency key)
           through the same database pool with the same clients; and, after ingest, the
           peak again with the job runner stopped (jobs enqueued, none worked: no
           dispatch)
  ingest   signed order.delivered notifications applied (each split among about 50
           households); against the bare insert of the rows one applied notification wrote
           (read from the database after applying one, not written down here)
  reports  the year's benefit report through the API by county, month, supplier and
           county×month over the bundle's ledger; against the bare GROUP BY of the same rows

With --loaded, only the reports are measured, on the database --db (or DATABASE_URL) names
as it stands, e.g. a year of aidmall gen --scale N loaded by its imports: nothing is loaded
or dropped, no job is worked, and the only row written is an API key for the run, revoked
after (the audit log records both). One client at a time asks each report, so its p50 and p99 are a report's latency,
each beside the bare GROUP BY's in the same run.

Each part runs --duration (a couple of seconds with --smoke) and a bounded count. The load
average is printed beside every figure: on a shared machine read the ratios.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.loaded {
				if cmd.Flags().Changed("parts") && !slices.Equal(o.parts, []string{"reports"}) {
					for _, p := range o.parts {
						if !slices.Contains(benchParts, p) {
							return fmt.Errorf("--parts: unknown part %q (with --loaded: reports, or leave --parts out)", p)
						}
					}
					return errors.New("--loaded measures the reports part alone: give --parts reports, or leave --parts out")
				}
				o.parts = []string{"reports"}
			}
			o.scaleGiven = cmd.Flags().Changed("scale")
			return runBench(cmd.Context(), g, o)
		},
	}
	cmd.Flags().BoolVar(&o.smoke, "smoke", false, "run each part for about two seconds (a check that everything measures, not a measurement)")
	cmd.Flags().DurationVar(&o.duration, "duration", 10*time.Second, "how long each measured run lasts")
	cmd.Flags().IntVar(&o.clients, "clients", 8, "concurrent clients of the closed-loop runs")
	cmd.Flags().StringSliceVar(&o.parts, "parts", benchParts, "parts to run: "+strings.Join(benchParts, ","))
	cmd.Flags().StringVar(&o.bundle, "bundle", "", "bundle folder the service boots on (its registry and catalogue) and whose year the reports part loads (default: the embedded demo bundle)")
	cmd.Flags().IntVar(&o.scale, "scale", 0, "run on the embedded bundle scaled N times, generated as by aidmall gen --scale N into a temporary folder (removed after); instead of --bundle")
	cmd.Flags().IntVar(&o.year, "year", 2019, "the bundle's year")
	cmd.Flags().StringVar(&o.cpuprof, "cpuprofile", "", "write a CPU profile of the run (service, simulated malls and clients: one process) to this file, for go tool pprof")
	cmd.Flags().BoolVar(&o.loaded, "loaded", false, "measure the reports alone, one at a time, on the database --db names as it stands (already loaded, e.g. by gen --scale N and its imports); writes nothing but an API key for the run, revoked after (both in the audit log)")
	cmd.Flags().StringVar(&o.branch, "branch", "", "intake: place every order for this one branch (e.g. HQ); by default the orders are spread over the bundle's branches by their members, as in a New Year week")
	return cmd
}

// Bounds of one bench run, whatever --duration says.
const (
	benchMaxOrders = 20000 // orders the intake part may place (peak and paced runs)
	benchMaxEvents = 4000  // notifications the ingest part may sign and send
	benchMaxOps    = 200000
	// benchDeliverySKU is listed by CCB at 68.00 yuan; its supplier YC01 has 51 households
	// linked in June 2019, so a delivery is split among about 50.
	benchDeliverySKU = "YC-APL-5KG-DZ"
	benchQuietPrefix = "BENCH-"
	// benchRounds is how many turns a measured path and its baseline take each, so that
	// both meet the same load on a shared machine.
	benchRounds = 4
)

func runBench(ctx context.Context, g *globals, o benchOpts) error {
	out := g.stdout
	for _, p := range o.parts {
		if !slices.Contains(benchParts, p) {
			return fmt.Errorf("--parts: unknown part %q (want %s)", p, strings.Join(benchParts, ", "))
		}
	}
	if o.scaleGiven {
		if _, err := gen.ParseScale(strconv.Itoa(o.scale)); err != nil { // gen --scale's rule and words
			return fmt.Errorf("--scale: %w", err)
		}
	}
	if o.scale > 0 && o.bundle != "" {
		return errors.New("--scale N or --bundle DIR, not both")
	}
	if o.loaded && (o.scale != 0 || o.bundle != "") {
		return errors.New("--loaded measures the database as it stands: it takes no --scale or --bundle (load those with aidmall gen and the imports first)")
	}
	if o.smoke {
		o.duration = 2 * time.Second
	}
	if o.duration <= 0 || o.duration > 10*time.Minute {
		return fmt.Errorf("--duration: %s: want more than 0 and at most 10m (e.g. 10s)", o.duration)
	}
	if o.clients < 1 || o.clients > 256 {
		return fmt.Errorf("--clients: %d: want 1 to 256", o.clients)
	}
	dbURL := g.db
	if dbURL == "" {
		dbURL = g.getenv("DATABASE_URL")
	}
	if o.loaded { // refused before anything is said of what would run
		if dbURL == "" {
			return errors.New("--loaded: name the loaded database with --db (or DATABASE_URL)")
		}
		if sqlstore.DialectOf(dbURL) == sqlstore.SQLite {
			if p, err := sqlstore.SQLitePath(dbURL); err == nil {
				if _, err := os.Stat(p); err != nil {
					return fmt.Errorf("--loaded --db %s: no database there (load a year into it first: aidmall gen, then the imports)", dbURL)
				}
				if err := checkSQLiteFile(p); err != nil {
					return fmt.Errorf("--loaded --db: %w", err)
				}
			}
		}
	}
	// The database the parts will run on is checked before any part runs (the verify part
	// needs none, and took seconds before a wrong --db was said).
	needsDB := slices.ContainsFunc(o.parts, func(p string) bool { return p != "verify" })
	if !o.loaded && needsDB && dbURL != "" {
		if err := checkBenchServer(ctx, dbURL); err != nil {
			return err
		}
	}
	if o.cpuprof != "" {
		f, err := os.Create(o.cpuprof)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	b := &benchRun{o: o, out: out, bundle: examples.YichuanDingbian2019()}
	switch {
	case o.scale > 0:
		dir, err := os.MkdirTemp("", "aidmall-bench-bundle-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if err := gen.Write(examples.YichuanDingbian2019(), dir, gen.Options{Scale: o.scale}); err != nil {
			return fmt.Errorf("--scale %d: %w", o.scale, err)
		}
		b.bundle = os.DirFS(dir)
		fmt.Fprintf(out, "bundle: yichuan-dingbian-2019 scaled %d times (as aidmall gen --scale %d writes it) in %s\n", o.scale, o.scale, dir)
	case o.bundle != "":
		b.bundle = os.DirFS(o.bundle)
		fmt.Fprintf(out, "bundle: %s\n", o.bundle)
	}
	clients := fmt.Sprintf("%d clients", o.clients)
	if o.loaded {
		clients = "one client at a time"
	}
	fmt.Fprintf(out, "aidmall bench: %s per run, %s, load average %.2f\n", o.duration, clients, bench.LoadAverage())
	fmt.Fprintln(out, benchPlan(o.parts, o.duration, o.loaded))
	if o.smoke {
		fmt.Fprintln(out, smokeNote)
	}
	if slices.Contains(o.parts, "verify") {
		if err := b.timed("verify", func() error { return b.verify(ctx) }); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
	}
	if slices.Contains(o.parts, "intake") || slices.Contains(o.parts, "ingest") {
		env, err := b.boot(ctx, g, dbURL, quietBenchScript())
		if err != nil {
			return err
		}
		err = func() error {
			defer env.stop()
			if slices.Contains(o.parts, "intake") {
				if err := b.timed("intake", func() error { return b.intake(ctx, env) }); err != nil {
					return fmt.Errorf("intake: %w", err)
				}
			}
			if slices.Contains(o.parts, "ingest") {
				if err := b.timed("ingest", func() error { return b.ingest(ctx, env) }); err != nil {
					return fmt.Errorf("ingest: %w", err)
				}
			}
			if b.undispatched != nil {
				if err := b.timed("intake without dispatch", func() error { return b.undispatched(ctx) }); err != nil {
					return fmt.Errorf("intake without dispatch: %w", err)
				}
			}
			return nil
		}()
		if err != nil {
			return err
		}
	}
	if o.loaded {
		env, err := b.bootLoaded(ctx, g)
		if err != nil {
			return err
		}
		err = b.timed("reports", func() error {
			defer env.stop()
			return b.reportsLoaded(ctx, env)
		})
		if err != nil {
			return fmt.Errorf("reports: %w", err)
		}
	} else if slices.Contains(o.parts, "reports") {
		script, err := mallsim.LoadScript(b.bundle)
		if err != nil {
			return err
		}
		env, err := b.boot(ctx, g, dbURL, script)
		if err != nil {
			return err
		}
		err = b.timed("reports", func() error {
			defer env.stop()
			return b.reports(ctx, env, b.bundle)
		})
		if err != nil {
			return fmt.Errorf("reports: %w", err)
		}
	}
	fmt.Fprintln(out)
	if err := bench.Print(out, b.figures); err != nil {
		return err
	}
	if o.smoke {
		fmt.Fprintln(out, smokeNote)
	}
	return nil
}

// smokeNote heads and ends a --smoke run's output: its figures are not to be read as the
// service's speed (a p99 of two seconds' traffic, on a machine busy with anything else).
const smokeNote = "smoke run: each part ran about 2 s to check that it measures; these figures are not measurements (docs/PERFORMANCE.md has those, and how to take them)"

// benchRun collects the figures of one `aidmall bench`.
type benchRun struct {
	o       benchOpts
	out     io.Writer
	bundle  fs.FS // the service boots on its registry and catalogue; reports loads its year
	figures []bench.Figure
	// undispatched measures intake's peak with the job runner stopped (set by intake, run
	// last on its service: the runner is not started again).
	undispatched func(context.Context) error
}

func (b *benchRun) add(f bench.Figure) {
	f.Load = bench.LoadAverage()
	b.figures = append(b.figures, f)
	base := ""
	if f.Baseline != 0 {
		base = fmt.Sprintf("  baseline %.1f %s (%s)  ratio %.2f", f.Baseline, f.Unit, f.BaseName, f.Ratio())
	}
	fmt.Fprintf(b.out, "  %-8s %-40s %.1f %s%s  load %.2f\n", f.Part, f.Name, f.Value, f.Unit, base, f.Load)
}

// quietBenchScript has the malls create the orders BENCH-0000001… at CCB and notify
// nothing: the bench sends the notifications itself, or none.
func quietBenchScript() *mallsim.Script {
	var csv strings.Builder
	csv.WriteString("order_ref,mall,out_order_no\n")
	for i := 1; i <= benchMaxOrders+benchMaxEvents; i++ {
		fmt.Fprintf(&csv, "%s%07d,ccb,QUIET%07d\n", benchQuietPrefix, i, i)
	}
	s, err := mallsim.LoadScript(fstest.MapFS{mallsim.FileOrders: {Data: []byte(csv.String())}})
	if err != nil {
		panic(err) // a fixed script
	}
	return s
}

// stopRunner stops the service's job runner once (River's does not start again).
func (e *benchService) stopRunner(ctx context.Context) error {
	if e.runnerStopped {
		return nil
	}
	if err := e.rt.runner.Stop(ctx); err != nil {
		return fmt.Errorf("stop the job runner: %w", err)
	}
	e.runnerStopped = true
	return nil
}

// benchService is one running service with its simulated malls and an aid_office key.
type benchService struct {
	a      *app
	rt     *runtime
	sim    *mallsim.Sim
	keys   *mallsim.Keys
	token  string
	keyID  int64
	client *http.Client
	stop   func()
	placed int // BENCH- orders placed so far
	// branchOf picks the branch of the n-th BENCH- order; nil: HQ.
	branchOf func(n int) string
	// runnerStopped: the job runner has been stopped (stopRunner).
	runnerStopped bool
}

// boot starts the service on a fresh database as the demo does: a SQLite file in a
// temporary folder, or a database made for the run on the PostgreSQL server of dbURL
// (dropped after); b.bundle's registry and catalogue imported as the demo imports them;
// both malls simulated under script.
func (b *benchRun) boot(ctx context.Context, g *globals, dbURL string, script *mallsim.Script) (_ *benchService, err error) {
	var c cleanups
	defer func() {
		if err != nil {
			c.run()
		}
	}()
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	switch {
	case dbURL == "":
		dir, err := os.MkdirTemp("", "aidmall-bench-")
		if err != nil {
			return nil, err
		}
		c.add(func() { os.RemoveAll(dir) })
		cfg.DatabaseURL = filepath.Join(dir, "bench.db")
	case sqlstore.DialectOf(dbURL) == sqlstore.Postgres:
		u, drop, err := freshBenchPostgres(ctx, dbURL)
		if err != nil {
			return nil, err
		}
		c.add(drop)
		cfg.DatabaseURL = u
	default: // refused before the run already (checkBenchServer): not a PostgreSQL URL
		return nil, checkBenchServer(ctx, dbURL)
	}
	dir, err := os.MkdirTemp("", "aidmall-bench-data-")
	if err != nil {
		return nil, err
	}
	c.add(func() { os.RemoveAll(dir) })
	cfg.DataDir = dir
	if cfg.SealKey == "" {
		// A key for this run's database alone, removed with it: nothing to back up, so no
		// "generated a new seal key" warning (the service's own first run gives one).
		key := make([]byte, config.SealKeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		cfg.SealKey = base64.StdEncoding.EncodeToString(key)
	}
	log := benchLogger(g)
	a, err := openApp(ctx, benchServing(cfg), log, true)
	if err != nil {
		return nil, err
	}
	c.add(func() { a.Close() })
	// No budgets stored (year 0): intake and ingest place orders past any branch's budget.
	if _, err := importBundleRegistry(ctx, a, b.bundle, 0); err != nil {
		return nil, err
	}
	return b.serve(ctx, a, script, log, &c, " and its database removed")
}

// bootLoaded starts the service on the database as configured (--db, DATABASE_URL and the
// rest of the configuration, its seal key included) without migrating it or working its
// jobs, with both malls simulated and idle: for the reports alone.
func (b *benchRun) bootLoaded(ctx context.Context, g *globals) (_ *benchService, err error) {
	var c cleanups
	defer func() {
		if err != nil {
			c.run()
		}
	}()
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	log := benchLogger(g)
	a, err := openApp(ctx, benchServing(cfg), log, false)
	if err != nil {
		return nil, err
	}
	a.jobsOff = true
	c.add(func() { a.Close() })
	env, err := b.serve(ctx, a, quietBenchScript(), log, &c, "")
	if err != nil {
		return nil, err
	}
	// The run's API key is revoked before the service stops (c runs in reverse).
	c.add(func() {
		if err := a.store.RevokeAPIKey(context.WithoutCancel(ctx), env.keyID); err != nil {
			fmt.Fprintf(b.out, "  the run's API key %d was not revoked: %v (aidmall keys revoke %d)\n", env.keyID, err, env.keyID)
		}
	})
	return env, nil
}

// benchServing is cfg as the bench serves it: on a port of its own on 127.0.0.1, logging
// warnings only, without rate limits or the reconcile job.
func benchServing(cfg config.Config) config.Config {
	cfg.Listen = "127.0.0.1:0"
	cfg.LogLevel = "warn"
	cfg.RateLimit.Requests = 1 << 30
	cfg.RateLimit.Burst = 1 << 20
	cfg.ReconcileInterval = 0
	return cfg
}

func benchLogger(g *globals) *slog.Logger {
	return slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// cleanups are undone in the reverse order they were added.
type cleanups []func()

func (c *cleanups) add(f func()) { *c = append(*c, f) }

func (c *cleanups) run() {
	for i := len(*c) - 1; i >= 0; i-- {
		(*c)[i]()
	}
	*c = nil
}

// serve starts app a's API, with both malls simulated under script, and an aid_office
// key for the run; c gathers what stopping undoes, and removed says what else stopping
// does (for its message when it takes time).
func (b *benchRun) serve(ctx context.Context, a *app, script *mallsim.Script, log *slog.Logger, c *cleanups, removed string) (*benchService, error) {
	keys, err := mallsim.NewKeys()
	if err != nil {
		return nil, err
	}
	catalogue, err := a.store.Catalogue(ctx)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return nil, err
	}
	sim, err := mallsim.Start(ctx, mallsim.Options{Keys: keys, Catalogue: catalogue, Script: script, Logger: log})
	if err != nil {
		ln.Close()
		return nil, err
	}
	c.add(func() { sim.Close() })
	ms, err := simMalls(sim, keys, nonceStore(a), log, a.store.KeepUnreadable)
	if err != nil {
		ln.Close()
		return nil, err
	}
	rt, err := startRuntime(ctx, a, ms, ln)
	if err != nil {
		return nil, err
	}
	env := &benchService{a: a, rt: rt, sim: sim, keys: keys,
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2 * b.o.clients}}}
	c.add(func() {
		_ = sim.Close() // the malls first, so that no notification is cut off
		env.client.CloseIdleConnections()
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = rt.Stop(sctx)
	})
	token, key, err := a.store.CreateAPIKey(ctx, "bench", orders.RoleAidOffice, "")
	if err != nil {
		return nil, err
	}
	env.token, env.keyID = token, key.ID
	env.stop = func() {
		start := time.Now()
		c.run()
		if d := time.Since(start); d >= time.Second {
			fmt.Fprintf(b.out, "  service stopped%s in %s\n", removed, d.Round(time.Second))
		}
	}
	jobs := fmt.Sprintf("%d job workers polling every %s", a.cfg.Jobs.Workers, a.cfg.Jobs.PollInterval)
	if a.jobsOff {
		jobs = "no job worked"
	}
	fmt.Fprintf(b.out, "service on %s (%s), %s\n", rt.URL(), a.db.Dialect, jobs)
	return env, nil
}

// checkBenchServer says, before the run, why dbURL cannot hold the bench's own database:
// not a PostgreSQL URL (the bench makes its own SQLite file; a loaded one is --loaded's),
// or a server that does not answer.
func checkBenchServer(ctx context.Context, dbURL string) error {
	if sqlstore.DialectOf(dbURL) != sqlstore.Postgres {
		return errors.New("--db (or DATABASE_URL, its default): the bench makes its own SQLite file; give a postgres:// URL, or unset DATABASE_URL (to measure the reports of a database you loaded, add --loaded)")
	}
	admin, err := sql.Open("pgx", dbURL)
	if err != nil {
		return fmt.Errorf("--db: %w", err)
	}
	defer admin.Close()
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := admin.PingContext(pctx); err != nil {
		return fmt.Errorf("--db: the PostgreSQL server does not answer (the bench makes its database there): %w", err)
	}
	return nil
}

// freshBenchPostgres makes a database on the server of base and returns its URL and the
// function that drops it.
func freshBenchPostgres(ctx context.Context, base string) (string, func(), error) {
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	name := fmt.Sprintf("aidmall_bench_%d", time.Now().UnixNano())
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("make the bench database: %w", err)
	}
	drop := func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		admin.Close()
	}
	u, q := base, ""
	if i := strings.Index(u, "?"); i >= 0 {
		u, q = u[:i], u[i:]
	}
	return u[:strings.LastIndex(u, "/")] + "/" + name + q, drop, nil
}

// post sends one request and wants status want.
func (e *benchService) post(ctx context.Context, path string, header http.Header, body []byte, want int) ([]byte, error) {
	return e.send(ctx, http.MethodPost, path, header, body, want)
}

func (e *benchService) send(ctx context.Context, method, path string, header http.Header, body []byte, want int) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, e.rt.URL()+path, strings.NewReader(string(body)))
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return got, fmt.Errorf("%s %s: %s, want %d: %.300s", method, path, resp.Status, want, got)
	}
	return got, nil
}

// ccbSKUs returns the delivery SKU and two other products CCB lists, for 3-line orders.
func (e *benchService) ccbSKUs(ctx context.Context) ([]string, error) {
	cat, err := e.a.store.Catalogue(ctx)
	if err != nil {
		return nil, err
	}
	skus := []string{benchDeliverySKU}
	for _, p := range cat {
		if _, _, ok := p.Listing("ccb"); ok && p.SKU != benchDeliverySKU && len(skus) < 3 {
			skus = append(skus, p.SKU)
		}
	}
	if len(skus) < 3 {
		return nil, errors.New("the catalogue lists fewer than 3 products at CCB")
	}
	return skus, nil
}

// orderBody is POST /v1/orders for the next BENCH- order at CCB (of HQ, or of the branch
// e.branchOf picks): one line per SKU,
// line 1 of qty1 units, the others of 2; placedAt back-dates it unless empty.
func (e *benchService) orderBody(skus []string, qty1 int64, placedAt string) (ref string, body []byte) {
	e.placed++
	ref = fmt.Sprintf("%s%07d", benchQuietPrefix, e.placed)
	branch := "HQ"
	if e.branchOf != nil {
		branch = e.branchOf(e.placed)
	}
	lines := make([]map[string]any, len(skus))
	for i, s := range skus {
		q := int64(2)
		if i == 0 {
			q = qty1
		}
		lines[i] = map[string]any{"sku": s, "quantity": q}
	}
	o := map[string]any{
		"order_ref": ref, "branch_code": branch, "mall": "ccb", "funding": "union_funds", "delivery_mode": "bulk",
		"ship_to": map[string]string{"name": "集团总部机关工会 工会办公室", "phone": demoDeskPhone, "address": "集团总部机关工会"},
		"lines":   lines,
	}
	if placedAt != "" {
		o["placed_at"] = placedAt
	}
	body, _ = json.Marshal(o)
	return ref, body
}

func (e *benchService) orderHeader(idemKey string) http.Header {
	return http.Header{"Authorization": {"Bearer " + e.token}, "Content-Type": {"application/json"}, "Idempotency-Key": {idemKey}}
}

// intake measures POST /v1/orders at its peak and at 70 % of it, and the bare insert.
func (b *benchRun) intake(ctx context.Context, e *benchService) error {
	skus, err := e.ccbSKUs(ctx)
	if err != nil {
		return err
	}
	// A New Year week's orders come from every branch, a branch of more members more
	// often; --branch puts them all on one (every order then waits for that branch's
	// budget lock in turn).
	pick, spread, err := benchBranches(ctx, e, b.o.branch)
	if err != nil {
		return err
	}
	e.branchOf = pick
	defer func() { e.branchOf = nil }()
	fmt.Fprintf(b.out, "  intake: orders (union_funds, %d lines at CCB) %s\n", len(skus), spread)
	// One order first, alone: the rows it wrote are the baseline's.
	snap, err := bench.TakeSnapshot(ctx, e.a.db.DB)
	if err != nil {
		return err
	}
	ref, body := e.orderBody(skus, 2, "")
	if _, err := e.post(ctx, "/v1/orders", e.orderHeader("bench-"+ref), body, http.StatusCreated); err != nil {
		return err
	}
	all, err := bench.NewRows(ctx, e.a.db.DB, snap, "group_orders", "order_lines", "river_job")
	if err != nil {
		return err
	}
	var rows []bench.Row
	for _, r := range all {
		if r.Table == "group_orders" || r.Table == "order_lines" || (r.Table == "river_job" && fmt.Sprint(r.Get("kind")) == "aidmall_dispatch") {
			rows = append(rows, r)
		}
	}
	idem, err := bench.SelectRows(ctx, e.a.db.DB, "idempotency_keys", e.a.db.Rebind(`api_key_id = ? AND idem_key = ?`), e.keyID, "bench-"+ref)
	if err != nil {
		return err
	}
	rows = append(rows, idem...)
	if len(rows) != 1+len(skus)+1+1 {
		return fmt.Errorf("one order wrote %d rows of group_orders, order_lines, river_job (dispatch) and idempotency_keys; want %d", len(rows), len(skus)+3)
	}

	bodies := make([][]byte, 0, 1024)
	refs := make([]string, 0, 1024)
	var sent atomic.Int64 // bodies taken, across the turns of a run
	op := func(ctx context.Context, _ int) error {
		i := int(sent.Add(1) - 1)
		if i >= len(bodies) {
			return bench.ErrDone
		}
		_, err := e.post(ctx, "/v1/orders", e.orderHeader("bench-"+refs[i]), bodies[i], http.StatusCreated)
		return err
	}
	prepare := func(n int) {
		bodies, refs = bodies[:0], refs[:0]
		for range n {
			r, bd := e.orderBody(skus, 2, "")
			refs, bodies = append(refs, r), append(bodies, bd)
		}
	}
	budget := benchMaxOrders - e.placed
	prepare(budget * 6 / 10)
	// In turns with the bare insert of the same rows, same pool, same clients.
	bareOp := bareOrderOp(e.a.db, rows)
	peak, bare, err := bench.Alternate(ctx, benchRounds, b.o.duration, func(ctx context.Context, d time.Duration) (bench.Result, error) {
		return bench.Closed(ctx, b.o.clients, d, max(1, len(bodies)-int(min(sent.Load(), int64(len(bodies))))), op)
	}, func(ctx context.Context, d time.Duration) (bench.Result, error) {
		return bench.Closed(ctx, b.o.clients, d, benchMaxOps, bareOp)
	})
	if err != nil {
		return err
	}
	e.placed -= len(bodies) - int(min(sent.Load(), int64(len(bodies)))) // refs not sent are used again
	b.add(bench.Figure{Part: "intake", Name: fmt.Sprintf("POST /v1/orders, %d lines, peak", len(skus)), Value: peak.Rate(), Unit: "orders/s",
		Baseline: bare.Rate(), BaseName: fmt.Sprintf("bare insert of %d rows", len(rows))})

	rate := 0.7 * peak.Rate()
	prepare(min(benchMaxOrders-e.placed, int(rate*b.o.duration.Seconds())+1))
	sent.Store(0)
	// The latency's baseline: the bare insert of the same rows, paced alike, in turns.
	paced, barePaced, err := bench.Alternate(ctx, benchRounds, b.o.duration, func(ctx context.Context, d time.Duration) (bench.Result, error) {
		return bench.Paced(ctx, rate, d, max(1, len(bodies)-int(min(sent.Load(), int64(len(bodies))))), 4*b.o.clients, op)
	}, func(ctx context.Context, d time.Duration) (bench.Result, error) {
		return bench.Paced(ctx, rate, d, benchMaxOps, 4*b.o.clients, bareOp)
	})
	if err != nil {
		return err
	}
	pacedBare := fmt.Sprintf("bare insert of %d rows at the same pace", len(rows))
	b.add(bench.Figure{Part: "intake", Name: fmt.Sprintf("at 70%% of peak (%.0f/s): rate", rate), Value: paced.Rate(), Unit: "orders/s",
		Baseline: barePaced.Rate(), BaseName: pacedBare})
	b.add(bench.Figure{Part: "intake", Name: "at 70% of peak: p50", Value: bench.Ms(paced.Percentile(0.50)), Unit: "ms", Time: true,
		Baseline: bench.Ms(barePaced.Percentile(0.50)), BaseName: pacedBare})
	b.add(bench.Figure{Part: "intake", Name: "at 70% of peak: p99", Value: bench.Ms(paced.Percentile(0.99)), Unit: "ms", Time: true,
		Baseline: bench.Ms(barePaced.Percentile(0.99)), BaseName: pacedBare})

	// The same peak with the job runner stopped, measured last (after ingest, which needs
	// the dispatch; River's runner does not start again on PostgreSQL once stopped).
	b.undispatched = func(ctx context.Context) error {
		// The orders' dispatch jobs are enqueued in their transactions as always, but none
		// is worked (no mall call, no RSA signature, no job's commits beside the orders').
		// The measure is "POST + job enqueued"; the peak above includes the
		// dispatch running on the same cores.
		if err := e.stopRunner(ctx); err != nil {
			return err
		}
		e.branchOf = pick
		defer func() { e.branchOf = nil }()
		prepare(benchMaxOrders - e.placed)
		sent.Store(0)
		undispatched, bare, err := bench.Alternate(ctx, benchRounds, b.o.duration, func(ctx context.Context, d time.Duration) (bench.Result, error) {
			return bench.Closed(ctx, b.o.clients, d, max(1, len(bodies)-int(min(sent.Load(), int64(len(bodies))))), op)
		}, func(ctx context.Context, d time.Duration) (bench.Result, error) {
			return bench.Closed(ctx, b.o.clients, d, benchMaxOps, bareOp)
		})
		if err != nil {
			return err
		}
		e.placed -= len(bodies) - int(min(sent.Load(), int64(len(bodies))))
		b.add(bench.Figure{Part: "intake", Name: fmt.Sprintf("POST /v1/orders, %d lines, peak, no dispatch", len(skus)), Value: undispatched.Rate(), Unit: "orders/s",
			Baseline: bare.Rate(), BaseName: fmt.Sprintf("bare insert of %d rows", len(rows))})
		return nil
	}
	return nil
}

// benchBranches returns how intake picks the branch of its n-th order, and says so: every
// order for branch one when set (it must exist), else the bundle's branches, each in
// proportion to its members (a deterministic weighted shuffle: the runs compare).
func benchBranches(ctx context.Context, e *benchService, one string) (func(int) string, string, error) {
	var rows []struct {
		Code    string `db:"code"`
		Members int    `db:"members"`
	}
	if err := e.a.db.SelectContext(ctx, &rows, `SELECT code, members FROM branches ORDER BY code`); err != nil {
		return nil, "", fmt.Errorf("branches: %w", err)
	}
	if one != "" {
		for _, r := range rows {
			if r.Code == one {
				return func(int) string { return one }, "all for branch " + one + " (--branch)", nil
			}
		}
		return nil, "", fmt.Errorf("--branch %q: no such branch in the bundle", one)
	}
	if len(rows) == 0 {
		return nil, "", errors.New("the bundle has no branches")
	}
	// A cycle of 1,000 slots shared by members (at least one slot each), shuffled.
	total := 0
	for _, r := range rows {
		total += max(r.Members, 1)
	}
	var cycle []string
	for _, r := range rows {
		n := max(1, max(r.Members, 1)*1000/total)
		for range n {
			cycle = append(cycle, r.Code)
		}
	}
	rng := mrand.New(mrand.NewPCG(2019, 2))
	rng.Shuffle(len(cycle), func(i, j int) { cycle[i], cycle[j] = cycle[j], cycle[i] })
	return func(n int) string { return cycle[n%len(cycle)] },
		fmt.Sprintf("spread over the bundle's %d branches by members, as in a New Year week (--branch CODE for one)", len(rows)), nil
}

// ingest measures signed order.delivered notifications applied, and the bare insert of
// the rows one of them wrote.
func (b *benchRun) ingest(ctx context.Context, e *benchService) error {
	skus, err := e.ccbSKUs(ctx)
	if err != nil {
		return err
	}
	n := benchMaxEvents
	if b.o.smoke {
		n = 400
	}
	// Orders of 80 units on line 1, each delivered 10 at a time.
	const perOrder, qty = 8, 10
	k := (n + perOrder - 1) / perOrder
	var after int64
	if err := e.a.db.GetContext(ctx, &after, `SELECT COALESCE(MAX(id), 0) FROM group_orders`); err != nil {
		return err
	}
	// One order more than the deliveries need: the baseline books its copies on it, so
	// that they never count against an order the run delivers to.
	k++
	bodies := make([][]byte, k)
	refs := make([]string, k)
	for i := range bodies {
		refs[i], bodies[i] = e.orderBody(skus, perOrder*qty, "2019-06-01T10:00:00+08:00")
	}
	if _, err := bench.Closed(ctx, b.o.clients, 10*time.Minute, k, func(ctx context.Context, i int) error {
		_, err := e.post(ctx, "/v1/orders", e.orderHeader("bench-"+refs[i]), bodies[i], http.StatusCreated)
		return err
	}); err != nil {
		return fmt.Errorf("place the orders to deliver: %w", err)
	}
	var os []deliveryTarget
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		os = os[:0]
		if err := e.a.db.SelectContext(ctx, &os, e.a.db.Rebind(`SELECT id, out_order_no, mall_order_no FROM group_orders
			WHERE id > ? AND submitted ORDER BY id`), after); err != nil {
			return err
		}
		if len(os) == k {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d orders at the mall after 5 minutes", len(os), k)
		}
	}
	// Every order is at the mall: the dispatch is not needed again (an applied delivery
	// enqueues no job). On SQLite the job runner stops here: the baseline's bulk inserts
	// from 8 clients and the rollups check after the run each hold the service's one
	// connection for seconds, during which River's leader election and job fetches time
	// out and log errors that say nothing about the measurement.
	if e.a.db.Dialect == sqlstore.SQLite {
		if err := e.stopRunner(ctx); err != nil {
			return err
		}
	}
	spare := os[k-1]
	os = os[:k-1]
	var spareLine int64
	if err := e.a.db.GetContext(ctx, &spareLine, e.a.db.Rebind(`SELECT id FROM order_lines WHERE order_id = ? AND line_no = 1`), spare.ID); err != nil {
		return err
	}
	notes, err := signBenchDeliveries(e.keys.CCBMall, os, n, qty)
	if err != nil {
		return err
	}
	header := http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}}
	deliver := func(ctx context.Context, i int) error {
		got, err := e.post(ctx, "/webhooks/ccb", header, notes[i], http.StatusOK)
		if err == nil && string(got) != "success" {
			err = fmt.Errorf("notification %d answered %q, want success", i, got)
		}
		return err
	}
	// One first, alone: the rows it wrote are the baseline's: the rows with an id it
	// added, and the rows of the rollups (no id: keyed by their columns) it added or
	// changed.
	snap, err := bench.TakeSnapshot(ctx, e.a.db.DB)
	if err != nil {
		return err
	}
	sums, err := bench.TakeContents(ctx, e.a.db.DB, bench.SumTable)
	if err != nil {
		return err
	}
	if err := deliver(ctx, 0); err != nil {
		return err
	}
	rows, err := bench.NewRows(ctx, e.a.db.DB, snap, "fulfilment_events", "ledger_entries")
	if err != nil {
		return err
	}
	sumRows, err := bench.ChangedRows(ctx, e.a.db.DB, sums)
	if err != nil {
		return err
	}
	// River's own bookkeeping may have moved meanwhile; an applied delivery writes no job.
	rows = slices.DeleteFunc(rows, func(r bench.Row) bool { return strings.HasPrefix(r.Table, "river_") })
	var ev, ledger int
	tables := map[string]int{}
	for _, r := range append(slices.Clip(rows), sumRows...) {
		tables[r.Table]++
		switch r.Table {
		case "fulfilment_events":
			ev++
		case "ledger_entries":
			ledger++
		}
	}
	if ev != 1 || ledger < 40 || len(sumRows) < 2*ledger {
		return fmt.Errorf("one delivery wrote %v; want one event, a ledger split among about 50 households and its rollup rows", tables)
	}
	var delivered atomic.Int64
	delivered.Store(1)
	deliverNext := func(ctx context.Context, _ int) error {
		i := int(delivered.Add(1) - 1)
		if i >= n {
			return bench.ErrDone
		}
		return deliver(ctx, i)
	}
	// names lists the rows of the tables of rs by table (the ledger's rows first).
	names := func(rs []bench.Row) string {
		var ts []string
		for _, r := range rs {
			if !slices.Contains(ts, r.Table) {
				ts = append(ts, r.Table)
			}
		}
		out := make([]string, len(ts))
		for i, t := range ts {
			out[i] = fmt.Sprintf("%d %s", tables[t], t)
		}
		return strings.Join(out, ", ")
	}
	all := append(slices.Clip(rows), sumRows...)
	to := bench.DeliveryTarget{OrderID: spare.ID, LineID: spareLine, OutOrderNo: spare.OutOrderNo, MallOrderNo: spare.MallOrderNo}
	bareAll, bareLedger := bench.DeliveryCopy(e.a.db.DB, all, to, "~bare"), bench.DeliveryCopy(e.a.db.DB, rows, to, "~bareledger")
	// The service joins concurrent notifications into one transaction (group commit,
	// orders/applyjoin.go): at most one per client at a time. The strictest bare baseline
	// joins as many: every client's delivery in one transaction, written by one writer.
	joined := bench.DeliveryCopies(e.a.db.DB, all, to, "~barejoined", b.o.clients)
	join0 := e.rt.svc.JoinStats()
	rs, err := bench.AlternateAll(ctx, benchRounds, b.o.duration, func(ctx context.Context, d time.Duration) (bench.Result, error) {
		return bench.Closed(ctx, b.o.clients, d, max(1, n-int(min(delivered.Load(), int64(n)))), deliverNext)
	}, func(ctx context.Context, d time.Duration) (bench.Result, error) {
		return bench.Closed(ctx, b.o.clients, d, benchMaxOps, bareAll)
	}, func(ctx context.Context, d time.Duration) (bench.Result, error) {
		return bench.Closed(ctx, b.o.clients, d, benchMaxOps, bareLedger)
	}, func(ctx context.Context, d time.Duration) (bench.Result, error) {
		return bench.Closed(ctx, 1, d, max(1, benchMaxOps/b.o.clients), joined)
	})
	join := e.rt.svc.JoinStats()
	join.Events -= join0.Events
	join.Transactions -= join0.Transactions
	if err != nil {
		return err
	}
	run := rs[0]
	p, err := e.a.store.Progress(ctx)
	if err != nil {
		return err
	}
	if p.Held > 0 || p.Parked > 0 {
		return fmt.Errorf("after the run %d events are held and %d parked; every delivery fits its order", p.Held, p.Parked)
	}
	var rollupTables []string
	for t := range sums {
		rollupTables = append(rollupTables, t)
	}
	if err := removeBareDeliveries(ctx, e.a.db, spare, spareLine, rollupTables); err != nil {
		return err
	}
	diffs, total, err := e.a.store.VerifyRollups(ctx)
	if err != nil {
		return err
	}
	if total > 0 {
		return fmt.Errorf("after the run %d rollup rows differ from the ledger (first: %+v)", total, diffs[0])
	}
	fmt.Fprintf(b.out, "  ingest   rollups verified against the ledger after the run: no difference\n")
	// The rollups are kept in the ledger's transaction (issue 10): rows of the same work,
	// in the baseline. The ledger-only baseline is printed too, as it was measured before.
	b.add(bench.Figure{Part: "ingest", Name: fmt.Sprintf("signed deliveries applied (%d households)", ledger), Value: run.Rate(), Unit: "events/s",
		Baseline: rs[1].Rate(), BaseName: "bare insert of every row one delivery wrote: " + names(all) + " + 2 updates"})
	b.add(bench.Figure{Part: "ingest", Name: "signed deliveries vs ledger rows only", Value: run.Rate(), Unit: "events/s",
		Baseline: rs[2].Rate(), BaseName: "bare insert of " + names(rows) + " + 2 updates"})
	if join.Transactions > 0 {
		b.add(bench.Figure{Part: "ingest", Name: "signed deliveries vs bare joined inserts", Value: run.Rate(), Unit: "events/s",
			Baseline: rs[3].Rate() * float64(b.o.clients), BaseName: fmt.Sprintf("bare insert of every row of %d deliveries a transaction, one writer; the service joined %.1f a transaction (%d events, %d transactions)",
				b.o.clients, float64(join.Events)/float64(join.Transactions), join.Events, join.Transactions)})
	}
	b.add(bench.Figure{Part: "ingest", Name: "p99", Value: bench.Ms(run.Percentile(0.99)), Unit: "ms", Time: true,
		Baseline: bench.Ms(rs[1].Percentile(0.99)), BaseName: "bare insert of every row one delivery wrote, same clients"})
	return nil
}

// signBenchDeliveries returns n order.delivered notifications of qty units of line 1,
// signed as the CCB mall, spread over the orders os (at most 8 each), on days from
// 2019-06-10.
func signBenchDeliveries(key *rsa.PrivateKey, os []deliveryTarget, n int, qty int) ([][]byte, error) {
	start := time.Date(2019, 6, 10, 9, 0, 0, 0, time.FixedZone("CST", 8*3600))
	notifyTime := time.Now().In(start.Location()).Format(ccb.TimeLayout)
	out := make([][]byte, n)
	for j := range out {
		o := os[j%len(os)]
		at := start.AddDate(0, 0, j/len(os)).Add(time.Duration(j%len(os)) * time.Second)
		p := map[string]string{
			"notify_id": fmt.Sprintf("BENCHN%09d", j), "notify_type": "order.delivered",
			"notify_time": notifyTime, "occurred_at": at.Format(ccb.TimeLayout),
			"app_id": mallsim.DefaultCCBAppID, "out_order_no": o.OutOrderNo, "mall_order_no": o.MallOrderNo,
			"line_no": "1", "quantity": fmt.Sprint(qty), "sign_type": ccb.SignType,
		}
		sign, err := ccb.Sign(key, ccb.SigningString(p, "sign", "sign_type"))
		if err != nil {
			return nil, err
		}
		p["sign"] = sign
		form := url.Values{}
		for k, v := range p {
			form.Set(k, v)
		}
		out[j] = []byte(form.Encode())
	}
	return out, nil
}

// abcSignerID is the SM2 signer id of abc-mall.md "Keys and identity" (adapters/abc's
// signerID), for the library-alone baseline.
const abcSignerID = "1234567812345678"

// verify measures notification signature checks per second: the adapters' Verify against
// the libraries' own calls on the same message and signature.
func (b *benchRun) verify(ctx context.Context) error {
	d := b.o.duration
	clients := 2
	msg := strings.Repeat("app_id=AIDMALL&line_no=1&notify_id=N000000001&notify_type=order.delivered&", 3)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	rsig, err := ccb.Sign(rk, msg)
	if err != nil {
		return err
	}
	rawSig, err := base64.StdEncoding.DecodeString(rsig)
	if err != nil {
		return err
	}
	adapter, lib, err := bench.Alternate(ctx, benchRounds, d, func(ctx context.Context, d time.Duration) (bench.Result, error) {
		return bench.Closed(ctx, clients, d, benchMaxOps, func(context.Context, int) error { return ccb.Verify(&rk.PublicKey, msg, rsig) })
	}, func(ctx context.Context, d time.Duration) (bench.Result, error) {
		return bench.Closed(ctx, clients, d, benchMaxOps, func(context.Context, int) error {
			h := sha256.Sum256([]byte(msg))
			return rsa.VerifyPKCS1v15(&rk.PublicKey, crypto.SHA256, h[:], rawSig)
		})
	})
	if err != nil {
		return err
	}
	b.add(bench.Figure{Part: "verify", Name: "RSA2 (ccb.Verify)", Value: adapter.Rate(), Unit: "verifications/s", Baseline: lib.Rate(), BaseName: "crypto/rsa alone"})

	sk, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	ssig, err := abc.Sign(sk, msg)
	if err != nil {
		return err
	}
	der, err := base64.StdEncoding.DecodeString(ssig)
	if err != nil {
		return err
	}
	adapter, lib, err = bench.Alternate(ctx, benchRounds, d, func(ctx context.Context, d time.Duration) (bench.Result, error) {
		return bench.Closed(ctx, clients, d, benchMaxOps, func(context.Context, int) error { return abc.Verify(&sk.PublicKey, msg, ssig) })
	}, func(ctx context.Context, d time.Duration) (bench.Result, error) {
		return bench.Closed(ctx, clients, d, benchMaxOps, func(context.Context, int) error {
			if !sm2.VerifyASN1WithSM2(&sk.PublicKey, []byte(abcSignerID), []byte(msg), der) {
				return errors.New("sm2: signature refused")
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	b.add(bench.Figure{Part: "verify", Name: "SM2 (abc.Verify)", Value: adapter.Rate(), Unit: "verifications/s", Baseline: lib.Rate(), BaseName: "gmsm/sm2 alone"})
	return nil
}

// reports loads the bundle's year through the API and the simulated malls, then measures
// the year's benefit report through the API against the bare GROUP BY.
func (b *benchRun) reports(ctx context.Context, e *benchService, bundle fs.FS) error {
	start := time.Now()
	placed, err := placeBundleOrders(ctx, e.a, e.rt.URL(), e.token, bundle, 4, io.Discard)
	if err != nil {
		return err
	}
	idle := func(context.Context) (bool, error) { return e.sim.Idle(), nil }
	if err := waitSettled(ctx, e.a, e.rt, idle, io.Discard); err != nil {
		return err
	}
	var entries int
	if err := e.a.db.GetContext(ctx, &entries, `SELECT COUNT(*) FROM ledger_entries`); err != nil {
		return err
	}
	fmt.Fprintf(b.out, "  the year loaded in %s: %d orders placed, %d ledger rows\n", time.Since(start).Round(time.Millisecond), placed, entries)
	return b.measureReports(ctx, e, entries, false)
}

// reportsLoaded measures the year's reports on the database as it stands (bench --loaded).
func (b *benchRun) reportsLoaded(ctx context.Context, e *benchService) error {
	var all, entries int
	from, to := fmt.Sprintf("%d-01-01", b.o.year), fmt.Sprintf("%d-12-31", b.o.year)
	if err := e.a.db.GetContext(ctx, &all, `SELECT COUNT(*) FROM ledger_entries`); err != nil {
		return err
	}
	if err := e.a.db.GetContext(ctx, &entries, e.a.db.Rebind(`SELECT COUNT(*) FROM ledger_entries WHERE business_day BETWEEN ? AND ?`), from, to); err != nil {
		return err
	}
	if entries == 0 {
		return fmt.Errorf("the database has no ledger entries in %d (%d in all): load that year first (aidmall gen, then the imports), or name the year loaded with --year", b.o.year, all)
	}
	fmt.Fprintf(b.out, "  the database holds %d ledger rows, %d of them in %d\n", all, entries, b.o.year)
	return b.measureReports(ctx, e, entries, true)
}

// measureReports measures the year's benefit report through the API by county, month,
// supplier and county×month, each in turns with the bare GROUP BY of the same ledger rows:
// with latency, one client at a time and each one's p50 and p99; else the rate of
// --clients clients.
func (b *benchRun) measureReports(ctx context.Context, e *benchService, entries int, latency bool) error {
	from, to := fmt.Sprintf("%d-01-01", b.o.year), fmt.Sprintf("%d-12-31", b.o.year)
	header := http.Header{"Authorization": {"Bearer " + e.token}, "Accept": {"application/json"}}
	clients := b.o.clients
	if latency {
		clients = 1
	}
	// county,month is the breakdown report's pair (/v1/reports/breakdown).
	for _, c := range []struct{ by, report, want string }{
		{"county", "benefit", `"households"`}, {"month", "benefit", `"households"`},
		{"supplier", "benefit", `"households"`}, {"county,month", "breakdown", `"rows"`},
	} {
		path := "/v1/reports/" + c.report + "?from=" + from + "&to=" + to + "&by=" + c.by
		viaAPI := func(ctx context.Context, _ int) error {
			got, err := e.send(ctx, http.MethodGet, path, header, nil, http.StatusOK)
			if err == nil && !strings.Contains(string(got), c.want) {
				err = fmt.Errorf("report by %s: no %s in %.200s", c.by, c.want, got)
			}
			return err
		}
		bareQuery, err := bench.GroupBy(e.a.db.DB, c.by, from, to)
		if err != nil {
			return err
		}
		api, bare, err := bench.Alternate(ctx, benchRounds, b.o.duration, func(ctx context.Context, d time.Duration) (bench.Result, error) {
			return bench.Closed(ctx, clients, d, benchMaxOps, viaAPI)
		}, func(ctx context.Context, d time.Duration) (bench.Result, error) {
			return bench.Closed(ctx, clients, d, benchMaxOps, bareQuery)
		})
		if err != nil {
			return err
		}
		name := fmt.Sprintf("year %s by %s (%d ledger rows)", c.report, c.by, entries)
		if !latency {
			b.add(bench.Figure{Part: "reports", Name: name, Value: api.Rate(), Unit: "reports/s",
				Baseline: bare.Rate(), BaseName: "bare GROUP BY"})
			continue
		}
		for _, q := range []struct {
			name string
			q    float64
		}{{"p50", 0.50}, {"p99", 0.99}} {
			b.add(bench.Figure{Part: "reports", Name: fmt.Sprintf("%s, %s of %d asked", name, q.name, api.N), Time: true,
				Value: bench.Ms(api.Percentile(q.q)), Unit: "ms",
				Baseline: bench.Ms(bare.Percentile(q.q)), BaseName: bareName(q.name, q.q, bare.N)})
		}
	}
	return nil
}

// bareName names the bare GROUP BY's percentile q (called name) of n runs: a slow query
// runs too few times for its p99 to be more than its slowest run, and is named so.
func bareName(name string, q float64, n int) string {
	if float64(n)*(1-q) < 1 {
		return fmt.Sprintf("bare GROUP BY, slowest of %d %s (too few for a %s)", n, plural(n, "run", "runs"), name)
	}
	return fmt.Sprintf("bare GROUP BY, %s of %d %s", name, n, plural(n, "run", "runs"))
}

// deliveryTarget is an order as the mall knows it.
type deliveryTarget struct {
	ID          int64  `db:"id"`
	OutOrderNo  string `db:"out_order_no"`
	MallOrderNo string `db:"mall_order_no"`
}

// bareOrderOp inserts the rows one placed order wrote (read back by the caller: the order,
// its lines, its dispatch job, its idempotency key) again in one transaction, with fresh
// unique values, the job scheduled a year ahead so that the runner leaves it.
func bareOrderOp(db *sqlstore.DB, rows []bench.Row) bench.Op {
	far := time.Now().AddDate(1, 0, 0).UTC()
	var bareN atomic.Int64
	return func(ctx context.Context, _ int) error {
		tag := fmt.Sprintf("~bare%d", bareN.Add(1))
		tx, err := db.BeginTxx(ctx, nil)
		if err != nil {
			return err
		}
		_, err = bench.Insert(ctx, tx, rows, func(table, col string, v any) any {
			switch {
			case col == "order_ref" || col == "out_order_no" || col == "idem_key" || col == "unique_key":
				return bench.Suffix(v, tag)
			case table == "river_job":
				// Scheduled a year ahead: the runner leaves it (same row, same cost).
				switch col {
				case "state":
					return "scheduled"
				case "scheduled_at":
					return far
				case "attempted_at", "finalized_at", "attempted_by":
					return nil
				case "attempt":
					return 0
				}
			}
			return v
		}, bench.Refs{"order_id": "group_orders"})
		if err != nil {
			_ = tx.Rollback()
			return err
		}
		return tx.Commit()
	}
}

// removeBareDeliveries deletes what bareDeliveryOp inserted (the copies booked on the
// spare order, the copies of the rollup tables' rows, whose key starts with ~bare) so that the
// rollups can be verified against the ledger after a run.
func removeBareDeliveries(ctx context.Context, db *sqlstore.DB, spare deliveryTarget, spareLine int64, rollupTables []string) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	qs := []string{`DELETE FROM ledger_entries WHERE line_id = ?`, `DELETE FROM fulfilment_events WHERE order_id = ? AND event_id LIKE '%~bare%'`}
	args := [][]any{{spareLine}, {spare.ID}}
	for _, t := range rollupTables {
		qs = append(qs, `DELETE FROM `+t+` WHERE `+bench.RollupCopyKey(t)+` LIKE '~bare%'`)
		args = append(args, nil)
	}
	for i, q := range qs {
		if _, err := tx.ExecContext(ctx, tx.Rebind(q), args[i]...); err != nil {
			return fmt.Errorf("remove the baseline's rows: %w", err)
		}
	}
	return tx.Commit()
}

// benchPlan says, before anything runs, what the parts chosen will do and roughly how
// long they take, so that a run of minutes is not mistaken for a hang: each figure is run
// in turns with its baseline (bench.Alternate), and the reports part first loads and
// places the whole year through the service (unless loaded: on the database as it is).
func benchPlan(parts []string, d time.Duration, loaded bool) string {
	var b strings.Builder
	b.WriteString("what runs (each part says when it is done):")
	for _, p := range benchParts {
		if !slices.Contains(parts, p) {
			continue
		}
		switch p {
		case "verify":
			fmt.Fprintf(&b, "\n  verify   each signature check beside the library alone: about %s", (4 * d).Round(time.Second))
		case "intake":
			fmt.Fprintf(&b, "\n  intake   orders at peak and paced, each beside its bare insert: about %s (its figure without dispatch runs last: %s more)", (3 * d).Round(time.Second), (2 * d).Round(time.Second))
		case "ingest":
			fmt.Fprintf(&b, "\n  ingest   places its orders and signs %d notifications, sends them beside 3 bare baselines (%s), then checks every rollup against the ledger: 1–3 minutes in all", benchMaxEvents, (4 * d).Round(time.Second))
		case "reports":
			if loaded {
				fmt.Fprintf(&b, "\n  reports  on the database as it stands, each report asked by one client at a time beside its GROUP BY: about %s each (longer where one GROUP BY takes longer than that)", (2 * d).Round(time.Second))
				continue
			}
			fmt.Fprintf(&b, "\n  reports  loads and places the bundle's whole year through the service (under a minute on SQLite; longer at --scale or on PostgreSQL), then each report beside its GROUP BY (%s each)", (2 * d).Round(time.Second))
		}
	}
	return b.String()
}

// timed runs one part of the bench and says when it is done and how long it took.
func (b *benchRun) timed(part string, fn func() error) error {
	start := time.Now()
	err := fn()
	if err == nil {
		fmt.Fprintf(b.out, "  %s done in %s\n", part, time.Since(start).Round(time.Second))
	}
	return err
}
