package main

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The Docker engine does not run here, so this test holds the Dockerfile to what matters:
// its build line, run as written, makes a static binary that starts; and the image runs
// it as a non-root user.
func TestDockerfileBuildsAStaticBinaryRunAsNonRoot(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary: skipped with -short")
	}
	f, err := os.Open("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var build, user string
	stages := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "FROM "):
			stages++
		case strings.HasPrefix(line, "RUN ") && strings.Contains(line, "go build"):
			build = strings.TrimPrefix(line, "RUN ")
		case strings.HasPrefix(line, "USER "):
			user = strings.TrimPrefix(line, "USER ")
		}
	}
	if stages < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a runtime stage", stages)
	}
	if user == "" || strings.HasPrefix(user, "root") || strings.HasPrefix(user, "0") {
		t.Fatalf("runtime user %q, want a non-root user", user)
	}
	if !strings.Contains(build, "CGO_ENABLED=0") || !strings.Contains(build, "-o /out/aidmall") {
		t.Fatalf("build line %q: want CGO_ENABLED=0 and -o /out/aidmall", build)
	}
	out := filepath.Join(t.TempDir(), "aidmall")
	cmd := exec.Command("sh", "-c", strings.Replace(build, "/out/aidmall", out, 1))
	cmd.Dir = "../.."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", build, err, b)
	}
	ef, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("binary is dynamically linked: it would not start on a distroless static image")
		}
	}
	if b, err := exec.Command(out, "--help").CombinedOutput(); err != nil || !strings.Contains(string(b), "serve") {
		t.Fatalf("built binary --help: %v\n%s", err, b)
	}
}
