package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"aidmall/adapters/sqlstore/sqltest"
	. "aidmall/api"
	"aidmall/orders"
)

// TestMain fails the package if a test leaves a goroutine behind (the in-flight
// idempotency test starts one).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNewRejectsMissingDependencies(t *testing.T) {
	t.Parallel()
	st := sqltest.Store(t, sqltest.SQLite(t))
	valid := func() Config {
		return Config{Orders: &fakeOrders{}, Auth: st, Idempotency: st, Reports: st,
			Malls:    []orders.Mall{mallCCB, mallABC},
			Webhooks: map[orders.Mall]MallWebhook{mallCCB: &fakeWebhook{}},
			Ready:    func(context.Context) error { return nil }, Logger: slog.New(slog.DiscardHandler)}
	}
	tests := []struct {
		name   string
		break_ func(*Config)
	}{
		{"when_orders_nil_expect_error", func(c *Config) { c.Orders = nil }},
		{"when_auth_nil_expect_error", func(c *Config) { c.Auth = nil }},
		{"when_idempotency_nil_expect_error", func(c *Config) { c.Idempotency = nil }},
		{"when_reports_nil_expect_error", func(c *Config) { c.Reports = nil }},
		{"when_ready_nil_expect_error", func(c *Config) { c.Ready = nil }},
		{"when_logger_nil_expect_error", func(c *Config) { c.Logger = nil }},
		{"when_a_webhook_nil_expect_error", func(c *Config) { c.Webhooks[mallABC] = nil }},
		{"when_a_webhook_for_auto_expect_error", func(c *Config) { c.Webhooks[orders.MallAuto] = &fakeWebhook{} }},
		{"when_no_malls_are_registered_expect_error", func(c *Config) { c.Malls = nil }},
		{"when_a_webhook_for_an_unregistered_mall_expect_error", func(c *Config) { c.Webhooks["icbc"] = &fakeWebhook{} }},
		{"when_metrics_cannot_be_gathered_expect_error", func(c *Config) { c.Metrics = prometheus.WrapRegistererWithPrefix("x_", prometheus.NewRegistry()) }},
	}
	if _, err := New(valid()); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid()
			tt.break_(&cfg)
			if s, err := New(cfg); err == nil || s != nil {
				t.Errorf("New accepted a broken config")
			}
		})
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		authorization string
		authErr       error
		wantStatus    int
		wantChallenge string
	}{
		{name: "when_no_authorization_expect_401_with_challenge", wantStatus: 401, wantChallenge: `Bearer realm="aidmall"`},
		{name: "when_unknown_key_expect_401_invalid_token", authorization: "Bearer key-nobody", wantStatus: 401,
			wantChallenge: `Bearer realm="aidmall", error="invalid_token"`},
		{name: "when_basic_scheme_expect_401", authorization: "Basic a2V5LWhxOg==", wantStatus: 401, wantChallenge: `Bearer realm="aidmall"`},
		{name: "when_bearer_without_token_expect_401", authorization: "Bearer ", wantStatus: 401, wantChallenge: `Bearer realm="aidmall"`},
		{name: "when_scheme_lowercase_expect_accepted", authorization: "bearer key-hq", wantStatus: 200},
		{name: "when_authenticator_fails_expect_500_without_cause", authorization: "Bearer key-hq",
			authErr: errors.New("pq: password authentication failed for user aidmall"), wantStatus: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(c *Config) {
				if tt.authErr != nil {
					c.Auth = failingAuth{err: tt.authErr}
				}
			})
			rec := h.do(request{method: http.MethodGet, path: "/v1/orders",
				header: map[string]string{"Authorization": tt.authorization}})
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.wantChallenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tt.wantChallenge)
			}
			if rec.Code == 200 {
				return
			}
			p := problemOf(t, rec)
			if tt.authErr != nil && (p.Detail != "internal error" || strings.Contains(rec.Body.String(), "password")) {
				t.Errorf("500 leaks its cause: %s", rec.Body)
			}
		})
	}
}

