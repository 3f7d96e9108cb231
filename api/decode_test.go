package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// FuzzPlaceOrder posts arbitrary bodies to POST /v1/orders through the real service: the
// answer is a 201 or a 4xx problem, never a 500, and a 201 always has an order id.
func FuzzPlaceOrder(f *testing.F) {
	for _, s := range []string{
		orderBody(nil),
		orderBody(map[string]any{"mall": "auto", "lines": []any{map[string]any{"sku": "YC-PEP-250G-ZS", "quantity": 1}}}),
		orderBody(map[string]any{"delivery_mode": "per_recipient"}),
		`{"lines":[{"sku":"YC-APL-5KG-DZ","quantity":1000001,"unit_price":"-1"}]}`,
		`{"placed_at":"9999-12-31T23:59:59+14:00"}`,
		`{"a/b~":1}`, `[]`, `"x"`, `{`, ``, `{"lines":[null,{}]}`,
	} {
		f.Add(s)
	}
	h := newHarness(f)
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, body string) {
		key := fmt.Sprintf(`"fuzz-%d"`, n.Add(1))
		for _, caller := range []string{"key-hq", "key-office"} {
			rec := h.do(request{method: http.MethodPost, path: "/v1/orders", key: caller, body: body,
				header: map[string]string{"Idempotency-Key": key}})
			switch {
			case rec.Code == http.StatusCreated:
				if !strings.Contains(rec.Body.String(), `"id":`) {
					t.Fatalf("201 without an id: %s", rec.Body)
				}
			case rec.Code >= 400 && rec.Code < 500:
				problemOf(t, rec)
			default:
				t.Fatalf("body %q: status %d %s", body, rec.Code, rec.Body)
			}
		}
	})
}
