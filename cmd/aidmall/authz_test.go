package main

// The authorization matrix (issue 9, item 4; OWASP API1 first): every route the real
// service registers — the /v1 API with its CSV and XLSX exports, the webhooks, the
// operations endpoints and the pages for people — is called as each kind of caller, and
// the status is asserted, and no answer may carry another branch's data or a household's
// personal data in clear. The service is the one `aidmall serve` runs (openApp and
// startRuntime, the malls simulated), over the 2019 bundle with its households, order
// history and statements, plus one order of each of two branches placed by their own keys.
// The routes come from the Echo router itself: a route added without a row here fails.

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/text/encoding/simplifiedchinese"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/adapters/mallsim"
	"aidmall/audit"
	"aidmall/config"
	"aidmall/examples"
	"aidmall/orders"
	"aidmall/people"
)

// who is a kind of caller.
type who int

const (
	anonymous who = iota // no credentials
	malformed            // Authorization: Bearer with something that is no key
	revoked              // a key that was good and is revoked
	staffA               // branch_staff of branch A (HQ)
	staffB               // branch_staff of branch B (S01)
	office               // aid_office
	auditor              // auditor
)

var everyone = []who{anonymous, malformed, revoked, staffA, staffB, office, auditor}

func (w who) String() string {
	return [...]string{"anonymous", "malformed_key", "revoked_key", "staff_of_A", "staff_of_B", "aid_office", "auditor"}[w]
}

// The two branches of the matrix and what only each of them may see.
const (
	branchA, branchB = "HQ", "S01"
	refA, refB       = "AUTHZ-HQ-0001", "AUTHZ-S01-0001"
	addrA, addrB     = "甲支部专用收货地址一号", "乙支部专用收货地址二号"
	phoneA, phoneB   = "13912340001", "13912340002"
	matrixPassword   = "matrix horse battery staple"
)

// matrixEnv is the running service and what the matrix needs of it.
type matrixEnv struct {
	t        *testing.T
	base     string
	routes   []*echo.Route
	tokens   map[who]string       // bearer tokens (malformed: not a key)
	pages    map[who]*http.Client // browsers: signed in through /signin, or not
	orderA   orderJSONView        // placed by staff of A
	orderB   orderJSONView        // placed by staff of B
	review   string               // a review item's id (a held refund on A's order)
	keyID    int64                // an API key the office may revoke on its page
	rotateID int64                // one it may rotate
	house    string               // a household number with ledger entries
	persons  []householdPII       // every household of the bundle, in clear
}

type orderJSONView struct {
	ID         int64  `json:"id"`
	OrderRef   string `json:"order_ref"`
	OutOrderNo string `json:"out_order_no"`
	Mall       string `json:"mall"`
}

type householdPII struct{ no, name, id, phone string }

func TestAuthorizationMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the whole service over the 2019 year: skipped with -short")
	}
	t.Run("sqlite", func(t *testing.T) { runMatrix(t, filepath.Join(t.TempDir(), "aidmall.db")) })
	t.Run("postgres", func(t *testing.T) {
		base := os.Getenv("AIDMALL_TEST_POSTGRES")
		if base == "" {
			t.Skip("AIDMALL_TEST_POSTGRES not set: the PostgreSQL run of the authorization matrix is skipped")
		}
		runMatrix(t, scratchPostgres(t, base))
	})
}

