package web_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/adapters/redisx"
	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/api"
	"aidmall/api/web"
	"aidmall/audit"
	"aidmall/orders"
	"aidmall/people"
	"aidmall/review"
)

// site is the pages served as cmd serves them, over a real migrated store (SQLite unless
// the test builds it on another db) seeded with sqltest.Seed: branch HQ, products P1/P2;
// people are real accounts (package people) and sessions real rows (DBSessions).
type site struct {
	bus   *redisx.MemoryBus // the dashboard's change signals, fed by svc's WithApplied
	st    *sqlstore.Store
	svc   *orders.Service
	fx    sqltest.Fixture
	srv   *httptest.Server
	web   *web.Server
	ppl   *people.Service
	clock *testClock
}

// testClock is time.Now moved on by what a test advances it.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// testSessionKeys are the session cookie's keys in tests; the same on every site, as
// on every replica of one deployment (a restarted site reads its old cookies).
var testSessionKeys = web.SessionKeys{HashKey: []byte("0123456789abcdef0123456789abcdef"), BlockKey: []byte("fedcba9876543210fedcba9876543210")}

func newSite(t *testing.T) *site { return newSiteOn(t, sqltest.SQLite(t)) }

func newSiteOn(t *testing.T, db *sqlstore.DB) *site {
	t.Helper()
	st := sqltest.Store(t, db)
	fx := sqltest.Seed(t, st)
	return startSite(t, st, fx)
}

// startSite serves the pages over st, as a (re)started process does.
func startSite(t *testing.T, st *sqlstore.Store, fx sqltest.Fixture) *site {
	t.Helper()
	bus := redisx.NewMemoryBus()
	svc, err := orders.NewService(st, []orders.MallInfo{{Code: "ccb", Limits: ccb.Limits}, {Code: "abc", Limits: abc.Limits}}, nil,
		orders.WithApplied(web.Notify(bus)))
	if err != nil {
		t.Fatal(err)
	}
	queue, err := review.NewService(st, svc, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{}
	ppl, err := people.NewService(st, clock.now)
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := web.NewDBSessions(st, people.DefaultSessionPolicy, clock.now, testSessionKeys)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	w, err := web.New(web.Config{
		People: ppl, Sessions: sessions, Keys: testKeys{st},
		Orders: svc, Catalogue: st, Timeline: st, Malls: []web.MallName{{Code: "ccb", Name: "建设银行善融商务"}, {Code: "abc", Name: "农业银行扶贫商城"}},
		Logger: log, Now: clock.now, Dashboard: st, Changes: bus,
		// The aid office's pages (office_test.go), wired as cmd/aidmall wires them.
		Review: queue, Imports: officeFiles(t, st, svc), Budgets: svc, Targets: st, Periods: officePeriods{svc, st},
		Audit: st, Households: st,
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := api.New(api.Config{Orders: svc, Auth: st, Idempotency: st, Reports: st, ReportSet: st, Malls: []orders.Mall{"ccb", "abc"},
		Ready: func(context.Context) error { return nil }, Logger: log, Pages: w})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return &site{bus: bus, st: st, svc: svc, fx: fx, srv: srv, web: w, ppl: ppl, clock: clock}
}

// testKeys is the store's API keys as the pages see them (cmd has the same adapter).
type testKeys struct{ st *sqlstore.Store }

func (k testKeys) APIKeys(ctx context.Context) ([]web.APIKey, error) {
	ks, err := k.st.APIKeys(ctx)
	out := make([]web.APIKey, len(ks))
	for i, x := range ks {
		out[i] = webKey(x)
	}
	return out, err
}

func (k testKeys) CreateAPIKey(ctx context.Context, name string, role orders.Role, branch string) (string, web.APIKey, error) {
	tok, x, err := k.st.CreateAPIKey(ctx, name, role, branch)
	return tok, webKey(x), err
}

func (k testKeys) RotateAPIKey(ctx context.Context, id int64) (string, web.APIKey, error) {
	tok, x, err := k.st.RotateAPIKey(ctx, id)
	return tok, webKey(x), err
}

func (k testKeys) RevokeAPIKey(ctx context.Context, id int64) error {
	return k.st.RevokeAPIKey(ctx, id)
}

func webKey(k sqlstore.APIKey) web.APIKey {
	w := web.APIKey{ID: k.ID, Name: k.Name, Role: orders.Role(k.Role), Prefix: k.Prefix, CreatedAt: k.CreatedAt,
		RevokedAt: k.RevokedAt, RotatedAt: k.RotatedAt, LastUsedAt: k.LastUsedAt}
	if k.BranchCode != nil {
		w.BranchCode = *k.BranchCode
	}
	return w
}

// browser is a client with a cookie jar that does not follow redirects (tests look at
// where a page sends them) and sends the headers a same-origin form post has.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func (s *site) anonymous(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: s.srv.URL, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// testPassword is every test person's password.
const testPassword = "correct horse battery"

// person makes (or, when it exists, resets to testPassword) the account login of role
// (and branch, for branch staff) through the people use cases.
func (s *site) person(t *testing.T, login string, role orders.Role, branch string) people.Person {
	t.Helper()
	ctx := audit.WithActor(context.Background(), audit.Actor{Name: "cli:test", Role: "aid_office"})
	if role != orders.RoleBranchStaff {
		branch = ""
	}
	p, _, err := s.ppl.Add(ctx, people.NewPerson{Login: login, Name: login, Role: role, BranchCode: branch, Password: testPassword})
	if errors.Is(err, orders.ErrConflict) {
		p, _, err = s.ppl.ResetPassword(ctx, login, testPassword)
	}
	if err != nil {
		t.Fatalf("person %s: %v", login, err)
	}
	return p
}

// as returns a browser signed in, through the sign-in form, as a person of role (and
// branch, for branch staff), login "<role>-<branch>" (lowercase).
func (s *site) as(t *testing.T, role orders.Role, branch string) *browser {
	t.Helper()
	login := strings.ToLower(string(role) + "-" + branch)
	s.person(t, login, role, branch)
	return s.signIn(t, login, testPassword)
}

// signIn returns a browser signed in through the sign-in form.
func (s *site) signIn(t *testing.T, login, password string) *browser {
	t.Helper()
	b := s.anonymous(t)
	resp := b.post("/signin", url.Values{"login": {login}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in as %s: %d", login, resp.StatusCode)
	}
	return b
}

func (b *browser) get(p string) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.base + p)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// send posts body of contentType as the site's own page would (Sec-Fetch-Site:
// same-origin) and returns the answer with its body.
func (b *browser) send(p, contentType string, body io.Reader) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.base+p, body)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, string(out)
}

// post sends a form as the site's own page would.
func (b *browser) post(p string, form url.Values) *http.Response {
	b.t.Helper()
	resp, _ := b.postBody(p, form)
	return resp
}

// postBody is post, keeping the page it answers.
func (b *browser) postBody(p string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	return b.send(p, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
}

// cookie is the session cookie b holds ("" for none).
func (b *browser) cookie() string {
	u, _ := url.Parse(b.base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "aidmall_session" {
			return c.Value
		}
	}
	return ""
}

// setCookie gives b the session cookie value.
func (b *browser) setCookie(v string) {
	u, _ := url.Parse(b.base)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "aidmall_session", Value: v, Path: "/"}})
}
