package sqlstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/audit"
	"aidmall/orders"
	"aidmall/people"
)

// TestPeopleAccountsLifeCycle: an account is made, signs in, is refused with a wrong
// password, is reset (the old password and every session die), disabled (refused even
// with the right password) and enabled again; each change is audited with its actor and
// no password or hash.
func TestPeopleAccountsLifeCycle(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		st := sqltest.Store(t, db)
		fx := sqltest.Seed(t, st)
		svc, err := people.NewService(st, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx := audit.WithActor(context.Background(), audit.Actor{Name: "cli:alice", Role: "aid_office"})

		p, pw, err := svc.Add(ctx, people.NewPerson{Login: " WangFang ", Name: "王芳", Role: orders.RoleBranchStaff, BranchCode: fx.Branch})
		if err != nil {
			t.Fatal(err)
		}
		if p.Login != "wangfang" || p.ID == 0 || p.CreatedBy != "cli:alice" || len(pw) < people.MinPassword {
			t.Fatalf("added %+v with password of %d characters", p, len(pw))
		}
		if _, _, err := svc.Add(ctx, people.NewPerson{Login: "wangfang", Name: "另一个王芳", Role: orders.RoleAuditor}); !errors.Is(err, orders.ErrConflict) {
			t.Fatalf("a taken login: %v, want a conflict", err)
		}
		var inv *people.InvalidError
		_, _, err = svc.Add(ctx, people.NewPerson{Login: "x", Name: "", Role: orders.RoleBranchStaff, BranchCode: "NOPE", Password: "short"})
		if !errors.As(err, &inv) || inv.Of("login") == "" || inv.Of("name") == "" || inv.Of("branch") == "" || inv.Of("password") == "" {
			t.Fatalf("bad request: %v, want each of login, name, branch and password named", err)
		}

		if got, err := svc.SignIn(ctx, "WANGFANG", pw, "192.0.2.1"); err != nil || got.ID != p.ID || got.Role != orders.RoleBranchStaff || got.BranchCode != fx.Branch {
			t.Fatalf("sign in: %+v %v", got, err)
		}
		if _, err := svc.SignIn(ctx, "wangfang", pw+"x", "192.0.2.1"); !errors.Is(err, people.ErrBadSignIn) {
			t.Fatalf("wrong password: %v", err)
		}
		if _, err := svc.SignIn(ctx, "nobody", pw, "192.0.2.1"); !errors.Is(err, people.ErrBadSignIn) {
			t.Fatalf("unknown login: %v", err)
		}

		now := time.Now().UTC()
		sess := people.Session{ID: "s1", PersonID: p.ID, Data: []byte("v"), CreatedAt: now, SeenAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := st.SaveSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		_, pw2, err := svc.ResetPassword(ctx, "wangfang", "")
		if err != nil || pw2 == pw {
			t.Fatalf("reset: %v", err)
		}
		if _, err := st.Session(ctx, "s1"); !errors.Is(err, orders.ErrNotFound) {
			t.Fatalf("a session after its person's reset: %v, want gone", err)
		}
		if _, err := svc.SignIn(ctx, "wangfang", pw, ""); !errors.Is(err, people.ErrBadSignIn) {
			t.Fatalf("the old password after a reset: %v", err)
		}
		if _, err := svc.SetDisabled(ctx, "wangfang", true); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.SignIn(ctx, "wangfang", pw2, ""); !errors.Is(err, people.ErrBadSignIn) {
			t.Fatalf("a disabled account signed in: %v", err)
		}
		if _, err := svc.Person(ctx, p.ID); !errors.Is(err, orders.ErrNotFound) {
			t.Fatalf("a disabled person is found: %v", err)
		}
		if _, err := svc.SetDisabled(ctx, "wangfang", false); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.SignIn(ctx, "wangfang", pw2, ""); err != nil {
			t.Fatalf("enabled again: %v", err)
		}
		if _, err := svc.SetDisabled(ctx, "ghost", true); !errors.Is(err, orders.ErrNotFound) {
			t.Fatalf("disable an unknown login: %v", err)
		}

		es, _, err := st.AuditEntries(ctx, audit.Filter{Action: "person."})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range es {
			actions = append(actions, e.Action)
			all := string(e.Before) + string(e.After) + e.Actor.Name
			for _, secret := range []string{pw, pw2, "argon2id", p.PasswordHash} {
				if strings.Contains(all, secret) {
					t.Errorf("audit entry %s %s holds a secret: %s", e.Action, e.Object, all)
				}
			}
		}
		want := "person.create person.signin person.signin_refused person.signin_refused person.reset person.signin_refused " +
			"person.disable person.signin_refused person.enable person.signin"
		if got := strings.Join(actions, " "); got != want {
			t.Errorf("audited\n%s\nwant\n%s", got, want)
		}
		if es[0].Actor.Name != "cli:alice" || es[1].Actor.Name != "web:wangfang" || es[0].Object != "person:wangfang" {
			t.Errorf("actors %q %q object %q", es[0].Actor.Name, es[1].Actor.Name, es[0].Object)
		}
		if n, err := st.VerifyAudit(ctx); err != nil || n != int64(len(es)) {
			t.Errorf("audit chain: %d %v", n, err)
		}
	})
}

// TestSessionsAreSavedTouchedAndSwept: a session round-trips, is replaced in place,
// touched, and swept once expired; sign-out deletes it.
func TestSessionsAreSavedTouchedAndSwept(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		st := sqltest.Store(t, db)
		ctx := context.Background()
		t0 := time.Date(2019, 3, 4, 1, 0, 0, 0, time.UTC)
		for i, id := range []string{"a", "b"} {
			s := people.Session{ID: id, Data: []byte{byte(i), 0xff}, CreatedAt: t0, SeenAt: t0, ExpiresAt: t0.Add(time.Duration(i+1) * time.Hour)}
			if err := st.SaveSession(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.SaveSession(ctx, people.Session{ID: "a", Data: []byte("new"), CreatedAt: t0.Add(time.Minute), SeenAt: t0, ExpiresAt: t0.Add(3 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		got, err := st.Session(ctx, "a")
		if err != nil || string(got.Data) != "new" || !got.CreatedAt.Equal(t0) || !got.ExpiresAt.Equal(t0.Add(3*time.Hour)) {
			t.Fatalf("replaced session: %+v %v (created_at must stay)", got, err)
		}
		if err := st.TouchSession(ctx, "b", t0.Add(time.Hour), t0.Add(4*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if n, err := st.DeleteExpiredSessions(ctx, t0.Add(3*time.Hour)); err != nil || n != 1 {
			t.Fatalf("swept %d %v, want a only", n, err)
		}
		if _, err := st.Session(ctx, "a"); !errors.Is(err, orders.ErrNotFound) {
			t.Fatalf("expired session kept: %v", err)
		}
		if err := st.DeleteSession(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Session(ctx, "b"); !errors.Is(err, orders.ErrNotFound) {
			t.Fatalf("signed-out session kept: %v", err)
		}
	})
}