func TestProblemAndRequestID(t *testing.T) {
	t.Parallel()
	h := newHarness(t)

	t.Run("when_problem_expect_rfc9457_shape_with_request_id_and_instance", func(t *testing.T) {
		t.Parallel()
		rec := h.do(request{method: http.MethodGet, path: "/v1/orders/9999", key: "key-office"})
		p := problemOf(t, rec)
		if p.Type != "https://aidmall.dev/problems/not-found" || p.Title == "" || p.Instance != "/v1/orders/9999" {
			t.Errorf("problem %+v", p)
		}
		if p.RequestID == "" || p.RequestID != rec.Header().Get("X-Request-Id") {
			t.Errorf("request_id %q, header %q", p.RequestID, rec.Header().Get("X-Request-Id"))
		}
	})
	t.Run("when_client_sends_request_id_expect_it_kept", func(t *testing.T) {
		t.Parallel()
		rec := h.do(request{method: http.MethodGet, path: "/healthz", header: map[string]string{"X-Request-Id": "trace-42.a_b"}})
		if got := rec.Header().Get("X-Request-Id"); got != "trace-42.a_b" {
			t.Errorf("X-Request-Id %q", got)
		}
	})
	t.Run("when_client_request_id_unsafe_expect_replaced", func(t *testing.T) {
		t.Parallel()
		rec := h.do(request{method: http.MethodGet, path: "/healthz", header: map[string]string{"X-Request-Id": "a\"b<script>"}})
		if got := rec.Header().Get("X-Request-Id"); !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(got) {
			t.Errorf("X-Request-Id %q, want a fresh random id", got)
		}
	})
	t.Run("when_path_unknown_expect_404_problem", func(t *testing.T) {
		t.Parallel()
		rec := h.do(request{method: http.MethodGet, path: "/v2/nothing"})
		if rec.Code != http.StatusNotFound {
			t.Fatalf("status %d", rec.Code)
		}
		problemOf(t, rec)
	})
	t.Run("when_method_not_allowed_expect_405_problem_with_allow", func(t *testing.T) {
		t.Parallel()
		rec := h.do(request{method: http.MethodDelete, path: "/healthz"})
		if rec.Code != http.StatusMethodNotAllowed || !strings.Contains(rec.Header().Get("Allow"), "GET") {
			t.Fatalf("status %d Allow %q", rec.Code, rec.Header().Get("Allow"))
		}
		problemOf(t, rec)
	})
}

func TestPanicIsAnInternalErrorProblem(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rec := h.do(request{method: http.MethodGet, path: "/v1/orders/666", key: "key-office",
		header: map[string]string{"X-Request-Id": "req-panic-1"}})
	p := problemOf(t, rec)
	if rec.Code != http.StatusInternalServerError || p.Detail != "internal error" || strings.Contains(rec.Body.String(), "boom") {
		t.Fatalf("answer %d %s", rec.Code, rec.Body)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "boom: nil map in the store") || !strings.Contains(logs, `"request_id":"req-panic-1"`) {
		t.Errorf("the panic is not logged with the request id: %s", logs)
	}
	// The server keeps serving.
	if rec := h.do(request{method: http.MethodGet, path: "/healthz"}); rec.Code != http.StatusOK {
		t.Errorf("after a panic: %d", rec.Code)
	}
}

