// Command aidmall is the consumption-aid purchasing service (消费帮扶): union branches'
// group orders routed to the bank malls, fulfilment taken back, every delivered sale
// attributed to registered poor households, and the benefit reports.
//
//	aidmall demo                     a year of the bundled data through the whole service
//	aidmall serve                    the HTTP API, webhooks and background jobs
//	aidmall migrate                  apply database migrations
//	aidmall import bundle DIR        import a registry/catalogue bundle (and per-file kinds)
//	aidmall import statement FILE    reconcile a mall's statement file
//	aidmall report benefit           the benefit report from the database
//	aidmall users add                make an API key
//	aidmall reconcile                read the malls' statements and apply what was missed
//
// Every command takes its database from --db or DATABASE_URL (a file path or sqlite: URL
// for SQLite, postgres:// for PostgreSQL); see config for the rest.
package main

import (
	"aidmall/orders"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "aidmall:", describe(err))
		os.Exit(1)
	}
}

// run is the whole program, callable from tests: args without the program name, getenv
// for the environment, and the two output streams.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	root := newRoot(getenv, stdout, stderr)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return root.ExecuteContext(ctx)
}

// describe is err as a person at the terminal reads it: a domain error's own message
// (orders.Error keeps it apart from the chain that led to it), anything else as it is.
func describe(err error) string {
	var e *orders.Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return err.Error()
}
