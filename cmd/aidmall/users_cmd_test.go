package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/orders"
)

// cli runs aidmall with args on the database at dbPath and returns its stdout.
func cli(t *testing.T, dbPath, dataDir string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := env(map[string]string{"AIDMALL_DATA_DIR": dataDir})
	err := run(context.Background(), append(args, "--db", dbPath), e, &out, &errOut)
	return out.String(), err
}

func mustCLI(t *testing.T, dbPath, dataDir string, args ...string) string {
	t.Helper()
	out, err := cli(t, dbPath, dataDir, args...)
	if err != nil {
		t.Fatalf("aidmall %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// users revoke and rotate end a key's secret at once; users list shows a header and the
// last use.
func TestUsersRevokeRotateList(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "a.db")
	token := strings.TrimSpace(mustCLI(t, db, dir, "users", "add", "--role", "aid_office", "--name", "扶贫办"))
	st := openStore(t, db)
	ctx := context.Background()
	if _, err := st.Authenticate(ctx, token); err != nil {
		t.Fatalf("new key: %v", err)
	}
	list := mustCLI(t, db, dir, "users", "list")
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "LAST USED") || strings.Contains(lines[1], "never") {
		t.Fatalf("users list after one use:\n%s", list)
	}
	// The time says its zone: Beijing's offset, to the minute.
	if !regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d \+08:00\s*$`).MatchString(lines[1]) {
		t.Errorf("the last use is not a Beijing time with its offset: %q", lines[1])
	}
	fresh := strings.TrimSpace(mustCLI(t, db, dir, "users", "rotate", "1"))
	if fresh == token || !strings.HasPrefix(fresh, "am_") {
		t.Fatalf("rotate printed %q", fresh)
	}
	if _, err := st.Authenticate(ctx, token); !errors.Is(err, orders.ErrNotFound) {
		t.Fatalf("the old secret after rotate: %v, want refused", err)
	}
	if c, err := st.Authenticate(ctx, fresh); err != nil || c.KeyID != 1 || c.Role != orders.RoleAidOffice {
		t.Fatalf("the new secret: %+v %v", c, err)
	}
	mustCLI(t, db, dir, "users", "revoke", "1")
	if _, err := st.Authenticate(ctx, fresh); !errors.Is(err, orders.ErrNotFound) {
		t.Fatalf("a revoked key: %v, want refused", err)
	}
	if _, err := cli(t, db, dir, "users", "rotate", "1"); err == nil {
		t.Fatal("a revoked key was rotated")
	}
	if _, err := cli(t, db, dir, "users", "revoke", "7"); err == nil {
		t.Fatal("revoking an absent key succeeded")
	}
	if list := mustCLI(t, db, dir, "users", "list"); !strings.Contains(list, "revoked") {
		t.Fatalf("users list after revoke:\n%s", list)
	}
}

// import branches needs --budget-year; budget list and set read and set the year's budgets.
func TestBudgetCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "a.db")
	branches := filepath.Join(sqltest.ExampleBundle(), "branches.csv")
	if _, err := cli(t, db, dir, "import", "branches", branches); err == nil || !strings.Contains(err.Error(), "--budget-year") {
		t.Fatalf("import branches without a year: %v", err)
	}
	mustCLI(t, db, dir, "import", "branches", "--budget-year", "2019", branches)
	out := mustCLI(t, db, dir, "budget", "list", "--year", "2019")
	if !strings.Contains(out, "928000.00") || !strings.HasPrefix(strings.TrimSpace(out), "branch") {
		t.Fatalf("budget list 2019:\n%s", out)
	}
	if out := mustCLI(t, db, dir, "budget", "list", "--year", "2020"); !strings.Contains(out, "no budget") {
		t.Fatalf("budget list 2020:\n%s", out)
	}
	if out := mustCLI(t, db, dir, "budget", "set", "HQ", "2020", "1000.50"); !strings.Contains(out, "1000.50 (was no budget)") {
		t.Fatalf("budget set: %s", out)
	}
	if out := mustCLI(t, db, dir, "budget", "list", "--year", "2020", "--json"); !strings.Contains(out, `"budget": "1000.50"`) {
		t.Fatalf("budget list --json:\n%s", out)
	}
	// A bundle's budgets are its year's: 2019 for the example (orders.csv).
	if y, err := bundleBudgetYear(os.DirFS(sqltest.ExampleBundle()), 0); err != nil || y != 2019 {
		t.Fatalf("bundle year %d %v, want 2019", y, err)
	}
	// A bad row of orders.csv (cut short, a cell too many, quoting broken) is the order
	// history import's row error; it does not hide the year the other rows tell.
	good, err := os.ReadFile(filepath.Join(sqltest.ExampleBundle(), "orders.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(good), "\n")
	bad := append([]string{lines[0],
		"2019-HQ-9001,HQ,ccb,union_funds\n",
		"2019-HQ-9002,HQ,ccb,union_funds,2020-03-01T10:00:00+08:00,bulk,AM1,CCB1,extra\n",
		`2019-HQ-9003,"HQ,ccb,union_funds,2020-03-01T10:00:00+08:00,bulk,AM2,CCB2` + "\n"}, lines[1:]...)
	if y, err := bundleBudgetYear(fstest.MapFS{"orders.csv": {Data: []byte(strings.Join(bad, ""))}}, 0); err != nil || y != 2019 {
		t.Fatalf("bundle year with bad rows in orders.csv: %d %v, want 2019", y, err)
	}
}
