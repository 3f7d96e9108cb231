package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"aidmall/audit"
	"aidmall/orders"
)

// shownSecret is the password or key the page shows once.
var shownSecret = regexp.MustCompile(`<output class="secret-value">([^<]+)</output>`)

func secretOn(t *testing.T, body string) string {
	t.Helper()
	m := shownSecret.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no secret shown on the page:\n%s", body)
	}
	return m[1]
}

func TestPeoplePageIsTheAidOfficesOnly(t *testing.T) {
	s := newSite(t)
	for _, b := range []*browser{s.as(t, orders.RoleBranchStaff, "HQ"), s.as(t, orders.RoleAuditor, "")} {
		if resp, _ := b.get("/office/people"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("people page for another role: %d, want 404", resp.StatusCode)
		}
		if resp := b.post("/office/people", url.Values{"login": {"intruder"}, "name": {"x"}, "role": {"aid_office"}}); resp.StatusCode != http.StatusNotFound {
			t.Errorf("add person by another role: %d, want 404", resp.StatusCode)
		}
		if resp := b.post("/office/keys", url.Values{"name": {"x"}, "role": {"aid_office"}}); resp.StatusCode != http.StatusNotFound {
			t.Errorf("create key by another role: %d, want 404", resp.StatusCode)
		}
	}
	if _, err := s.st.PersonByLogin(context.Background(), "intruder"); err == nil {
		t.Error("another role made an account")
	}
	if ks, _ := s.st.APIKeys(context.Background()); len(ks) != 0 {
		t.Error("another role made a key")
	}
}

