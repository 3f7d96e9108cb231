package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"aidmall/adapters/redisx"
	"aidmall/audit"
	"aidmall/bizday"
	"aidmall/households"
	"aidmall/imports"
	"aidmall/malls"
	"aidmall/orders"
	"aidmall/reports"
)

// withApp runs fn with the app opened from the configuration: migrating the database
// first when migrate is set, else refusing one with pending migrations.
func (g *globals) withApp(migrate bool, fn func(ctx context.Context, a *app, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		cfg, err := g.config()
		if err != nil {
			return err
		}
		a, err := openApp(cmd.Context(), cfg, g.logger(cfg), migrate)
		if err != nil {
			return err
		}
		defer a.Close()
		a.getenv = g.getenv
		return fn(audit.WithActor(cmd.Context(), cliActor(g.getenv)), a, args)
	}
}

func newServeCmd(g *globals) *cobra.Command {
	var migrate bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the API, the mall webhooks and the background jobs",
		Long: `Serve the /v1 API, /webhooks/{mall}, /healthz, /readyz and /metrics on AIDMALL_LISTEN,
and run the dispatch, cancel, reconcile and maintenance jobs. The database must be migrated
first (aidmall migrate, or --migrate). The malls come from AIDMALL_<CODE>_URL, _APP_ID,
_PRIVATE_KEY_FILE and _MALL_PUBLIC_KEY_FILE; a mall without a URL is not used.
Malls: ` + drivers.Help() + `.`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().BoolVar(&migrate, "migrate", false, "apply pending migrations before serving")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		g.serving = true
		return g.withApp(migrate, func(ctx context.Context, a *app, _ []string) error {
			ms, err := mallsFromConfig(a.cfg, nonceStore(a), a.log, a.store.KeepUnreadable)
			if err != nil {
				return err
			}
			rt, err := startRuntime(ctx, a, ms, nil)
			if err != nil {
				return err
			}
			werr := rt.Wait(ctx)
			// SIGTERM (or SIGINT) ends ctx: drain within AIDMALL_SHUTDOWN_TIMEOUT — stop
			// taking connections, let in-flight requests and running jobs finish — and exit 0.
			a.log.Info("shutting down: draining requests and jobs", "timeout", a.cfg.ShutdownTimeout.String())
			sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
			defer cancel()
			err = errors.Join(werr, rt.Stop(sctx))
			if err == nil {
				a.log.Info("shut down")
			}
			return err
		})(cmd, args)
	}
	return cmd
}

// nonceStore is the replay cache of signed notifications: Redis when configured, so that
// replicas share it (in process while Redis is away), else in process.
func nonceStore(a *app) malls.NonceStore {
	if a.redisHealth != nil {
		return a.redisHealth.Nonces("aidmall:nonce:")
	}
	return redisx.Nonces(nil, "aidmall:nonce:", nil)
}

func newMigrateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the database migrations (aidmall's schema and River's job tables)",
		Args:  cobra.NoArgs,
		RunE: g.withApp(true, func(_ context.Context, a *app, _ []string) error {
			fmt.Fprintf(g.stdout, "database migrated (%s)\n", a.db.Dialect)
			return nil
		}),
	}
}

