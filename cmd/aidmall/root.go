package main

import (
	"fmt"
	"io"
	"log/slog"

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
		return config.Config{}, fmt.Errorf("config: DATABASE_URL: %w", err)
	}
	return cfg, nil
}

func (g *globals) logger(cfg config.Config) *slog.Logger {
	return slog.New(slog.NewJSONHandler(g.stderr, &slog.HandlerOptions{Level: cfg.SlogLevel()}))
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
	root.AddCommand(
		newDemoCmd(g),
		newServeCmd(g),
		newMigrateCmd(g),
		newImportCmd(g),
		newReportCmd(g),
		newTargetsCmd(g),
		newUsersCmd(g),
		newReconcileCmd(g),
	)
	return root
}
