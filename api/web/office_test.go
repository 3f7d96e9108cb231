package web_test

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/adapters/registryfile"
	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/households"
	"aidmall/imports"
	"aidmall/orders"
)

// officeFiles is the imports of the pages over st, as cmd/aidmall wires them.
func officeFiles(t *testing.T, st *sqlstore.Store, svc *orders.Service) imports.Files {
	return imports.Files{
		Registry: func(_ context.Context, kind households.Kind, year int) (*households.Registry, error) {
			return households.NewRegistry(st, sqltest.Sealer(t), households.WithFileDecoder(registryfile.Decoder{}),
				households.WithAuditor(st), households.WithBudgetYear(year))
		},
		Store: st,
		LinkageRegistry: func(rs households.RegistryStore) (*households.Registry, error) {
			return households.NewRegistry(rs, sqltest.Sealer(t), households.WithFileDecoder(registryfile.Decoder{}))
		},
		Orders: svc, Audit: st,
		Statements: map[orders.Mall]imports.StatementParser{"ccb": ccb.Driver.ParseStatement, "abc": abc.Driver.ParseStatement},
	}
}

// officePeriods is the periods' use cases and the store's list (cmd/aidmall's periodsAPI).
type officePeriods struct {
	*orders.Service
	st *sqlstore.Store
}

func (p officePeriods) Periods(ctx context.Context) ([]orders.PeriodRecord, error) {
	return p.st.Periods(ctx)
}

// upload posts files (field → name and content) and fields as a same-origin multipart form
// and returns the answer and its body.
func (b *browser) upload(p string, fields map[string]string, files map[string][2]string) (*http.Response, string) {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	for field, f := range files {
		w, _ := mw.CreateFormFile(field, f[0])
		io.WriteString(w, f[1])
	}
	mw.Close()
	return b.send(p, mw.FormDataContentType(), &body)
}

func mustStatus(t *testing.T, what string, resp *http.Response, body string, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s: status %d, want %d\n%s", what, resp.StatusCode, want, body)
	}
}

var officePaths = []string{"/office/review", "/office/imports", "/office/budgets", "/office/periods", "/office/audit", "/office/households"}

func TestOfficePagesAreTheAidOfficesOnly(t *testing.T) {
	s := newSite(t)
	office := s.as(t, orders.RoleAidOffice, "")
	branch := s.as(t, orders.RoleBranchStaff, "HQ")
	auditor := s.as(t, orders.RoleAuditor, "")
	for _, p := range officePaths {
		resp, body := office.get(p)
		mustStatus(t, "aid office "+p, resp, body, http.StatusOK)
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("%s: CSP %q", p, csp)
		}
		if strings.Contains(body, "<script>") || strings.Contains(body, " style=") {
			t.Errorf("%s has inline script or style", p)
		}
		resp, body = branch.get(p)
		mustStatus(t, "branch staff "+p, resp, body, http.StatusNotFound)
		want := http.StatusNotFound
		if p == "/office/audit" {
			want = http.StatusOK // auditors read the audit log, as GET /v1/audit allows
		}
		resp, body = auditor.get(p)
		mustStatus(t, "auditor "+p, resp, body, want)
	}
	// A form post of another role is refused the same way.
	resp := branch.post("/office/budgets", url.Values{"branch": {"HQ"}, "year": {"2019"}, "amount": {"1.00"}})
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("branch staff setting a budget: %d", resp.StatusCode)
	}
}

