// Package web is aidmall's pages for people (网页): union branch staff (工会干事) place and
// follow their group orders, the group's poverty-alleviation office (扶贫办) reviews,
// imports, closes periods and manages people, and everyone with a report role sees the
// dashboard. Pages are server-rendered html/template in zh-CN, enhanced by small scripts
// served from the binary (static/, with ECharts from its pinned npm package); they work
// without script.
//
// The pages drive the same domain use cases as the /v1 API (orders.Service, the report
// store, the review queue), through the consumer interfaces declared here, so every figure
// on a page is the JSON report's figure for the same period and scope, and every page
// enforces the same roles and branch scope (another branch's order is a 404).
//
// Register adds the routes to the API's Echo instance (api.Config.Pages), so pages share
// the request id, access log, metrics and panic recovery of the API.
package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"aidmall/orders"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config holds the pages' dependencies. People, Sessions, Orders and Logger are required;
// a page whose dependency is nil is not served (its link is not shown).
type Config struct {
	// People checks passwords and finds the signed-in person again on each request.
	People People
	// Sessions keeps sessions server-side (see sessions.go).
	Sessions SessionStore
	// Orders places, lists, reads and cancels group orders (*orders.Service).
	Orders Orders
	// Keys lists, makes, rotates and revokes API keys for the people page (nil: the page
	// shows no keys).
	Keys Keys
	// Catalogue reads the products, suppliers and report labels (the catalogue page and
	// the order form; *sqlstore.Store). Timeline reads an order's fulfilment events (the
	// order page; *sqlstore.Store).
	Catalogue Catalogue
	Timeline  Timeline
	// Malls are the connected malls' codes and names, in registry order.
	Malls []MallName
	// The aid office's pages (office.go); each is served only when its dependency is set.
	Review     ReviewQueue // /office/review: *review.Service
	Imports    Imports     // /office/imports: imports.Files
	Budgets    Budgets     // /office/budgets and the order form's remaining budget: *orders.Service
	Targets    Targets     // /office/budgets' targets: the store
	Periods    Periods     // /office/periods: orders.Service's use cases and the store's list
	Audit      AuditLog    // /office/audit: the store
	Households Households  // /office/households: the store

	Logger *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Dashboard reads the reports the dashboard shows (the API's report set); nil: no
	// dashboard.
	Dashboard DashboardReports
	// Changes tells open dashboards that figures changed (redisx.Bus, fed by
	// orders.WithApplied(Notify(bus))); nil: dashboards do not update by themselves.
	Changes Changes
	// SecureCookies marks the session cookie Secure (set when served over TLS or behind
	// a TLS-terminating proxy: AIDMALL_PUBLIC_URL starting https://).
	SecureCookies bool
}

// MallName is a connected mall: its code (ccb) and its name for people (建设银行善融商务).
type MallName struct {
	Code orders.Mall
	Name string
}

// Orders is what the pages need of the orders use cases; *orders.Service satisfies it.
type Orders interface {
	Place(ctx context.Context, caller orders.Caller, req orders.PlaceRequest) (*orders.GroupOrder, error)
	Get(ctx context.Context, caller orders.Caller, id int64) (*orders.GroupOrder, error)
	List(ctx context.Context, caller orders.Caller, f orders.ListFilter) ([]orders.GroupOrder, string, error)
	Cancel(ctx context.Context, caller orders.Caller, id int64, reason string) (*orders.GroupOrder, error)
	RetryDispatch(ctx context.Context, caller orders.Caller, id int64) (*orders.GroupOrder, error)
}

// Server serves the pages. Build it with New; add its routes with Register.
type Server struct {
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	pages map[string]*template.Template // by page file name, each with the layout
	live  liveStreams                   // the dashboard's open event streams (live.go)
	// signIns limits sign-in attempts per login and per client address (security.go).
	signIns *signInLimiter
}

// New checks cfg and parses every template. It fails on a missing dependency or a
// template that does not parse.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.People == nil:
		return nil, errors.New("web: nil People")
	case cfg.Sessions == nil:
		return nil, errors.New("web: nil Sessions")
	case cfg.Orders == nil:
		return nil, errors.New("web: nil Orders")
	case cfg.Logger == nil:
		return nil, errors.New("web: nil Logger")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, log: cfg.Logger, now: cfg.Now, signIns: newSignInLimiter()}
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	return s, nil
}

