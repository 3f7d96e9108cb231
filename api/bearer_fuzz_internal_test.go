package api

import (
	"strings"
	"testing"
)

// FuzzBearerToken gives the Authorization header parser any header value. Whatever it
// accepts is an RFC 6750 b64token of at most 512 characters (letters, digits, -._~+/
// then only '='), so nothing else ever reaches the key lookup or a log; and what it
// accepts it accepts again, unchanged, under any spelling of the scheme (the round
// trip). Seeds in testdata/fuzz/FuzzBearerToken: good keys, other schemes, padding in
// the middle, control characters, over-long keys.
func FuzzBearerToken(f *testing.F) {
	f.Add("Bearer am_3f2a9c1d.Zm9vYmFy-_~+/==")
	f.Fuzz(func(t *testing.T, h string) {
		token, ok := bearerToken(h)
		if !ok {
			if token != "" {
				t.Fatalf("refused %q but returned %q", h, token)
			}
			return
		}
		if token == "" || len(token) > 512 {
			t.Fatalf("accepted %q as a token of %d bytes", h, len(token))
		}
		body := strings.TrimRight(token, "=")
		if body == "" {
			t.Fatalf("accepted %q: a token of only padding", h)
		}
		for _, r := range body {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~+/", r)) {
				t.Fatalf("accepted %q with %q in its token", h, r)
			}
		}
		scheme, _, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "bearer") {
			t.Fatalf("accepted scheme %q", scheme)
		}
		for _, s := range []string{"Bearer ", "bearer ", "BEARER "} {
			if again, ok := bearerToken(s + token); !ok || again != token {
				t.Fatalf("%q accepted as %q, but %q gives %q, %v", h, token, s+token, again, ok)
			}
		}
	})
}