func TestAccessLog(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.place("key-hq", `"k-1"`, orderBody(nil))
	logs := h.logs.String()
	for _, want := range []string{`"msg":"request"`, `"route":"/v1/orders"`, `"status":201`, `"key_id":1`, `"request_id":`} {
		if !strings.Contains(logs, want) {
			t.Errorf("access log lacks %s: %s", want, logs)
		}
	}
	for _, secret := range []string{"key-hq", "13800001234", "2019-HQ-0042", "北京市"} {
		if strings.Contains(logs, secret) {
			t.Errorf("access log holds %q: %s", secret, logs)
		}
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		denied         map[string]time.Duration
		limiterErr     error
		key            string
		wantStatus     int
		wantRetryAfter string
	}{
		{name: "when_under_limit_expect_200", key: "key-hq", wantStatus: 200},
		{name: "when_over_limit_expect_429_with_retry_after_rounded_up", denied: map[string]time.Duration{"apikey:1": 1500 * time.Millisecond},
			key: "key-hq", wantStatus: 429, wantRetryAfter: "2"},
		{name: "when_another_key_is_limited_expect_200", denied: map[string]time.Duration{"apikey:2": time.Second}, key: "key-hq", wantStatus: 200},
		{name: "when_wait_is_zero_expect_retry_after_1", denied: map[string]time.Duration{"apikey:1": 0}, key: "key-hq", wantStatus: 429, wantRetryAfter: "1"},
		{name: "when_limiter_fails_expect_request_let_through", limiterErr: errors.New("redis: connection refused"), key: "key-hq", wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lim := &fakeLimiter{denied: tt.denied, err: tt.limiterErr}
			h := newHarness(t, func(c *Config) { c.Limiter = lim })
			rec := h.do(request{method: http.MethodGet, path: "/v1/orders", key: tt.key})
			if rec.Code != tt.wantStatus || rec.Header().Get("Retry-After") != tt.wantRetryAfter {
				t.Fatalf("status %d Retry-After %q, want %d %q: %s", rec.Code, rec.Header().Get("Retry-After"), tt.wantStatus, tt.wantRetryAfter, rec.Body)
			}
			if rec.Code == 429 && problemOf(t, rec).Type != ProblemTypeBase+"rate-limited" {
				t.Errorf("body %s", rec.Body)
			}
		})
	}
	t.Run("when_no_limiter_configured_expect_no_limit", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t) // Limiter left nil
		for range 3 {
			if rec := h.do(request{method: http.MethodGet, path: "/v1/orders", key: "key-hq"}); rec.Code != 200 {
				t.Fatalf("status %d", rec.Code)
			}
		}
		if len(h.limiter.keys) != 0 {
			t.Error("the unwired limiter was asked")
		}
	})
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if rec := h.do(request{method: http.MethodGet, path: "/healthz"}); rec.Code != 200 || rec.Body.String() != "ok" {
		t.Errorf("healthz %d %q", rec.Code, rec.Body)
	}
	if rec := h.do(request{method: http.MethodGet, path: "/readyz"}); rec.Code != 200 || readyBody(t, rec.Body.Bytes())["status"] != "ready" {
		t.Errorf("readyz %d %q", rec.Code, rec.Body)
	}

	// Running without Redis is ready, degraded, and says which part and why.
	down := "unreachable: dial tcp 127.0.0.1:6379: connect: connection refused"
	degraded := newHarness(t, func(c *Config) {
		c.Degraded = func(context.Context) map[string]string { return map[string]string{"redis": down} }
	})
	rec := degraded.do(request{method: http.MethodGet, path: "/readyz"})
	if b := readyBody(t, rec.Body.Bytes()); rec.Code != 200 || b["status"] != "degraded" || b["redis"] != down || b["database"] != "ok" {
		t.Errorf("readyz degraded: %d %q", rec.Code, rec.Body)
	}
	healed := newHarness(t, func(c *Config) { c.Degraded = func(context.Context) map[string]string { return nil } })
	if rec := healed.do(request{method: http.MethodGet, path: "/readyz"}); readyBody(t, rec.Body.Bytes())["status"] != "ready" {
		t.Errorf("readyz with nothing degraded: %q", rec.Body)
	}

	notReady := newHarness(t)
	notReady.ready = errors.New("database: no such table: schema_version")
	rec = notReady.do(request{method: http.MethodGet, path: "/readyz"})
	if p := problemOf(t, rec); rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), "schema_version") {
		t.Errorf("readyz when not ready: %d %+v", rec.Code, p)
	}
	if !strings.Contains(notReady.logs.String(), "schema_version") {
		t.Error("the readiness failure is not logged")
	}
}

// readyBody decodes /readyz's JSON body.
func readyBody(t *testing.T, b []byte) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		t.Errorf("readyz body %q: %v", b, err)
	}
	return m
}

func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.do(request{method: http.MethodGet, path: "/v1/orders/9999", key: "key-office"})
	h.do(request{method: http.MethodGet, path: "/no/such/path"})
	h.do(request{method: http.MethodPost, path: "/webhooks/abc", body: "{}", header: map[string]string{"X-Test-Signature": "forged"}})
	rec := h.do(request{method: http.MethodGet, path: "/metrics"})
	if rec.Code != 200 {
		t.Fatalf("metrics %d", rec.Code)
	}
	body := rec.Body.String()
	for _, want := range []string{
		`aidmall_http_requests_total{method="GET",route="/v1/orders/:id",status="404"} 1`,
		`aidmall_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`aidmall_http_request_duration_seconds_count{method="GET",route="/v1/orders/:id"} 1`,
		`aidmall_webhook_events_total{mall="abc",result="rejected"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, "/no/such/path") || strings.Contains(body, "9999") {
		t.Error("raw paths leak into metric labels")
	}
}

