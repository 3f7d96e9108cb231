package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"aidmall/adapters/sqlstore"
	"aidmall/audit"
	"aidmall/jobs"
	"aidmall/orders"
)

// newOrderCmd is `aidmall order`: what the aid office does to one order from the command
// line. `order retry ID` sends an order whose dispatch gave up (dispatch_failed) to its
// mall again, as POST /v1/orders/{id}/retry-dispatch and the order page do: one dispatch
// job, worked by `aidmall serve`.
func newOrderCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "order", Short: "One order: send an order whose dispatch gave up to its mall again"}
	var format string
	retry := &cobra.Command{
		Use:   "retry ID",
		Short: "Send an order whose dispatch gave up (dispatch_failed) to its mall again, under the same out_order_no",
		Long: "Send an order whose dispatch gave up (status dispatch_failed) to its mall again: its failure is\n" +
			"cleared (kept on its timeline and in the audit log) and one dispatch job is enqueued, which\n" +
			"`aidmall serve` works. The mall gets the same content under the same out_order_no, on which\n" +
			"it is idempotent. An order in any other state is refused.",
		Args: cobra.ExactArgs(1),
		RunE: g.withApp(false, func(ctx context.Context, a *app, args []string) error {
			id, err := strconv.ParseInt(strings.TrimSpace(args[0]), 10, 64)
			if err != nil || id <= 0 {
				return fmt.Errorf("order %q: want the order's number (id)", args[0])
			}
			// The store that inserts the job in the order's transaction, as serve's does.
			enq, err := jobs.NewEnqueuer(a.db.DB.DB, a.db.Dialect, a.cfg.Dispatch.MaxAttempts)
			if err != nil {
				return err
			}
			st, err := sqlstore.New(a.db, enq, nil)
			if err != nil {
				return err
			}
			svc, err := orders.NewService(st, drivers.Infos(drivers.Codes()), nil)
			if err != nil {
				return err
			}
			actor := audit.ActorFrom(ctx)
			o, err := svc.RetryDispatch(ctx, orders.Caller{Name: actor.Name, Role: orders.RoleAidOffice}, id)
			if err != nil {
				return err
			}
			if format == "json" {
				return writeIndented(g, o)
			}
			fmt.Fprintf(g.stdout, "order %d (%s) sent again to %s as %s: now %s\n", o.ID, o.OrderRef, o.Mall, o.OutOrderNo, o.Status)
			return nil
		}),
	}
	retry.Flags().StringVar(&format, "format", "text", "text or json")
	cmd.AddCommand(retry)
	return cmd
}
