package main

// The harness of the browser suite (browser_test.go): the demo as `aidmall demo` runs it —
// the same run() and wiring, SQLite, both malls simulated in process, the server on a
// 127.0.0.1 port — and Debian's Chromium driven through the DevTools protocol (chromedp),
// one isolated browser context (its own cookies) per test, every action bounded by a
// timeout, the console and CSP violations of every page collected.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// screenshotDir, when set, makes the browser suite write the pages' screenshots there
// (a path relative to the module root, e.g. docs/screens):
//
//	go test ./cmd/aidmall -run TestBrowser -count=1 -args -screenshots docs/screens
var screenshotDir = flag.String("screenshots", "", "write the pages' screenshots (PNG) to this folder, relative to the module root (e.g. docs/screens)")

// actionTimeout bounds one browser action (a navigation, a click and the wait after it).
const actionTimeout = 20 * time.Second

// chromiumPath is Chromium's executable: AIDMALL_CHROMIUM when set (and only it), else
// chromium on PATH, else Debian's /usr/bin/chromium. Without one the suite is skipped with
// the reason, except in CI (CI=true), where it fails: CI must never skip the browser suite
// silently.
func chromiumPath(t *testing.T) string {
	t.Helper()
	var candidates []string
	if p := os.Getenv("AIDMALL_CHROMIUM"); p != "" {
		candidates = []string{p}
	} else {
		for _, name := range []string{"chromium", "chromium-browser"} {
			if p, err := exec.LookPath(name); err == nil {
				candidates = append(candidates, p)
			}
		}
		candidates = append(candidates, "/usr/bin/chromium")
	}
	for _, p := range candidates {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	msg := fmt.Sprintf("Chromium not found (looked for %s): the browser suite did not run; install it with `apt-get install chromium` (.ci/run does) or point AIDMALL_CHROMIUM at it", strings.Join(candidates, ", "))
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " — CI=true, so this is a failure, not a skip")
	}
	t.Skip(msg)
	return ""
}

// String is all that was written (syncBuffer, of load_test.go, takes the demo's output
// while the test reads it).
func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// demoSite is a running `aidmall demo`: its address, the aid office API key it printed, and
// the demo sign-ins it printed, by role.
type demoSite struct {
	URL     string
	Key     string
	SignIns map[string]signIn // by role: branch_staff, aid_office, auditor
	out     *syncBuffer
}

type signIn struct{ Login, Password, Branch string }

var (
	servingRE = regexp.MustCompile(`Serving on (http://127\.0\.0\.1:\d+) until`)
	keyRE     = regexp.MustCompile(`Authorization: Bearer ([^'\s]+)'`)
)

// startDemo runs `aidmall demo` (no --exit) on a fresh SQLite database and a free
// 127.0.0.1 port, and returns once it serves; the test's cleanup stops it.
func startDemo(t *testing.T) *demoSite {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &syncBuffer{}, &syncBuffer{}
	done := make(chan struct{}) // closed when the demo has stopped, with its error in runErr
	var runErr error
	e := env(map[string]string{"AIDMALL_LISTEN": "127.0.0.1:0", "AIDMALL_DATA_DIR": dir})
	go func() {
		defer close(done)
		runErr = run(ctx, []string{"demo", "--db", filepath.Join(dir, "demo.db")}, e, out, errOut)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("the demo did not stop within 30s of its context ending")
		}
	})
	deadline := time.After(4 * time.Minute)
	for {
		if m := servingRE.FindStringSubmatch(out.String()); m != nil {
			d := &demoSite{URL: m[1], out: out}
			if k := keyRE.FindStringSubmatch(out.String()); k != nil {
				d.Key = k[1]
			}
			d.SignIns = parseSignIns(out.String())
			return d
		}
		select {
		case <-done:
			t.Fatalf("the demo stopped before serving: %v\n%s\n%s", runErr, out.String(), errOut.String())
		case <-deadline:
			t.Fatalf("the demo did not serve within 4 minutes:\n%s\n%s", out.String(), errOut.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// parseSignIns reads the demo sign-ins the demo prints after its report, one line per
// role: "工会干事（集团总部机关工会 HQ）  login demo-staff  password …", "扶贫办  login …",
// "审计  login …".
func parseSignIns(out string) map[string]signIn {
	m := map[string]signIn{}
	re := regexp.MustCompile(`^\s*(工会干事|扶贫办|审计)(?:（.*\s([A-Z0-9]+)）)?\s+login\s+(\S+)\s+password\s+(\S+)\s*$`)
	roles := map[string]string{"工会干事": "branch_staff", "扶贫办": "aid_office", "审计": "auditor"}
	for _, line := range strings.Split(out, "\n") {
		if s := re.FindStringSubmatch(line); s != nil {
			m[roles[s[1]]] = signIn{Branch: s[2], Login: s[3], Password: s[4]}
		}
	}
	return m
}

// getJSON GETs path from the demo's API with its aid office key into v.
func (d *demoSite) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+d.Key)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", path, resp.Status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, b)
	}
}

