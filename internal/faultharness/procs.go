package faultharness

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Build builds the aidmall binary of the repository at root into dir and returns its path.
func Build(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "aidmall")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/aidmall")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build aidmall: %v\n%s", err, out)
	}
	return bin, nil
}

// freeAddr returns a 127.0.0.1 address with a port free a moment ago (a process that
// must keep its port over restarts is given one).
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// runOnce runs the binary with args and env and returns its stdout; stderr joins the error.
func runOnce(ctx context.Context, bin string, env []string, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env, cmd.Dir = env, dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("aidmall %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String(), nil
}

// proc is a child process whose output goes to a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// start starts bin with args, env and its output appended to logPath. When firstLine is
// not nil it receives the first line of stdout.
func start(name, bin string, args, env []string, dir, logPath string, firstLine chan<- string) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Dir = env, dir
	cmd.Stderr = logf
	var stdout io.ReadCloser
	if firstLine != nil {
		if stdout, err = cmd.StdoutPipe(); err != nil {
			logf.Close()
			return nil, err
		}
	} else {
		cmd.Stdout = logf
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	var copied sync.WaitGroup
	if stdout != nil {
		copied.Add(1)
		go func() {
			defer copied.Done()
			sc := bufio.NewScanner(stdout)
			first := true
			for sc.Scan() {
				if first {
					firstLine <- sc.Text()
					first = false
				} else {
					fmt.Fprintln(logf, sc.Text())
				}
			}
			_, _ = io.Copy(logf, stdout)
		}()
	}
	go func() {
		copied.Wait()
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// stop ends the process: SIGTERM, then SIGKILL after grace.
func (p *proc) stop(grace time.Duration) {
	if p == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// kill ends the process with SIGKILL and waits for it.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitReady polls url until it answers 200, the process exits or ctx ends.
func waitReady(ctx context.Context, p *proc, url string) error {
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready: %v", p.name, p.err)
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w", p.name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// redisServer is the harness's own Redis, on a port of its own, so that it can be
// restarted without touching anyone else's.
type redisServer struct {
	bin, addr, dir string
	p              *proc
}

func startRedis(ctx context.Context, dir string) (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("redis-server not found on PATH")
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	r := &redisServer{bin: bin, addr: addr, dir: dir}
	return r, r.start(ctx)
}

func (r *redisServer) URL() string { return "redis://" + r.addr + "/0" }

func (r *redisServer) start(ctx context.Context) error {
	_, port, _ := net.SplitHostPort(r.addr)
	p, err := start("redis-server", r.bin, []string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", r.dir}, os.Environ(), r.dir, filepath.Join(r.dir, "redis.log"), nil)
	if err != nil {
		return err
	}
	r.p = p
	for {
		c, err := net.DialTimeout("tcp", r.addr, time.Second)
		if err == nil {
			_, _ = c.Write([]byte("PING\r\n"))
			buf := make([]byte, 7)
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := io.ReadFull(c, buf)
			c.Close()
			if n == 7 && string(buf) == "+PONG\r\n" {
				return nil
			}
		}
		if p.exited() {
			return fmt.Errorf("redis-server on %s exited: %v (log %s)", r.addr, p.err, filepath.Join(r.dir, "redis.log"))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// restart stops Redis (its data is lost: nonces and rate-limit counters) and starts it
// again on the same port.
func (r *redisServer) restart(ctx context.Context) error {
	r.p.stop(5 * time.Second)
	return r.start(ctx)
}

func (r *redisServer) stop() { r.p.stop(5 * time.Second) }
