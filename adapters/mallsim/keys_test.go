package mallsim

import (
	"os"
	"path/filepath"
	"testing"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
)

// The eight files load with the adapters' own PEM readers, private keys are 0600, and
// each public file holds the public half of its private key.
func TestKeys_WritePEM_writes_the_sandbox_layout_loadable_by_the_adapters(t *testing.T) {
	t.Parallel()
	k := keys(t)
	dir := filepath.Join(t.TempDir(), "keys")
	// An existing world-readable file must not keep its mode when a private key lands in it.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileCCBPartnerPrivate), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := k.WritePEM(dir); err != nil {
		t.Fatalf("WritePEM: %v", err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, f := range []struct {
		name string
		mode os.FileMode
	}{
		{FileCCBMallPrivate, 0o600}, {FileCCBPartnerPrivate, 0o600}, {FileABCMallPrivate, 0o600}, {FileABCPartnerPrivate, 0o600},
		{FileCCBMallPublic, 0o644}, {FileCCBPartnerPublic, 0o644}, {FileABCMallPublic, 0o644}, {FileABCPartnerPublic, 0o644},
	} {
		st, err := os.Stat(filepath.Join(dir, f.name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != f.mode {
			t.Errorf("%s: mode %v, want %v", f.name, st.Mode().Perm(), f.mode)
		}
	}
	for _, c := range []struct{ priv, pub string }{{FileCCBMallPrivate, FileCCBMallPublic}, {FileCCBPartnerPrivate, FileCCBPartnerPublic}} {
		priv, err := ccb.ParsePrivateKeyPEM(read(c.priv))
		if err != nil {
			t.Fatalf("%s: %v", c.priv, err)
		}
		pub, err := ccb.ParsePublicKeyPEM(read(c.pub))
		if err != nil {
			t.Fatalf("%s: %v", c.pub, err)
		}
		sig, _ := ccb.Sign(priv, "x")
		if err := ccb.Verify(pub, "x", sig); err != nil {
			t.Errorf("%s does not hold the public half of %s", c.pub, c.priv)
		}
	}
	if p, _ := ccb.ParsePrivateKeyPEM(read(FileCCBPartnerPrivate)); p == nil || !p.Equal(k.CCBPartner) {
		t.Error("ccb partner private key written is not Keys.CCBPartner")
	}
	for _, c := range []struct{ priv, pub string }{{FileABCMallPrivate, FileABCMallPublic}, {FileABCPartnerPrivate, FileABCPartnerPublic}} {
		priv, err := abc.ParsePrivateKeyPEM(read(c.priv))
		if err != nil {
			t.Fatalf("%s: %v", c.priv, err)
		}
		pub, err := abc.ParsePublicKeyPEM(read(c.pub))
		if err != nil {
			t.Fatalf("%s: %v", c.pub, err)
		}
		sig, _ := abc.Sign(priv, "x")
		if err := abc.Verify(pub, "x", sig); err != nil {
			t.Errorf("%s does not hold the public half of %s", c.pub, c.priv)
		}
	}
	if p, _ := abc.ParsePrivateKeyPEM(read(FileABCMallPrivate)); p == nil || !p.Equal(k.ABCMall) {
		t.Error("abc mall private key written is not Keys.ABCMall")
	}
	if err := (&Keys{}).WritePEM(t.TempDir()); err == nil {
		t.Error("WritePEM of an empty key set succeeded")
	}
}