func newImportCmd(g *globals) *cobra.Command {
	var strict bool
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Import registry and catalogue files, or a mall statement",
		Long: `Import files as people hand them over. Each bad row is reported with its row number,
column and reason and the good rows load; with --strict any bad row refuses the whole file
and nothing is stored. Importing the same file again changes nothing.

Exit status: 0 when the import ran (its bad rows, if any, are listed and were left out);
1 when nothing was imported: the file could not be read, --strict refused it, or every
row of it was bad (a scheduled import can tell this from a partial one by its output).`,
	}
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return fmt.Errorf("say what to import: bundle DIR, branches, suppliers, products, households, linkages or statement FILE")
		}
		return fmt.Errorf("unknown import %q: one of bundle, branches, suppliers, products, households, linkages, orders, statement", args[0])
	}
	cmd.PersistentFlags().BoolVar(&strict, "strict", false, "refuse the whole file if any row is bad")
	var progress bool
	cmd.PersistentFlags().BoolVar(&progress, "progress", false, "show a progress bar with rows/s on stderr even when it is not a terminal (on a terminal it is shown anyway)")
	var budgetYear int
	cmd.PersistentFlags().IntVar(&budgetYear, "budget-year", 0, "the year a branches file's budget column is the budget of (required for branches; a bundle's default is the year of its orders.csv)")
	var cpuProfile string
	cmd.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the import to this file (go tool pprof)")
	withApp := func(fn func(ctx context.Context, a *app, args []string) error) func(*cobra.Command, []string) error {
		return g.withApp(true, func(ctx context.Context, a *app, args []string) error {
			stop, err := startCPUProfile(cpuProfile)
			if err != nil {
				return err
			}
			defer stop()
			return fn(ctx, a, args)
		})
	}
	cmd.AddCommand(&cobra.Command{
		Use:     "bundle DIR",
		Short:   "Import a bundle folder: branches, suppliers, products, households, linkages",
		Args:    cobra.ExactArgs(1),
		PreRunE: importInput("bundle", true),
		RunE: withApp(func(ctx context.Context, a *app, args []string) error {
			limitImportMemory()
			year, err := bundleBudgetYear(os.DirFS(args[0]), budgetYear)
			if err != nil {
				return err
			}
			reg, err := a.registry(ctx, true, households.WithBudgetYear(year))
			if err != nil {
				return err
			}
			reps, err := reg.ImportBundle(ctx, os.DirFS(args[0]), strict)
			for _, r := range reps {
				r.WriteText(g.stdout)
			}
			if err != nil {
				return err
			}
			return refusedErr(reps...)
		}),
	})
	cmd.AddCommand(newImportLinkagesCmd(g, &strict, &progress)) // linkages_cmd.go: dry run and the money it moved
	for _, kind := range []households.Kind{"branches", "suppliers", "products", "households"} {
		cmd.AddCommand(&cobra.Command{
			Use:     string(kind) + " FILE",
			Short:   "Import a " + string(kind) + " file",
			Args:    cobra.ExactArgs(1),
			PreRunE: importInput(string(kind), false),
			RunE: withApp(func(ctx context.Context, a *app, args []string) error {
				var opts []households.RegistryOption
				if kind == households.KindBranches {
					if err := checkBudgetYearFlag(budgetYear); err != nil {
						return err
					}
					opts = append(opts, households.WithBudgetYear(budgetYear))
				}
				var bar *importBar
				if kind == households.KindHouseholds {
					limitImportMemory()
					bar = newImportBar(g, progress, args[0], string(kind))
					opts = append(opts, households.WithProgress(bar.rows))
				}
				reg, err := a.registry(ctx, kind == households.KindHouseholds, opts...)
				if err != nil {
					return err
				}
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				rep, err := reg.Import(ctx, kind, args[0], bar.reader(f), strict)
				bar.finish()
				if err != nil {
					return err
				}
				rep.WriteText(g.stdout)
				return refusedErr(rep)
			}),
		})
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "orders DIR",
		Short: "Load order history: a bundle's orders.csv and order_lines.csv as orders already at their malls (no dispatch)",
		Long: `Load orders that were placed at the malls before aidmall kept them, with their own
out_order_no, mall_order_no and the prices paid, so that the malls' statements
(aidmall import statement) can be applied to them. Loading the same file again changes nothing.`,
		Args:    cobra.ExactArgs(1),
		PreRunE: importInput("orders", true),
		RunE: withApp(func(ctx context.Context, a *app, args []string) error {
			if strict {
				// Each order loads in a transaction of its own (an order is never stored
				// with part of its lines; a file that does not read as CSV loads nothing),
				// so "refuse the whole file" cannot be promised here: say so rather than
				// ignore the flag.
				return errors.New("--strict is not available for import orders: each order loads on its own and whole; bad rows are reported with their row and loading the corrected folder again adds the orders left out")
			}
			svc, err := orders.NewService(a.store, drivers.Infos(drivers.Codes()), nil)
			if err != nil {
				return err
			}
			rep, err := importHistory(ctx, svc, os.DirFS(args[0]))
			if err == nil || rep.Rows > 0 {
				rep.Write(g.stdout, args[0]) // not an empty tally before a refused file's error
			}
			if err != nil && errors.Is(err, fs.ErrNotExist) {
				err = fmt.Errorf("%s: %w", args[0], err) // which folder lacks the file
			}
			if err == nil && rep.Rows > 0 && rep.Created+rep.Unchanged == 0 {
				return fmt.Errorf("%s: no order loaded: every one of its %d orders is bad (listed above)", args[0], rep.Rows)
			}
			return err
		}),
	})
	var mallName string
	st := &cobra.Command{
		Use:     "statement FILE",
		Short:   "Reconcile a mall's statement file (in the mall's own format): apply every event not yet seen",
		Args:    cobra.ExactArgs(1),
		PreRunE: importInput("statement", false),
		RunE: withApp(func(ctx context.Context, a *app, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			m := orders.Mall(mallName)
			if m == "" {
				if m = mallOfFile(args[0]); m == "" {
					return fmt.Errorf("name the mall with --mall (one of %s): the file name %q names none", drivers.Help(), filepath.Base(args[0]))
				}
			}
			d, ok := drivers.Driver(m)
			if !ok {
				return fmt.Errorf("--mall must be one of %s", drivers.Help())
			}
			svc, err := orders.NewService(a.store, drivers.Infos(drivers.Codes()), nil)
			if err != nil {
				return err
			}
			bar := newImportBar(g, progress, "", string(m)+" statement") // events, not bytes: a strict file is read twice
			rep, err := imports.StatementStream(ctx, svc, a.store, bar.counting(statementScanner(m, d)), m, args[0], f, strict)
			bar.finish()
			// A file of another shape is bad in every row: the first rows say what is
			// wrong (a few when no row was good), and the summary counts them all.
			listMax := maxBadRowsListed
			if rep.Events == 0 {
				listMax = allBadRowsListed
			}
			for i, b := range rep.Bad {
				if i == listMax {
					fmt.Fprintf(g.stdout, "… and %d more bad rows, not listed (the summary counts them)\n", len(rep.Bad)-i)
					break
				}
				fmt.Fprintln(g.stdout, "bad row:", b)
			}
			for _, d := range rep.Differing {
				fmt.Fprintln(g.stdout, "differs from the event recorded (not applied; the recorded one stands):", d)
			}
			// A file that does not read as --mall's, whose name names another mall, is most
			// likely that mall's statement given the wrong --mall: say so beside the error.
			wrongMall := func(err error) error {
				if named := mallOfFile(args[0]); mallName != "" && named != "" && named != m {
					return fmt.Errorf("%w (the file name names %s, not %s: if it is %s's statement, give --mall %s or leave --mall out)", err, named, m, named, named)
				}
				return err
			}
			if err != nil {
				return wrongMall(err)
			}
			tally := rep.Tally
			p, err := a.store.Progress(ctx)
			if err != nil {
				return err
			}
			differing := ""
			if len(rep.Differing) > 0 {
				differing = fmt.Sprintf("; %d of them with other content than the event recorded, listed above", len(rep.Differing))
			}
			fmt.Fprintf(g.stdout, "%s statement %s: %d events: %d applied, %d held for review, %d already known (recorded before, or repeated in the file%s), %d waiting for their order; %d bad %s (events held for review in the database: %d%s)\n",
				m, args[0], rep.Events, tally.Applied, tally.Held, tally.Duplicate, differing, tally.Parked, len(rep.Bad), plural(len(rep.Bad), "row", "rows"), p.Held, reviewHint(p.Held))
			if rep.Events == 0 && len(rep.Bad) > 0 {
				listed := "listed above"
				if len(rep.Bad) > listMax {
					listed = fmt.Sprintf("the first %d listed above", listMax)
				}
				return wrongMall(fmt.Errorf("%s: nothing applied: every one of its %d rows is bad (%s); is it %s's statement?", args[0], len(rep.Bad), listed, m))
			}
			return nil
		}),
	}
	st.Flags().StringVar(&mallName, "mall", "", "the mall: "+drivers.Help()+" (default: the one whose code the file name holds, e.g. statement-ccb.csv)")
	cmd.AddCommand(st)
	return cmd
}