// startBrowser launches headless Chromium for the test and returns its browser context;
// the test's cleanup closes it.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	exe := chromiumPath(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "zh-CN"), chromedp.Flag("force-color-profile", "srgb"),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 800),
		// Chromium's own controls (a date field's 年/月/日) in Chinese when Debian's
		// chromium-l10n is installed; English otherwise, which changes no test.
		chromedp.Env("LANGUAGE=zh_CN:zh", "LANG=zh_CN.UTF-8"),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(bctx) }() // starts the browser, bound to bctx
	select {
	case err := <-started:
		if err != nil {
			bcancel()
			acancel()
			t.Fatalf("start Chromium (%s): %v", exe, err)
		}
	case <-time.After(90 * time.Second): // a busy CI machine: it usually takes seconds
		bcancel()
		acancel()
		t.Fatalf("Chromium (%s) did not start within 90s", exe)
	}
	t.Cleanup(func() {
		bcancel() // closes the browser
		acancel()
	})
	return bctx
}

// tab is one page of its own browser context (its own cookies and downloads), with the
// console messages and CSP violations seen since it opened.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// cspProbe runs in every document before the page's scripts (DevTools' scripts are not
// subject to the page's CSP) and keeps each Content-Security-Policy violation.
const cspProbe = `window.__csp = []; document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + (e.sourceFile || "") + ":" + e.lineNumber);
});`

// newTab opens a tab in a fresh browser context of b, at viewport w×h (mobile when w < 600).
func newTab(t *testing.T, b context.Context, base string, w, h int64) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	p := &tab{t: t, ctx: ctx, base: base}
	// The first Run opens the tab and binds it to its context: ctx itself, not one with
	// a timeout (which would close the tab when it ends), so a timer bounds it instead.
	opened := make(chan error, 1)
	go func() { opened <- chromedp.Do(ctx) }()
	select {
	case err := <-opened:
		if err != nil {
			t.Fatalf("open a tab: %v", err)
		}
	case <-time.After(actionTimeout):
		cancel()
		t.Fatalf("open a tab: not open after %s", actionTimeout)
	}
	p.run("inject the CSP probe, a Chinese locale", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspProbe}); err != nil {
			return err
		}
		// The browser of a clerk in China: dates and numbers in its controls as zh-CN.
		_, err := chromedp.Call(ctx, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: "zh_CN"})
		return err
	}))
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, m)
			p.mu.Unlock()
		}
	}()
	p.viewport(w, h)
	return p
}

// viewport sets the tab's viewport; a phone (w < 600) also gets touch and the mobile flag.
func (p *tab) viewport(w, h int64) {
	p.t.Helper()
	if w < 600 {
		p.run("phone viewport", chromedp.EmulateViewport(w, h, chromedp.EmulateScale(2), chromedp.EmulateMobile))
		return
	}
	p.run("desktop viewport", chromedp.EmulateViewport(w, h))
}

// run runs actions within actionTimeout, failing the test with what was being done.
func (p *tab) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v (at %s)%s", what, err, p.location(), p.consoleDump())
	}
}

// eval evaluates a JavaScript expression in the page and decodes its value into T.
func eval[T any](p *tab, expr string, opts ...chromedp.EvaluateOption) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v (at %s)", expr, err, p.location())
	}
	return v
}

// location is the tab's URL now ("?" when it cannot be read).
func (p *tab) location() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	u, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "?"
	}
	return u
}

