package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/adapters/mallsim"
	"aidmall/adapters/sqlstore"
	"aidmall/audit"
	"aidmall/bizday"
	"aidmall/config"
	"aidmall/examples"
	"aidmall/households"
	"aidmall/malls"
	"aidmall/orders"
	"aidmall/people"
	"aidmall/reports"
)

type demoOpts struct {
	exit      bool
	replace   bool
	workers   int
	replayGap time.Duration
	year      int
	bundle    string
	cpuprof   string
	ownDB     bool // the database is the demo's own (no --db, no DATABASE_URL): replaced each run
}

func newDemoCmd(g *globals) *cobra.Command {
	var o demoOpts
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a year of the bundled data through the whole service and print its report",
		Long: `Starts a fresh SQLite database (./data/demo.db unless --db or DATABASE_URL says otherwise),
both bank malls simulated in process, and the server on AIDMALL_LISTEN (127.0.0.1:8080);
imports the bundled registry and catalogue (Yichuan and Dingbian counties, 2019), places
every order of its orders.csv through the HTTP API, lets the malls notify the year's
fulfilment, waits until all of it is applied, prints the 2019 benefit report and serves on
until Ctrl-C (--exit stops after the report).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDemo(cmd.Context(), g, o) },
	}
	cmd.Flags().BoolVar(&o.exit, "exit", false, "stop after printing the report")
	cmd.Flags().BoolVar(&o.replace, "replace", false, "replace an existing SQLite database file at --db")
	cmd.Flags().IntVar(&o.workers, "clients", 4, "orders placed at once")
	cmd.Flags().DurationVar(&o.replayGap, "replay-gap", 0, "pause between one order's notifications")
	cmd.Flags().IntVar(&o.year, "year", 2019, "the year whose report is printed")
	cmd.Flags().StringVar(&o.cpuprof, "cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	cmd.Flags().StringVar(&o.bundle, "bundle", "", "a bundle folder in the shape of examples/yichuan-dingbian-2019 (default: that bundle, embedded)")
	return cmd
}

func runDemo(ctx context.Context, g *globals, o demoOpts) error {
	if o.cpuprof != "" {
		f, err := os.Create(o.cpuprof)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	out := g.stdout
	getenv := g.getenv
	if g.db == "" && getenv("DATABASE_URL") == "" {
		// The demo's own database, made fresh each run.
		dataDir := getenv("AIDMALL_DATA_DIR")
		if dataDir == "" {
			dataDir = "./data"
		}
		g.db = filepath.Join(dataDir, "demo.db")
		o.replace, o.ownDB = true, true
	}
	if g.getenv("AIDMALL_LOG_LEVEL") == "" {
		g.getenv = func(k string) string {
			if k == "AIDMALL_LOG_LEVEL" {
				return "warn" // the demo speaks through its own output
			}
			return getenv(k)
		}
	}
	cfg, err := g.config()
	if err != nil {
		return err
	}
	if cfg.RateLimit.Requests < 100000 {
		cfg.RateLimit.Requests = 100000 // one key places the whole year
		cfg.RateLimit.Burst = max(cfg.RateLimit.Burst, 1000)
	}
	if g.getenv("AIDMALL_JOB_WORKERS") == "" {
		cfg.Jobs.Workers = 16 // the mall calls wait on the network, not the CPU
	}
	if g.getenv("AIDMALL_JOB_POLL_INTERVAL") == "" {
		cfg.Jobs.PollInterval = 100 * time.Millisecond
	}
	if err := prepareDemoDB(cfg, o.replace, o.ownDB, out); err != nil {
		return err
	}
	log := g.logger(cfg)
	bundle := examples.YichuanDingbian2019()
	if o.bundle != "" {
		bundle = os.DirFS(o.bundle)
	}

	fmt.Fprintf(out, "aidmall demo — database %s\n", cfg.DatabaseURL)
	ctx = audit.WithActor(ctx, cliActor(g.getenv))
	a, err := openApp(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	defer a.Close()
	if p, err := a.store.Progress(ctx); err != nil {
		return err
	} else if p.Orders > 0 {
		return fmt.Errorf("the demo needs an empty database, and %s has %d orders: give another --db (or --replace for a SQLite file)", cfg.DatabaseURL, p.Orders)
	}

	// The simulated malls' keys (four key pairs, two of them RSA 2048) are made while the
	// registry imports.
	type madeKeys struct {
		keys *mallsim.Keys
		err  error
	}
	keysMade := make(chan madeKeys, 1)
	go func() {
		k, err := mallsim.NewKeys()
		keysMade <- madeKeys{k, err}
	}()

	// 1. Registry and catalogue.
	// The branches' budget column is the budget of the demo's year.
	reps, err := importBundleRegistry(ctx, a, bundle, o.year)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "\n1. Registry and catalogue imported (bad rows are reported and left out):")
	for _, r := range reps {
		fmt.Fprintf(out, "   %-10s %4d rows, %4d loaded, %d bad\n", r.Kind, r.Rows, r.Loaded, len(r.Errors))
		for _, e := range r.Errors {
			fmt.Fprintf(out, "              %s\n", e)
		}
	}

	// 2. The malls, simulated in process, and the service.
	made := <-keysMade
	if made.err != nil {
		return made.err
	}
	keys := made.keys
	script, err := mallsim.LoadScript(bundle)
	if err != nil {
		return err
	}
	catalogue, err := a.store.Catalogue(ctx)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (set AIDMALL_LISTEN, e.g. 127.0.0.1:0 for any free port)", cfg.Listen, err)
	}
	sim, err := mallsim.Start(ctx, mallsim.Options{Keys: keys, Catalogue: catalogue, Script: script, ReplayGap: o.replayGap, Logger: log})
	if err != nil {
		ln.Close()
		return err
	}
	defer sim.Close()
	ms, err := simMalls(sim, keys, nonceStore(a), log, a.store.KeepUnreadable)
	if err != nil {
		ln.Close()
		return err
	}
	rt, err := startRuntime(ctx, a, ms, ln)
	if err != nil {
		return err
	}
	defer func() {
		// The malls stop first, so that no notification is cut off mid-request.
		_ = sim.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = rt.Stop(sctx)
	}()
	token, _, err := a.store.CreateAPIKey(ctx, "demo aid office", orders.RoleAidOffice, "")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n2. Server on %s; CCB mall simulated at %s, ABC at %s\n", rt.URL(), sim.CCBURL(), sim.ABCURL())

	// 3. Every order of the year through the API, back-dated to when it was placed.
	if _, err := placeBundleOrders(ctx, a, rt.URL(), token, bundle, o.workers, out); err != nil {
		return err
	}

	// 4. Wait for dispatch and for the malls' notifications to be applied.
	fmt.Fprintln(out, "\n4. The malls fulfil and notify; waiting until every event is applied")
	simIdle := func(context.Context) (bool, error) { return sim.Idle(), nil }
	if err := waitSettled(ctx, a, rt, simIdle, out); err != nil {
		return err
	}
	p, err := a.store.Progress(ctx)
	if err != nil {
		return err
	}
	st := sim.Stats()
	fmt.Fprintf(out, "   %d orders; %d fulfilment events recorded (%d held for review, %d waiting for an order)\n", p.Orders, p.Events, p.Held, p.Parked)
	if p.Held > 0 || p.Parked > 0 {
		fmt.Fprintf(out, "   to see and resolve them: aidmall review list --db %s (or GET /v1/review with an aid_office key)\n", cfg.DatabaseURL)
	}
	fmt.Fprintf(out, "   malls: CCB %d orders created (%d repeated creates), %d notifications acknowledged, %d given up; ABC %d orders created (%d repeated creates), %d notifications acknowledged, %d given up\n",
		st.CCB.Creates, st.CCB.DuplicateCreates, st.CCB.Acked, st.CCB.GaveUp, st.ABC.Creates, st.ABC.DuplicateCreates, st.ABC.Acked, st.ABC.GaveUp)

	// 5. The report.
	if err := printYearReport(ctx, a, o.year, out); err != nil {
		return err
	}
	// 6. The same API with a branch's own key, for an order placed today.
	if err := branchOrderToday(ctx, a, rt.URL(), out); err != nil {
		return err
	}
	// 7. The pages, with one demo sign-in per role.
	signIns, err := demoPeople(ctx, a)
	if err != nil {
		return err
	}
	printDemoSignIns(out, rt.URL(), o.year, signIns, o.exit)
	if o.exit {
		return nil
	}
	fmt.Fprintf(out, "\nServing on %s until Ctrl-C. Try:\n  curl -H 'Authorization: Bearer %s' '%s/v1/reports/benefit?from=%d-01-01&to=%d-12-31&by=month'\n",
		rt.URL(), token, rt.URL(), o.year, o.year)
	return rt.Wait(ctx)
}

// prepareDemoDB makes sure a SQLite demo database starts fresh: an existing file is
// removed with --replace, else left for openApp to refuse if it holds orders.
// It says so on out when it removed one: whatever was added to it (a key from `users
// add`, an import) goes with it.
func prepareDemoDB(cfg config.Config, replace, own bool, out io.Writer) error {
	if sqlstore.DialectOf(cfg.DatabaseURL) != sqlstore.SQLite || !replace {
		return nil
	}
	p, err := sqlstore.SQLitePath(cfg.DatabaseURL)
	if err != nil {
		return err
	}
	if _, err := os.Stat(p); err == nil {
		if own {
			fmt.Fprintf(out, "replacing %s, the last demo's database (give --db PATH to keep one)\n", p)
		} else {
			fmt.Fprintf(out, "replacing %s (--replace)\n", p)
		}
	}
	for _, f := range []string{p, p + "-wal", p + "-shm"} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("replace demo database: %w", err)
		}
	}
	return nil
}