// refusedErr is the error of registry imports that stored nothing: a file refused by
// --strict, or one whose every row was bad (the exit status says so to a scheduled job).
func refusedErr(reps ...households.Report) error {
	for _, r := range reps {
		switch {
		case r.Refused:
			return fmt.Errorf("%s refused: %d %s (--strict)", r.File, len(r.Errors), plural(len(r.Errors), "row error", "row errors"))
		case r.Rows > 0 && r.Loaded == 0 && len(r.Errors) > 0:
			return fmt.Errorf("%s: nothing imported: every one of its %d rows is bad (listed above)", r.File, r.Rows)
		}
	}
	return nil
}

func newReportCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "report", Short: "Reports from the database"}
	var by string
	var period periodFlags
	var out reportOutput
	b := &cobra.Command{
		Use:   "benefit",
		Short: "Households and people benefited, and amounts bought (ATTRIBUTION.md §3)",
		Long: `The benefit report for the business days from --from to --to inclusive (Beijing time),
or of --month, --quarter or --year, broken down --by county, category, sku, supplier,
branch, mall, month or funding.

` + reportFormatHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q, err := parseReportQuery(period, by)
			if err != nil {
				return err
			}
			if err := out.check(g); err != nil {
				return err
			}
			return g.withApp(false, func(ctx context.Context, a *app, _ []string) error {
				rep, err := labelledReports{a.store}.Benefit(ctx, q)
				if err != nil {
					return err
				}
				if rep.Rows == nil {
					rep.Rows = []reports.Row{}
				}
				return out.write(g, "benefit", rep)
			})(cmd, args)
		},
	}
	period.add(b)
	b.Flags().StringVar(&by, "by", "county", "county|category|sku|supplier|branch|mall|month|funding")
	out.flags(b)
	cmd.AddCommand(b, newHouseholdsReportCmd(g))
	addReportSetCmds(g, cmd)
	return cmd
}

