package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	. "aidmall/api"
	"aidmall/internal/idempotency"
)

func TestIdempotency(t *testing.T) {
	t.Parallel()

	t.Run("when_same_key_and_body_expect_stored_response_replayed", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		first := h.place("key-hq", `"k-1"`, orderBody(nil))
		second := h.place("key-hq", `"k-1"`, orderBody(nil))
		if first.Code != http.StatusCreated || second.Code != first.Code {
			t.Fatalf("statuses %d then %d: %s", first.Code, second.Code, second.Body)
		}
		if second.Body.String() != first.Body.String() {
			t.Errorf("replayed body differs:\n%s\n%s", first.Body, second.Body)
		}
		if second.Header().Get("Idempotent-Replayed") != "true" || first.Header().Get("Idempotent-Replayed") != "" {
			t.Errorf("Idempotent-Replayed: first %q, second %q", first.Header().Get("Idempotent-Replayed"), second.Header().Get("Idempotent-Replayed"))
		}
		if second.Header().Get("Location") != first.Header().Get("Location") || second.Header().Get("Content-Type") != "application/json" {
			t.Errorf("replayed headers %v", second.Header())
		}
		if place, _ := h.orders.counts(); place != 1 {
			t.Errorf("Place called %d times, want 1", place)
		}
	})

	t.Run("when_quoted_and_bare_forms_of_one_key_expect_replay", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.place("key-hq", `"k-1"`, orderBody(nil))
		if rec := h.place("key-hq", `k-1`, orderBody(nil)); rec.Header().Get("Idempotent-Replayed") != "true" {
			t.Errorf("bare key not the same key: %d %s", rec.Code, rec.Body)
		}
	})

	t.Run("when_same_key_and_other_body_expect_422", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.place("key-hq", `"k-1"`, orderBody(nil))
		rec := h.place("key-hq", `"k-1"`, orderBody(map[string]any{"order_ref": "2019-HQ-0043"}))
		if rec.Code != http.StatusUnprocessableEntity || problemOf(t, rec).Type != ProblemTypeBase+"idempotency-key-reused" {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if place, _ := h.orders.counts(); place != 1 {
			t.Errorf("Place called %d times, want 1", place)
		}
	})

	t.Run("when_key_missing_expect_400_saying_so", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		rec := h.do(request{method: http.MethodPost, path: "/v1/orders", key: "key-hq", body: orderBody(nil)})
		p := problemOf(t, rec)
		if rec.Code != http.StatusBadRequest || p.Type != ProblemTypeBase+"idempotency-key-missing" {
			t.Fatalf("status %d type %q", rec.Code, p.Type)
		}
		if place, _ := h.orders.counts(); place != 0 {
			t.Errorf("Place called without a key")
		}
	})

	t.Run("when_key_malformed_expect_400", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		rec := h.place("key-hq", `"unterminated`, orderBody(nil))
		if p := problemOf(t, rec); rec.Code != http.StatusBadRequest || p.Type != ProblemTypeBase+"idempotency-key-invalid" {
			t.Fatalf("status %d type %q", rec.Code, p.Type)
		}
	})

	t.Run("when_validation_fails_expect_the_key_free_for_the_corrected_body", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		bad := orderBody(map[string]any{"mall": "abc"}) // 68.00 is not ABC's price
		first := h.place("key-hq", `"k-1"`, bad)
		if first.Code != http.StatusUnprocessableEntity || first.Header().Get("Idempotent-Replayed") != "" {
			t.Fatalf("first %d %s", first.Code, first.Body)
		}
		fixed := orderBody(map[string]any{"mall": "abc", "lines": []any{map[string]any{"sku": "YC-APL-5KG-DZ", "quantity": 20, "unit_price": "69.00"}}})
		second := h.place("key-hq", `"k-1"`, fixed)
		if second.Code != http.StatusCreated {
			t.Fatalf("the corrected body under the same key: %d %s", second.Code, second.Body)
		}
		third := h.place("key-hq", `"k-1"`, fixed)
		if third.Code != http.StatusCreated || third.Header().Get("Idempotent-Replayed") != "true" || third.Body.String() != second.Body.String() {
			t.Fatalf("replay of the success: %d replayed=%q", third.Code, third.Header().Get("Idempotent-Replayed"))
		}
		if place, _ := h.orders.counts(); place != 2 {
			t.Errorf("Place called %d times, want 2 (the refused body and the corrected one)", place)
		}
	})

	t.Run("when_first_attempt_fails_with_5xx_expect_retry_runs_again", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.orders.placeFails = 1
		first := h.place("key-hq", `"k-1"`, orderBody(nil))
		if first.Code != http.StatusInternalServerError {
			t.Fatalf("first %d %s", first.Code, first.Body)
		}
		if p := problemOf(t, first); p.Detail != "internal error" || strings.Contains(first.Body.String(), "connection reset") {
			t.Errorf("500 leaks its cause: %s", first.Body)
		}
		second := h.place("key-hq", `"k-1"`, orderBody(nil))
		if second.Code != http.StatusCreated || second.Header().Get("Idempotent-Replayed") != "" {
			t.Fatalf("retry %d replayed=%q %s", second.Code, second.Header().Get("Idempotent-Replayed"), second.Body)
		}
		if place, _ := h.orders.counts(); place != 2 {
			t.Errorf("Place called %d times, want 2", place)
		}
	})

	t.Run("when_two_callers_use_one_key_expect_independent_scopes", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.place("key-hq", `"shared"`, orderBody(nil))
		b := h.place("key-s01", `"shared"`, orderBody(map[string]any{"branch_code": "S01"}))
		if a.Code != http.StatusCreated || b.Code != http.StatusCreated || b.Header().Get("Idempotent-Replayed") != "" {
			t.Fatalf("a %d, b %d %s", a.Code, b.Code, b.Body)
		}
	})

	// A concurrent duplicate of a request in flight: TestIdempotencyAcrossAKilledReplica
	// (both databases), when_a_duplicate_arrives_while_the_first_is_in_its_transaction.

	t.Run("when_lock_older_than_timeout_expect_taken_over", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		body := orderBody(nil)
		// A request that took the key and crashed: its record stays in flight.
		scope := idempotency.Scope{KeyID: 1, Key: "k-1"}
		crashed := idempotency.Record{Fingerprint: Fingerprint(http.MethodPost, "/v1/orders", []byte(body)),
			Token: "crashed", LockedAt: h.clock.Now()}
		if _, ok, _ := h.idem.Claim(context.Background(), scope, crashed, time.Time{}); !ok {
			t.Fatal("setup claim failed")
		}
		h.clock.Advance(30 * time.Second)
		if rec := h.place("key-hq", `"k-1"`, body); rec.Code != http.StatusConflict {
			t.Fatalf("30 s after the crash: %d %s", rec.Code, rec.Body)
		}
		h.clock.Advance(31 * time.Second)
		if rec := h.place("key-hq", `"k-1"`, body); rec.Code != http.StatusCreated {
			t.Fatalf("61 s after the crash: %d %s", rec.Code, rec.Body)
		}
	})
}

func TestParseIdempotencyKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		values  []string
		want    string
		wantErr bool
	}{
		{name: "when_sf_string_expect_unquoted", values: []string{`"8e03978e-40d5-43e8"`}, want: "8e03978e-40d5-43e8"},
		{name: "when_sf_string_has_escapes_expect_unescaped", values: []string{`"a\"b\\c"`}, want: `a"b\c`},
		{name: "when_bare_token_expect_as_is", values: []string{"abc-123"}, want: "abc-123"},
		{name: "when_surrounding_spaces_expect_trimmed", values: []string{` "abc" `}, want: "abc"},
		{name: "when_two_headers_expect_error", values: []string{`"a"`, `"b"`}, wantErr: true},
		{name: "when_empty_string_expect_error", values: []string{`""`}, wantErr: true},
		{name: "when_unterminated_expect_error", values: []string{`"abc`}, wantErr: true},
		{name: "when_text_after_quote_expect_error", values: []string{`"abc"x`}, wantErr: true},
		{name: "when_bad_escape_expect_error", values: []string{`"a\nb"`}, wantErr: true},
		{name: "when_bare_has_space_expect_error", values: []string{"a b"}, wantErr: true},
		{name: "when_non_ascii_expect_error", values: []string{`"钥匙"`}, wantErr: true},
		{name: "when_too_long_expect_error", values: []string{`"` + strings.Repeat("k", 256) + `"`}, wantErr: true},
		{name: "when_255_characters_expect_accepted", values: []string{strings.Repeat("k", 255)}, want: strings.Repeat("k", 255)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseIdempotencyKey(tt.values)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("got %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func FuzzParseIdempotencyKey(f *testing.F) {
	for _, s := range []string{`"abc"`, `abc`, `"a\"b"`, `"`, `""`, `"a\`, "\"\x7f\"", ` x `} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		key, err := ParseIdempotencyKey([]string{s})
		if err != nil {
			return
		}
		if key == "" || len(key) > MaxIdempotencyKeyLen || !utf8.ValidString(key) {
			t.Fatalf("accepted %q as %q", s, key)
		}
		for i := 0; i < len(key); i++ {
			if key[i] < 0x20 || key[i] > 0x7e {
				t.Fatalf("accepted a non-printable key %q from %q", key, s)
			}
		}
		// A key accepted bare is the same key when sent as an sf-string.
		if !strings.HasPrefix(strings.TrimSpace(s), `"`) {
			quoted, err := ParseIdempotencyKey([]string{`"` + key + `"`})
			if err != nil || quoted != key {
				t.Fatalf("bare %q and quoted %q differ", key, quoted)
			}
		}
	})
}
