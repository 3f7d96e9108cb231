package web_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/api/web"
	"aidmall/audit"
	"aidmall/orders"
	"aidmall/people"
)

// signedIn reports whether b's session opens a page (200 at /orders for branch staff,
// /dashboard otherwise; anything but a redirect to /signin counts).
func signedIn(b *browser) bool {
	resp, _ := b.get("/")
	return resp.StatusCode == http.StatusSeeOther && !strings.HasPrefix(resp.Header.Get("Location"), "/signin")
}

func TestSignInGivesANewSessionIDAndSignOutKillsTheOldCookie(t *testing.T) {
	s := newSite(t)
	s.person(t, "wangfang", orders.RoleBranchStaff, "HQ")
	b := s.anonymous(t)
	b.get("/signin") // a session may exist before sign-in (a flash); it must not be kept
	before := b.cookie()
	b2 := s.signIn(t, "WangFang", testPassword) // logins are case-blind
	if !signedIn(b2) {
		t.Fatal("signed in, yet / sends to sign-in")
	}
	resp := b.post("/signin", url.Values{"login": {"wangfang"}, "password": {testPassword}})
	if resp.StatusCode != http.StatusSeeOther || b.cookie() == "" || b.cookie() == before {
		t.Fatalf("sign-in kept the session id (%q → %q)", before, b.cookie())
	}
	old := b.cookie()
	if resp := b.post("/signout", nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin" {
		t.Fatalf("sign out: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if signedIn(b) {
		t.Fatal("still signed in after signing out")
	}
	// The cookie as it was before sign-out (kept by an attacker, or a second tab) opens nothing.
	replay := s.anonymous(t)
	replay.setCookie(old)
	if signedIn(replay) {
		t.Fatal("the cookie of a signed-out session still opens pages")
	}
	if !signedIn(b2) {
		t.Fatal("signing out one browser signed out another")
	}
}

func TestSessionExpiresWhenIdleAndAfterAWorkingDay(t *testing.T) {
	s := newSite(t)
	s.person(t, "unused", orders.RoleAuditor, "")
	s.signIn(t, "unused", testPassword) // a session nobody comes back to
	b := s.as(t, orders.RoleAidOffice, "")
	s.clock.advance(people.DefaultSessionPolicy.Idle - time.Minute)
	if !signedIn(b) {
		t.Fatal("signed out before the idle limit")
	}
	s.clock.advance(people.DefaultSessionPolicy.Idle - time.Minute) // used a minute ago: alive again for Idle
	if !signedIn(b) {
		t.Fatal("a session in use expired as idle")
	}
	s.clock.advance(people.DefaultSessionPolicy.Idle + time.Second)
	if signedIn(b) {
		t.Fatal("an idle session still opens pages")
	}

	b = s.as(t, orders.RoleAidOffice, "")
	for used := time.Duration(0); used < people.DefaultSessionPolicy.Absolute-time.Hour; used += time.Hour {
		s.clock.advance(time.Hour)
		if !signedIn(b) {
			t.Fatalf("signed out after %s of use", used+time.Hour)
		}
	}
	s.clock.advance(time.Hour + time.Second)
	if signedIn(b) {
		t.Fatal("a session outlived its absolute limit")
	}
	// The session nobody came back to is swept from the table.
	if n, err := s.st.DeleteExpiredSessions(context.Background(), s.clock.now()); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
}

func TestDisabledPersonIsSignedOutOnTheirNextRequest(t *testing.T) {
	s := newSite(t)
	b := s.as(t, orders.RoleBranchStaff, "HQ")
	ctx := audit.WithActor(context.Background(), audit.Actor{Name: "cli:test", Role: "aid_office"})
	if _, err := s.ppl.SetDisabled(ctx, "branch_staff-hq", true); err != nil {
		t.Fatal(err)
	}
	resp, _ := b.get("/")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/signin") {
		t.Fatalf("a disabled person's request: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if r := b.post("/signin", url.Values{"login": {"branch_staff-hq"}, "password": {testPassword}}); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a disabled person signed in: %d", r.StatusCode)
	}
	if _, err := s.ppl.SetDisabled(ctx, "branch_staff-hq", false); err != nil {
		t.Fatal(err)
	}
	if !signedIn(s.signIn(t, "branch_staff-hq", testPassword)) {
		t.Fatal("enabled again, yet refused")
	}
}

func TestSessionSurvivesARestartOverTheSameDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aidmall.db")
	db := sqltest.SQLiteAt(t, path)
	first := newSiteOn(t, db)
	b := first.as(t, orders.RoleAuditor, "")
	first.srv.Close()

	again := startSite(t, sqltest.Store(t, sqltest.SQLiteAt(t, path)), first.fx)
	b.base = again.srv.URL
	// The jar keys cookies by host: 127.0.0.1 for both servers, so it sends the old cookie.
	if !signedIn(b) {
		t.Fatal("the session did not survive a restart")
	}
}

