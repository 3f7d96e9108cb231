package web

import (
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// contentSecurityPolicy allows only this site's own scripts, styles, images and fonts:
// no inline script or style, no framing, forms posting only here.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// securityHeaders sets the pages' security headers.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if s.cfg.SecureCookies {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		return next(c)
	}
}

// crossOrigin refuses a cross-site form post (Go's http.CrossOriginProtection: the
// browser's Sec-Fetch-Site, or Origin against Host), with a 403 page.
func (s *Server) crossOrigin(next echo.HandlerFunc) echo.HandlerFunc {
	cop := http.NewCrossOriginProtection()
	return func(c echo.Context) error {
		if err := cop.Check(c.Request()); err != nil {
			return s.render(c, http.StatusForbidden, "error.html", Page{Title: "请求被拒绝", Error: "此表单来自其他网站，已拒绝。请从本站页面重新提交。"})
		}
		return next(c)
	}
}

// Sign-in limits (token buckets, in process): a login may be refused loginBurst times in
// a row, then once per loginEvery; one client address ipBurst times, then once per
// ipEvery. Only refused attempts take a token, so an office of clerks behind one address
// signing in each morning is never held up, while guessing is slowed to a crawl.
const (
	loginBurst = 5
	loginEvery = time.Minute
	ipBurst    = 20
	ipEvery    = 15 * time.Second
	// limiterKeep bounds the buckets kept: past it, full buckets (nothing to remember)
	// are dropped.
	limiterKeep = 10000
)

// signInLimiter holds the sign-in token buckets per login and per client address.
type signInLimiter struct {
	mu      sync.Mutex
	byLogin map[string]*rate.Limiter
	byIP    map[string]*rate.Limiter
}

func newSignInLimiter() *signInLimiter {
	return &signInLimiter{byLogin: map[string]*rate.Limiter{}, byIP: map[string]*rate.Limiter{}}
}

// wait returns how long login from ip must wait before its next attempt (0: go ahead).
func (l *signInLimiter) wait(now time.Time, login, ip string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return max(untilToken(l.byLogin[login], now), untilToken(l.byIP[ip], now))
}

// untilToken is how long until lim has a whole token (0 for no bucket yet).
func untilToken(lim *rate.Limiter, now time.Time) time.Duration {
	if lim == nil {
		return 0
	}
	tokens := lim.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / float64(lim.Limit()) * float64(time.Second))
}

// failed takes a token from login's and ip's buckets for a refused attempt.
func (l *signInLimiter) failed(now time.Time, login, ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	take(l.byLogin, login, rate.Every(loginEvery), loginBurst, now)
	take(l.byIP, ip, rate.Every(ipEvery), ipBurst, now)
}

func take(m map[string]*rate.Limiter, key string, every rate.Limit, burst int, now time.Time) {
	if len(m) >= limiterKeep {
		for k, lim := range m {
			if lim.TokensAt(now) >= float64(lim.Burst()) {
				delete(m, k)
			}
		}
	}
	lim, ok := m[key]
	if !ok {
		lim = rate.NewLimiter(every, burst)
		m[key] = lim
	}
	lim.AllowN(now, 1)
}