// importBundleRegistry imports a bundle's registry and catalogue (branches, suppliers,
// products, households, linkages) into a's store, bad rows reported and left out; the
// branches' budget column is the budget of year (0: checked, not stored: no branch is
// limited). The demo and the bench boot on it.
func importBundleRegistry(ctx context.Context, a *app, bundle fs.FS, year int) ([]households.Report, error) {
	reg, err := a.registry(ctx, true, households.WithBudgetYear(year))
	if err != nil {
		return nil, err
	}
	reps, err := reg.ImportBundle(ctx, bundle, false)
	if err != nil {
		return nil, fmt.Errorf("import bundle: %w", err)
	}
	return reps, nil
}

// placeBundleOrders places every order of a bundle's orders.csv through the API at base
// with token (an aid_office key), and returns how many it placed.
func placeBundleOrders(ctx context.Context, a *app, base, token string, bundle fs.FS, clients int, out io.Writer) (int, error) {
	names := map[string]string{}
	bundleOrders, err := loadBundleOrders(bundle, func(code string) string {
		if n, ok := names[code]; ok {
			return n
		}
		name := code
		if b, err := a.store.Branch(ctx, code); err == nil {
			name = b.Name
		}
		names[code] = name
		return name
	})
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(out, "\n3. Placing %d group orders through POST /v1/orders\n", len(bundleOrders))
	return len(bundleOrders), placeAll(ctx, base, token, bundleOrders, clients, out)
}

