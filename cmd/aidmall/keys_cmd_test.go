package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
)

// aidmall keys rotate with the data dir's key files: killed after two batches it stops
// with the new key kept in seal-next/; run again it finishes, puts the new key in seal.key
// and the old in seal.key.old; imports go on under the new key, and the old key is refused.
// Not parallel: it sets resealBatchDone.
func TestKeysRotateResumesAfterAKill(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "a.db")
	bundle := sqltest.ExampleBundle()
	mustCLI(t, db, dir, "import", "bundle", bundle)
	oldKey, err := os.ReadFile(filepath.Join(dir, "seal.key"))
	if err != nil {
		t.Fatalf("the import made no seal key: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resealBatchDone = func(batch int) {
		if batch == 2 {
			cancel() // killed: the third batch never starts
		}
	}
	defer func() { resealBatchDone = func(int) {} }()
	var out, errOut bytes.Buffer
	err = run(ctx, []string{"keys", "rotate", "--batch", "10", "--db", db}, env(map[string]string{"AIDMALL_DATA_DIR": dir}), &out, &errOut)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "20 households re-sealed") {
		t.Fatalf("killed rotation: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(errOut.String(), "households") {
		t.Errorf("no progress bar on stderr: %q", errOut.String())
	}
	st := openStore(t, db)
	if _, next, err := st.SealKeyChecks(context.Background()); err != nil || next == "" {
		t.Fatalf("after the kill the rotation is not recorded as under way: %q %v", next, err)
	}
	newKey, err := os.ReadFile(filepath.Join(dir, "seal-next", "seal.key"))
	if err != nil {
		t.Fatalf("the new key is not kept for the next run: %v", err)
	}
	// The service may import meanwhile: under the new key.
	mustCLI(t, db, dir, "import", "households", filepath.Join(bundle, "households.csv"))

	resealBatchDone = func(int) {}
	done := mustCLI(t, db, dir, "keys", "rotate", "--batch", "10")
	if !strings.Contains(done, "re-sealed and re-hashed") || !strings.Contains(done, "seal.key.old") {
		t.Fatalf("second run: %q", done)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "seal.key")); !bytes.Equal(got, newKey) {
		t.Error("seal.key is not the new key")
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "seal.key.old")); !bytes.Equal(got, oldKey) {
		t.Error("seal.key.old is not the old key")
	}
	if _, err := os.Stat(filepath.Join(dir, "seal-next")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("seal-next/ left behind: %v", err)
	}
	raw, err := sqlstore.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var keys []string
	if err := raw.SelectContext(context.Background(), &keys, `SELECT DISTINCT seal_key FROM households`); err != nil || len(keys) != 1 || keys[0] == "" {
		t.Errorf("households under keys %q (%v), want one, named", keys, err)
	}
	// Imports go on with the new key; the old one is refused.
	if out := mustCLI(t, db, dir, "import", "households", filepath.Join(bundle, "households.csv")); !strings.Contains(out, "0 inserted, 0 updated, 627 unchanged") {
		t.Errorf("re-import under the new key changed households (fingerprints not re-made?): %s", out)
	}
	oldEnv := strings.TrimSpace(string(oldKey))
	if _, err := base64.StdEncoding.DecodeString(oldEnv); err != nil {
		t.Fatal(err)
	}
	var o2, e2 bytes.Buffer
	err = run(context.Background(), []string{"import", "households", filepath.Join(bundle, "households.csv"), "--db", db},
		env(map[string]string{"AIDMALL_DATA_DIR": dir, "AIDMALL_SEAL_KEY": oldEnv}), &o2, &e2)
	if err == nil || !strings.Contains(err.Error(), "another seal key") {
		t.Errorf("import with the retired key: %v", err)
	}
}
