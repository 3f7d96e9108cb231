package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"aidmall/orders"
)

// sessionName is the session cookie's name; sessionMaxAge how long a session lasts
// (a working day: a clerk signs in once in the morning).
const (
	sessionName   = "aidmall_session"
	sessionMaxAge = 10 * 3600
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

// ErrBadSignIn is People.CheckPassword's answer to an unknown login, a wrong password or a
// disabled account (one answer for all three, so the page cannot tell which).
var ErrBadSignIn = errors.New("web: wrong login or password")

// People is the accounts of people who sign in.
type People interface {
	// CheckPassword returns the active person with login and password, or ErrBadSignIn.
	CheckPassword(ctx context.Context, login, password string) (Viewer, error)
	// Person returns the active person id as they are now (role or branch may have
	// changed since sign-in); orders.ErrNotFound when gone or disabled.
	Person(ctx context.Context, id int64) (Viewer, error)
}

// SessionStore keeps sessions server-side: the cookie carries only the session's id.
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
		sess, _ = s.cfg.Sessions.New(c.Request(), sessionName)
	}
	sess.Options = s.cookieOptions()
	return sess
}

// cookieOptions are the session cookie's: HttpOnly, SameSite=Lax, Secure under TLS.
func (s *Server) cookieOptions() *sessions.Options {
	return &sessions.Options{Path: "/", MaxAge: sessionMaxAge, HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode}
}

// requireViewer finds the signed-in person; a request without one is sent to /signin
// with the page it wanted (GET) or refused (other methods).
func (s *Server) requireViewer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess := s.session(c)
		id, _ := sess.Values["person"].(int64)
		if id != 0 {
			v, err := s.cfg.People.Person(c.Request().Context(), id)
			if err == nil {
				c.Set("web.viewer", v)
				return next(c)
			}
			if !errors.Is(err, orders.ErrNotFound) {
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

// signIn checks the form's login and password; on success the session gets a new id
// (no fixation) and the person, and the browser goes to next.
func (s *Server) signIn(c echo.Context) error {
	login := strings.TrimSpace(c.FormValue("login"))
	next := safeNext(c.FormValue("next"))
	v, err := s.cfg.People.CheckPassword(c.Request().Context(), login, c.FormValue("password"))
	if err != nil {
		if !errors.Is(err, ErrBadSignIn) {
			return s.fail(c, err)
		}
		s.log.InfoContext(c.Request().Context(), "sign-in refused", slog.String("login", login))
		return s.render(c, http.StatusUnauthorized, "signin.html", Page{Title: "登录", Error: "登录名或密码不正确。",
			Data: signInData{Login: login, Next: next}})
	}
	old := s.session(c)
	old.Options.MaxAge = -1
	_ = old.Save(c.Request(), c.Response())
	sess, _ := s.cfg.Sessions.New(c.Request(), sessionName)
	sess.Options = s.cookieOptions()
	sess.IsNew = true
	sess.ID = ""
	sess.Values = map[any]any{"person": v.PersonID}
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return s.fail(c, err)
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// signOut ends the session server-side and clears the cookie.
func (s *Server) signOut(c echo.Context) error {
	sess := s.session(c)
	sess.Options.MaxAge = -1
	sess.Values = map[any]any{}
	if err := sess.Save(c.Request(), c.Response()); err != nil {
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
