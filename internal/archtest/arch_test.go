// Package archtest holds the layering rules of docs/ARCHITECTURE.md as tests: the domain
// decides and imports nothing that touches the outside world; adapters do not reach back
// into the drivers (api) or the wiring (config).
package archtest

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// deps returns the packages pkg imports, directly or not, as `go list -deps` lists them.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", pkg).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

func TestLayers(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH: the layering check needs `go list`")
	}
	// Anything that talks to the world: HTTP framework, SQL, drivers, Redis, spreadsheets,
	// job queues, and every mall and adapter package. A name ending in "/" forbids what
	// starts with it; one ending in "$" forbids that package alone (database/sql/driver,
	// the Valuer interface decimal implements, is no database); any other forbids the
	// package and those under it.
	outside := []string{
		"github.com/labstack/echo", "github.com/jmoiron/sqlx", "database/sql$", "modernc.org/sqlite",
		"github.com/jackc/pgx", "github.com/lib/pq", "github.com/redis/go-redis", "github.com/xuri/excelize",
		"github.com/riverqueue", "aidmall/adapters/", "aidmall/malls", "aidmall/api", "aidmall/jobs",
		"aidmall/config", "aidmall/cmd/",
	}
	tests := []struct {
		pkg       string
		forbidden []string
	}{
		{"aidmall/orders", outside},
		{"aidmall/households", outside},
		{"aidmall/attribution", outside},
		{"aidmall/reports", outside},
		{"aidmall/money", outside},
		{"aidmall/bizday", outside},
		{"aidmall/imports", outside},
		{"aidmall/people", outside},
		{"aidmall/adapters/sqlstore", []string{"aidmall/api", "aidmall/config", "aidmall/jobs", "aidmall/cmd/"}},
	}
	// A mall package (one under adapters/ that implements a malls.Driver, so imports
	// aidmall/malls) reaches no driver of the service, no store and no other mall.
	mallPkgs := mallPackages(t)
	for _, m := range mallPkgs {
		forbidden := []string{"aidmall/api", "aidmall/jobs", "aidmall/adapters/sqlstore"}
		for _, other := range mallPkgs {
			if other != m {
				forbidden = append(forbidden, other)
			}
		}
		tests = append(tests, struct {
			pkg       string
			forbidden []string
		}{m, forbidden})
	}
	for _, tc := range tests {
		t.Run(tc.pkg, func(t *testing.T) {
			for _, d := range deps(t, tc.pkg) {
				for _, f := range tc.forbidden {
					if forbids(f, d) {
						t.Errorf("%s imports %s (directly or through another package)", tc.pkg, d)
					}
				}
			}
		})
	}
}

// mallPackages returns the packages under aidmall/adapters that import aidmall/malls:
// the malls' drivers.
func mallPackages(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "aidmall/adapters/...").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list aidmall/adapters/...: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list aidmall/adapters/...: %v", err)
	}
	var pkgs []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && slices.Contains(f[1:], "aidmall/malls") {
			pkgs = append(pkgs, f[0])
		}
	}
	if len(pkgs) == 0 {
		t.Fatal("no package under aidmall/adapters imports aidmall/malls: no mall driver found")
	}
	return pkgs
}

// forbids reports whether rule f (see TestLayers) forbids package d.
func forbids(f, d string) bool {
	switch {
	case strings.HasSuffix(f, "$"):
		return d == strings.TrimSuffix(f, "$")
	case strings.HasSuffix(f, "/"):
		return strings.HasPrefix(d, f)
	}
	return d == f || strings.HasPrefix(d, f+"/")
}

func TestForbids(t *testing.T) {
	tests := []struct {
		rule, pkg string
		want      bool
	}{
		{"database/sql$", "database/sql", true},
		{"database/sql$", "database/sql/driver", false},
		{"aidmall/adapters/", "aidmall/adapters/ccb", true},
		{"aidmall/adapters/", "aidmall/attribution", false},
		{"github.com/redis/go-redis", "github.com/redis/go-redis/v9", true},
		{"github.com/redis/go-redis", "github.com/redis/go-redisx", false},
		{"aidmall/api", "aidmall/api", true},
	}
	for _, tc := range tests {
		if got := forbids(tc.rule, tc.pkg); got != tc.want {
			t.Errorf("forbids(%q, %q) = %v, want %v", tc.rule, tc.pkg, got, tc.want)
		}
	}
}