// placeAll posts every order with `clients` concurrent clients, each order under its own
// Idempotency-Key, with a progress bar.
func placeAll(ctx context.Context, base, token string, os []bundleOrder, clients int, out io.Writer) error {
	start := time.Now()
	barOut := out
	if !isTerminal(out) {
		barOut = io.Discard // a log file gets the summary line only
	}
	bar := progressbar.NewOptions(len(os), progressbar.OptionSetWriter(barOut), progressbar.OptionSetDescription("   orders"),
		progressbar.OptionShowCount(), progressbar.OptionSetWidth(40), progressbar.OptionOnCompletion(func() { fmt.Fprintln(barOut) }))
	defer func() {
		fmt.Fprintf(out, "   %d orders placed in %s\n", int(bar.State().CurrentNum), time.Since(start).Round(time.Millisecond))
	}()
	if clients < 1 {
		clients = 1
	}
	work := make(chan bundleOrder)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 30 * time.Second}
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range work {
				if err := placeOne(ctx, client, base, token, o); err != nil {
					errs <- err
					return
				}
				_ = bar.Add(1)
			}
		}()
	}
	var err error
feed:
	for _, o := range os {
		select {
		case work <- o:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return err
}

func placeOne(ctx context.Context, client *http.Client, base, token string, o bundleOrder) error {
	body, _ := json.Marshal(o)
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/orders", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "demo-"+o.OrderRef)
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("order %s: %w", o.OrderRef, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK:
			return nil
		case (resp.StatusCode == http.StatusConflict || resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests) && attempt < 5:
			time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
			continue
		}
		return fmt.Errorf("order %s: %s: %s", o.OrderRef, resp.Status, b)
	}
}