// Budgets, targets, closing and reopening a period are set through their forms, a bad
// field is named in Chinese, and the audit log lists every change.
func TestOfficeBudgetsPeriodsAndTheAuditLog(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		s := newSiteOn(t, db)
		office := s.as(t, orders.RoleAidOffice, "")

		resp, body := office.postBody("/office/budgets", url.Values{"branch": {"HQ"}, "year": {"2019"}, "amount": {"12.3.4"}})
		mustStatus(t, "bad amount", resp, body, http.StatusUnprocessableEntity)
		if !strings.Contains(body, "金额应为元") {
			t.Fatalf("the bad amount is not named:\n%s", body)
		}
		resp, body = office.postBody("/office/budgets", url.Values{"branch": {"HQ"}, "year": {"2019"}, "amount": {"2000.00"}})
		mustStatus(t, "set budget", resp, body, http.StatusSeeOther)
		_, body = office.get("/office/budgets?year=2019")
		if !strings.Contains(body, "¥2,000.00") || !strings.Contains(body, "已将 总部工会（HQ）2019 年预算设为 ¥2,000.00") {
			t.Fatalf("the budget set is not shown:\n%s", body)
		}
		bs, err := s.svc.Budgets(context.Background(), orders.Caller{Role: orders.RoleAidOffice}, 2019)
		if err != nil || len(bs) != 1 || bs[0].Budget == nil || *bs[0].Budget != 200000 {
			t.Fatalf("budgets: %+v %v", bs, err)
		}
		resp, body = office.get("/office/budgets?year=2019&format=csv&table=0")
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "2000.00") {
			t.Fatalf("budget CSV: %d\n%s", resp.StatusCode, body)
		}
		resp, body = office.postBody("/office/targets", url.Values{"year": {"2019"}, "purchased": {"1200000"}, "helped_sell": {"800000.00"}})
		mustStatus(t, "set target", resp, body, http.StatusSeeOther)
		if _, body = office.get("/office/budgets?year=2019"); !strings.Contains(body, "¥1,200,000.00") {
			t.Fatalf("the target is not shown:\n%s", body)
		}

		resp, body = office.postBody("/office/periods/close", url.Values{"period": {"2019-01"}, "reason": {" "}})
		mustStatus(t, "close without reason", resp, body, http.StatusUnprocessableEntity)
		if !strings.Contains(body, "请填写原因") {
			t.Fatalf("the missing reason is not named:\n%s", body)
		}
		resp, body = office.postBody("/office/periods/close", url.Values{"period": {"2019-01"}, "reason": {"一月报表已报送"}})
		mustStatus(t, "close", resp, body, http.StatusSeeOther)
		resp, body = office.postBody("/office/periods/reopen", url.Values{"period": {"2018-12"}, "reason": {"错了"}})
		mustStatus(t, "reopen another", resp, body, http.StatusConflict)
		if !strings.Contains(body, "2019-01") || !strings.Contains(body, "期间 2018-12 未结账") {
			t.Fatalf("reopening a period not closed is not refused in Chinese:\n%s", body)
		}
		_, body = office.get("/office/periods")
		if !strings.Contains(body, "一月报表已报送") || !strings.Contains(body, "已结账") {
			t.Fatalf("the closed period is not listed:\n%s", body)
		}
		resp, body = office.postBody("/office/periods/reopen", url.Values{"period": {"2019-01"}, "reason": {"补录退款"}})
		mustStatus(t, "reopen", resp, body, http.StatusSeeOther)
		if _, body = office.get("/office/periods"); !strings.Contains(body, "已重新打开") || !strings.Contains(body, "补录退款") {
			t.Fatalf("the reopened period is not shown:\n%s", body)
		}

		auditor := s.as(t, orders.RoleAuditor, "")
		_, body = auditor.get("/office/audit")
		for _, want := range []string{"设置预算", "budget:HQ/2019", "设置年度目标", "结账", "period:2019-01", "重新打开期间"} {
			if !strings.Contains(body, want) {
				t.Errorf("the audit log does not list %q", want)
			}
		}
		_, body = auditor.get("/office/audit?action=period.close")
		if !strings.Contains(body, "period:2019-01") || strings.Contains(body, "budget:HQ/2019") {
			t.Errorf("the action filter does not filter:\n%s", body)
		}
		resp, body = auditor.get("/office/audit?from=2019-13-01")
		mustStatus(t, "bad date", resp, body, http.StatusBadRequest)
	})
}

