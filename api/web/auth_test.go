package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/orders"
)

func TestSignedOutPageGoesToSignIn(t *testing.T) {
	s := newSite(t)
	resp, _ := s.anonymous(t).get("/?from=menu")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin?next=%2F%3Ffrom%3Dmenu" {
		t.Fatalf("signed out /orders: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestSignInThenHomeByRole(t *testing.T) {
	s := newSite(t)
	for role, want := range map[orders.Role]string{orders.RoleBranchStaff: "/orders", orders.RoleAidOffice: "/dashboard", orders.RoleAuditor: "/dashboard"} {
		resp, _ := s.as(t, role, "HQ").get("/")
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
			t.Errorf("%s at /: %d to %q, want %s", role, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
}

func TestWrongPasswordIsRefusedInChinese(t *testing.T) {
	s := newSite(t)
	s.as(t, orders.RoleBranchStaff, "HQ")
	b := s.anonymous(t)
	resp := b.post("/signin", map[string][]string{"login": {"branch_staff-HQ"}, "password": {"nope"}})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	if r, _ := b.get("/"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("after a refused sign-in / is %d", r.StatusCode)
	}
}

func TestCrossSiteFormPostIsRefused(t *testing.T) {
	s := newSite(t)
	b := s.as(t, orders.RoleBranchStaff, "HQ")
	req, _ := http.NewRequest(http.MethodPost, b.base+"/signout", strings.NewReader(""))
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site sign-out: %d, want 403", resp.StatusCode)
	}
}

func TestPagesCarryStrictSecurityHeaders(t *testing.T) {
	s := newSite(t)
	resp, body := s.anonymous(t).get("/signin")
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("headers %v", resp.Header)
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, " style=") {
		t.Errorf("the sign-in page has inline script or style")
	}
	if !strings.Contains(body, `lang="zh-CN"`) {
		t.Errorf("not zh-CN")
	}
}

// A NUL or another control character in a page's query, path or form is a 400 page naming
// the field, on SQLite and PostgreSQL alike (PostgreSQL refuses NUL in text outright),
// while a recipients list pasted from a spreadsheet keeps its tabs and line breaks.
func TestControlCharactersInPagesAre400(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		s := newSiteOn(t, db)
		office := s.as(t, orders.RoleAidOffice, "")
		staff := s.as(t, orders.RoleBranchStaff, "HQ")
		for _, p := range []string{"/orders?order_ref=K%00", "/orders/1%00", "/office/households?no=06300101001%00", "/office/audit?object=%01x", "/dashboard?year=2019%00"} {
			if resp, body := office.get(p); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "控制字符") {
				t.Errorf("GET %s: %d, want the 400 page", p, resp.StatusCode)
			}
		}
		_, form := staff.get("/orders/new")
		token := regexp.MustCompile(`name="form_token" value="([^"]+)"`).FindStringSubmatch(form)
		if token == nil {
			t.Fatal("the order form has no form_token")
		}
		paste := "王芳\t13800001111\t宜川县丹州镇 1 号\t2\r\n李娜\t13900002222\t宜川县丹州镇 2 号\t1"
		resp := staff.post("/orders/new", url.Values{"form_token": {token[1]}, "order_ref": {"K13"}, "line-0-sku": {s.fx.Products[0] + "\x00"}, "line-0-paste": {paste}})
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("order form with NUL in a product code: %d, want 400", resp.StatusCode)
		}
		// Free text of the order form is the domain's to refuse, field by field, the form
		// kept: NUL in the order_ref, a Word line break (\v) in a pasted row.
		resp = staff.post("/orders/new", url.Values{"form_token": {token[1]}, "order_ref": {"K\x0013"}, "delivery_mode": {"per_recipient"},
			"mall": {"auto"}, "funding": {"union_funds"}, "line-0-sku": {s.fx.Products[0]}, "line-0-paste": {strings.Replace(paste, "丹州镇 2 号", "丹州镇\v2 号", 1)}})
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("order form with NUL in order_ref and \\v in a pasted row: %d, want the form again with the fields marked (422)", resp.StatusCode)
		}
		resp = staff.post("/orders/new", url.Values{"form_token": {token[1]}, "action": {"refresh"}, "order_ref": {"K13"},
			"line-0-sku": {s.fx.Products[0]}, "line-0-paste": {paste}})
		if resp.StatusCode != http.StatusOK {
			t.Errorf("a pasted list with tabs and line breaks: %d, want the form again (200)", resp.StatusCode)
		}
		if r := s.anonymous(t).post("/signin", url.Values{"login": {"a\x00b"}, "password": {"x"}}); r.StatusCode != http.StatusBadRequest {
			t.Errorf("sign-in with NUL in the login: %d, want 400", r.StatusCode)
		}
	})
}

// A path that is no page answers the Chinese 404 page (and a form's address opened as a
// page the 405 one), while the API's paths keep their problem+json.
func TestUnknownPagesAnswerInChinese(t *testing.T) {
	s := newSite(t)
	b := s.as(t, orders.RoleBranchStaff, "HQ")
	for p, want := range map[string]int{"/nonexistent": 404, "/Orders": 404, "/orders/new/": 404, "/signout": 405} {
		resp, body := b.get(p)
		if resp.StatusCode != want || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, `lang="zh-CN"`) ||
			resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: %d %s, want the %d page in Chinese with its CSP", p, resp.StatusCode, resp.Header.Get("Content-Type"), want)
		}
	}
	if resp, _ := b.get("/v1/nonexistent"); !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		t.Errorf("an unknown API path answered %s, want problem+json", resp.Header.Get("Content-Type"))
	}
}