func runMatrix(t *testing.T, dbURL string) {
	e := bootMatrix(t, dbURL)
	rows := matrixRows(e)
	// Every route of the router has a row, and every row a route.
	seen := map[string]bool{}
	for _, r := range e.routes {
		k := r.Method + " " + r.Path
		if seen[k] {
			continue
		}
		seen[k] = true
		if _, ok := rows[k]; !ok {
			t.Errorf("route %s has no row in the authorization matrix: add one saying who may call it", k)
		}
	}
	for k := range rows {
		if !seen[k] {
			t.Errorf("the matrix has a row for %s, which the service does not route", k)
		}
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range rows {
			if !yield(k) {
				return
			}
		}
	})
	// Sign-out ends the browsers' sessions: it goes last.
	keys = slices.DeleteFunc(keys, func(k string) bool { return k == "POST /signout" })
	keys = append(keys, "POST /signout")
	for _, k := range keys {
		for _, p := range rows[k] {
			for _, w := range everyone {
				e.try(k, p, w)
			}
		}
	}
	// The matrix sees what it looks for: the aid office is shown B's order with its phone
	// in clear, and the households report names households with their ID numbers masked.
	for _, c := range []struct{ path, needle string }{
		{"/v1/orders/" + fmt.Sprint(e.orderB.ID), refB}, {"/v1/orders/" + fmt.Sprint(e.orderB.ID), addrB},
		{"/v1/orders/" + fmt.Sprint(e.orderB.ID), phoneB},
		{"/v1/households/" + e.house, e.house}, {"/v1/households/" + e.house, e.persons[0].id[:6] + "*"},
	} {
		req, _ := http.NewRequest(http.MethodGet, e.base+c.path, nil)
		req.Header.Set("Authorization", "Bearer "+e.tokens[office])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), c.needle) {
			t.Errorf("control: GET %s as the aid office does not show %q, so the matrix could not see it leak: %.300s", c.path, c.needle, b)
		}
	}
}

// probe is one request of a row, the same for every caller but its credentials.
type probe struct {
	name   string // what it tries, when a row has more than one
	method string
	path   string
	json   string     // a JSON body
	form   url.Values // a form body (pages)
	header map[string]string
	page   bool // sent by a browser (cookies), else by an API client (bearer)
	stream bool // a long-lived answer: only its status is read
	want   func(w who) []int
}

