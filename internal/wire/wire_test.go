package wire

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestMarshalJSONKeepsTheTextAMallSigns(t *testing.T) {
	t.Parallel()
	b, err := MarshalJSON(map[string]string{"name": "王<芳>&"})
	if err != nil || string(b) != `{"name":"王<芳>&"}` {
		t.Fatalf("%s %v", b, err)
	}
}

func TestValidNonce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s  string
		ok bool
	}{
		{strings.Repeat("a", 16), true}, {strings.Repeat("Z9", 16), true},
		{strings.Repeat("a", 15), false}, {strings.Repeat("a", 33), false},
		{strings.Repeat("a", 15) + " ", false}, {strings.Repeat("啊", 6), false},
	} {
		if got := ValidNonce(tc.s); got != tc.ok {
			t.Errorf("ValidNonce(%q) = %v, want %v", tc.s, got, tc.ok)
		}
	}
}

func TestAbsoluteHTTPURL(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{"https://a.example/x": true, "http://127.0.0.1:8080": true,
		"/webhooks/ccb": false, "ftp://a.example": false, "https://": false} {
		if got := AbsoluteHTTPURL(s); got != want {
			t.Errorf("AbsoluteHTTPURL(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestNewHTTPClientDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	c := NewHTTPClient(time.Second)
	if c.Timeout != time.Second || c.CheckRedirect(nil, nil) != http.ErrUseLastResponse {
		t.Fatal("want the timeout and no redirects")
	}
}