// open navigates to path and waits for the page's <main> (every page of the site has one).
func (p *tab) open(path string) {
	p.t.Helper()
	p.run("open "+path, chromedp.Navigate(p.base+path), chromedp.WaitReady(chromedp.CSS("main")))
}

// path is the tab's location without the site's base.
func (p *tab) path() string { return strings.TrimPrefix(p.location(), p.base) }

// text is the visible text of the first element matching sel.
func (p *tab) text(sel string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		p.t.Fatalf("text of %s: %v (at %s)", sel, err, p.location())
	}
	return s
}

// signIn signs in on the sign-in page with in and waits for the signed-in header.
func (p *tab) signIn(in signIn) {
	p.t.Helper()
	if in.Login == "" {
		p.t.Fatal("the demo printed no sign-in for this role")
	}
	p.open("/signin")
	p.run("sign in as "+in.Login,
		chromedp.SendKeys(chromedp.CSS("#login"), in.Login),
		chromedp.SendKeys(chromedp.CSS("#password"), in.Password),
		chromedp.Click(chromedp.CSS(`form[action="/signin"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("header .who")),
	)
}

// problems are the console's errors and exceptions and the page's CSP violations since
// the tab opened, except messages for which allow is true.
func (p *tab) problems(allow func(chromedp.ConsoleMessage) bool) []string {
	p.t.Helper()
	var out []string
	for _, v := range eval[[]string](p, `window.__csp || []`) {
		out = append(out, "CSP violation: "+v)
	}
	time.Sleep(100 * time.Millisecond) // the console events of the page just drawn
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.console {
		if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleException && !strings.Contains(m.Text, "Content Security Policy") {
			continue
		}
		if allow != nil && allow(m) {
			continue
		}
		out = append(out, fmt.Sprintf("console %s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line))
	}
	return out
}

// noProblems fails the test on any console error, exception or CSP violation, except
// the browser's note of a page answered with an HTTP status in expected (a form refused
// with 422 on purpose, the 404 page), which a test asks for.
func (p *tab) noProblems(what string, expected ...int) {
	p.t.Helper()
	allow := func(m chromedp.ConsoleMessage) bool {
		for _, st := range expected {
			if m.Source == "network" && strings.Contains(m.Text, fmt.Sprintf("status of %d ", st)) {
				return true
			}
		}
		return false
	}
	if ps := p.problems(allow); len(ps) > 0 {
		p.t.Errorf("%s: %d problem(s) in the browser:\n  %s", what, len(ps), strings.Join(ps, "\n  "))
	}
}

func (p *tab) consoleDump() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.console) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\nconsole:")
	for _, m := range p.console {
		fmt.Fprintf(&b, "\n  %s", m)
	}
	return b.String()
}

// downloadsTo makes the tab's browser context save downloads into dir, with download
// events on.
func (p *tab) downloadsTo(dir string) {
	p.t.Helper()
	p.run("allow downloads", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		on := true
		_, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, BrowserContextID: chromedp.FromContext(ctx).BrowserContextID,
			DownloadPath: dir, EventsEnabled: &on,
		})
		return err
	}))
}

// download clicks sel and returns the path of the file the browser saved (named by its
// download guid in dir), once complete.
func (p *tab) download(sel, dir string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	events := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)); err != nil {
		p.t.Fatalf("click %s: %v", sel, err)
	}
	for ev, err := range events {
		if err != nil {
			p.t.Fatalf("download from %s: %v", sel, err)
		}
		switch ev.State {
		case browser.DownloadProgressStateCompleted:
			if ev.FilePath != "" {
				return ev.FilePath
			}
			return filepath.Join(dir, ev.GUID)
		case browser.DownloadProgressStateCanceled:
			p.t.Fatalf("download from %s was cancelled", sel)
		}
	}
	p.t.Fatalf("download from %s: no completed download", sel)
	return ""
}

// screenshot writes the viewport (or the whole page, when full) as
// <screenshotDir>/<name>.png when -screenshots is set.
func (p *tab) screenshot(name string, full bool) {
	p.t.Helper()
	if *screenshotDir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	shot := chromedp.CaptureScreenshot()
	if full {
		shot = chromedp.FullScreenshot(100) // 100: PNG
	}
	png, err := chromedp.Run(ctx, shot)
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := *screenshotDir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(moduleRoot(p.t), dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	f := filepath.Join(dir, name+".png")
	if err := os.WriteFile(f, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot %s", f)
}

// moduleRoot is the folder of go.mod above the test's working directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal(errors.New("no go.mod above the working directory"))
		}
		dir = parent
	}
}

// clickAndLoad clicks sel (a submit button or link) and waits until the next document has
// loaded. how picks the click: chromedp.Click or chromedp.DoubleClick.
func (p *tab) clickAndLoad(sel string, how func(chromedp.CSS, ...chromedp.QueryOption) chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	eval[bool](p, `window.__stale = true`)
	p.run("click "+sel, how(chromedp.CSS(sel), chromedp.NodeVisible))
	p.waitLoaded("after clicking " + sel)
}

// waitLoaded waits until the document that replaced the one marked window.__stale has
// loaded (evaluations fail while the page changes: they are retried).
func (p *tab) waitLoaded(what string) {
	p.t.Helper()
	deadline := time.Now().Add(actionTimeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!window.__stale && document.readyState === "complete" && !!document.querySelector("main")`))
		cancel()
		if err == nil && ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.t.Fatalf("%s: no new page within %s (at %s)%s%s", what, actionTimeout, p.location(), p.failureShot(), p.consoleDump())
}

// failureShot saves what the tab shows into the temp dir for a failure message.
func (p *tab) failureShot() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return ""
	}
	f, err := os.CreateTemp("", "aidmall-browser-*.png")
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Write(png); err != nil {
		return ""
	}
	return "\nthe page then: " + f.Name()
}

