package web_test

import (
	"net/http"
	"strings"
	"testing"

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
