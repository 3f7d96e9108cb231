package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"aidmall/adapters/sqlstore"
	"aidmall/bizday"
)

// writeKeys prints the API keys as a table with a header row: id, the key's first
// characters, role, branch, holder, state and last use (Beijing time, to the minute, with
// its offset: +08:00; recorded at most once a minute).
func writeKeys(w io.Writer, ks []sqlstore.APIKey) error {
	at := func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return t.In(bizday.Beijing).Format("2006-01-02 15:04 -07:00")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKEY\tROLE\tBRANCH\tHOLDER\tSTATE\tLAST USED")
	for _, k := range ks {
		br, state := "-", "active"
		if k.BranchCode != nil {
			br = *k.BranchCode
		}
		if k.RevokedAt != nil {
			state = "revoked " + at(k.RevokedAt)
		} else if k.RotatedAt != nil {
			state = "rotated " + at(k.RotatedAt)
		}
		fmt.Fprintf(tw, "%d\t%s…\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Prefix, k.Role, br, k.Name, state, at(k.LastUsedAt))
	}
	return tw.Flush()
}

func keyID(arg string) (int64, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("KEYID %q: give the key's id (the first column of aidmall users list)", arg)
	}
	return id, nil
}

func newUsersRevokeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke KEYID",
		Short: "Revoke an API key: it fails from the next request on",
		Args:  cobra.ExactArgs(1),
		RunE: g.withApp(true, func(ctx context.Context, a *app, args []string) error {
			id, err := keyID(args[0])
			if err != nil {
				return err
			}
			if err := a.store.RevokeAPIKey(ctx, id); err != nil {
				return fmt.Errorf("revoke key %d: %w (absent or already revoked)", id, err)
			}
			fmt.Fprintf(g.stdout, "API key %d revoked\n", id)
			return nil
		}),
	}
}

func newUsersRotateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate KEYID",
		Short: "Give an API key a new secret (printed once); the old one fails at once",
		Args:  cobra.ExactArgs(1),
		RunE: g.withApp(true, func(ctx context.Context, a *app, args []string) error {
			id, err := keyID(args[0])
			if err != nil {
				return err
			}
			token, k, err := a.store.RotateAPIKey(ctx, id)
			if err != nil {
				return fmt.Errorf("rotate key %d: %w (absent or revoked)", id, err)
			}
			fmt.Fprintf(g.stderr, "API key %d for %q (%s) has a new secret; the old one no longer works. It is shown once, store it now:\n", k.ID, k.Name, k.Role)
			fmt.Fprintln(g.stdout, token)
			return nil
		}),
	}
}
