package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/user"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"aidmall/audit"
	"aidmall/bizday"
	"aidmall/orders"
)

// cliActor is who acts at the CLI: "cli:<OS user>", in the aid office's role (whoever
// runs the CLI holds the database).
func cliActor(getenv func(string) string) audit.Actor {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if name == "" && getenv != nil {
		name = getenv("USER")
	}
	if name == "" {
		name = "unknown"
	}
	return audit.Actor{Name: "cli:" + name, Role: string(orders.RoleAidOffice)}
}

func newAuditCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "The audit log: every change, who made it, before and after"}
	var f audit.Filter
	var from, to, format string
	var all bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List audit entries, oldest first (--after SEQ for the next page)",
		Args:  cobra.NoArgs,
		RunE: g.withApp(false, func(ctx context.Context, a *app, _ []string) error {
			var err error
			if f.From, err = parseInstant(from); err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			if f.To, err = parseInstant(to); err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			var es []audit.Entry
			for {
				page, next, err := a.store.AuditEntries(ctx, f)
				if err != nil {
					return err
				}
				es = append(es, page...)
				if next == 0 || !all {
					if next != 0 {
						fmt.Fprintf(g.stderr, "more entries: --after %d (or --all)\n", next)
					}
					break
				}
				f.After = next
			}
			switch format {
			case "json":
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				if es == nil {
					es = []audit.Entry{}
				}
				return enc.Encode(es)
			case "table", "":
				tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SEQ\tAT (BEIJING)\tACTOR\tROLE\tACTION\tOBJECT\tAFTER")
				for _, e := range es {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.At.In(bizday.Beijing).Format("2006-01-02 15:04:05 -07:00"), e.Actor.Name, e.Actor.Role,
						e.Action, e.Object, short(string(e.After), 80))
				}
				return tw.Flush()
			}
			return errors.New("--format must be table or json")
		}),
	}
	list.Flags().StringVar(&from, "from", "", "entries at or after this instant (RFC 3339, or a Beijing day YYYY-MM-DD)")
	list.Flags().StringVar(&to, "to", "", "entries before this instant (RFC 3339, or a Beijing day YYYY-MM-DD: before that day starts)")
	list.Flags().StringVar(&f.Action, "action", "", `an action ("order.place") or a prefix ending in "." ("order.")`)
	list.Flags().StringVar(&f.Object, "object", "", `an object ("order:12", "key:3", "file:linkages/linkages.csv")`)
	list.Flags().Int64Var(&f.After, "after", 0, "entries after this sequence number (the next page)")
	list.Flags().IntVar(&f.Limit, "limit", 100, "entries per page (at most 500)")
	list.Flags().BoolVar(&all, "all", false, "every page")
	list.Flags().StringVar(&format, "format", "table", "table or json")

	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check the audit log's hash chain: exit 1 naming the first entry edited, deleted or moved",
		Args:  cobra.NoArgs,
		RunE: g.withApp(false, func(ctx context.Context, a *app, _ []string) error {
			n, err := a.store.VerifyAudit(ctx)
			var b *audit.Break
			if errors.As(err, &b) {
				fmt.Fprintf(g.stdout, "audit log BROKEN at entry %d: %s (%d entries before it are intact)\n", b.Seq, b.Reason, n)
				return fmt.Errorf("audit log broken at entry %d", b.Seq)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "audit log intact: %d entries, chain and head agree\n", n)
			return nil
		}),
	}
	cmd.AddCommand(list, verify)
	return cmd
}

// parseInstant reads an RFC 3339 instant or a Beijing day (its start); "" is the zero time.
func parseInstant(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.ParseInLocation(time.DateOnly, s, bizday.Beijing)
	if err != nil {
		return time.Time{}, errors.New("want RFC 3339 (2019-03-01T08:00:00+08:00) or a day (2019-03-01)")
	}
	return t, nil
}

func short(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
