package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"aidmall/audit"
	"aidmall/orders"
	"aidmall/people"
)

// sessionName is the session cookie's name; sessionPerson the session value holding the
// signed-in person's id. Lifetimes are people.SessionPolicy's (DBSessions).
const (
	sessionName   = "aidmall_session"
	sessionPerson = "person"
)

// Viewer is the person signed in: an account of the aid office's (a name and password),
// with its role and, for branch staff, its branch.
type Viewer struct {
	PersonID   int64
	Login      string
	Name       string
	Role       orders.Role
	BranchCode string
}

func viewerOf(p people.Person) Viewer {
	return Viewer{PersonID: p.ID, Login: p.Login, Name: p.Name, Role: p.Role, BranchCode: p.BranchCode}
}

// Caller is v as the domain's caller, so that a page is allowed exactly what the API
// allows a key of the same role and branch.
func (v Viewer) Caller() orders.Caller {
	return orders.Caller{Name: "web:" + v.Login, Role: v.Role, BranchCode: v.BranchCode}
}

// RoleName is the role in Chinese, for the header.
func (v Viewer) RoleName() string { return roleName(v.Role) }

func roleName(r orders.Role) string {
	switch r {
	case orders.RoleBranchStaff:
		return "工会干事"
	case orders.RoleAidOffice:
		return "扶贫办"
	case orders.RoleAuditor:
		return "审计"
	}
	return string(r)
}

// ErrBadSignIn is People.SignIn's answer to an unknown login, a wrong password or a
// disabled account (one answer for all three, so the page cannot tell which).
var ErrBadSignIn = people.ErrBadSignIn

// People is the accounts of people who sign in (*people.Service).
type People interface {
	// SignIn returns the active person with login and password, or ErrBadSignIn; from is
	// the client's address, for the audit log.
	SignIn(ctx context.Context, login, password, from string) (people.Person, error)
	// Person returns the active person id as they are now (role or branch may have
	// changed since sign-in); orders.ErrNotFound when gone or disabled.
	Person(ctx context.Context, id int64) (people.Person, error)
	List(ctx context.Context) ([]people.Person, error)
	Add(ctx context.Context, r people.NewPerson) (people.Person, string, error)
	ResetPassword(ctx context.Context, login, password string) (people.Person, string, error)
	SetDisabled(ctx context.Context, login string, disabled bool) (people.Person, error)
}

// SessionStore keeps sessions server-side: the cookie carries only the session's id
// (DBSessions).
type SessionStore = sessions.Store

func viewerFrom(c echo.Context) (Viewer, bool) {
	v, ok := c.Get("web.viewer").(Viewer)
	return v, ok
}

// session returns the request's session (a new one when there is none or it cannot be
// read, as after its expiry).
func (s *Server) session(c echo.Context) *sessions.Session {
	sess, err := s.cfg.Sessions.Get(c.Request(), sessionName)
	if err != nil {
		s.log.WarnContext(c.Request().Context(), "session not read", slog.Any("error", err))
		sess, _ = s.cfg.Sessions.New(c.Request(), sessionName)
	}
	sess.Options = s.cookieOptions()
	return sess
}

// cookieOptions are the session cookie's: HttpOnly, SameSite=Lax, Secure under TLS.
func (s *Server) cookieOptions() *sessions.Options {
	return &sessions.Options{Path: "/", HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode}
}

// endSession deletes the request's session server-side and clears its cookie.
func (s *Server) endSession(c echo.Context) error {
	sess := s.session(c)
	sess.Options.MaxAge = -1
	sess.Values = map[any]any{}
	return sess.Save(c.Request(), c.Response())
}

