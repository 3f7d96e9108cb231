package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"syscall"
	"testing"
	"time"

	"aidmall/adapters/mallsim"
	"aidmall/config"
	"aidmall/examples"
	"aidmall/orders"
)

// buildBinary builds the aidmall command into dir and returns its path.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	_, file, _, _ := goruntime.Caller(0)
	bin := filepath.Join(dir, "aidmall")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Dir(file)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freeAddr is a 127.0.0.1 address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// `aidmall serve` as a real process gets SIGTERM while a request is in flight (its body
// still arriving) and a dispatch job is in flight (the mall answering slowly): it stops
// accepting connections, both finish — the request answered 201, the order's mall answer
// recorded — and it exits 0.
func TestServe_SIGTERMDrainsRequestsAndJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary: not in -short")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The database, prepared as an operator would: migrated, the catalogue imported, a key.
	cfg := config.Defaults()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.DatabaseURL = filepath.Join(cfg.DataDir, "aidmall.db")
	log := slog.New(slog.DiscardHandler)
	a, err := openApp(ctx, cfg, log, true)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := a.registry(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.ImportBundle(ctx, examples.YichuanDingbian2019(), false); err != nil {
		t.Fatal(err)
	}
	token, _, err := a.store.CreateAPIKey(ctx, "shutdown", orders.RoleAidOffice, "")
	if err != nil {
		t.Fatal(err)
	}
	catalogue, err := a.store.Catalogue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := a.store.Branches(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, b := range bs {
		names[b.Code] = b.Name
	}
	a.Close()
	var ccbOrders []bundleOrder
	all, err := loadBundleOrders(examples.YichuanDingbian2019(), func(c string) string { return names[c] })
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range all {
		if o.Mall == "ccb" {
			ccbOrders = append(ccbOrders, o)
		}
	}

	// The mall: the simulator behind a proxy that holds each create for 2 s.
	keys, err := mallsim.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	keyDir := filepath.Join(dir, "keys")
	if err := keys.WritePEM(keyDir); err != nil {
		t.Fatal(err)
	}
	sim, err := mallsim.Start(ctx, mallsim.Options{Keys: keys, Catalogue: catalogue, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	target, _ := url.Parse(sim.CCBURL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	creating, created := make(chan struct{}, 10), make(chan struct{}, 10)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			creating <- struct{}{}
			time.Sleep(2 * time.Second)
			defer func() { created <- struct{}{} }()
		}
		proxy.ServeHTTP(w, r)
	}))
	defer slow.Close()

	addr := freeAddr(t)
	base := "http://" + addr
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"DATABASE_URL="+cfg.DatabaseURL, "AIDMALL_DATA_DIR="+cfg.DataDir, "AIDMALL_LISTEN="+addr,
		"AIDMALL_CCB_URL="+slow.URL, "AIDMALL_CCB_APP_ID="+mallsim.DefaultCCBAppID,
		"AIDMALL_CCB_PRIVATE_KEY_FILE="+filepath.Join(keyDir, mallsim.FileCCBPartnerPrivate),
		"AIDMALL_CCB_MALL_PUBLIC_KEY_FILE="+filepath.Join(keyDir, mallsim.FileCCBMallPublic),
		"AIDMALL_JOB_POLL_INTERVAL=100ms", "AIDMALL_SHUTDOWN_TIMEOUT=20s", "AIDMALL_RECONCILE_INTERVAL=0",
		"REDIS_URL=", "AIDMALL_LOG_LEVEL=info")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready in 30 s: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	post := func(body io.Reader, ref string) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/orders", body)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "shutdown-"+ref)
		return http.DefaultClient.Do(req)
	}
	// A job in flight: the first order's dispatch, held by the mall.
	first, _ := json.Marshal(ccbOrders[0])
	resp, err := post(bytes.NewReader(first), ccbOrders[0].OrderRef)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("first order: %v %v", err, resp)
	}
	var placed struct {
		ID int64 `json:"id"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&placed)
	resp.Body.Close()
	select {
	case <-creating:
	case <-time.After(30 * time.Second):
		t.Fatalf("the dispatch job never called the mall\n%s", logs.String())
	}
	// A request in flight: headers and half the body sent.
	second, _ := json.Marshal(ccbOrders[1])
	pr, pw := io.Pipe()
	answered := make(chan *http.Response, 1)
	go func() {
		resp, err := post(pr, ccbOrders[1].OrderRef)
		if err != nil {
			t.Errorf("the in-flight request failed: %v", err)
			answered <- nil
			return
		}
		answered <- resp
	}()
	if _, err := pw.Write(second[:len(second)/2]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the server has the request

	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// No new connection is taken while draining.
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections 5 s after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := pw.Write(second[len(second)/2:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if resp := <-answered; resp == nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("the request in flight at SIGTERM: %v\n%s", resp, logs.String())
	} else {
		resp.Body.Close()
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve still running 30 s after SIGTERM\n%s", logs.String())
	}
	t.Logf("drained and exited 0 in %s", time.Since(sent).Round(time.Millisecond))
	select {
	case <-created:
	default:
		t.Fatal("the mall's create never finished")
	}

	// The job in flight finished: its mall's answer is recorded.
	a, err = openApp(ctx, cfg, log, false)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	o, err := a.store.Order(ctx, placed.ID)
	if err != nil {
		t.Fatal(err)
	}
	if o.MallOrderNo == "" {
		t.Errorf("order %d: the dispatch in flight at SIGTERM did not record the mall's answer (status %s)", o.ID, o.Status)
	}
}