// waitSettled waits until every order reached its mall (or was refused), the malls have
// every notification acknowledged, and no dispatch job is left, with a progress line.
func waitSettled(ctx context.Context, a *app, rt *runtime, mallsIdle func(context.Context) (bool, error), out io.Writer) error {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Minute)
	last, tty, start := "", isTerminal(out), time.Now()
	for {
		p, err := a.store.Progress(ctx)
		if err != nil {
			return err
		}
		jobs, err := rt.runner.Pending(ctx)
		if err != nil {
			return err
		}
		line := fmt.Sprintf("   %d/%d orders at their mall, %d events applied", p.Orders-p.Undispatched, p.Orders, p.Events)
		if line != last && tty {
			fmt.Fprintf(out, "\r%s   ", line)
			last = line
		}
		idle, err := mallsIdle(ctx)
		if err != nil {
			return err
		}
		if p.Undispatched == 0 && jobs == 0 && idle {
			if tty {
				fmt.Fprintln(out)
			}
			fmt.Fprintf(out, "   settled in %s\n", time.Since(start).Round(time.Millisecond))
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return fmt.Errorf("not settled after 10 minutes: %s, %d jobs pending", line, jobs)
		case <-tick.C:
		}
	}
}

func printYearReport(ctx context.Context, a *app, year int, out io.Writer) error {
	from := bizday.MustParse(fmt.Sprintf("%04d-01-01", year))
	to := bizday.MustParse(fmt.Sprintf("%04d-12-31", year))
	fmt.Fprintf(out, "\n5. Benefit report %s to %s (business days, Asia/Shanghai)\n\n", from, to)
	for i, by := range []string{"county", "category"} {
		b, err := reports.ParseBy(by)
		if err != nil {
			return err
		}
		rep, err := labelledReports{a.store}.Benefit(ctx, reports.Query{From: from, To: to, By: b})
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(out)
		}
		if err := reports.WriteTable(out, rep); err != nil {
			return err
		}
	}
	return nil
}

// branchOrderToday shows a union branch placing an order with its own branch_staff key,
// without back-dating, and following it until the mall has delivered it.
func branchOrderToday(ctx context.Context, a *app, base string, out io.Writer) error {
	token, _, err := a.store.CreateAPIKey(ctx, "demo HQ union staff", orders.RoleBranchStaff, "HQ")
	if err != nil {
		return err
	}
	body := `{"order_ref":"DEMO-TODAY-HQ","branch_code":"HQ","mall":"auto","funding":"employee_self_pay","delivery_mode":"bulk",
		"ship_to":{"name":"集团总部机关工会","phone":"` + demoDeskPhone + `","address":"集团总部"},
		"lines":[{"sku":"YC-APL-5KG-DZ","quantity":3}]}`
	call := func(method, path, body string) (int, map[string]any, error) {
		req, _ := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "demo-today-hq")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m, nil
	}
	status, order, err := call(http.MethodPost, "/v1/orders", body)
	if err != nil {
		return err
	}
	if status != http.StatusCreated {
		return fmt.Errorf("branch order: HTTP %d: %v", status, order)
	}
	id := fmt.Sprint(order["id"])
	deadline := time.Now().Add(30 * time.Second)
	for order["status"] != string(orders.StatusDelivered) && time.Now().Before(deadline) {
		time.Sleep(25 * time.Millisecond)
		if _, order, err = call(http.MethodGet, "/v1/orders/"+id, ""); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "\n6. Branch HQ placed an order today with its own key: order %s, %s at %s, %s yuan, now %s\n",
		id, order["out_order_no"], order["mall"], order["total_amount"], order["status"])
	return nil
}

