package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"aidmall/adapters/sqlstore/sqltest"
)

// The CLI records what an operator changes (as cli:<user>) and `audit verify` fails on a
// database whose log was edited, naming the entry.
func TestAuditVerifyCLIFailsOnATamperedDatabase(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "a.db")
	e := env(map[string]string{"AIDMALL_DATA_DIR": t.TempDir(), "USER": "alice"})
	cli := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, append(args, "--db", db), e, &out, &errOut)
		return out.String() + errOut.String(), err
	}
	if out, err := cli("import", "bundle", sqltest.ExampleBundle()); err != nil {
		t.Fatalf("import bundle: %v\n%s", err, out)
	}
	for range 2 {
		if out, err := cli("users", "add", "--role", "auditor", "--name", "审计"); err != nil {
			t.Fatalf("users add: %v\n%s", err, out)
		}
	}
	out, err := cli("audit", "list", "--format", "json")
	if err != nil || strings.Count(out, `"action": "registry.import"`) != 5 || strings.Count(out, `"action": "key.create"`) != 2 ||
		!strings.Contains(out, `"actor": "cli:`) || !strings.Contains(out, `"sha256"`) {
		t.Fatalf("audit list: %v\n%s", err, out)
	}
	// The table says its times in Beijing time with the offset, as every list does.
	if out, err := cli("audit", "list"); err != nil || !strings.Contains(out, "AT (BEIJING)") ||
		!regexp.MustCompile(`\n1\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+08:00\s`).MatchString(out) {
		t.Fatalf("audit list as a table: %v\n%s", err, out)
	}
	if out, err := cli("audit", "verify"); err != nil || !strings.Contains(out, "intact: 7 entries") {
		t.Fatalf("verify untouched: %v\n%s", err, out)
	}
	st := openStore(t, db)
	if _, err := st.DB().ExecContext(ctx, `UPDATE audit_log SET after_json = REPLACE(after_json, '"inserted":', '"inserted":1') WHERE seq = 4`); err != nil {
		t.Fatal(err)
	}
	out, err = cli("audit", "verify")
	if err == nil || !strings.Contains(out, "BROKEN at entry 4") {
		t.Fatalf("verify tampered: %v\n%s", err, out)
	}
}
