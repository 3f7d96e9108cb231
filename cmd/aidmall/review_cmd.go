package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"aidmall/audit"
	"aidmall/bizday"
	"aidmall/orders"
	"aidmall/review"
)

// reviewQueue is the review queue over the app's store, re-reading through the orders
// service, acting as the CLI's operator.
func reviewQueue(ctx context.Context, a *app) (*review.Service, orders.Caller, error) {
	svc, err := orders.NewService(a.store, drivers.Infos(drivers.Codes()), nil)
	if err != nil {
		return nil, orders.Caller{}, err
	}
	q, err := review.NewService(a.store, svc, a.cfg.ReviewAfter, nil)
	if err != nil {
		return nil, orders.Caller{}, err
	}
	actor := audit.ActorFrom(ctx)
	return q, orders.Caller{Name: actor.Name, Role: orders.RoleAidOffice}, nil
}

func newReviewCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "review", Short: "What waits for a person: held and parked events, unreadable notifications, orders that never reached their mall"}
	var format string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the open review items, oldest first",
		Args:  cobra.NoArgs,
		RunE: g.withApp(false, func(ctx context.Context, a *app, _ []string) error {
			q, caller, err := reviewQueue(ctx, a)
			if err != nil {
				return err
			}
			items, err := q.List(ctx, caller)
			if err != nil {
				return err
			}
			if format == "json" {
				if items == nil {
					items = []review.Item{}
				}
				return writeIndented(g, items)
			}
			if len(items) == 0 {
				fmt.Fprintln(g.stdout, "nothing waits for review")
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tSINCE (BEIJING)\tMALL\tORDER\tREASON")
			for _, it := range items {
				order := it.OutOrderNo
				if it.OrderID != 0 {
					order = fmt.Sprintf("%d %s", it.OrderID, it.OutOrderNo)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", it.ID, it.Kind, it.Since.In(bizday.Beijing).Format("2006-01-02 15:04 -07:00"), it.Mall, order, short(it.Reason, 60))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%d items; `aidmall review show ID` for one, `aidmall review resolve ID --dismiss --note …` to resolve it\n", len(items))
			return nil
		}),
	}
	list.Flags().StringVar(&format, "format", "table", "table or json")
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one review item (open or resolved), with the rule that held it or what could not be read",
		Args:  cobra.ExactArgs(1),
		RunE: g.withApp(false, func(ctx context.Context, a *app, args []string) error {
			q, caller, err := reviewQueue(ctx, a)
			if err != nil {
				return err
			}
			it, err := q.Get(ctx, caller, args[0])
			if err != nil {
				return err
			}
			return writeIndented(g, it)
		}),
	}
	var note string
	var dismiss, reread bool
	resolve := &cobra.Command{
		Use:   "resolve ID",
		Short: "Resolve a review item with a note: --dismiss, or --reread (a parked event given to the order that now has its number)",
		Args:  cobra.ExactArgs(1),
		RunE: g.withApp(false, func(ctx context.Context, a *app, args []string) error {
			if dismiss == reread {
				return errors.New("give one of --dismiss or --reread")
			}
			outcome := review.Dismissed
			if reread {
				outcome = review.Reread
			}
			q, caller, err := reviewQueue(ctx, a)
			if err != nil {
				return err
			}
			it, err := q.Resolve(ctx, caller, args[0], outcome, note)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s %s: %s\n", it.ID, it.Resolved.Outcome, it.Resolved.Note)
			return nil
		}),
	}
	resolve.Flags().StringVar(&note, "note", "", "why (required; recorded in the audit log)")
	resolve.Flags().BoolVar(&dismiss, "dismiss", false, "looked at: nothing to do")
	resolve.Flags().BoolVar(&reread, "reread", false, "read again (parked events)")
	cmd.AddCommand(list, show, resolve)
	return cmd
}

func writeIndented(g *globals, v any) error {
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
