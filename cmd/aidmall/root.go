package main

import (
	"errors"
	"fmt"
	"github.com/spf13/pflag"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"aidmall/adapters/sqlstore"
	"aidmall/config"
)

// globals are the flags every command shares.
type globals struct {
	getenv     func(string) string
	stdout     io.Writer
	stderr     io.Writer
	configFile string
	db         string
	verbose    int    // -v: info, -vv: debug
	logLevel   string // --log-level
	logFormat  string // --log-format text|json; "" is the command's default
	serving    bool   // set by serve: its logs default to JSON at the configured level
}

// config loads the configuration (defaults < --config file < environment), with --db
// taking precedence over DATABASE_URL.
func (g *globals) config() (config.Config, error) {
	getenv := g.getenv
	if g.db != "" {
		db := g.db
		getenv = func(k string) string {
			if k == "DATABASE_URL" {
				return db
			}
			return g.getenv(k)
		}
	}
	cfg, err := config.Load(getenv, g.configFile, drivers.Codes()...)
	if err != nil {
		return config.Config{}, err
	}
	// The database URL's form is the store's to judge: refuse a bad one before any work.
	if err := sqlstore.CheckURL(cfg.DatabaseURL); err != nil {
		if g.db != "" { // named where it came from
			return config.Config{}, fmt.Errorf("--db: %w", err)
		}
		return config.Config{}, fmt.Errorf("config: DATABASE_URL: %w", err)
	}
	return cfg, nil
}

// logger is the logger of a command, always on stderr so that it never mixes into what a
// command prints on stdout (a table, a CSV, JSON). A command run by a person logs text
// lines at warn and above: -v shows info, -vv debug, --log-level any level (a configured
// AIDMALL_LOG_LEVEL of error quiets it further). serve, whose logs go to operators'
// pipelines, logs JSON at the configured level (AIDMALL_LOG_LEVEL, default info) unless
// --log-format text or --log-level/-v say otherwise.
func (g *globals) logger(cfg config.Config) *slog.Logger {
	level := cfg.SlogLevel()
	if !g.serving {
		level = max(level, slog.LevelWarn)
	}
	switch {
	case g.logLevel != "":
		level = config.Config{LogLevel: g.logLevel}.SlogLevel()
	case g.verbose == 1:
		level = slog.LevelInfo
	case g.verbose > 1:
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	if g.logFormat == "json" || g.logFormat == "" && g.serving {
		return slog.New(slog.NewJSONHandler(g.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(g.stderr, opts))
}

// checkLogFlags refuses a --log-level or --log-format it does not know.
func (g *globals) checkLogFlags() error {
	switch strings.ToLower(g.logLevel) {
	case "", "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level must be debug, info, warn or error")
	}
	switch g.logFormat {
	case "", "text", "json":
	default:
		return fmt.Errorf("--log-format must be text or json")
	}
	return nil
}

func newRoot(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	g := &globals{getenv: getenv, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "aidmall",
		Short:         "Consumption-aid purchasing: group orders → bank malls → fulfilment → households",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.configFile, "config", "", "JSON configuration file (environment variables override it)")
	root.PersistentFlags().StringVar(&g.db, "db", "", "database: a file path or sqlite: URL (SQLite) or postgres:// URL; overrides DATABASE_URL")
	root.PersistentFlags().CountVarP(&g.verbose, "verbose", "v", "log more on stderr: -v info, -vv debug (default: warnings and errors; serve: AIDMALL_LOG_LEVEL)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "", "log level on stderr: debug, info, warn or error (overrides -v)")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "", "log lines on stderr as text or json (default: text; serve: json)")
	root.PersistentPreRunE = func(*cobra.Command, []string) error { return g.checkLogFlags() }
	root.SetFlagErrorFunc(flagValueError)
	root.AddCommand(
		newDemoCmd(g),
		newServeCmd(g),
		newMigrateCmd(g),
		newImportCmd(g),
		newReportCmd(g),
		newTargetsCmd(g),
		newUsersCmd(g),
		newPeopleCmd(g),
		newBudgetCmd(g),
		newReconcileCmd(g),
		newAuditCmd(g),
		newReviewCmd(g),
		newPeriodCmd(g), newHouseholdCmd(g),
		newKeysCmd(g),
		newMallsimCmd(g), // hidden: the fault harness's malls
		newBenchCmd(g),
		newGenCmd(g),
		newOrderCmd(g),
		newRollupsCmd(g),
	)
	refuseUnknownSubcommands(root)
	argsSayUsage(root)
	return root
}

// argsSayUsage makes a wrong number of arguments say the command's usage line, so that a
// person who typed `aidmall household provenance` reads what to give (usage: aidmall
// household provenance HOUSEHOLD_NO …), not cobra's bare "accepts 1 arg(s), received 0".
func argsSayUsage(c *cobra.Command) {
	for _, sub := range c.Commands() {
		argsSayUsage(sub)
	}
	check := c.Args
	if check == nil || !c.Runnable() {
		return
	}
	c.Args = func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return fmt.Errorf("%w; usage: %s (see --help)", err, cmd.UseLine())
		}
		return nil
	}
}

// refuseUnknownSubcommands makes every command group below root (rollups, report, users, …)
// refuse a subcommand it does not have, with exit 1, as root does: cobra would print the
// group's help and exit 0, so a mistyped `aidmall rollups verfy` in a script would pass.
// A group given no subcommand prints its help.
func refuseUnknownSubcommands(root *cobra.Command) {
	for _, c := range root.Commands() {
		if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
			c.Args = cobra.NoArgs
			c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
		}
		refuseUnknownSubcommands(c)
	}
}

// flagValueError says a flag value that does not parse as its type (--year 2019x) in the
// flag's words, not Go's (strconv.ParseInt: parsing "2019x": invalid syntax); any other
// flag error (unknown flag, missing value) as cobra says it.
func flagValueError(_ *cobra.Command, err error) error {
	var bad *pflag.InvalidValueError
	if !errors.As(err, &bad) {
		return err
	}
	f := bad.GetFlag()
	want := "a value of type " + f.Value.Type()
	switch f.Value.Type() {
	case "int", "int64", "int32", "uint", "uint64":
		want = "a whole number"
	case "bool":
		want = "true or false"
	case "duration":
		want = "a duration such as 30s or 5m"
	case "float64":
		want = "a number"
	}
	return fmt.Errorf("--%s: %q is not %s", f.Name, bad.GetValue(), want)
}