// requireViewer finds the signed-in person; a request without one is sent to /signin
// with the page it wanted (GET) or refused (other methods). A person disabled since
// signing in is signed out here, on their next request. The request's context carries
// the person as the audit actor ("web:<login>") for every change the page makes.
func (s *Server) requireViewer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess := s.session(c)
		id, _ := sess.Values[sessionPerson].(int64)
		if id != 0 {
			p, err := s.cfg.People.Person(c.Request().Context(), id)
			if err == nil {
				v := viewerOf(p)
				c.Set("web.viewer", v)
				ctx := audit.WithActor(c.Request().Context(), audit.Actor{Name: "web:" + v.Login, Role: string(v.Role)})
				c.SetRequest(c.Request().WithContext(ctx))
				return next(c)
			}
			if !errors.Is(err, orders.ErrNotFound) {
				return s.fail(c, err)
			}
			if err := s.endSession(c); err != nil {
				return s.fail(c, err)
			}
		}
		to := "/signin"
		if c.Request().Method == http.MethodGet {
			to += "?next=" + url.QueryEscape(c.Request().URL.RequestURI())
		}
		return c.Redirect(http.StatusSeeOther, to)
	}
}

// safeNext returns next when it is a path of this site, "/" otherwise (no open redirect).
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

type signInData struct {
	Login string
	Next  string
}

func (s *Server) signInForm(c echo.Context) error {
	return s.render(c, http.StatusOK, "signin.html", Page{Title: "登录", Data: signInData{Next: safeNext(c.QueryParam("next"))}})
}

// signIn checks the form's login and password. Attempts are limited per login and per
// client address (signInLimiter: only refused attempts count): past the limit the page
// answers 429 with when to retry, without checking the password. On success the old
// session is deleted and a new one, with a new id, holds the person (no fixation).
func (s *Server) signIn(c echo.Context) error {
	ctx := c.Request().Context()
	login := people.NormalizeLogin(c.FormValue("login"))
	next := safeNext(c.FormValue("next"))
	ip := c.RealIP()
	now := s.now()
	if wait := s.signIns.wait(now, login, ip); wait > 0 {
		secs := int(wait.Round(time.Second) / time.Second)
		if secs < 1 {
			secs = 1
		}
		c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
		s.log.WarnContext(ctx, "sign-in rate limited", slog.String("login", login), slog.String("ip", ip))
		return s.render(c, http.StatusTooManyRequests, "signin.html", Page{Title: "登录",
			Error: fmt.Sprintf("登录尝试过于频繁，请于 %s（北京时间，约 %s后）再试。", beijing(now.Add(wait).Add(time.Minute-1)), waitText(wait)),
			Data:  signInData{Login: login, Next: next}})
	}
	p, err := s.cfg.People.SignIn(ctx, login, c.FormValue("password"), ip)
	if err != nil {
		if !errors.Is(err, ErrBadSignIn) {
			return s.fail(c, err)
		}
		s.signIns.failed(now, login, ip)
		s.log.InfoContext(ctx, "sign-in refused", slog.String("login", login), slog.String("ip", ip))
		return s.render(c, http.StatusUnauthorized, "signin.html", Page{Title: "登录", Error: "登录名或密码不正确。",
			Data: signInData{Login: login, Next: next}})
	}
	if err := s.endSession(c); err != nil {
		return s.fail(c, err)
	}
	sess, _ := s.cfg.Sessions.New(c.Request(), sessionName)
	sess.Options = s.cookieOptions()
	sess.IsNew = true
	sess.ID = ""
	sess.Values = map[any]any{sessionPerson: p.ID}
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return s.fail(c, err)
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// waitText is a wait in Chinese: "40 秒", "5 分钟".
func waitText(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%d 秒", max(1, int(d.Round(time.Second)/time.Second)))
	}
	return fmt.Sprintf("%d 分钟", int((d+time.Minute-1)/time.Minute))
}

// signOut ends the session server-side and clears the cookie.
func (s *Server) signOut(c echo.Context) error {
	if err := s.endSession(c); err != nil {
		return s.fail(c, err)
	}
	return c.Redirect(http.StatusSeeOther, "/signin")
}

// flash sets a one-time message shown on the next page rendered (after a redirect).
func (s *Server) flash(c echo.Context, msg string) {
	sess := s.session(c)
	sess.AddFlash(msg)
	_ = sess.Save(c.Request(), c.Response())
}

func (s *Server) takeFlash(c echo.Context) string {
	if _, ok := viewerFrom(c); !ok {
		return ""
	}
	sess := s.session(c)
	fl := sess.Flashes()
	if len(fl) == 0 {
		return ""
	}
	_ = sess.Save(c.Request(), c.Response())
	msg, _ := fl[0].(string)
	return msg
}
