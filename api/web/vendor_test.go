package web_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// The vendored ECharts is the version pinned in assets/package.json and its lock file,
// unedited (the checksum assets/vendor.sh wrote), with its licence and notice beside it;
// the binary serves it.
func TestVendoredEChartsMatchesThePin(t *testing.T) {
	t.Parallel()
	read := func(p string) []byte {
		t.Helper()
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var pkg struct{ Dependencies map[string]string }
	if err := json.Unmarshal(read("assets/package.json"), &pkg); err != nil {
		t.Fatal(err)
	}
	pin := pkg.Dependencies["echarts"]
	if pin == "" || strings.ContainsAny(pin, "^~<>=* x") {
		t.Fatalf("package.json pins echarts at %q, want an exact version", pin)
	}
	var lock struct {
		Packages map[string]struct{ Version, License string }
	}
	if err := json.Unmarshal(read("assets/package-lock.json"), &lock); err != nil {
		t.Fatal(err)
	}
	if l := lock.Packages["node_modules/echarts"]; l.Version != pin || l.License != "Apache-2.0" {
		t.Fatalf("package-lock.json has echarts %+v, package.json %s", l, pin)
	}
	var version, file, sum string
	for _, line := range strings.Split(strings.TrimSpace(string(read("static/vendor/VERSIONS"))), "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "echarts" {
			version, file, sum = f[1], f[2], strings.TrimPrefix(f[3], "sha256:")
		}
	}
	if version != pin {
		t.Fatalf("vendored echarts %q, pinned %q: run api/web/assets/vendor.sh", version, pin)
	}
	js := read("static/vendor/echarts/" + file)
	if h := sha256.Sum256(js); hex.EncodeToString(h[:]) != sum {
		t.Fatalf("static/vendor/echarts/%s differs from what vendor.sh copied", file)
	}
	if !strings.Contains(string(js), `version="`+pin+`"`) {
		t.Fatalf("%s does not say version %s", file, pin)
	}
	if !strings.Contains(string(read("static/vendor/echarts/LICENSE")), "Apache License") ||
		!strings.Contains(string(read("static/vendor/echarts/NOTICE")), "Apache ECharts") {
		t.Fatal("ECharts' LICENSE or NOTICE is missing")
	}
	s := newSite(t)
	resp, body := s.anonymous(t).get("/static/vendor/echarts/" + file)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") || body != string(js) {
		t.Fatalf("served %s: %d %s", file, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