func TestSignInIsRateLimitedThenRecovers(t *testing.T) {
	s := newSite(t)
	s.person(t, "lifang", orders.RoleAidOffice, "")
	b := s.anonymous(t)
	wrong := url.Values{"login": {"lifang"}, "password": {"not the password"}}
	for i := 0; i < 5; i++ {
		if r := b.post("/signin", wrong); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, r.StatusCode)
		}
	}
	right := url.Values{"login": {"lifang"}, "password": {testPassword}}
	resp, body := b.postBody("/signin", right)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the 6th attempt in a row: %d, want 429", resp.StatusCode)
	}
	if resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "登录尝试过于频繁") || !strings.Contains(body, "北京时间") {
		t.Fatalf("the 429 page says no time to retry: Retry-After %q\n%s", resp.Header.Get("Retry-After"), body)
	}
	// Another login from the same address is still let through (its own bucket; the
	// address has more).
	s.person(t, "zhaolei", orders.RoleAuditor, "")
	if !signedIn(s.signIn(t, "zhaolei", testPassword)) {
		t.Fatal("another login was held up")
	}
	s.clock.advance(time.Minute)
	if r := b.post("/signin", right); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("a minute later: %d, want signed in", r.StatusCode)
	}
}

func TestSignInsAreAuditedWithoutPasswords(t *testing.T) {
	s := newSite(t)
	s.person(t, "auditme", orders.RoleAuditor, "")
	s.anonymous(t).post("/signin", url.Values{"login": {"auditme"}, "password": {"Wrong-Secret-123"}})
	s.signIn(t, "auditme", testPassword)
	es, _, err := s.st.AuditEntries(context.Background(), audit.Filter{Action: "person."})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Action+" "+e.Actor.Name)
		all := string(e.Before) + string(e.After)
		if strings.Contains(all, "Wrong-Secret-123") || strings.Contains(all, testPassword) || strings.Contains(all, "argon2") {
			t.Errorf("audit entry %s holds a secret: %s", e.Action, all)
		}
	}
	want := "person.create cli:test|person.signin_refused web:auditme|person.signin web:auditme"
	if strings.Join(got, "|") != want {
		t.Errorf("audited %q, want %q", strings.Join(got, "|"), want)
	}
}

// TestEveryFormRefusesACrossSiteRequest posts, cross-site, to every POST route the pages
// have (whoever added it), signed in as the aid office: each is refused with 403 and
// changes nothing.
func TestEveryFormRefusesACrossSiteRequest(t *testing.T) {
	s := newSite(t)
	b := s.as(t, orders.RoleAidOffice, "")
	e := echo.New()
	s.web.Register(e)
	n := 0
	for _, r := range e.Routes() {
		if r.Method != http.MethodPost {
			continue
		}
		n++
		p := r.Path
		for _, seg := range strings.Split(p, "/") {
			if strings.HasPrefix(seg, ":") {
				p = strings.Replace(p, seg, "1", 1)
			}
		}
		for _, site := range []string{"cross-site", "same-site"} {
			req, _ := http.NewRequest(http.MethodPost, b.base+p, strings.NewReader("login=x&name=x&role=auditor"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", site)
			resp, err := b.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s (%s): %d, want 403", r.Path, site, resp.StatusCode)
			}
		}
		// A browser without Sec-Fetch-Site: an Origin of another site is refused too.
		req, _ := http.NewRequest(http.MethodPost, b.base+p, strings.NewReader(""))
		req.Header.Set("Origin", "https://evil.example")
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s from Origin evil.example: %d, want 403", r.Path, resp.StatusCode)
		}
	}
	if n < 3 {
		t.Fatalf("only %d POST routes found", n)
	}
	if ps, _ := s.ppl.List(context.Background()); len(ps) != 1 {
		t.Errorf("a cross-site post changed the accounts: %d people", len(ps))
	}
	if !signedIn(b) {
		t.Error("a cross-site sign-out signed the person out")
	}
}

func TestSessionStoreRefusesBadKeys(t *testing.T) {
	st := sqltest.Store(t, sqltest.SQLite(t))
	if _, err := web.NewDBSessions(st, people.SessionPolicy{}, nil); err == nil {
		t.Error("no keys accepted")
	}
	if _, err := web.NewDBSessions(st, people.SessionPolicy{}, nil, web.SessionKeys{HashKey: []byte("short"), BlockKey: make([]byte, 32)}); err == nil {
		t.Error("a short hash key accepted")
	}
}
