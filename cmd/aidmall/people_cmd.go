package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"aidmall/bizday"
	"aidmall/orders"
	"aidmall/people"
)

// newPeopleCmd is `aidmall people`: the accounts of people who sign in to the pages
// (package people), as the aid office's page /office/people manages them. Every change is
// audited with the actor cli:<os user>.
func newPeopleCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "people", Short: "Accounts of people who sign in to the pages (the aid office makes, resets and disables them)"}
	var login, name, role, branch string
	var fromStdin bool
	add := &cobra.Command{
		Use:   "add --login L --name N --role R [--branch B]",
		Short: "Make an account; its initial password is generated and printed once (or read from stdin)",
		Args:  cobra.NoArgs,
	}
	add.RunE = g.withApp(true, func(ctx context.Context, a *app, _ []string) error {
		svc, err := people.NewService(a.store, nil)
		if err != nil {
			return err
		}
		var pw string
		if fromStdin {
			if pw, err = readPassword(add.InOrStdin()); err != nil {
				return err
			}
		}
		p, pw, err := svc.Add(ctx, people.NewPerson{Login: login, Name: name, Role: orders.Role(role), BranchCode: branch, Password: pw})
		if err != nil {
			return peopleError(err)
		}
		if fromStdin {
			fmt.Fprintf(g.stdout, "%s (%s, %s) made with the password given\n", p.Login, p.Name, p.Role)
			return nil
		}
		fmt.Fprintf(g.stderr, "%s (%s, %s) made; the initial password is shown once, hand it over now:\n", p.Login, p.Name, p.Role)
		fmt.Fprintln(g.stdout, pw)
		return nil
	})
	add.Flags().StringVar(&login, "login", "", "the sign-in name: 3–32 lowercase letters, digits, . _ - (required)")
	add.Flags().StringVar(&name, "name", "", "the person's name as shown on the pages (required)")
	add.Flags().StringVar(&role, "role", "", "branch_staff, aid_office or auditor (required)")
	add.Flags().StringVar(&branch, "branch", "", "the branch code of a branch_staff account")
	add.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the initial password from the first line of stdin instead of generating one")
	for _, f := range []string{"login", "name", "role"} {
		_ = add.MarkFlagRequired(f)
	}

	list := &cobra.Command{
		Use:   "list",
		Short: "List the accounts (never their passwords)",
		Args:  cobra.NoArgs,
		RunE: g.withApp(false, func(ctx context.Context, a *app, _ []string) error {
			ps, err := a.store.People(ctx)
			if err != nil {
				return err
			}
			return writePeople(g.stdout, ps)
		}),
	}

	var resetStdin bool
	reset := &cobra.Command{
		Use:   "reset LOGIN",
		Short: "Give an account a new password (generated and printed once, or read from stdin); its sessions end",
		Args:  cobra.ExactArgs(1),
	}
	reset.RunE = g.withApp(false, func(ctx context.Context, a *app, args []string) error {
		svc, err := people.NewService(a.store, nil)
		if err != nil {
			return err
		}
		var pw string
		if resetStdin {
			if pw, err = readPassword(reset.InOrStdin()); err != nil {
				return err
			}
		}
		p, pw, err := svc.ResetPassword(ctx, args[0], pw)
		if err != nil {
			return peopleError(err)
		}
		if resetStdin {
			fmt.Fprintf(g.stdout, "%s has the password given; their sessions ended\n", p.Login)
			return nil
		}
		fmt.Fprintf(g.stderr, "%s has a new password; their sessions ended. It is shown once, hand it over now:\n", p.Login)
		fmt.Fprintln(g.stdout, pw)
		return nil
	})
	reset.Flags().BoolVar(&resetStdin, "password-stdin", false, "read the new password from the first line of stdin")

	able := func(use, short string, disabled bool) *cobra.Command {
		return &cobra.Command{
			Use:   use + " LOGIN",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: g.withApp(false, func(ctx context.Context, a *app, args []string) error {
				svc, err := people.NewService(a.store, nil)
				if err != nil {
					return err
				}
				p, err := svc.SetDisabled(ctx, args[0], disabled)
				if err != nil {
					return peopleError(err)
				}
				fmt.Fprintf(g.stdout, "%s %sd\n", p.Login, use)
				return nil
			}),
		}
	}
	cmd.AddCommand(add, list, reset,
		able("disable", "Disable an account: it cannot sign in and its sessions end at once", true),
		able("enable", "Enable a disabled account again", false))
	return cmd
}

// readPassword reads the first line of r (a pipe or a typed line), without its line end.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("--password-stdin: stdin gave no password")
	}
	return pw, nil
}

// peopleError words a refused request for the terminal: each bad field's message.
func peopleError(err error) error {
	var inv *people.InvalidError
	if errors.As(err, &inv) {
		return &orders.Error{Kind: orders.ErrInvalid, Message: inv.Message(), Err: err}
	}
	return err
}

// writePeople prints the accounts as a table: login, name, role, branch, state, when the
// password was set (Beijing time) and who made and last changed the account.
func writePeople(w io.Writer, ps []people.Person) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LOGIN\tNAME\tROLE\tBRANCH\tSTATE\tPASSWORD SET\tMADE BY\tCHANGED BY")
	for _, p := range ps {
		br, state := "-", "active"
		if p.BranchCode != "" {
			br = p.BranchCode
		}
		if p.Disabled {
			state = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Login, p.Name, p.Role, br, state,
			p.PasswordAt.In(bizday.Beijing).Format("2006-01-02 15:04"), p.CreatedBy, p.UpdatedBy)
	}
	return tw.Flush()
}