// isTerminal reports whether w is a terminal (progress bars and carriage returns only
// make sense there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// simMalls connects to the two malls the in-process simulator plays, with its keys.
func simMalls(sim *mallsim.Sim, keys *mallsim.Keys, nonces malls.NonceStore, log *slog.Logger, keep keepFunc) (*mallSet, error) {
	cm, err := ccb.Connect(ccb.Config{BaseURL: sim.CCBURL(), AppID: mallsim.DefaultCCBAppID, PartnerKey: keys.CCBPartner, MallKey: &keys.CCBMall.PublicKey})
	if err != nil {
		return nil, err
	}
	am, err := abc.Connect(abc.Config{BaseURL: sim.ABCURL(), AppID: mallsim.DefaultABCAppID, PartnerKey: keys.ABCPartner, MallKey: &keys.ABCMall.PublicKey}, nonces)
	if err != nil {
		return nil, err
	}
	return newMallSet(malls.Connect(cm, am), log, keep), nil
}

// demoSignIn is one demo person's sign-in.
type demoSignIn struct {
	Role     string // in Chinese
	Login    string
	Password string
}

// demoPeople makes (or, when they exist, resets and enables) one demo person per role:
// branch staff of the bundle's HQ (or its first branch), the aid office and an auditor,
// each with a fresh password, and returns their sign-ins.
func demoPeople(ctx context.Context, a *app) ([]demoSignIn, error) {
	svc, err := people.NewService(a.store, nil)
	if err != nil {
		return nil, err
	}
	branches, err := a.store.Branches(ctx)
	if err != nil {
		return nil, err
	}
	if len(branches) == 0 {
		return nil, errors.New("demo people: the bundle has no branch")
	}
	branch := branches[0]
	for _, b := range branches {
		if b.Code == "HQ" {
			branch = b
		}
	}
	want := []struct {
		role        orders.Role
		login, name string
		label       string
	}{
		{orders.RoleBranchStaff, "demo-staff", "演示工会干事", "工会干事（" + branch.Name + " " + branch.Code + "）"},
		{orders.RoleAidOffice, "demo-office", "演示扶贫办", "扶贫办"},
		{orders.RoleAuditor, "demo-auditor", "演示审计", "审计"},
	}
	// The three side by side: each password's hash (argon2id, 19 MiB) keeps a core busy.
	out := make([]demoSignIn, len(want))
	errs := make([]error, len(want))
	var wg sync.WaitGroup
	for i, w := range want {
		wg.Go(func() {
			br := ""
			if w.role == orders.RoleBranchStaff {
				br = branch.Code
			}
			_, pw, err := svc.Add(ctx, people.NewPerson{Login: w.login, Name: w.name, Role: w.role, BranchCode: br})
			if errors.Is(err, orders.ErrConflict) {
				if _, err = svc.SetDisabled(ctx, w.login, false); err == nil {
					_, pw, err = svc.ResetPassword(ctx, w.login, "")
				}
			}
			if err != nil {
				errs[i] = fmt.Errorf("demo person %s: %w", w.login, err)
				return
			}
			out[i] = demoSignIn{Role: w.label, Login: w.login, Password: pw}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// printDemoSignIns prints where the pages are, the dashboard of the demo's year, and each
// demo sign-in, its columns aligned by display width (a Chinese character is two columns).
func printDemoSignIns(out io.Writer, base string, year int, signIns []demoSignIn, exiting bool) {
	fmt.Fprintf(out, "\n7. Pages for people (网页): open %s/signin and sign in as\n", base)
	wide := 0
	for _, s := range signIns {
		wide = max(wide, reports.DisplayWidth(s.Role))
	}
	for _, s := range signIns {
		fmt.Fprintf(out, "   %s%s  login %-13s password %s\n", s.Role, strings.Repeat(" ", wide-reports.DisplayWidth(s.Role)), s.Login, s.Password)
	}
	fmt.Fprintf(out, "   the year above on the dashboard: %s/dashboard?year=%d\n", base, year)
	if exiting {
		fmt.Fprintln(out, "   (--exit: the server stops now; run without --exit to use them)")
	}
}
