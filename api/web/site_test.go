package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/sessions"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/api"
	"aidmall/api/web"
	"aidmall/orders"
)

// site is the pages served as cmd serves them, over a real migrated store (SQLite unless
// the test builds it on another db) seeded with sqltest.Seed: branch HQ, products P1/P2.
type site struct {
	st  *sqlstore.Store
	svc *orders.Service
	fx  sqltest.Fixture
	srv *httptest.Server
	web *web.Server
	ppl *testPeople
}

func newSite(t *testing.T) *site { return newSiteOn(t, sqltest.SQLite(t)) }

func newSiteOn(t *testing.T, db *sqlstore.DB) *site {
	t.Helper()
	st := sqltest.Store(t, db)
	fx := sqltest.Seed(t, st)
	svc, err := orders.NewService(st, []orders.MallInfo{{Code: "ccb", Limits: ccb.Limits}, {Code: "abc", Limits: abc.Limits}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	ppl := &testPeople{byLogin: map[string]testPerson{}}
	w, err := web.New(web.Config{
		People: ppl, Sessions: sessions.NewFilesystemStore(t.TempDir(), []byte("0123456789abcdef0123456789abcdef")),
		Orders: svc, Catalogue: st, Timeline: st, Budget: svc, Malls: []web.MallName{{Code: "ccb", Name: "建设银行善融商务"}, {Code: "abc", Name: "农业银行扶贫商城"}},
		Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := api.New(api.Config{Orders: svc, Auth: st, Idempotency: st, Reports: st, Malls: []orders.Mall{"ccb", "abc"},
		Ready: func(context.Context) error { return nil }, Logger: log, Pages: w})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return &site{st: st, svc: svc, fx: fx, srv: srv, web: w, ppl: ppl}
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

// as returns a browser signed in, through the sign-in form, as a new person of role (and
// branch, for branch staff).
func (s *site) as(t *testing.T, role orders.Role, branch string) *browser {
	t.Helper()
	login := string(role) + "-" + branch
	s.ppl.add(login, "correct horse battery", role, branch)
	b := s.anonymous(t)
	resp := b.post("/signin", url.Values{"login": {login}, "password": {"correct horse battery"}})
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

// post sends a form as the site's own page would (Sec-Fetch-Site: same-origin).
func (b *browser) post(p string, form url.Values) *http.Response {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.base+p, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// testPeople stands in for the accounts store until it exists (see web.People).
type testPeople struct {
	mu      sync.Mutex
	byLogin map[string]testPerson
}

type testPerson struct {
	v        web.Viewer
	password string
}

func (p *testPeople) add(login, password string, role orders.Role, branch string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.byLogin[login] = testPerson{v: web.Viewer{PersonID: int64(len(p.byLogin) + 1), Login: login, Name: login, Role: role, BranchCode: branch}, password: password}
}

func (p *testPeople) CheckPassword(_ context.Context, login, password string) (web.Viewer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if tp, ok := p.byLogin[login]; ok && tp.password == password {
		return tp.v, nil
	}
	return web.Viewer{}, web.ErrBadSignIn
}

func (p *testPeople) Person(_ context.Context, id int64) (web.Viewer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, tp := range p.byLogin {
		if tp.v.PersonID == id {
			return tp.v, nil
		}
	}
	return web.Viewer{}, orders.ErrNotFound
}
