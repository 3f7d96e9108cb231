package api_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	. "aidmall/api"
)

// The contract cannot drift: every request the API tests send through a harness, and every
// answer the server gives, is checked against the OpenAPI document the server itself serves
// at /openapi.yaml (openapi.yaml with the registered malls and the domain's list limits).
//
//   - A route or method the document lacks may only be answered 404 or 405.
//   - A request the document accepts (route, parameters, security, body) may be answered
//     with any status its operation declares, and the body must match that status's
//     schema for its content type: a status or content type the operation does not
//     declare is drift, and so is a field an object schema does not list (the checker
//     reads every declared object as closed, see closeObjects).
//   - A request the document refuses must be refused by the server (a 4xx the operation
//     declares): a server that takes what the contract forbids has drifted from it.
//
// Pages for people (Config.Pages) are HTML for browsers, not the API, and are outside it.

// contract is the served document, parsed once per served text, with its router.
type contract struct {
	doc    *openapi3.T
	router routers.Router
}

var (
	contractsMu sync.Mutex
	contracts   = map[string]*contract{}
)

// contractOf parses text (an openapi.yaml as served) into a checker, cached by text.
func contractOf(text []byte) (*contract, error) {
	contractsMu.Lock()
	defer contractsMu.Unlock()
	if c, ok := contracts[string(text)]; ok {
		return c, nil
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(text)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml does not load: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("openapi.yaml is not valid OpenAPI: %w", err)
	}
	closeObjects(doc)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml routes: %w", err)
	}
	c := &contract{doc: doc, router: router}
	contracts[string(text)] = c
	return c, nil
}

// closeObjects makes every object schema of the responses that lists its properties, and
// says nothing of others, refuse properties it does not list: a client reading the
// document learns of no other field, so a field the server sends beyond them is one the
// contract lacks. Schemas combined with allOf, anyOf or oneOf are left as written (closing
// one branch of a combination would refuse the other's fields).
func closeObjects(doc *openapi3.T) {
	seen := map[*openapi3.Schema]bool{}
	var walk func(ref *openapi3.SchemaRef, combined bool)
	walk = func(ref *openapi3.SchemaRef, combined bool) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		if len(s.Properties) > 0 && !combined && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil {
			no := false
			s.AdditionalProperties.Has = &no
		}
		for _, p := range s.Properties {
			walk(p, false)
		}
		walk(s.Items, false)
		walk(s.AdditionalProperties.Schema, false)
		for _, list := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
			for _, sub := range list {
				walk(sub, true)
			}
		}
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, resp := range op.Responses.Map() {
				if resp.Value == nil {
					continue
				}
				for _, mt := range resp.Value.Content {
					walk(mt.Schema, false)
				}
			}
		}
	}
}

// exchange is one request and the answer the server gave.
type exchange struct {
	req  *http.Request
	body []byte // the request body as the server read it
	// bodyUnread: the server did not read the body to its end; it is not validated
	bodyUnread bool
	status     int
	header     http.Header
	resp       []byte
}

// check returns what in ex the contract does not allow, or nil.
func (c *contract) check(ex exchange) error {
	route, params, err := c.router.FindRoute(ex.req)
	switch {
	case errors.Is(err, routers.ErrPathNotFound):
		if ex.status == http.StatusNotFound {
			return nil
		}
		return fmt.Errorf("%s %s: the contract has no such path, yet the server answered %d", ex.req.Method, ex.req.URL.Path, ex.status)
	case errors.Is(err, routers.ErrMethodNotAllowed):
		if ex.status == http.StatusMethodNotAllowed || ex.status == http.StatusNotFound {
			return nil
		}
		return fmt.Errorf("%s %s: the contract has no such method on this path, yet the server answered %d", ex.req.Method, ex.req.URL.Path, ex.status)
	case err != nil:
		return fmt.Errorf("%s %s: %w", ex.req.Method, ex.req.URL.Path, err)
	}
	ctx := context.Background()
	req := ex.req.Clone(ctx)
	req.Body = io.NopCloser(bytes.NewReader(ex.body))
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{
			MultiError: true, SkipSettingDefaults: true,
			AuthenticationFunc: bearerPresent,
		},
	}
	if _, ok := route.Operation.Extensions["x-mall-format"]; ok {
		// A mall's notification is the mall's format, verified by its driver: whether it
		// reads is the driver's to say, not this document's.
		in.Options.ExcludeRequestBody = true
	}
	if ex.bodyUnread {
		// The server answered without reading the body to its end (an oversize body, or a
		// refusal before the body): only what it answered can be judged.
		in.Options.ExcludeRequestBody = true
	}
	if len(ex.body) > 0 && req.Header.Get("Content-Type") == "" {
		// The server reads a body without Content-Type as JSON (UnsupportedMediaType).
		req.Header.Set("Content-Type", "application/json")
	}
	reqErr := openapi3filter.ValidateRequest(ctx, in)
	where := fmt.Sprintf("%s %s → %d", ex.req.Method, ex.req.URL.RequestURI(), ex.status)
	if reqErr != nil && (ex.status < 400 || ex.status >= 500) {
		return fmt.Errorf("%s: the server took a request the contract refuses: %v", where, reqErr)
	}
	if route.Operation.Responses.Status(ex.status) == nil && route.Operation.Responses.Default() == nil {
		if ex.status/100 != 4 && ex.status/100 != 5 || route.Operation.Responses.Value(fmt.Sprintf("%dXX", ex.status/100)) == nil {
			return fmt.Errorf("%s: the contract declares no %d for %s %s (it declares %s)", where, ex.status,
				route.Method, route.Path, strings.Join(declared(route.Operation), ", "))
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: ex.status, Header: ex.header,
		Options: &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true},
	}
	out.SetBodyBytes(ex.resp)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("%s: the answer is not the contract's: %v\nbody: %.600s", where, err, ex.resp)
	}
	return nil
}

