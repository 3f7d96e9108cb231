// Package sandboxtest starts the reference mall sandbox (shared/mallsandbox, its own Go
// module) for tests: it builds the sandbox into the test's temporary directory, starts it on
// free 127.0.0.1 ports with a fresh key directory, and stops it when the test ends. Tests
// that use it are skipped, with a message saying why, under `go test -short` or when the
// sandbox sources are absent.
//
// The sandbox is looked for, in order, at $AIDMALL_MALLSANDBOX and ../shared/mallsandbox
// relative to the repository root (the directory whose go.mod
// declares module aidmall).
package sandboxtest

import (
	"bufio"
	"encoding/json"
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

	"aidmall/internal/repo"
)

// Sandbox is a running mall sandbox. URLs have no trailing slash; a mall turned off with
// `--ccb-addr=` / `--abc-addr=` has an empty URL.
type Sandbox struct {
	CCBURL string // e.g. http://127.0.0.1:43099 (gateway at /gateway)
	ABCURL string // e.g. http://127.0.0.1:41933 (API under /open/v2)
	KeyDir string // the --keys directory: partners.json and eight PEM files

	CCBAppID string // from partners.json, e.g. 2019031200000001
	ABCAppID string // from partners.json, e.g. ABC2019031200000001

	// Absolute paths of the key files named by partners.json. Private keys are PKCS#8 PEM,
	// public keys PKIX PEM (CCB: RSA 2048; ABC: SM2).
	CCBPartnerPrivateKey, CCBPartnerPublicKey, CCBMallPublicKey string
	ABCPartnerPrivateKey, ABCPartnerPublicKey, ABCMallPublicKey string

	log *syncBuffer
}

// Log returns everything the sandbox has written to stderr so far.
func (s *Sandbox) Log() string { return s.log.String() }

// State fetches GET {baseURL}/sandbox/state (unsigned) and decodes it. baseURL is s.CCBURL
// or s.ABCURL. It fails the test on any error.
func (s *Sandbox) State(t testing.TB, baseURL string) map[string]any {
	t.Helper()
	resp, err := http.Get(baseURL + "/sandbox/state")
	if err != nil {
		t.Fatalf("sandbox state: %v", err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("sandbox state: %v", err)
	}
	return m
}

// Dir returns the sandbox source directory, or "" when none is present.
func Dir() string {
	var cands []string
	if d := os.Getenv("AIDMALL_MALLSANDBOX"); d != "" {
		cands = append(cands, d)
	}
	if root := repo.Root(); root != "" {
		cands = append(cands, filepath.Join(root, "..", "shared", "mallsandbox"))
	}
	for _, d := range cands {
		if st, err := os.Stat(filepath.Join(d, "main.go")); err == nil && !st.IsDir() {
			abs, err := filepath.Abs(d)
			if err == nil {
				return abs
			}
		}
	}
	return ""
}

// BundleDir returns the repository's copy of the yichuan-dingbian-2019 bundle
// (examples/yichuan-dingbian-2019), or "" when absent.
func BundleDir() string {
	root := repo.Root()
	if root == "" {
		return ""
	}
	d := filepath.Join(root, "examples", "yichuan-dingbian-2019")
	if _, err := os.Stat(filepath.Join(d, "products.csv")); err != nil {
		return ""
	}
	return d
}

var addrLine = regexp.MustCompile(`\b(ccb|abc) mall on (http://\S+)`)

// Start builds and starts the sandbox with flags (as `mallsandbox` takes them, e.g.
// "--fail-rate", "0.5"). Unless flags say otherwise it adds `--keys` (a fresh temporary
// directory), `--ccb-addr 127.0.0.1:0`, `--abc-addr 127.0.0.1:0` (free ports, read back from
// the sandbox's startup log) and `--bundle` (the repository's examples bundle, so that the
// catalogue is the real one). It skips the test under -short or when the sandbox is absent,
// fails it if the build or start fails, and stops the sandbox (SIGINT, then kill after 10 s)
// when the test ends; on failure the sandbox's log is written to the test log.
func Start(t testing.TB, flags ...string) *Sandbox {
	t.Helper()
	if testing.Short() {
		t.Skip("sandboxtest: skipped in -short mode (builds and runs shared/mallsandbox)")
	}
	src := Dir()
	if src == "" {
		t.Skip("sandboxtest: reference sandbox not found (set AIDMALL_MALLSANDBOX, or provide ../shared/mallsandbox beside the repository)")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "mallsandbox")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = src
	build.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("sandboxtest: building %s: %v\n%s", src, err, out)
	}

	has := func(name string) bool {
		for _, f := range flags {
			if f == "--"+name || f == "-"+name || strings.HasPrefix(f, "--"+name+"=") || strings.HasPrefix(f, "-"+name+"=") {
				return true
			}
		}
		return false
	}
	// off reports whether flags turn a mall off with an empty address.
	off := func(name string) bool {
		for i, f := range flags {
			if f == "--"+name+"=" || f == "-"+name+"=" {
				return true
			}
			if (f == "--"+name || f == "-"+name) && i+1 < len(flags) && flags[i+1] == "" {
				return true
			}
		}
		return false
	}
	args := append([]string(nil), flags...)
	keyDir := filepath.Join(tmp, "keys")
	if !has("keys") {
		args = append(args, "--keys", keyDir)
	} else {
		keyDir = flagValue(flags, "keys")
		if !filepath.IsAbs(keyDir) {
			keyDir = filepath.Join(tmp, keyDir) // the sandbox runs in tmp
		}
	}
	if !has("ccb-addr") {
		args = append(args, "--ccb-addr", "127.0.0.1:0")
	}
	if !has("abc-addr") {
		args = append(args, "--abc-addr", "127.0.0.1:0")
	}
	if !has("bundle") && !has("products") {
		if b := BundleDir(); b != "" {
			args = append(args, "--bundle", b)
		}
	}
	want := 2
	if off("ccb-addr") {
		want--
	}
	if off("abc-addr") {
		want--
	}

	cmd := exec.Command(bin, args...)
	cmd.Dir = tmp
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("sandboxtest: start: %v", err)
	}
	s := &Sandbox{KeyDir: keyDir, log: &syncBuffer{}}
	type found struct{ mall, url string }
	addrs := make(chan found, 2)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			s.log.WriteLine(line)
			if m := addrLine.FindStringSubmatch(line); m != nil {
				select {
				case addrs <- found{m[1], m[2]}:
				default:
				}
			}
		}
		io.Copy(io.Discard, pr) // keep the child from blocking on a full pipe
	}()
	exited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		pw.Close()
		exited <- err
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		<-readDone
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("sandbox log:\n%s", s.Log())
		}
	})

	deadline := time.After(60 * time.Second)
	for got := 0; got < want; got++ {
		select {
		case f := <-addrs:
			if f.mall == "ccb" {
				s.CCBURL = f.url
			} else {
				s.ABCURL = f.url
			}
		case err := <-exited:
			<-readDone
			stopped = true
			t.Fatalf("sandboxtest: sandbox exited before it was ready (%v):\n%s", err, s.Log())
		case <-deadline:
			t.Fatalf("sandboxtest: sandbox not ready after 60 s:\n%s", s.Log())
		}
	}
	if err := s.loadPartners(); err != nil {
		t.Fatalf("sandboxtest: %v", err)
	}
	return s
}