// parseReportQuery reads the benefit report's period (reports.ParsePeriod: --from and
// --to, --month, --quarter or --year) and dimension.
func parseReportQuery(period periodFlags, by string) (reports.Query, error) {
	p, err := period.period()
	if err != nil {
		return reports.Query{}, err
	}
	b, err := reports.ParseBy(by)
	if err != nil && strings.Contains(by, ",") {
		err = &orders.ValidationError{Fields: []orders.FieldError{{Pointer: "/by",
			Detail: fmt.Sprintf("report benefit breaks down by one dimension, not %q: for a pair, report breakdown --by %s", by, by)}}}
	}
	if err != nil {
		return reports.Query{}, asFlags(err)
	}
	q := reports.Query{From: p.From, To: p.To, By: b}
	return q, asFlags(q.Validate())
}

func newUsersCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "users", Short: "API keys"}
	var role, branch, name string
	add := &cobra.Command{
		Use:   "add",
		Short: "Make an API key; it is printed once and stored only as a hash",
		Args:  cobra.NoArgs,
		RunE: g.withApp(true, func(ctx context.Context, a *app, _ []string) error {
			holder := name
			if holder == "" {
				holder = strings.TrimSpace(role + " " + branch)
			}
			token, k, err := a.store.CreateAPIKey(ctx, holder, orders.Role(role), branch)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stderr, "API key %d for %q (%s) made; it is shown once, store it now:\n", k.ID, k.Name, k.Role)
			fmt.Fprintln(g.stdout, token)
			return nil
		}),
	}
	add.Flags().StringVar(&role, "role", "", "branch_staff, aid_office or auditor (required)")
	add.Flags().StringVar(&branch, "branch", "", "the branch code of a branch_staff key")
	add.Flags().StringVar(&name, "name", "", "who holds the key")
	_ = add.MarkFlagRequired("role")
	list := &cobra.Command{
		Use:   "list",
		Short: "List API keys (never the keys themselves)",
		Args:  cobra.NoArgs,
		RunE: g.withApp(false, func(ctx context.Context, a *app, _ []string) error {
			ks, err := a.store.APIKeys(ctx)
			if err != nil {
				return err
			}
			return writeKeys(g.stdout, ks)
		}),
	}
	cmd.AddCommand(add, list, newUsersRevokeCmd(g), newUsersRotateCmd(g))
	return cmd
}

func newReconcileCmd(g *globals) *cobra.Command {
	var from, to string
	var cmd *cobra.Command
	cmd = &cobra.Command{
		Use:   "reconcile",
		Short: "Read the configured malls' daily statements and apply every event not yet seen",
		Args:  cobra.NoArgs,
		RunE: g.withApp(false, func(ctx context.Context, a *app, _ []string) error {
			for _, name := range []string{"from", "to"} {
				if cmd.Flags().Changed(name) && strings.TrimSpace(cmd.Flags().Lookup(name).Value.String()) == "" {
					return fmt.Errorf("--%s is empty: give a business day as YYYY-MM-DD, or leave it out", name)
				}
			}
			f, t, err := reconcileRange(from, to, bizday.Of(time.Now()))
			if err != nil {
				return err
			}
			cfg := a.cfg
			ms, err := mallsFromConfig(cfg, nonceStore(a), a.log, a.store.KeepUnreadable)
			if err != nil {
				return err
			}
			if len(ms.statements) == 0 {
				return fmt.Errorf("no mall is configured: set AIDMALL_<CODE>_URL with its keys for one of %s", drivers.Help())
			}
			svc, err := orders.NewService(a.store, ms.infos, nil)
			if err != nil {
				return err
			}
			// Reconciling dispatches nothing: the notify URL is the configured one.
			runner, err := newRunner(a, ms, svc, a.cfg.PublicURLFor(a.cfg.Listen), nil)
			if err != nil {
				return err
			}
			var days []bizday.Day
			for d := f; !t.Before(d); d = d.AddDays(1) {
				days = append(days, d)
			}
			counts, err := runner.Reconcile(ctx, days...)
			for m, c := range counts {
				differing := ""
				if c.Differing > 0 {
					differing = fmt.Sprintf(" (%d of them with other content than the event recorded: not applied, logged as warnings)", c.Differing)
				}
				fmt.Fprintf(g.stdout, "%s %s..%s: %d events read: %d applied, %d held for review, %d already known%s, %d waiting for their order, %d invalid; %d days not published\n",
					m, f, t, c.Events, c.Applied, c.Held, c.Duplicate, differing, c.Parked, c.Invalid, c.Missing)
			}
			return err
		}),
	}
	cmd.Flags().StringVar(&from, "from", "", "first business day, YYYY-MM-DD (default yesterday, Beijing)")
	cmd.Flags().StringVar(&to, "to", "", "last business day, YYYY-MM-DD, on or after --from (default today, Beijing)")
	return cmd
}