// parseTemplates parses layout.html with each other page file, so that every page has the
// layout's frame and defines its own "title" and "content" blocks.
func (s *Server) parseTemplates() error {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	s.pages = make(map[string]*template.Template, len(names))
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return fmt.Errorf("web: template %s: %w", base, err)
		}
		s.pages[base] = t
	}
	return nil
}

// Register adds every page route, the static files and the sign-in to e. Pages answer
// only people signed in (a signed-out request to a page goes to /signin), with the
// security headers and cross-origin protection of security.go.
func (s *Server) Register(e *echo.Echo) {
	secure := s.securityHeaders
	e.GET("/static/*", s.static, secure)
	e.GET("/signin", s.signInForm, secure, s.crossOrigin)
	e.POST("/signin", s.signIn, secure, s.crossOrigin, s.cleanInput)
	e.POST("/signout", s.signOut, secure, s.crossOrigin)

	// Every page below needs a signed-in person; role guards are per route.
	g := pageGroup{e: e, mw: []echo.MiddlewareFunc{secure, s.crossOrigin, s.requireViewer, s.cleanInput}}
	g.GET("/", s.home)
	s.orderPages(g)
	s.officePages(g)
	s.peoplePages(g)
	s.dashboardPages(g)
}

// pageGroup adds routes with the pages' middleware. (An Echo group with middleware adds a
// catch-all route, which would answer the API's unknown paths; so each route gets its own.)
type pageGroup struct {
	e  *echo.Echo
	mw []echo.MiddlewareFunc
}

func (g pageGroup) with(extra ...echo.MiddlewareFunc) []echo.MiddlewareFunc {
	return append(append([]echo.MiddlewareFunc{}, g.mw...), extra...)
}

// GET adds a page; extra middleware (role guards) runs after sign-in is checked.
func (g pageGroup) GET(p string, h echo.HandlerFunc, extra ...echo.MiddlewareFunc) {
	g.e.GET(p, h, g.with(extra...)...)
}

// POST adds a form action; extra middleware (role guards) runs after sign-in is checked.
func (g pageGroup) POST(p string, h echo.HandlerFunc, extra ...echo.MiddlewareFunc) {
	g.e.POST(p, h, g.with(extra...)...)
}

