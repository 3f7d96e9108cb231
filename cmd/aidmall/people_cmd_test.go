package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/audit"
	"aidmall/config"
	"aidmall/orders"
	"aidmall/people"
)

// people add prints a generated password once (or takes one from stdin), list shows the
// accounts without secrets, reset and disable change them, each audited as cli:<user>.
func TestPeopleCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "a.db")
	mustCLI(t, db, dir, "migrate")
	sqltest.Seed(t, openStore(t, db))
	pw := strings.TrimSpace(mustCLI(t, db, dir, "people", "add", "--login", "wangfang", "--name", "王芳", "--role", "branch_staff", "--branch", "HQ"))
	if len(pw) < people.MinPassword || strings.ContainsAny(pw, " \n") {
		t.Fatalf("add printed %q", pw)
	}
	// The password from stdin.
	var out, errOut bytes.Buffer
	root := newRoot(env(map[string]string{"AIDMALL_DATA_DIR": dir}), &out, &errOut)
	root.SetArgs([]string{"people", "add", "--login", "lifang", "--name", "李芳", "--role", "auditor", "--password-stdin", "--db", db})
	root.SetIn(strings.NewReader("a long enough secret\n"))
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "a long enough secret") {
		t.Fatal("a password read from stdin was printed")
	}
	if _, err := cli(t, db, dir, "people", "add", "--login", "X", "--name", "x", "--role", "auditor", "--branch", "HQ"); err == nil ||
		!strings.Contains(describe(err), "登录名须为") || !strings.Contains(describe(err), "只有工会干事属于某个单位") {
		t.Fatalf("a bad account: %v", err)
	}

	list := mustCLI(t, db, dir, "people", "list")
	if lines := strings.Split(strings.TrimSpace(list), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[0], "LOGIN") ||
		!strings.Contains(lines[2], "wangfang") || !strings.Contains(lines[2], "HQ") || strings.Contains(list, pw) || strings.Contains(list, "argon2") {
		t.Fatalf("people list:\n%s", list)
	}

	st := openStore(t, db)
	svc, _ := people.NewService(st, nil)
	ctx := context.Background()
	if _, err := svc.SignIn(ctx, "lifang", "a long enough secret", ""); err != nil {
		t.Fatalf("the stdin password: %v", err)
	}
	pw2 := strings.TrimSpace(mustCLI(t, db, dir, "people", "reset", "wangfang"))
	if _, err := svc.SignIn(ctx, "wangfang", pw, ""); !errors.Is(err, people.ErrBadSignIn) {
		t.Fatalf("the old password after reset: %v", err)
	}
	mustCLI(t, db, dir, "people", "disable", "wangfang")
	if _, err := svc.SignIn(ctx, "wangfang", pw2, ""); !errors.Is(err, people.ErrBadSignIn) {
		t.Fatalf("a disabled account: %v", err)
	}
	if !strings.Contains(mustCLI(t, db, dir, "people", "list"), "disabled") {
		t.Fatal("list does not show the account disabled")
	}
	mustCLI(t, db, dir, "people", "enable", "wangfang")
	if _, err := svc.SignIn(ctx, "wangfang", pw2, ""); err != nil {
		t.Fatalf("enabled again: %v", err)
	}
	if _, err := cli(t, db, dir, "people", "reset", "ghost"); err == nil || !errors.Is(err, orders.ErrNotFound) {
		t.Fatalf("reset of an unknown login: %v", err)
	}

	es, _, err := st.AuditEntries(ctx, audit.Filter{Object: "person:wangfang"})
	if err != nil {
		t.Fatal(err)
	}
	var changes []string
	for _, e := range es {
		if strings.Contains(string(e.After), pw) || strings.Contains(string(e.After), pw2) {
			t.Errorf("%s holds a password", e.Action)
		}
		if strings.HasPrefix(e.Actor.Name, "cli:") {
			changes = append(changes, e.Action)
		}
	}
	if got := strings.Join(changes, " "); got != "person.create person.reset person.disable person.enable" {
		t.Errorf("audited as cli: %q", got)
	}
}

// The demo's people are made once and, run again over the same database, reset: one
// account per role, each signing in with the password printed last.
func TestDemoPeopleAreIdempotent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg, err := config.Load(env(map[string]string{"DATABASE_URL": filepath.Join(dir, "d.db"), "AIDMALL_DATA_DIR": dir}), "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := openApp(ctx, cfg, slog.New(slog.DiscardHandler), true)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	sqltest.Seed(t, a.store)
	first, err := demoPeople(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	second, err := demoPeople(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	ps, _ := a.store.People(ctx)
	if len(ps) != 3 || len(second) != 3 {
		t.Fatalf("%d demo people after two runs", len(ps))
	}
	svc, _ := people.NewService(a.store, nil)
	roles := map[orders.Role]bool{}
	for i, s := range second {
		p, err := svc.SignIn(ctx, s.Login, s.Password, "")
		if err != nil {
			t.Fatalf("demo sign-in %s: %v", s.Login, err)
		}
		roles[p.Role] = true
		if p.Role == orders.RoleBranchStaff && p.BranchCode != "HQ" {
			t.Errorf("demo staff of branch %q", p.BranchCode)
		}
		if _, err := svc.SignIn(ctx, first[i].Login, first[i].Password, ""); err == nil {
			t.Errorf("%s: the first run's password still works", s.Login)
		}
	}
	if len(roles) != 3 {
		t.Errorf("demo roles %v", roles)
	}
	var out bytes.Buffer
	printDemoSignIns(&out, "http://127.0.0.1:8080", second, false)
	for _, s := range second {
		if !strings.Contains(out.String(), s.Login) || !strings.Contains(out.String(), s.Password) {
			t.Errorf("the demo does not print %s's sign-in:\n%s", s.Login, out.String())
		}
	}
	if !strings.Contains(out.String(), "http://127.0.0.1:8080/signin") {
		t.Errorf("the demo does not print the pages' address:\n%s", out.String())
	}
}

// The session cookie's keys survive a restart: from the data dir's session.key (made
// once), or derived from AIDMALL_SEAL_KEY when set (so replicas agree).
func TestSessionKeysSurviveARestart(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	cfg := config.Config{DataDir: dir}
	k1, err := sessionKeys(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := sessionKeys(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k1.HashKey, k2.HashKey) || !bytes.Equal(k1.BlockKey, k2.BlockKey) || bytes.Equal(k1.HashKey, k1.BlockKey) {
		t.Fatal("the session keys changed between two starts, or the two keys are one")
	}
	if fi, err := os.Stat(filepath.Join(dir, "session.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("session.key: %v %v", fi, err)
	}
	seal := func(b byte) config.Config {
		return config.Config{DataDir: t.TempDir(), SealKey: base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32))}
	}
	a1, _ := sessionKeys(seal(1), log)
	a2, _ := sessionKeys(seal(1), log)
	b1, _ := sessionKeys(seal(2), log)
	if !bytes.Equal(a1.HashKey, a2.HashKey) || bytes.Equal(a1.HashKey, b1.HashKey) || bytes.Equal(a1.HashKey, k1.HashKey) {
		t.Fatal("keys derived from AIDMALL_SEAL_KEY are not one per seal key")
	}
}