// setField sets a form control's value as a person would (a select's option, a text
// field's text) and fires its input and change events, so the page's script sees it.
func (p *tab) setField(sel, value string) {
	p.t.Helper()
	js := fmt.Sprintf(`(function () {
  var el = document.querySelector(%q);
  if (!el) return "no element " + %q;
  el.value = %q;
  if (el.value !== %q) return %q + " has no value " + %q;
  el.dispatchEvent(new Event("input", {bubbles: true}));
  el.dispatchEvent(new Event("change", {bubbles: true}));
  return "";
})()`, sel, sel, value, value, sel, value)
	if msg := eval[string](p, js); msg != "" {
		p.t.Fatalf("set %s: %s", sel, msg)
	}
}

// paste puts text into the field sel as a paste from a spreadsheet does (tabs and line
// breaks included), through the browser's text input.
func (p *tab) paste(sel, text string) {
	p.t.Helper()
	p.run("paste into "+sel, chromedp.Focus(chromedp.CSS(sel)), chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, input.InsertText, input.InsertTextParams{Text: text})
		return err
	}))
}

// doubleClick clicks sel twice in quick succession as a mouse does (a press and release,
// then a second with click count 2: two click events), unlike chromedp.DoubleClick (one
// press with click count 2: one click event). The second click lands where the first did,
// on whatever is there by then, as a person's would.
func doubleClick(sel chromedp.CSS, opts ...chromedp.QueryOption) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		if err := chromedp.Do(ctx, chromedp.ScrollIntoView(sel, opts...)); err != nil {
			return err
		}
		box, err := chromedp.Run(ctx, chromedp.Dimensions(sel, opts...))
		if err != nil {
			return err
		}
		q := box.Content // x1,y1 … x4,y4
		if len(q) < 8 {
			return fmt.Errorf("%s has no box", sel)
		}
		x, y := (q[0]+q[4])/2, (q[1]+q[5])/2
		var steps []chromedp.Action[chromedp.Void]
		for n := 1; n <= 2; n++ {
			steps = append(steps,
				chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, x, y, chromedp.ButtonLeft, chromedp.ClickCount(n)),
				chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, x, y, chromedp.ButtonLeft, chromedp.ClickCount(n)))
		}
		return chromedp.Do(ctx, steps...)
	})
}

// scrollTo scrolls the page so that sel's top is at the top of the screen.
func (p *tab) scrollTo(sel string) {
	p.t.Helper()
	if !eval[bool](p, fmt.Sprintf(`(function () { var el = document.querySelector(%q); if (!el) return false; el.scrollIntoView({block: "start"}); return true; })()`, sel)) {
		p.t.Fatalf("scroll to %s: no such element on %s", sel, p.path())
	}
}