// declared lists the statuses an operation declares.
func declared(op *openapi3.Operation) []string {
	var s []string
	for code := range op.Responses.Map() {
		s = append(s, code)
	}
	return s
}

// bearerPresent is the contract's view of the apiKey scheme: a request without an
// Authorization: Bearer header does not meet it (whether the key is good is the server's
// to say).
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	h := in.RequestValidationInput.Request.Header.Get("Authorization")
	if scheme, _, ok := strings.Cut(h, " "); !ok || !strings.EqualFold(scheme, "bearer") {
		return errors.New("no bearer token")
	}
	return nil
}

// contractChecked wraps handler so that every exchange through it is checked against the
// document handler serves at /openapi.yaml; what does not match fails t.
func contractChecked(t testing.TB, handler http.Handler) http.Handler {
	t.Helper()
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.yaml", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /openapi.yaml: %d", rec.Code)
	}
	c, err := contractOf(rec.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return &checkedHandler{t: t, next: handler, contract: c}
}

// recordingBody keeps what the server reads of a request body (up to checkedBodyMax) and
// whether it read to the end.
type recordingBody struct {
	r   io.ReadCloser
	buf []byte
	eof bool
}

func (b *recordingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if len(b.buf) <= checkedBodyMax {
		b.buf = append(b.buf, p[:n]...)
	}
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *recordingBody) Close() error { return b.r.Close() }

// checkedBodyMax is the largest request body the contract check validates.
const checkedBodyMax = 8 << 20

type checkedHandler struct {
	t        testing.TB
	next     http.Handler
	contract *contract
}