// A review item is resolved through its form: a note is required (said in Chinese), and
// once resolved it leaves the queue and is in the audit log.
func TestOfficeReviewItemResolved(t *testing.T) {
	s := newSite(t)
	if err := s.st.KeepUnreadable(context.Background(), "ccb", []byte(`{"broken":`), "unreadable: unexpected end of JSON input"); err != nil {
		t.Fatal(err)
	}
	office := s.as(t, orders.RoleAidOffice, "")
	_, body := office.get("/office/review")
	id := regexp.MustCompile(`name="id" value="([^"]+)"`).FindStringSubmatch(body)
	if id == nil || !strings.Contains(body, "无法读取的通知或对账行") {
		t.Fatalf("the item is not listed:\n%s", body)
	}
	resp, body := office.postBody("/office/review/resolve", url.Values{"id": {id[1]}, "outcome": {"dismissed"}, "note": {""}})
	mustStatus(t, "resolve without note", resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(body, "请填写处理说明") {
		t.Fatalf("the missing note is not named:\n%s", body)
	}
	resp, body = office.postBody("/office/review/resolve", url.Values{"id": {id[1]}, "outcome": {"dismissed"}, "note": {"商城已重发"}})
	mustStatus(t, "resolve", resp, body, http.StatusSeeOther)
	_, body = office.get("/office/review")
	if strings.Contains(body, `value="`+id[1]+`"`) || !strings.Contains(body, "已处理待复核事项") {
		t.Fatalf("the resolved item is still listed:\n%s", body)
	}
	resp, body = office.postBody("/office/review/resolve", url.Values{"id": {id[1]}, "outcome": {"dismissed"}, "note": {"again"}})
	mustStatus(t, "resolve twice", resp, body, http.StatusConflict)
	if _, body = office.get("/office/audit?action=review.resolve"); !strings.Contains(body, "review:"+id[1]) {
		t.Fatalf("the resolution is not audited:\n%s", body)
	}
}

// The household registry's clear personal data (from the bundle's first row).
const (
	clearID    = "610630197302274514"
	clearPhone = "18966800067"
	clearName  = "曹明根"
)

// A households upload shows its bad row by number; the household's page shows it masked
// only; a linkages file is tried (nothing stored) and then confirmed.
func TestOfficeHouseholdsUploadProvenanceAndLinkages(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		s := newSiteOn(t, db)
		office := s.as(t, orders.RoleAidOffice, "")
		csv := "户编号,户主姓名,证件号码,家庭人口数,县(市、区),乡(镇),行政村,贫困户属性,脱贫年度,联系电话\n" +
			"06300101001," + clearName + "," + clearID + ",4,宜川县,丹州街道,南沟村,一般贫困户,2018," + clearPhone + "\n" +
			"06300101002,郝锁,610630196208106131,2,宜川县,丹州街道,南沟村,一般贫困户,2019,18730682312\n"
		resp, body := office.upload("/office/imports/registry", map[string]string{"kind": "households"}, map[string][2]string{"file": {"households.csv", csv}})
		mustStatus(t, "households upload", resp, body, http.StatusOK)
		if !regexp.MustCompile(`<td>households.csv</td><td class="num">3</td><td>证件号码</td>`).MatchString(body) {
			t.Fatalf("the bad row 3 is not shown with its file, row and field:\n%s", body)
		}
		if !strings.Contains(body, "载入 1 行") {
			t.Fatalf("the good row is not loaded:\n%s", body)
		}
		if strings.Contains(body, "610630196208106131") {
			t.Fatal("the bad row's ID number is shown in clear")
		}

		resp, body = office.get("/office/households?no=06300101001&from=2019-01-01&to=2019-12-31")
		mustStatus(t, "household", resp, body, http.StatusOK)
		if !strings.Contains(body, "06300101001") || !strings.Contains(body, "610630") || !strings.Contains(body, "受益明细") {
			t.Fatalf("the household is not shown:\n%s", body)
		}
		for _, clear := range []string{clearID, clearPhone, clearName} {
			if strings.Contains(body, clear) {
				t.Fatalf("the household page shows %s in clear", clear)
			}
		}
		if _, csvBody := office.get("/office/households?no=06300101001&from=2019-01-01&to=2019-12-31&format=csv"); strings.Contains(csvBody, clearID) || !strings.Contains(csvBody, "06300101001") {
			t.Fatal("the household's download shows its ID number in clear, or not the household")
		}
		if resp, body = office.get("/office/households?no=99999999999"); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "没有户编号为 99999999999") {
			t.Fatalf("an unknown household: %d", resp.StatusCode)
		}

		links := "supplier_code,household_no,type,weight,valid_from,valid_to\nS1,06300101001,produce_purchase,2,2018-01-01,\n"
		resp, body = office.upload("/office/imports/linkages", nil, map[string][2]string{"file": {"linkages.csv", links}})
		mustStatus(t, "dry run", resp, body, http.StatusOK)
		if !strings.Contains(body, "试运行：未保存任何数据") || !strings.Contains(body, "新增 1") {
			t.Fatalf("the dry run is not shown:\n%s", body)
		}
		form := url.Values{}
		for _, m := range regexp.MustCompile(`<input type="hidden" name="(name|content|sha256)" value="([^"]*)">`).FindAllStringSubmatch(body, -1) {
			form.Set(m[1], m[2])
		}
		if len(form) != 3 {
			t.Fatalf("no confirm form:\n%s", body)
		}
		// Nothing was stored: trying again would still insert it.
		if _, again := office.upload("/office/imports/linkages", nil, map[string][2]string{"file": {"linkages.csv", links}}); !strings.Contains(again, "新增 1") {
			t.Fatal("the dry run stored the linkage")
		}
		fields := map[string]string{}
		for k := range form {
			fields[k] = form.Get(k)
		}
		resp, body = office.upload("/office/imports/linkages/confirm", fields, nil)
		mustStatus(t, "confirm", resp, body, http.StatusOK)
		if !strings.Contains(body, "已导入") || !strings.Contains(body, "新增 1") {
			t.Fatalf("the confirmed import is not shown:\n%s", body)
		}
		if _, again := office.upload("/office/imports/linkages", nil, map[string][2]string{"file": {"linkages.csv", links}}); !strings.Contains(again, "未变 1") {
			t.Fatal("the confirmed linkage was not stored")
		}
		fields["content"] = "U1Ex" // another file than the one tried
		resp, body = office.upload("/office/imports/linkages/confirm", fields, nil)
		mustStatus(t, "confirm of another file", resp, body, http.StatusBadRequest)
	})
}