// static serves static/ from the binary, cached for a day (the files' names do not change
// between releases; ETag-less by design: the binary is the version).
func (s *Server) static(c echo.Context) error {
	name := strings.TrimPrefix(path.Clean("/"+c.Param("*")), "/")
	sub, _ := fs.Sub(staticFS, "static")
	b, err := fs.ReadFile(sub, name)
	if err != nil || name == "" {
		return s.notFound(c)
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=86400")
	return c.Blob(http.StatusOK, contentType(name), b)
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".woff2":
		return "font/woff2"
	case ".txt":
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}

// Page is what every template gets: the page's title, the signed-in person (nil on the
// sign-in page), the navigation for their role, a flash message, and Data, the page's own.
type Page struct {
	Title  string
	Viewer *Viewer
	Nav    []NavItem
	Active string // the Nav item's path that is this page's
	Flash  string
	Error  string
	Data   any
}

// NavItem is one link of the navigation.
type NavItem struct{ Path, Label string }

// render writes page name (a file of templates/) with status. The page's Viewer and Nav
// are filled from the request.
func (s *Server) render(c echo.Context, status int, name string, p Page) error {
	t, ok := s.pages[name]
	if !ok {
		return fmt.Errorf("web: no template %s", name)
	}
	if v, ok := viewerFrom(c); ok {
		p.Viewer = &v
		p.Nav = s.nav(v)
		if p.Active == "" {
			p.Active = c.Path()
		}
	}
	if p.Flash == "" {
		p.Flash = s.takeFlash(c)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTMLBlob(status, buf.Bytes())
}

// nav is the navigation for v's role: branch staff see their orders, the catalogue and
// their dashboard; the aid office everything; auditors the dashboard and the audit log.
func (s *Server) nav(v Viewer) []NavItem {
	var items []NavItem
	switch v.Role {
	case orders.RoleBranchStaff:
		items = []NavItem{{"/orders/new", "下单"}, {"/orders", "我的订单"}, {"/catalogue", "商品目录"}, {"/dashboard", "本单位统计"}}
	case orders.RoleAidOffice:
		items = []NavItem{{"/dashboard", "帮扶统计"}, {"/orders", "全部订单"}, {"/orders/new", "下单"}, {"/catalogue", "商品目录"},
			{"/office/review", "待复核"}, {"/office/imports", "导入"}, {"/office/budgets", "预算与目标"},
			{"/office/periods", "结账期间"}, {"/office/people", "人员与密钥"}, {"/office/audit", "审计日志"}, {"/office/households", "帮扶户查询"}}
	case orders.RoleAuditor:
		items = []NavItem{{"/dashboard", "帮扶统计"}, {"/office/audit", "审计日志"}}
	}
	return items
}

// home sends each role to its first page.
func (s *Server) home(c echo.Context) error {
	v, _ := viewerFrom(c)
	if v.Role == orders.RoleBranchStaff {
		return c.Redirect(http.StatusSeeOther, "/orders")
	}
	return c.Redirect(http.StatusSeeOther, "/dashboard")
}

// requireRole lets through only a viewer for whom ok is true; anyone else gets the 404
// page (a page of another role looks absent, as another branch's order does).
func (s *Server) requireRole(ok func(orders.Caller) bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			v, signedIn := viewerFrom(c)
			if !signedIn || !ok(v.Caller()) {
				return s.notFound(c)
			}
			return next(c)
		}
	}
}

// RenderError renders the page for a request no route took (api.Pages): 404 the page
// that does not exist, 405 an address that is a form's action opened as a page.
func (s *Server) RenderError(c echo.Context, status int) error {
	if status == http.StatusMethodNotAllowed {
		return s.securityHeaders(func(c echo.Context) error {
			return s.render(c, status, "error.html", Page{Title: "无法这样打开", Error: "这个地址是表单的提交地址，不能直接打开。请从页面上的按钮操作。"})
		})(c)
	}
	return s.securityHeaders(s.notFound)(c)
}

// notFound renders the 404 page.
func (s *Server) notFound(c echo.Context) error {
	return s.render(c, http.StatusNotFound, "error.html", Page{Title: "页面不存在", Error: "您要找的页面不存在，或您无权查看。"})
}

// fail renders err for a person: a domain refusal as its message (400, 404, 409), anything
// else as a 500 page with the request id (the cause is logged, never shown).
func (s *Server) fail(c echo.Context, err error) error {
	var oe *orders.Error
	switch {
	case errors.Is(err, orders.ErrNotFound):
		return s.notFound(c)
	case errors.As(err, &oe) && oe.Message != "":
		status := http.StatusBadRequest
		if errors.Is(err, orders.ErrConflict) || errors.Is(err, orders.ErrNotAllowed) {
			status = http.StatusConflict
		}
		return s.render(c, status, "error.html", Page{Title: "无法完成", Error: oe.Message})
	}
	s.log.ErrorContext(c.Request().Context(), "page failed", slog.String("path", c.Path()), slog.Any("error", err))
	return s.render(c, http.StatusInternalServerError, "error.html", Page{Title: "出错了", Error: "服务暂时出错，请稍后再试；如仍出错，请联系扶贫办。"})
}
