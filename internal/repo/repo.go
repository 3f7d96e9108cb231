// Package repo finds this repository on disk, for the tools and tests that build or read
// it (the fault harness, the reference sandbox's starter).
package repo

import (
	"bytes"
	"os"
	"path/filepath"
)

// Root walks up from the working directory (a package's own under `go test`) to the
// directory whose go.mod declares module aidmall; "" when there is none.
func Root() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte("module aidmall")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