// reconcileRange reads reconcile's --from and --to (either may be left out: yesterday and
// today in Beijing) into the first and last business day. A day that does not parse, and a
// range whose end comes before its start (a reversed, hence empty, range), are errors
// naming what was given; nothing is then read.
func reconcileRange(from, to string, today bizday.Day) (bizday.Day, bizday.Day, error) {
	f, t := today.AddDays(-1), today
	var err error
	if from != "" {
		if f, err = bizday.Parse(from); err != nil {
			return f, t, fmt.Errorf("--from %q: %w", from, err)
		}
	}
	if to != "" {
		if t, err = bizday.Parse(to); err != nil {
			return f, t, fmt.Errorf("--to %q: %w", to, err)
		}
	}
	if t.Before(f) {
		what := fmt.Sprintf("--from %s is after --to %s", f, t)
		switch {
		case from == "":
			what = fmt.Sprintf("--to %s is before the default --from (yesterday, %s)", t, f)
		case to == "":
			what = fmt.Sprintf("--from %s is after the default --to (today, %s)", f, t)
		}
		return f, t, fmt.Errorf("%s: the range is empty; nothing reconciled", what)
	}
	return f, t, nil
}

// mallOfFile returns the registered mall whose code is a word of path's file name
// ("statement-ccb.csv" → ccb), or "" when none or more than one is.
func mallOfFile(path string) orders.Mall {
	var found orders.Mall
	words := strings.FieldsFunc(strings.ToLower(filepath.Base(path)), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	})
	for _, w := range words {
		if _, ok := drivers.Driver(orders.Mall(w)); ok {
			if found != "" && found != orders.Mall(w) {
				return ""
			}
			found = orders.Mall(w)
		}
	}
	return found
}

// maxBadRowsListed is how many of a statement's bad rows import statement lists, and
// allBadRowsListed how many when no row was good (a file of another kind: the first rows
// say why).
const (
	maxBadRowsListed = 100
	allBadRowsListed = 10
)

// plural is one when n is 1, else many: "1 bad row", "2 bad rows".
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// importInput is the PreRunE of an import: its FILE (or DIR, folder) is checked before the
// database is opened, or made, so that a wrong path leaves no new database behind and the
// error names the import.
func importInput(what string, folder bool) func(*cobra.Command, []string) error {
	return func(_ *cobra.Command, args []string) error {
		fi, err := os.Stat(args[0])
		switch {
		case err != nil && folder:
			return fmt.Errorf("import %s takes a folder (%s): %s: %w", what, importFolderHolds[what], args[0], errors.Unwrap(err))
		case err != nil:
			return fmt.Errorf("import %s: %s: %w", what, args[0], errors.Unwrap(err))
		case folder && !fi.IsDir():
			return fmt.Errorf("import %s takes a folder (%s): %s is a file", what, importFolderHolds[what], args[0])
		case !folder && fi.IsDir():
			return fmt.Errorf("import %s takes a file: %s is a folder", what, args[0])
		}
		return nil
	}
}

// importFolderHolds says what each folder import reads.
var importFolderHolds = map[string]string{
	"orders": "one holding orders.csv and order_lines.csv",
	"bundle": "in the shape of examples/yichuan-dingbian-2019",
}

// reviewHint says where held events are seen, when there are some.
func reviewHint(held int) string {
	if held == 0 {
		return ""
	}
	return "; aidmall review list shows them"
}
