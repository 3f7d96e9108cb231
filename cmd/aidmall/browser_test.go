package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowser drives the pages of a running `aidmall demo` (the demo year on SQLite, both
// malls simulated in process, the server on a 127.0.0.1 port) in Debian's headless
// Chromium, as the people they are for use them. Without Chromium it is skipped with the
// reason (and fails under CI=true). With -args -screenshots DIR it also writes the README's
// screenshots.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo year and Chromium: skipped with -short")
	}
	chromiumPath(t) // skip (or fail in CI) before the demo year runs
	start := time.Now()
	d := startDemo(t)
	b := startBrowser(t)
	t.Logf("demo serving at %s and Chromium started in %s", d.URL, time.Since(start).Round(time.Millisecond))

	desktop := func(t *testing.T) *tab { return newTab(t, b, d.URL, 1280, 800) }

	t.Run("sign-in page is in Chinese under a strict CSP", func(t *testing.T) {
		p := desktop(t)
		ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
		defer cancel()
		resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(d.URL+"/signin"))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != 200 {
			t.Fatalf("GET /signin: %d %s", resp.Status, resp.StatusText)
		}
		csp, _ := resp.Headers["Content-Security-Policy"].(string)
		for _, want := range []string{"script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("CSP %q allows inline or eval'd script", csp)
		}
		if lang := eval[string](p, `document.documentElement.lang`); lang != "zh-CN" {
			t.Errorf("html lang = %q, want zh-CN", lang)
		}
		if h := p.text("main h1"); h != "登录" {
			t.Errorf("heading %q, want 登录", h)
		}
		if bad := eval[[]string](p, unlabelledControls); len(bad) > 0 {
			t.Errorf("controls without a label: %v", bad)
		}
		p.noProblems("sign-in page")
	})

	t.Run("a signed-out request to any page goes to sign-in", func(t *testing.T) {
		p := desktop(t)
		for _, path := range []string{"/", "/orders", "/orders/new", "/orders/1", "/catalogue", "/dashboard", "/office/review", "/office/people"} {
			p.open(path)
			got := p.path()
			if !strings.HasPrefix(got, "/signin") {
				t.Errorf("signed out, %s ends at %s, want the sign-in page", path, got)
				continue
			}
			if h := p.text("main h1"); h != "登录" {
				t.Errorf("signed out, %s shows %q, want the sign-in page", path, h)
			}
		}
	})
}

// unlabelledControls lists the page's visible form controls that have no <label> (nor an
// aria-label), by name or id.
const unlabelledControls = `Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea"))
  .filter(function (el) { return el.labels.length === 0 && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby"); })
  .map(function (el) { return el.name || el.id || el.outerHTML.slice(0, 80); })`