// TestOpenAPIMallEnumIsTheRegisteredMalls: the served document lists exactly the malls
// the server is given (the registered drivers), wherever a mall code is accepted.
func TestOpenAPIMallEnumIsTheRegisteredMalls(t *testing.T) {
	t.Parallel()
	for _, malls := range [][]orders.Mall{{"ccb", "abc"}, {"abc", "icbc", "ccb"}} {
		doc, err := OpenAPIFor(malls)
		if err != nil {
			t.Fatal(err)
		}
		codes := make([]string, len(malls))
		for i, m := range malls {
			codes[i] = string(m)
		}
		want := "    Mall: { type: string, enum: [" + strings.Join(codes, ", ") + "] }\n"
		if !strings.Contains(string(doc), want) {
			t.Errorf("served document lacks %q", want)
		}
		// Every other place a mall is named refers to that schema: no enum of codes elsewhere.
		if n := strings.Count(string(doc), "enum: [ccb"); n > 1 || strings.Contains(string(doc), "enum: [ccb, abc, auto]") {
			t.Errorf("a mall enum besides components.schemas.Mall: %d", n)
		}
		if strings.Count(string(doc), `$ref: "#/components/schemas/Mall"`) < 3 {
			t.Error("the order request, the list filter and the webhook path must refer to the Mall schema")
		}
	}
}

// The list limit the document states is the one the domain applies (orders.ListLimit):
// the served document takes it from orders.MaxListLimit and orders.DefaultListLimit,
// whatever numbers openapi.yaml itself carries.
func TestOpenAPIListLimitIsTheDomains(t *testing.T) {
	t.Parallel()
	limit := regexp.MustCompile(`- \{ name: limit, in: query, schema: \{ type: integer, minimum: 1, maximum: (\d+), default: (\d+) \} \}`)
	check := func(t *testing.T, doc []byte) {
		t.Helper()
		m := limit.FindAllStringSubmatch(string(doc), -1)
		if len(m) != 1 {
			t.Fatalf("%d limit parameters in the document, want 1", len(m))
		}
		if want := [2]string{strconv.Itoa(orders.MaxListLimit), strconv.Itoa(orders.DefaultListLimit)}; [2]string{m[0][1], m[0][2]} != want {
			t.Errorf("limit maximum %s default %s, want %s and %s (orders.MaxListLimit, orders.DefaultListLimit)", m[0][1], m[0][2], want[0], want[1])
		}
	}
	t.Run("served_document_states_the_domain_limits", func(t *testing.T) {
		t.Parallel()
		rec := newHarness(t).do(request{method: http.MethodGet, path: "/openapi.yaml"})
		if rec.Code != http.StatusOK {
			t.Fatalf("openapi.yaml %d", rec.Code)
		}
		check(t, rec.Body.Bytes())
	})
	t.Run("numbers_in_the_file_are_replaced", func(t *testing.T) {
		t.Parallel()
		stale := limit.ReplaceAll(OpenAPIDocument, []byte("- { name: limit, in: query, schema: { type: integer, minimum: 1, maximum: 7, default: 3 } }"))
		if bytes.Equal(stale, OpenAPIDocument) {
			t.Fatal("openapi.yaml has no limit parameter to replace")
		}
		doc, err := FillOpenAPI(stale, []orders.Mall{mallCCB})
		if err != nil {
			t.Fatal(err)
		}
		check(t, doc)
	})
	t.Run("a_document_without_the_limit_line_is_refused", func(t *testing.T) {
		t.Parallel()
		if _, err := FillOpenAPI(limit.ReplaceAll(OpenAPIDocument, nil), []orders.Mall{mallCCB}); err == nil {
			t.Error("filled a document that states no list limit")
		}
	})
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rec := h.do(request{method: http.MethodGet, path: "/openapi.yaml"})
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/yaml" {
		t.Fatalf("openapi.yaml %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	doc := rec.Body.String()
	param := regexp.MustCompile(`:(\w+)`)
	for _, r := range h.echo.(*echo.Echo).Routes() {
		path := param.ReplaceAllString(r.Path, "{$1}")
		i := strings.Index(doc, "\n  "+path+":\n")
		if i < 0 {
			t.Errorf("openapi.yaml does not document %s", path)
			continue
		}
		section := doc[i+1:]
		if end := strings.Index(section[1:], "\n  /"); end >= 0 {
			section = section[:end+1]
		}
		if !strings.Contains(section, "\n    "+strings.ToLower(r.Method)+":") {
			t.Errorf("openapi.yaml does not document %s %s", r.Method, path)
		}
	}
}

// The malls of the tests, by code: which malls exist is the drivers' knowledge, not the domain's.
const mallCCB, mallABC = orders.Mall("ccb"), orders.Mall("abc")