func (h *checkedHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The body is recorded as the server reads it, never read ahead: a test may send an
	// endless body and count what the server reads (the webhook's bounded read). A body
	// the server did not read to its end is not validated; its answer still is.
	var rec0 *recordingBody
	if r.Body != nil {
		rec0 = &recordingBody{r: r.Body}
		r.Body = rec0
	}
	sent := r.Clone(r.Context())
	rec := httptest.NewRecorder()
	h.next.ServeHTTP(rec, r)
	ex := exchange{req: sent, status: rec.Code, header: rec.Header(), resp: rec.Body.Bytes()}
	if rec0 != nil {
		ex.body = rec0.buf
		ex.bodyUnread = !rec0.eof || len(rec0.buf) > checkedBodyMax
	}
	if err := h.contract.check(ex); err != nil {
		h.t.Errorf("contract: %v", err)
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// TestContractCheckCanFail shows that the checker refuses an answer with a field, a status
// or a route the contract lacks, and a request the contract refuses that the server took;
// and that it passes the server's own answers.
func TestContractCheckCanFail(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rec := h.do(request{method: http.MethodGet, path: "/openapi.yaml"})
	c, err := contractOf(rec.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	placed := h.place("key-hq", "k1", orderBody(nil))
	if placed.Code != http.StatusCreated {
		t.Fatalf("place: %d %s", placed.Code, placed.Body)
	}
	get := func(path, key string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		if key != "" {
			r.Header.Set("Authorization", "Bearer "+key)
		}
		return r
	}
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	problemHeader := http.Header{"Content-Type": {ContentTypeProblem}}
	order := placed.Body.String()
	withField := strings.Replace(order, `"order_ref"`, `"household_id_number":"610630199001011234","order_ref"`, 1)
	lineField := strings.Replace(order, `"sku"`, `"supplier_phone":"13800001234","sku"`, 1)
	cases := []struct {
		name string
		ex   exchange
		ok   bool
	}{
		{"the_server's_own_answer_passes", exchange{req: get(placed.Header().Get("Location"), "k"), status: 200, header: jsonHeader, resp: []byte(order)}, true},
		{"an_undeclared_field_is_caught", exchange{req: get("/v1/orders/1", "k"), status: 200, header: jsonHeader, resp: []byte(withField)}, false},
		{"an_undeclared_field_deep_in_a_line_is_caught", exchange{req: get("/v1/orders/1", "k"), status: 200, header: jsonHeader, resp: []byte(lineField)}, false},
		{"a_missing_required_field_is_caught", exchange{req: get("/v1/orders/1", "k"), status: 200, header: jsonHeader, resp: []byte(`{"id":1}`)}, false},
		{"an_undeclared_status_is_caught", exchange{req: get("/v1/orders/1", "k"), status: http.StatusTeapot, header: problemHeader,
			resp: []byte(`{"type":"https://aidmall.dev/problems/x","title":"x","status":418}`)}, false},
		{"a_problem_that_is_not_one_is_caught", exchange{req: get("/v1/orders/1", "k"), status: 404, header: problemHeader, resp: []byte(`{"error":"no such order"}`)}, false},
		{"an_undeclared_content_type_is_caught", exchange{req: get("/v1/orders/1", "k"), status: 200, header: http.Header{"Content-Type": {"text/html"}}, resp: []byte(`<p>order</p>`)}, false},
		{"an_undeclared_route_answered_is_caught", exchange{req: get("/v1/secret-export", "k"), status: 200, header: jsonHeader, resp: []byte(`{}`)}, false},
		{"an_undeclared_route_refused_passes", exchange{req: get("/v1/secret-export", "k"), status: 404, header: problemHeader,
			resp: []byte(`{"type":"https://aidmall.dev/problems/not-found","title":"Not Found","status":404}`)}, true},
		{"a_request_without_a_key_answered_200_is_caught", exchange{req: get("/v1/orders/1", ""), status: 200, header: jsonHeader, resp: []byte(order)}, false},
		{"a_request_the_contract_refuses_taken_is_caught", exchange{req: get("/v1/orders?status=lost", "k"), status: 200, header: jsonHeader, resp: []byte(`{"items":[],"next_cursor":""}`)}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := c.check(tc.ex)
			if tc.ok && err != nil {
				t.Errorf("refused: %v", err)
			}
			if !tc.ok && err == nil {
				t.Error("passed")
			}
		})
	}
	t.Run("a_money_field_looser_than_the_contract_is_caught", func(t *testing.T) {
		body := []byte(orderBody(map[string]any{"lines": []any{map[string]any{"sku": "YC-APL-5KG-DZ", "quantity": 20, "unit_price": "68.000"}}}))
		r := httptest.NewRequest(http.MethodPost, "/v1/orders", bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer k")
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Idempotency-Key", "k2")
		if err := c.check(exchange{req: r, body: body, status: 201, header: jsonHeader, resp: []byte(order)}); err == nil {
			t.Error("a 201 for unit_price 68.000 passed")
		}
	})
}

// TestContractIsWellFormed checks what kin-openapi's validation leaves out: every
// operation has an operationId, its tags are declared, and every declared tag is used.
func TestContractIsWellFormed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c, err := contractOf(h.do(request{method: http.MethodGet, path: "/openapi.yaml"}).Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	declaredTags, used := map[string]bool{}, map[string]bool{}
	for _, tag := range c.doc.Tags {
		declaredTags[tag.Name] = true
	}
	ids := map[string]string{}
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			if op.OperationID == "" {
				t.Errorf("%s has no operationId", where)
			} else if other, dup := ids[op.OperationID]; dup {
				t.Errorf("%s and %s share operationId %s", where, other, op.OperationID)
			}
			ids[op.OperationID] = where
			if len(op.Tags) == 0 {
				t.Errorf("%s has no tag", where)
			}
			for _, tag := range op.Tags {
				used[tag] = true
				if !declaredTags[tag] {
					t.Errorf("%s has the undeclared tag %q", where, tag)
				}
			}
		}
	}
	for tag := range declaredTags {
		if !used[tag] {
			t.Errorf("tag %q is declared but no operation has it", tag)
		}
	}
	if len(c.doc.Servers) != 1 || c.doc.Servers[0].URL != "/" {
		t.Errorf("servers %v: the document is served by the service itself, on whatever address it listens; want one server /", c.doc.Servers)
	}
}
