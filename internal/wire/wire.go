// Package wire holds the small encoding and HTTP rules that both bank malls' specs share,
// used by the partner adapters (adapters/ccb, adapters/abc), their simulators
// (adapters/mallsim) and the API.
package wire

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// MarshalJSON encodes v compactly, without HTML escaping (a mall signs the text exactly as
// sent, so "<" stays "<") and without a trailing newline.
func MarshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// AbsoluteHTTPURL reports whether s is an absolute http or https URL with a host.
func AbsoluteHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// ValidNonce reports whether s is a nonce both specs accept: 16–32 printable ASCII
// characters without spaces (ccb-mall.md "Requests", abc-mall.md "Signing").
func ValidNonce(s string) bool {
	if len(s) < 16 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// NewHTTPClient returns the client a mall call uses by default: an overall timeout, and
// redirects not followed (a mall that redirects has answered, and the answer is final).
func NewHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