func (e *matrixEnv) try(route string, p probe, w who) {
	t := e.t
	t.Helper()
	name := route
	if p.name != "" {
		name += " (" + p.name + ")"
	}
	var body io.Reader
	switch {
	case p.json != "":
		body = strings.NewReader(strings.ReplaceAll(p.json, "{who}", w.String()))
	case p.form != nil:
		body = strings.NewReader(strings.ReplaceAll(p.form.Encode(), url.QueryEscape("{who}"), w.String()))
	}
	req, err := http.NewRequest(p.method, e.base+p.path, body)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case p.json != "":
		req.Header.Set("Content-Type", "application/json")
	case p.form != nil:
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if p.page {
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for k, v := range p.header {
		req.Header.Set(k, strings.ReplaceAll(v, "{who}", w.String()))
	}
	client := &http.Client{Timeout: 30 * time.Second}
	if p.page {
		client = e.pages[w]
	}
	// A browser sends no key, but a key sent to a page must grant nothing: the malformed
	// and revoked callers send theirs everywhere, and the others theirs to the API.
	if tok := e.tokens[w]; tok != "" && (!p.page || w == malformed || w == revoked) {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := client.Do(req.WithContext(ctx))
	if err != nil {
		t.Errorf("%s as %s: %v", name, w, err)
		return
	}
	defer resp.Body.Close()
	var got []byte
	if !p.stream {
		got, _ = io.ReadAll(resp.Body)
	}
	if want := p.want(w); !slices.Contains(want, resp.StatusCode) {
		t.Errorf("%s as %s: %d, want %v; %.300s", name, w, resp.StatusCode, want, got)
	}
	text := readable(resp.Header.Get("Content-Type"), got)
	for needle, what := range e.forbidden(w) {
		if needle != "" && strings.Contains(text, needle) {
			t.Errorf("%s as %s: the answer (%d) shows %s", name, w, resp.StatusCode, what)
		}
	}
}

// readable is an answer's text: XLSX unzipped (every part), GB18030 CSV decoded.
func readable(contentType string, body []byte) string {
	if strings.Contains(contentType, "spreadsheetml") {
		zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
		if err != nil {
			return string(body)
		}
		var all strings.Builder
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			all.Write(b)
		}
		return all.String()
	}
	if strings.Contains(strings.ToLower(contentType), "gb18030") {
		if b, err := simplifiedchinese.GB18030.NewDecoder().Bytes(body); err == nil {
			return string(b)
		}
	}
	return string(body)
}

// forbidden is what w must never be shown, with what it is: every household's ID
// number, name and phone in clear to everyone; the ship-to phones in clear to all but
// the aid office; another branch's orders to branch staff; any branch's orders to those
// without a good key or session.
func (e *matrixEnv) forbidden(w who) map[string]string {
	m := map[string]string{}
	for _, h := range e.persons {
		m[h.id] = "household " + h.no + "'s ID number in clear"
		m[h.phone] = "household " + h.no + "'s phone in clear"
		if len([]rune(h.name)) >= 3 { // two-character names are too common to be told apart from other text
			m[h.name] = "household " + h.no + "'s head's name in clear"
		}
	}
	if w != office {
		m[phoneA] = "branch A's ship-to phone in clear"
		m[phoneB] = "branch B's ship-to phone in clear"
	}
	other := func(ref, out, addr, whose string) {
		m[ref] = whose + "'s order_ref"
		m[out] = whose + "'s out_order_no"
		m[addr] = whose + "'s ship-to address"
	}
	switch w {
	case staffA:
		other(refB, e.orderB.OutOrderNo, addrB, "branch B")
	case staffB:
		other(refA, e.orderA.OutOrderNo, addrA, "branch A")
	case anonymous, malformed, revoked:
		other(refA, e.orderA.OutOrderNo, addrA, "branch A")
		other(refB, e.orderB.OutOrderNo, addrB, "branch B")
	}
	return m
}

// Expectations.

func codes(c ...int) []int { return c }

// apiFor: no good key → 401; allowed → ok; any other key → 403.
func apiFor(ok int, allowed ...who) func(who) []int {
	return func(w who) []int {
		switch {
		case w == anonymous || w == malformed || w == revoked:
			return codes(http.StatusUnauthorized)
		case slices.Contains(allowed, w):
			return codes(ok)
		}
		return codes(http.StatusForbidden)
	}
}

// byWho is an explicit answer per caller (callers not named: 401 if they have no good key).
func byWho(m map[who]int) func(who) []int {
	return func(w who) []int {
		if c, ok := m[w]; ok {
			return codes(c)
		}
		return codes(http.StatusUnauthorized)
	}
}

func all(c ...int) func(who) []int { return func(who) []int { return c } }

// pageFor: not signed in → 303 to /signin; allowed → ok; another role → the 404 page.
func pageFor(ok []int, allowed ...who) func(who) []int {
	return func(w who) []int {
		switch {
		case w == anonymous || w == malformed || w == revoked:
			return codes(http.StatusSeeOther)
		case slices.Contains(allowed, w):
			return ok
		}
		return codes(http.StatusNotFound)
	}
}

var (
	reportReaders = []who{office, auditor}
	orderPlacers  = []who{staffA, staffB, office}
	signedIn      = []who{staffA, staffB, office, auditor}
	// formDone is a form action's answer to whom it is for: done and redirected (303), or
	// the page again with what is wrong (200, 400, 409 or 422) — never a refusal.
	formDone = codes(http.StatusSeeOther, http.StatusOK, http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity)
)

// matrixRows are the rows, by "METHOD /echo/path".
func matrixRows(e *matrixEnv) map[string][]probe {
	get := func(path string, want func(who) []int) probe {
		return probe{method: http.MethodGet, path: path, want: want}
	}
	A, B := fmt.Sprint(e.orderA.ID), fmt.Sprint(e.orderB.ID)
	exports := func(path string) []probe {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		return []probe{
			{name: "json", method: http.MethodGet, path: path, want: apiFor(200, reportReaders...)},
			{name: "csv", method: http.MethodGet, path: path + sep + "format=csv", want: apiFor(200, reportReaders...)},
			{name: "csv gb18030", method: http.MethodGet, path: path + sep + "format=csv&charset=gb18030", want: apiFor(200, reportReaders...)},
			{name: "xlsx", method: http.MethodGet, path: path + sep + "format=xlsx", want: apiFor(200, reportReaders...)},
		}
	}
	placeBody := func(ref string) string {
		return fmt.Sprintf(`{"order_ref":%q,"branch_code":"HQ","mall":"ccb","funding":"employee_self_pay","delivery_mode":"bulk",
			"ship_to":{"name":"甲支部收货人","phone":%q,"address":%q},"lines":[{"sku":"YC-APL-5KG-DZ","quantity":1}]}`, ref, phoneA, addrA)
	}
	page := func(path string, want func(who) []int) probe {
		return probe{method: http.MethodGet, path: path, page: true, want: want}
	}
	form := func(path string, f url.Values, want func(who) []int) probe {
		return probe{method: http.MethodPost, path: path, page: true, form: f, want: want}
	}
	officeOnly := []who{office}
	ccbNotify := url.Values{"notify_id": {"AUTHZ-N1"}, "out_order_no": {e.orderA.OutOrderNo}, "event_type": {"DELIVERED"},
		"line_no": {"1"}, "quantity": {"1"}, "sign": {"Zm9yZ2Vk"}}.Encode()
	abcNotify := fmt.Sprintf(`{"eventId":"AUTHZ-E1","partnerOrderNo":%q,"eventType":"DELIVERED","lineNo":1,"quantity":1}`, e.orderA.OutOrderNo)

	return map[string][]probe{
		// The API: orders. Another branch's order is a 404, never a 403 that confirms it.
		"POST /v1/orders": {
			{name: "an order of branch A", method: http.MethodPost, path: "/v1/orders", json: placeBody("AUTHZ-NEW-{who}"),
				header: map[string]string{"Idempotency-Key": "authz-{who}"},
				want:   byWho(map[who]int{staffA: 201, staffB: 403, office: 201, auditor: 403})},
		},
		"GET /v1/orders": {
			get("/v1/orders", apiFor(200, orderPlacers...)),
			{name: "filtered to the other branch", method: http.MethodGet, path: "/v1/orders?branch=" + branchB, want: apiFor(200, orderPlacers...)},
			{name: "a session cookie is no API key", method: http.MethodGet, path: "/v1/orders", page: true, want: all(http.StatusUnauthorized)},
		},
		"GET /v1/orders/:id": {
			{name: "A's order", method: http.MethodGet, path: "/v1/orders/" + A, want: byWho(map[who]int{staffA: 200, staffB: 404, office: 200, auditor: 403})},
			{name: "B's order", method: http.MethodGet, path: "/v1/orders/" + B, want: byWho(map[who]int{staffA: 404, staffB: 200, office: 200, auditor: 403})},
			{name: "no such order", method: http.MethodGet, path: "/v1/orders/999999", want: byWho(map[who]int{staffA: 404, staffB: 404, office: 404, auditor: 403})},
		},
		"POST /v1/orders/:id/cancel": {
			{name: "B's order", method: http.MethodPost, path: "/v1/orders/" + B + "/cancel", json: `{"reason":"matrix"}`,
				want: byWho(map[who]int{staffA: 404, staffB: 200, office: 200, auditor: 403})},
		},
		// Only the aid office retries a dispatch, and only of an order that gave up (409 else).
		"POST /v1/orders/:id/retry-dispatch": {
			{name: "B's order", method: http.MethodPost, path: "/v1/orders/" + B + "/retry-dispatch",
				want: byWho(map[who]int{staffA: 403, staffB: 403, office: 409, auditor: 403})},
		},
		// Reports and their exports.
		"GET /v1/reports/benefit":      exports("/v1/reports/benefit?year=2019&by=county"),
		"GET /v1/reports/indicators":   exports("/v1/reports/indicators?year=2019"),
		"GET /v1/reports/breakdown":    exports("/v1/reports/breakdown?year=2019&by=branch"),
		"GET /v1/reports/suppliers":    exports("/v1/reports/suppliers?year=2019"),
		"GET /v1/reports/unattributed": exports("/v1/reports/unattributed?year=2019"),
		"GET /v1/reports/spending":     exports("/v1/reports/spending?year=2019"),
		"GET /v1/reports/households": {
			get("/v1/reports/households?from=2019-01-01&to=2019-12-31", apiFor(200, officeOnly...)),
		},
		"GET /v1/targets/:year": {get("/v1/targets/2019", apiFor(200, reportReaders...))},
		"PUT /v1/targets/:year": {
			{method: http.MethodPut, path: "/v1/targets/2019", json: `{"purchased_amount":"1200000.00","helped_sell_amount":"800000.00"}`, want: apiFor(200, officeOnly...)},
		},
		"GET /v1/budgets": {get("/v1/budgets?year=2019", apiFor(200, reportReaders...))},
		"PUT /v1/budgets/:branch/:year": {
			{method: http.MethodPut, path: "/v1/budgets/HQ/2019", json: `{"amount":"5000000.00"}`, want: apiFor(200, officeOnly...)},
		},
		// The registry, the audit log, the review queue and closed periods.
		"GET /v1/households/:no": {get("/v1/households/"+e.house, apiFor(200, officeOnly...))},
		"GET /v1/households/:no/provenance": {
			get("/v1/households/"+e.house+"/provenance?from=2019-01-01&to=2019-12-31", apiFor(200, officeOnly...)),
		},
		"GET /v1/audit":      {get("/v1/audit?limit=500", apiFor(200, reportReaders...))},
		"GET /v1/review":     {get("/v1/review", apiFor(200, officeOnly...))},
		"GET /v1/review/:id": {get("/v1/review/"+e.review, apiFor(200, officeOnly...))},
		"POST /v1/review/:id/resolve": {
			{method: http.MethodPost, path: "/v1/review/" + e.review + "/resolve", json: `{"outcome":"dismissed","note":"matrix"}`, want: apiFor(200, officeOnly...)},
		},
		"GET /v1/periods": {get("/v1/periods", apiFor(200, reportReaders...))},
		"POST /v1/periods/close": {
			{method: http.MethodPost, path: "/v1/periods/close", json: `{"period":"2018-01","reason":"matrix"}`, want: apiFor(200, officeOnly...)},
		},
		"POST /v1/periods/reopen": {
			{method: http.MethodPost, path: "/v1/periods/reopen", json: `{"period":"2018-01","reason":"matrix"}`, want: apiFor(200, officeOnly...)},
		},
		// Webhooks: the mall's signature is the only credential; an API key or a session
		// grants nothing, and an unsigned notification is refused the same for all.
		"POST /webhooks/:mall": {
			{name: "ccb, forged", method: http.MethodPost, path: "/webhooks/ccb", form: mustForm(ccbNotify), want: all(http.StatusUnauthorized, http.StatusBadRequest)},
			{name: "abc, unsigned", method: http.MethodPost, path: "/webhooks/abc", json: abcNotify, want: all(http.StatusUnauthorized, http.StatusBadRequest)},
			{name: "no such mall", method: http.MethodPost, path: "/webhooks/icbc", json: `{}`, want: all(http.StatusNotFound)},
		},
		// Operations: open to all, and must show nothing of anyone.
		"GET /healthz":      {get("/healthz", all(200))},
		"GET /readyz":       {get("/readyz", all(200))},
		"GET /metrics":      {get("/metrics", all(200))},
		"GET /openapi.yaml": {get("/openapi.yaml", all(200))},

		// The pages, signed in through /signin.
		"GET /static/*":    {page("/static/app.css", all(200))},
		"GET /signin":      {page("/signin", all(200))},
		"POST /signin":     {form("/signin", url.Values{"login": {"nobody-{who}"}, "password": {"wrong password"}}, all(http.StatusUnauthorized, http.StatusOK))},
		"POST /signout":    {form("/signout", url.Values{}, all(http.StatusSeeOther))},
		"GET /":            {page("/", pageFor(codes(200, http.StatusSeeOther), signedIn...))},
		"GET /catalogue":   {page("/catalogue", pageFor(codes(200), orderPlacers...))},
		"GET /orders/new":  {page("/orders/new", pageFor(codes(200), orderPlacers...))},
		"POST /orders/new": {form("/orders/new", url.Values{"order_ref": {"AUTHZ-PAGE-EMPTY"}}, pageFor(formDone, orderPlacers...))},
		"GET /orders":      {page("/orders", pageFor(codes(200), orderPlacers...))},
		"GET /orders/:id": {
			{name: "A's order", method: http.MethodGet, path: "/orders/" + A, page: true, want: pageByWho(map[who]int{staffA: 200, staffB: 404, office: 200, auditor: 404})},
			{name: "B's order", method: http.MethodGet, path: "/orders/" + B, page: true, want: pageByWho(map[who]int{staffA: 404, staffB: 200, office: 200, auditor: 404})},
		},
		"POST /orders/:id/cancel": {
			{name: "B's order", method: http.MethodPost, path: "/orders/" + B + "/cancel", page: true, form: url.Values{"reason": {"matrix"}},
				want: func(w who) []int {
					switch w {
					case staffB, office:
						return formDone
					}
					return pageByWho(map[who]int{staffA: 404, auditor: 404})(w)
				}},
		},
		"POST /orders/:id/retry-dispatch": {
			{name: "B's order", method: http.MethodPost, path: "/orders/" + B + "/retry-dispatch", page: true, form: url.Values{},
				want: pageFor(codes(http.StatusConflict), office)},
		},
		"GET /dashboard":        {page("/dashboard?year=2019", pageFor(codes(200), signedIn...))},
		"GET /dashboard/events": {{method: http.MethodGet, path: "/dashboard/events", page: true, stream: true, want: pageFor(codes(200), signedIn...)}},
		"GET /office/review":    {page("/office/review", pageFor(codes(200), officeOnly...))},
		"POST /office/review/resolve": {form("/office/review/resolve", url.Values{"id": {"event:999999"}, "outcome": {"dismissed"}, "note": {"matrix"}},
			pageFor(formDone, officeOnly...))},
		"GET /office/imports":                   {page("/office/imports", pageFor(codes(200), officeOnly...))},
		"POST /office/imports/registry":         {form("/office/imports/registry", url.Values{}, pageFor(formDone, officeOnly...))},
		"POST /office/imports/linkages":         {form("/office/imports/linkages", url.Values{}, pageFor(formDone, officeOnly...))},
		"POST /office/imports/linkages/confirm": {form("/office/imports/linkages/confirm", url.Values{}, pageFor(formDone, officeOnly...))},
		"POST /office/imports/orders":           {form("/office/imports/orders", url.Values{}, pageFor(formDone, officeOnly...))},
		"POST /office/imports/statement":        {form("/office/imports/statement", url.Values{}, pageFor(formDone, officeOnly...))},
		"GET /office/budgets":                   {page("/office/budgets?year=2019", pageFor(codes(200), officeOnly...))},
		"POST /office/budgets":                  {form("/office/budgets", url.Values{"branch": {branchA}, "year": {"2019"}, "amount": {"5000000.00"}}, pageFor(formDone, officeOnly...))},
		"POST /office/targets":                  {form("/office/targets", url.Values{"year": {"2019"}, "purchased_amount": {"1200000.00"}, "helped_sell_amount": {"800000.00"}}, pageFor(formDone, officeOnly...))},
		"GET /office/periods":                   {page("/office/periods", pageFor(codes(200), officeOnly...))},
		"POST /office/periods/close":            {form("/office/periods/close", url.Values{"period": {"2018-02"}, "reason": {"matrix"}}, pageFor(formDone, officeOnly...))},
		"POST /office/periods/reopen":           {form("/office/periods/reopen", url.Values{"period": {"2018-02"}, "reason": {"matrix"}}, pageFor(formDone, officeOnly...))},
		"GET /office/audit":                     {page("/office/audit", pageFor(codes(200), reportReaders...))},
		"GET /office/households":                {page("/office/households?no="+e.house, pageFor(codes(200), officeOnly...))},
		"GET /office/people":                    {page("/office/people", pageFor(codes(200), officeOnly...))},
		"POST /office/people":                   {form("/office/people", url.Values{"login": {"matrix-{who}"}}, pageFor(formDone, officeOnly...))},
		"POST /office/people/:login/reset":      {form("/office/people/matrix-spare/reset", url.Values{}, pageFor(formDone, officeOnly...))},
		"POST /office/people/:login/disable":    {form("/office/people/matrix-spare/disable", url.Values{}, pageFor(formDone, officeOnly...))},
		"POST /office/people/:login/enable":     {form("/office/people/matrix-spare/enable", url.Values{}, pageFor(formDone, officeOnly...))},
		"POST /office/keys":                     {form("/office/keys", url.Values{}, pageFor(formDone, officeOnly...))},
		"POST /office/keys/:id/rotate":          {form(fmt.Sprintf("/office/keys/%d/rotate", e.rotateID), url.Values{}, pageFor(formDone, officeOnly...))},
		"POST /office/keys/:id/revoke":          {form(fmt.Sprintf("/office/keys/%d/revoke", e.keyID), url.Values{}, pageFor(formDone, officeOnly...))},
	}
}

// pageByWho is an explicit page answer per signed-in caller; the others are sent to sign in.
func pageByWho(m map[who]int) func(who) []int {
	return func(w who) []int {
		if c, ok := m[w]; ok {
			return codes(c)
		}
		return codes(http.StatusSeeOther)
	}
}

func mustForm(s string) url.Values {
	v, err := url.ParseQuery(s)
	if err != nil {
		panic(err)
	}
	return v
}

// bootMatrix starts the service over dbURL with the 2019 year loaded, and makes the
// callers: keys for each role (one revoked), people signed in through /signin, and an
// order of each branch placed by its own key.
func bootMatrix(t *testing.T, dbURL string) *matrixEnv {
	t.Helper()
	ctx := context.Background()
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = dbURL
	cfg.Jobs.Workers = 2
	cfg.Jobs.PollInterval = 100 * time.Millisecond
	cfg.RateLimit.Requests = 1 << 20
	cfg.ReconcileInterval = 0
	log := slog.New(slog.DiscardHandler)
	a, err := openApp(ctx, cfg, log, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	bundle := examples.YichuanDingbian2019()
	reg, err := a.registry(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.ImportBundle(ctx, bundle, false); err != nil {
		t.Fatal(err)
	}
	keys, err := mallsim.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	catalogue, err := a.store.Catalogue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The malls create the matrix's orders and never notify them, so that no answer
	// depends on when a notification lands.
	quiet := "order_ref,mall,out_order_no\n"
	for i, ref := range []string{refA, refB, "AUTHZ-NEW-" + staffA.String(), "AUTHZ-NEW-" + office.String()} {
		quiet += fmt.Sprintf("%s,ccb,QUIET%04d\n", ref, i)
	}
	script, err := mallsim.LoadScript(fstest.MapFS{mallsim.FileOrders: {Data: []byte(quiet)}})
	if err != nil {
		t.Fatal(err)
	}
	sim, err := mallsim.Start(ctx, mallsim.Options{Keys: keys, Catalogue: catalogue, Script: script, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := simMalls(sim, keys, nonceStore(a), log, a.store.KeepUnreadable)
	if err != nil {
		sim.Close()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		sim.Close()
		t.Fatal(err)
	}
	rt, err := startRuntime(ctx, a, ms, ln)
	if err != nil {
		sim.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = sim.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := rt.Stop(sctx); err != nil {
			t.Errorf("stop the service: %v", err)
		}
	})
	// The year's history and statements, so that reports, households and provenance
	// have figures to show.
	if rep, err := importHistory(ctx, rt.svc, bundle); err != nil || len(rep.Errors) > 0 {
		t.Fatalf("history: %v %v", err, rep.Errors)
	}
	b, _ := fs.ReadFile(bundle, "statement-ccb.csv")
	ce, _, err := ccb.ParseStatement(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = fs.ReadFile(bundle, "statement-abc.jsonl")
	ae, _, err := abc.ParseStatement(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range append(ce, ae...) {
		if _, err := rt.svc.Apply(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}

	e := &matrixEnv{t: t, base: rt.URL(), routes: rt.http.Handler.(*echo.Echo).Routes(),
		tokens: map[who]string{malformed: "am_not-a-key-at-all"}, pages: map[who]*http.Client{}}
	mk := func(w who, name string, role orders.Role, branch string) {
		tok, k, err := a.store.CreateAPIKey(ctx, name, role, branch)
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[w] = tok
		if w == revoked {
			if err := a.store.RevokeAPIKey(ctx, k.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	mk(staffA, "matrix A", orders.RoleBranchStaff, branchA)
	mk(staffB, "matrix B", orders.RoleBranchStaff, branchB)
	mk(office, "matrix office", orders.RoleAidOffice, "")
	mk(auditor, "matrix auditor", orders.RoleAuditor, "")
	mk(revoked, "matrix revoked", orders.RoleAidOffice, "")
	_, spare, err := a.store.CreateAPIKey(ctx, "matrix spare", orders.RoleAuditor, "")
	if err != nil {
		t.Fatal(err)
	}
	e.keyID = spare.ID
	_, spare, err = a.store.CreateAPIKey(ctx, "matrix spare to rotate", orders.RoleAuditor, "")
	if err != nil {
		t.Fatal(err)
	}
	e.rotateID = spare.ID

	// People, signed in through the real sign-in form.
	ppl, err := people.NewService(a.store, nil)
	if err != nil {
		t.Fatal(err)
	}
	actx := audit.WithActor(ctx, audit.Actor{Name: "cli:matrix", Role: "aid_office"})
	person := func(login string, role orders.Role, branch string) {
		if _, _, err := ppl.Add(actx, people.NewPerson{Login: login, Name: login, Role: role, BranchCode: branch, Password: matrixPassword}); err != nil {
			t.Fatalf("person %s: %v", login, err)
		}
	}
	person("matrix-spare", orders.RoleAuditor, "")
	for _, w := range everyone {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		e.pages[w] = c
		var role orders.Role
		branch := ""
		switch w {
		case staffA:
			role, branch = orders.RoleBranchStaff, branchA
		case staffB:
			role, branch = orders.RoleBranchStaff, branchB
		case office:
			role = orders.RoleAidOffice
		case auditor:
			role = orders.RoleAuditor
		default:
			continue
		}
		login := "matrix-" + w.String()
		login = strings.ReplaceAll(login, "_", "-")
		person(login, role, branch)
		form := url.Values{"login": {login}, "password": {matrixPassword}}
		req, _ := http.NewRequest(http.MethodPost, e.base+"/signin", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign in as %s: %d", login, resp.StatusCode)
		}
	}

	// One order of each branch, placed by its own key.
	place := func(w who, ref, branch, addr, phone string) orderJSONView {
		body := fmt.Sprintf(`{"order_ref":%q,"branch_code":%q,"mall":"ccb","funding":"employee_self_pay","delivery_mode":"bulk",
			"ship_to":{"name":"收货人","phone":%q,"address":%q},"lines":[{"sku":"YC-APL-5KG-DZ","quantity":2}]}`, ref, branch, phone, addr)
		req, _ := http.NewRequest(http.MethodPost, e.base+"/v1/orders", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.tokens[w])
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", ref)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		var o orderJSONView
		if resp.StatusCode != http.StatusCreated || json.Unmarshal(got, &o) != nil {
			t.Fatalf("place %s: %d %s", ref, resp.StatusCode, got)
		}
		return o
	}
	// The year's targets, so that reading them is a 200 whichever row runs first.
	treq, _ := http.NewRequest(http.MethodPut, e.base+"/v1/targets/2019", strings.NewReader(`{"purchased_amount":"1000000.00","helped_sell_amount":"500000.00"}`))
	treq.Header.Set("Authorization", "Bearer "+e.tokens[office])
	treq.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(treq); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("set the 2019 targets: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
	e.orderA = place(staffA, refA, branchA, addrA, phoneA)
	e.orderB = place(staffB, refB, branchB, addrB, phoneB)

	// A review item: a refund on A's order, which delivered nothing, is held.
	if _, err := rt.svc.Apply(ctx, orders.FulfilmentEvent{Mall: orders.Mall(e.orderA.Mall), EventID: "AUTHZ-REFUND-1", Type: orders.EventRefunded,
		OutOrderNo: orders.OutOrderNo(e.orderA.OutOrderNo), MallOrderNo: "M-AUTHZ", LineNo: 1, Quantity: 1, RefundFen: 6800,
		OccurredAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, e.base+"/v1/review", nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens[office])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var queue struct {
		Items []struct {
			ID         string `json:"id"`
			OutOrderNo string `json:"out_order_no"`
		} `json:"items"`
	}
	err = json.NewDecoder(resp.Body).Decode(&queue)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range queue.Items {
		if it.OutOrderNo == e.orderA.OutOrderNo {
			e.review = it.ID
		}
	}
	if e.review == "" {
		t.Fatalf("the held refund is not in the review queue: %+v", queue.Items)
	}

	e.persons = bundleHouseholds(t)
	e.house = e.persons[0].no
	return e
}

// bundleHouseholds reads the bundle's households.csv (GB18030): number, head's name, ID
// number, phone.
func bundleHouseholds(t *testing.T) []householdPII {
	t.Helper()
	b, err := fs.ReadFile(examples.YichuanDingbian2019(), "households.csv")
	if err != nil {
		t.Fatal(err)
	}
	u, err := simplifiedchinese.GB18030.NewDecoder().Bytes(b)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(u)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []householdPII
	for _, r := range recs[1:] {
		out = append(out, householdPII{no: r[0], name: r[1], id: r[2], phone: r[9]})
	}
	if len(out) == 0 {
		t.Fatal("no households in the bundle")
	}
	return out
}