func flagValue(flags []string, name string) string {
	for i, f := range flags {
		for _, p := range []string{"--" + name + "=", "-" + name + "="} {
			if strings.HasPrefix(f, p) {
				return strings.TrimPrefix(f, p)
			}
		}
		if (f == "--"+name || f == "-"+name) && i+1 < len(flags) {
			return flags[i+1]
		}
	}
	return ""
}

type partnerFile struct {
	AppID             string `json:"app_id"`
	PartnerPrivateKey string `json:"partner_private_key"`
	PartnerPublicKey  string `json:"partner_public_key"`
	MallPublicKey     string `json:"mall_public_key"`
}

func (s *Sandbox) loadPartners() error {
	b, err := os.ReadFile(filepath.Join(s.KeyDir, "partners.json"))
	if err != nil {
		return fmt.Errorf("partners.json: %w", err)
	}
	var p struct {
		CCB partnerFile `json:"ccb"`
		ABC partnerFile `json:"abc"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("partners.json: %w", err)
	}
	abs := func(f string) string {
		if f == "" || filepath.IsAbs(f) {
			return f
		}
		return filepath.Join(s.KeyDir, f)
	}
	s.CCBAppID, s.ABCAppID = p.CCB.AppID, p.ABC.AppID
	s.CCBPartnerPrivateKey, s.CCBPartnerPublicKey, s.CCBMallPublicKey = abs(p.CCB.PartnerPrivateKey), abs(p.CCB.PartnerPublicKey), abs(p.CCB.MallPublicKey)
	s.ABCPartnerPrivateKey, s.ABCPartnerPublicKey, s.ABCMallPublicKey = abs(p.ABC.PartnerPrivateKey), abs(p.ABC.PartnerPublicKey), abs(p.ABC.MallPublicKey)
	return nil
}

// syncBuffer collects log lines from the reader goroutine for the test goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) WriteLine(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b.WriteString(s)
	b.b.WriteByte('\n')
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