func TestAidOfficeAddsResetsAndDisablesPeople(t *testing.T) {
	s := newSite(t)
	office := s.as(t, orders.RoleAidOffice, "")

	resp, body := office.postBody("/office/people", url.Values{"login": {"x"}, "name": {""}, "role": {"branch_staff"}, "branch": {"NOPE"}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad account: %d, want 400", resp.StatusCode)
	}
	for _, msg := range []string{"登录名须为", "请填写姓名", "没有代码为 NOPE 的单位", `aria-invalid="true"`} {
		if !strings.Contains(body, msg) {
			t.Errorf("the page does not say %q", msg)
		}
	}

	resp, body = office.postBody("/office/people", url.Values{"login": {"wangfang"}, "name": {"王芳"}, "role": {"branch_staff"}, "branch": {"HQ"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("add: %d\n%s", resp.StatusCode, body)
	}
	pw := secretOn(t, body)
	if !strings.Contains(body, "王芳（wangfang）的初始密码") || !strings.Contains(body, "只显示这一次") {
		t.Error("the initial password is not labelled as shown once")
	}
	if resp, _ := office.postBody("/office/people", url.Values{"login": {"wangfang"}, "name": {"又一个"}, "role": {"auditor"}}); resp.StatusCode != http.StatusConflict {
		t.Errorf("a taken login: %d, want 409", resp.StatusCode)
	}
	clerk := s.signIn(t, "wangfang", pw)
	if resp, _ := clerk.get("/"); resp.Header.Get("Location") != "/orders" {
		t.Fatalf("the new clerk goes to %q", resp.Header.Get("Location"))
	}
	_, page := office.get("/office/people")
	if strings.Contains(page, pw) {
		t.Error("the people page shows the password again")
	}
	if !strings.Contains(page, "wangfang") || !strings.Contains(page, "工会干事") || !strings.Contains(page, "web:aid_office-") {
		t.Errorf("the list does not show the account with its role and who made it")
	}

	resp, body = office.postBody("/office/people/wangfang/reset", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reset: %d", resp.StatusCode)
	}
	pw2 := secretOn(t, body)
	if pw2 == pw {
		t.Fatal("reset gave the same password")
	}
	if signedIn(clerk) {
		t.Error("the clerk's session outlived a password reset")
	}
	clerk = s.signIn(t, "wangfang", pw2)

	if resp := office.post("/office/people/wangfang/disable", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %d", resp.StatusCode)
	}
	if _, page := office.get("/office/people"); !strings.Contains(page, "已停用") {
		t.Error("the page does not show the account disabled")
	}
	if signedIn(clerk) {
		t.Error("a disabled clerk is still signed in")
	}
	if resp := office.post("/office/people/aid_office-/disable", nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("disabling oneself: %d, want 400", resp.StatusCode)
	}
	if resp := office.post("/office/people/ghost/reset", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("reset of an unknown login: %d, want 404", resp.StatusCode)
	}
	if resp := office.post("/office/people/wangfang/enable", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("enable: %d", resp.StatusCode)
	}
	s.signIn(t, "wangfang", pw2)

	// Every change is audited with the office's login as the actor.
	es, _, err := s.st.AuditEntries(context.Background(), audit.Filter{Object: "person:wangfang"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		if e.Action != audit.ActionSignIn {
			got = append(got, e.Action+" "+e.Actor.Name)
		}
		if strings.Contains(string(e.After), pw) || strings.Contains(string(e.After), pw2) {
			t.Errorf("%s holds a password", e.Action)
		}
	}
	want := "person.create web:aid_office-|person.reset web:aid_office-|person.disable web:aid_office-|person.enable web:aid_office-"
	if strings.Join(got, "|") != want {
		t.Errorf("audited %q\nwant %q", strings.Join(got, "|"), want)
	}

	// The list downloads with the same rows.
	resp, csv := office.get("/office/people?format=csv&table=0")
	if resp.StatusCode != http.StatusOK || !strings.Contains(csv, "wangfang") || !strings.Contains(csv, "登录名") {
		t.Errorf("people CSV: %d\n%s", resp.StatusCode, csv)
	}
}

func TestAidOfficeManagesAPIKeys(t *testing.T) {
	s := newSite(t)
	office := s.as(t, orders.RoleAidOffice, "")
	resp, body := office.postBody("/office/keys", url.Values{"name": {"HQ 的 ERP"}, "role": {"branch_staff"}, "branch": {""}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "须指定单位") {
		t.Fatalf("a branch key without a branch: %d", resp.StatusCode)
	}
	resp, body = office.postBody("/office/keys", url.Values{"name": {"HQ 的 ERP"}, "role": {"branch_staff"}, "branch": {"HQ"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("create key: %d", resp.StatusCode)
	}
	token := secretOn(t, body)
	api := func(tok string) int {
		req, _ := http.NewRequest(http.MethodGet, s.srv.URL+"/v1/orders", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	if c := api(token); c != http.StatusOK {
		t.Fatalf("the new key at /v1/orders: %d", c)
	}
	ks, _ := s.st.APIKeys(context.Background())
	if len(ks) != 1 || ks[0].Name != "HQ 的 ERP" {
		t.Fatalf("keys %+v", ks)
	}
	id := ks[0].ID
	resp, body = office.postBody("/office/keys/1/rotate", nil)
	if resp.StatusCode != http.StatusOK || id != 1 {
		t.Fatalf("rotate: %d", resp.StatusCode)
	}
	token2 := secretOn(t, body)
	if api(token) != http.StatusUnauthorized || api(token2) != http.StatusOK {
		t.Fatal("after rotation the old key works or the new one does not")
	}
	if resp := office.post("/office/keys/1/revoke", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if api(token2) != http.StatusUnauthorized {
		t.Fatal("a revoked key still works")
	}
	if _, page := office.get("/office/people"); !strings.Contains(page, "已吊销") || strings.Contains(page, token2) {
		t.Error("the page does not show the key revoked, or shows its secret")
	}
	if resp := office.post("/office/keys/99/rotate", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("rotate an unknown key: %d", resp.StatusCode)
	}
	es, _, _ := s.st.AuditEntries(context.Background(), audit.Filter{Action: "key."})
	if len(es) != 3 || es[0].Actor.Name != "web:aid_office-" {
		t.Errorf("key changes audited %d, first by %q", len(es), es[0].Actor.Name)
	}
}
