package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"aidmall/households"
	"aidmall/orders"
)

var tokenRE = regexp.MustCompile(`name="form_token" value="([^"]+)"`)

// orderForm opens /orders/new and returns its form token.
func (b *browser) orderForm() string {
	b.t.Helper()
	resp, body := b.get("/orders/new")
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("/orders/new: %d", resp.StatusCode)
	}
	m := tokenRE.FindStringSubmatch(body)
	if m == nil {
		b.t.Fatal("the order form has no form token")
	}
	return m[1]
}

func (s *site) orders(t *testing.T, caller orders.Caller) []orders.GroupOrder {
	t.Helper()
	os, _, err := s.svc.List(context.Background(), caller, orders.ListFilter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	return os
}

// placeOrder stores an order of P1 (now) through the domain, as the API would.
func (s *site) placeOrder(t *testing.T, branch, ref string, mall orders.Mall, qty int64, perRecipient bool) *orders.GroupOrder {
	t.Helper()
	req := orders.PlaceRequest{OrderRef: ref, BranchCode: branch, Mall: mall, Funding: orders.FundingUnion,
		DeliveryMode: orders.DeliveryBulk, ShipTo: orders.ShipTo{Name: "王芳", Phone: "13800001234", Address: "北京市西城区"},
		Lines: []orders.PlaceLine{{SKU: "P1", Quantity: qty}}}
	if perRecipient {
		req.DeliveryMode, req.ShipTo = orders.DeliveryPerRecipient, orders.ShipTo{}
		req.Lines[0].Recipients = []orders.Recipient{{Name: "张三", Phone: "13800001234", Address: "北京市西城区", Quantity: qty}}
	}
	o, err := s.svc.Place(context.Background(), office, req)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func (s *site) addBranch(t *testing.T, code string) {
	t.Helper()
	if _, err := s.st.UpsertBranches(context.Background(), []households.Branch{{Code: code, Name: code + "工会", Company: code, Members: 5}}); err != nil {
		t.Fatal(err)
	}
}

func perRecipientForm(token, ref, paste string) url.Values {
	return url.Values{"form_token": {token}, "order_ref": {ref}, "funding": {"union_funds"}, "delivery_mode": {"per_recipient"},
		"mall": {"auto"}, "line-0-sku": {"P1"}, "line-0-paste": {paste}, "action": {"place"}}
}

// A clerk pastes 3 recipients from a spreadsheet, one with a bad phone: the page names
// that row (by its row in the pasted text) in Chinese, keeps what was typed and places
// nothing; once the row is fixed, the order is placed and the browser goes to it.
func TestPerRecipientOrderFromPastedListWithABadRowThenFixed(t *testing.T) {
	s := newSite(t)
	b := s.as(t, orders.RoleBranchStaff, "HQ")
	token := b.orderForm()
	paste := "姓名\t电话\t地址\t数量\n张三\t13800001234\t北京市西城区\t2\n李四\t12ab\t北京市东城区\t1\n王五\t13900005678\t北京市海淀区\t3\n"
	resp, body := b.postBody("/orders/new", perRecipientForm(token, "2025-HQ-礼盒", paste))
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("a bad pasted row: %d, want 422", resp.StatusCode)
	}
	for _, want := range []string{"粘贴的第 3 行", "电话号码不正确", "12ab", "2025-HQ-礼盒", "订单尚未提交"} {
		if !strings.Contains(body, want) {
			t.Errorf("the refused form does not show %q: %s", want, excerpt(body, "<main"))
		}
	}
	if strings.Contains(body, "粘贴的第 2 行") || strings.Contains(body, "粘贴的第 4 行") {
		t.Errorf("a good row is named as bad")
	}
	if os := s.orders(t, office); len(os) != 0 {
		t.Fatalf("%d orders placed from a form with a bad row", len(os))
	}
	// A row with too few cells is named before anything reaches the domain.
	_, body = b.postBody("/orders/new", perRecipientForm(token, "2025-HQ-礼盒", "张三\t13800001234\t2\n"))
	if !strings.Contains(body, "粘贴的第 1 行：应有姓名、电话、地址、数量 4 列，这一行只有 3 列") {
		t.Errorf("a short row is not named: %s", excerpt(body, "粘贴"))
	}

	resp, _ = b.postBody("/orders/new", perRecipientForm(token, "2025-HQ-礼盒", strings.Replace(paste, "12ab", "13700001111", 1)))
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/orders/") {
		t.Fatalf("fixed form: %d to %q, want 303 to the order", resp.StatusCode, resp.Header.Get("Location"))
	}
	os := s.orders(t, office)
	if len(os) != 1 || os[0].Lines[0].Quantity != 6 || len(os[0].Lines[0].Recipients) != 3 || os[0].Lines[0].Recipients[1].Phone != "13700001111" {
		t.Fatalf("placed %+v, want one order of 6 to 3 recipients", os)
	}
	_, page := b.get(resp.Header.Get("Location"))
	if !strings.Contains(page, "订单已提交") || !strings.Contains(page, "137****1111") || strings.Contains(page, "13700001111") {
		t.Errorf("the order page after placing: no flash, or phones not masked as the API masks them")
	}
}

// A domain refusal is shown next to its field in Chinese, the form kept as typed.
func TestOrderFormShowsFieldErrorsInChinese(t *testing.T) {
	s := newSite(t)
	b := s.as(t, orders.RoleBranchStaff, "HQ")
	resp, body := b.postBody("/orders/new", url.Values{"form_token": {b.orderForm()}, "order_ref": {"R1"}, "funding": {"union_funds"},
		"delivery_mode": {"bulk"}, "mall": {"abc"}, "ship_name": {"王芳"}, "ship_address": {"总部"},
		"line-0-sku": {"P2"}, "line-0-qty": {"3"}, "line-1-sku": {"P1"}, "line-1-qty": {"0"}})
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("bad form: %d", resp.StatusCode)
	}
	for _, want := range []string{"必填", "所选商城未上架这个商品", "数量应为 1 到 1000000 之间的整数", `value="王芳"`} {
		if !strings.Contains(body, want) {
			t.Errorf("refused form lacks %q", want)
		}
	}
	if os := s.orders(t, office); len(os) != 0 {
		t.Fatal("a refused form placed an order")
	}
}

// One form token is one order: the same form posted twice in a row, or twice at once (a
// double click), lands both times on the same order.
func TestSameFormTokenPostedTwiceGivesOneOrder(t *testing.T) {
	s := newSite(t)
	b := s.as(t, orders.RoleBranchStaff, "HQ")
	form := perRecipientForm(b.orderForm(), "DOUBLE-1", "张三,13800001234,北京市西城区,2")
	r1, _ := b.postBody("/orders/new", form)
	b.get(r1.Header.Get("Location")) // its flash shown
	r2, _ := b.postBody("/orders/new", form)
	if r1.StatusCode != http.StatusSeeOther || r2.StatusCode != http.StatusSeeOther || r1.Header.Get("Location") != r2.Header.Get("Location") {
		t.Fatalf("posted twice: %d %q then %d %q, want both 303 to one order", r1.StatusCode, r1.Header.Get("Location"), r2.StatusCode, r2.Header.Get("Location"))
	}
	_, page := b.get(r2.Header.Get("Location"))
	if !strings.Contains(page, "没有重复下单") {
		t.Errorf("the repeat does not say it placed nothing")
	}

	form = perRecipientForm(b.orderForm(), "DOUBLE-2", "张三,13800001234,北京市西城区,1")
	var wg sync.WaitGroup
	locs := make([]string, 2)
	for i := range locs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := b.postBody("/orders/new", form)
			locs[i] = fmt.Sprint(resp.StatusCode, " ", resp.Header.Get("Location"))
		}()
	}
	wg.Wait()
	if locs[0] != locs[1] || !strings.HasPrefix(locs[0], "303 /orders/") {
		t.Fatalf("a double click: %q and %q, want both 303 to one order", locs[0], locs[1])
	}
	if os := s.orders(t, office); len(os) != 2 {
		t.Fatalf("%d orders from two forms each sent twice, want 2", len(os))
	}
	// Another form that reuses a taken order_ref is told so; it never lands on that order.
	resp, body := b.postBody("/orders/new", perRecipientForm(b.orderForm(), "DOUBLE-1", "李四,13800001234,北京市西城区,5"))
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "本单位已有这个单号的订单") {
		t.Fatalf("a new form with a taken order_ref: %d", resp.StatusCode)
	}
}

// The list shows the viewer's orders only, filtered by order_ref, mall, status and
// placed dates; bad filters are named in Chinese; the list downloads.
func TestOrderListFilters(t *testing.T) {
	s := newSite(t)
	s.addBranch(t, "B2")
	a := s.placeOrder(t, "HQ", "HQ-A", "ccb", 1, false)
	s.placeOrder(t, "HQ", "HQ-B", "abc", 2, false)
	c := s.placeOrder(t, "HQ", "HQ-C", "ccb", 3, false)
	s.placeOrder(t, "B2", "B2-X", "ccb", 4, false)
	if _, err := s.svc.Cancel(context.Background(), office, c.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if err := s.svc.MarkCancelled(context.Background(), c.ID); err != nil {
		t.Fatal(err)
	}
	b := s.as(t, orders.RoleBranchStaff, "HQ")
	today := time.Now().In(time.FixedZone("CST", 8*3600)).Format("2006-01-02")
	for _, tc := range []struct {
		query     string
		want, not []string
	}{
		{"", []string{"HQ-A", "HQ-B", "HQ-C"}, []string{"B2-X"}},
		{"?order_ref=HQ-A", []string{"HQ-A"}, []string{"HQ-B", "HQ-C"}},
		{"?mall=abc", []string{"HQ-B"}, []string{"HQ-A", "HQ-C"}},
		{"?status=cancelled", []string{"HQ-C"}, []string{"HQ-A", "HQ-B"}},
		{"?from=" + today + "&to=" + today, []string{"HQ-A", "HQ-B", "HQ-C"}, nil},
		{"?to=2019-12-31", nil, []string{"HQ-A", "HQ-B", "HQ-C"}},
		{"?order_ref=B2-X", nil, []string{"B2-X"}},
	} {
		resp, body := b.get("/orders" + tc.query)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/orders%s: %d", tc.query, resp.StatusCode)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, ">"+w+"<") {
				t.Errorf("/orders%s lacks %s", tc.query, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(body, ">"+n+"<") {
				t.Errorf("/orders%s shows %s", tc.query, n)
			}
		}
	}
	if !strings.Contains(mustGet(t, b, "/orders"), fmt.Sprintf(`href="/orders/%d"`, a.ID)) {
		t.Errorf("the list does not link to the order")
	}
	resp, body := b.get("/orders?from=2019-13-01&to=2019-01-01")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "日期应写作 2019-03-01") {
		t.Errorf("a bad date: %d", resp.StatusCode)
	}
	resp, csv := b.get("/orders?format=csv&table=0&order_ref=HQ-B")
	if resp.StatusCode != http.StatusOK || !strings.Contains(csv, "HQ-B") || strings.Contains(csv, "HQ-A") || !strings.Contains(csv, "138.00") {
		t.Errorf("the list's CSV: %d %q", resp.StatusCode, csv)
	}
	// The office sees every branch's orders.
	if body := mustGet(t, s.as(t, orders.RoleAidOffice, ""), "/orders"); !strings.Contains(body, ">B2-X<") || !strings.Contains(body, ">HQ-A<") {
		t.Errorf("the office's list lacks another branch's order")
	}
}

func mustGet(t *testing.T, b *browser, p string) string {
	t.Helper()
	resp, body := b.get(p)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d", p, resp.StatusCode)
	}
	return body
}

// After fulfilment events are applied through orders.Service.Apply, the order's page shows
// them in its timeline, each with its Beijing time and amount.
func TestOrderTimelineShowsAppliedEvents(t *testing.T) {
	s := newSite(t)
	o := s.placeOrder(t, "HQ", "TL-1", "ccb", 20, true)
	ctx := context.Background()
	if err := s.svc.MarkSubmitted(ctx, o.ID, "CCB-9"); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2019, 3, 1, 2, 0, 0, 0, time.UTC) // 10:00 in Beijing
	for _, e := range []orders.FulfilmentEvent{
		{Mall: "ccb", EventID: "E1", Type: orders.EventShipped, OutOrderNo: o.OutOrderNo, LineNo: 1, Quantity: 20, OccurredAt: at, LogisticsNo: "SF1001"},
		{Mall: "ccb", EventID: "E2", Type: orders.EventDelivered, OutOrderNo: o.OutOrderNo, LineNo: 1, Quantity: 20, OccurredAt: at.Add(26 * time.Hour)},
		{Mall: "ccb", EventID: "E3", Type: orders.EventRefunded, OutOrderNo: o.OutOrderNo, LineNo: 1, Quantity: 1, RefundFen: 6800, OccurredAt: at.Add(50 * time.Hour)},
	} {
		if _, err := s.svc.Apply(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	body := mustGet(t, s.as(t, orders.RoleBranchStaff, "HQ"), fmt.Sprintf("/orders/%d", o.ID))
	for _, want := range []string{"履约时间线", "2019-03-01 10:00", "发货", "SF1001", "2019-03-02 12:00", "签收", "¥1,360.00",
		"2019-03-03 12:00", "退款", "-¥68.00", "CCB-9", "已退款"} {
		if !strings.Contains(body, want) {
			t.Errorf("the order page lacks %q", want)
		}
	}
	if strings.Index(body, "2019-03-01 10:00") > strings.Index(body, "2019-03-03 12:00") {
		t.Errorf("the timeline is not in the order things happened")
	}
	if strings.Contains(body, "13800001234") || !strings.Contains(body, "138****1234") {
		t.Errorf("a recipient's phone is not masked for branch staff")
	}
	// A shipped order can no longer be cancelled: no button.
	if strings.Contains(body, "取消订单</button>") {
		t.Errorf("a shipped order offers cancel")
	}
}

// Cancel from the order page: the request is recorded and said so; once shipped, the
// domain's refusal is shown in Chinese.
func TestCancelFromTheOrderPage(t *testing.T) {
	s := newSite(t)
	o := s.placeOrder(t, "HQ", "C-1", "ccb", 2, false)
	b := s.as(t, orders.RoleBranchStaff, "HQ")
	if !strings.Contains(mustGet(t, b, fmt.Sprintf("/orders/%d", o.ID)), "取消订单</button>") {
		t.Fatal("a pending order offers no cancel")
	}
	resp := b.post(fmt.Sprintf("/orders/%d/cancel", o.ID), url.Values{"reason": {"重复下单"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	got, err := s.svc.Get(context.Background(), office, o.ID)
	if err != nil || !got.CancelReq {
		t.Fatalf("cancel not requested: %+v %v", got, err)
	}
	if body := mustGet(t, b, fmt.Sprintf("/orders/%d", o.ID)); !strings.Contains(body, "已申请取消") || !strings.Contains(body, "取消处理中") {
		t.Errorf("the page does not say the cancel was asked for (status 取消处理中)")
	}
	// An attempt that could not reach the mall is shown, with its number, on the detail
	// and in the timeline, until an attempt reaches it.
	if err := s.svc.RecordCancelAttempt(context.Background(), o.ID, orders.CancelAttempt{Attempt: 3, At: time.Now(),
		Err: "ccb mall: mall.order.cancel: no answer"}); err != nil {
		t.Fatal(err)
	}
	body := mustGet(t, b, fmt.Sprintf("/orders/%d", o.ID))
	if !strings.Contains(body, "取消请求未送达商城") || !strings.Contains(body, "第 3 次尝试失败，系统将自动重试：ccb mall: mall.order.cancel: no answer") {
		t.Errorf("the page does not show why the cancel has not reached the mall")
	}

	shipped := s.placeOrder(t, "HQ", "C-2", "ccb", 2, false)
	if _, err := s.svc.Apply(context.Background(), orders.FulfilmentEvent{Mall: "ccb", EventID: "S", Type: orders.EventShipped,
		OutOrderNo: shipped.OutOrderNo, LineNo: 1, Quantity: 2, OccurredAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	resp, body = b.postBody(fmt.Sprintf("/orders/%d/cancel", shipped.ID), url.Values{"reason": {"晚了"}})
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "不能取消") {
		t.Fatalf("cancel after shipping: %d", resp.StatusCode)
	}
}

// Another branch's order, by its address, is the 404 page — to read and to cancel.
func TestAnotherBranchsOrderIs404(t *testing.T) {
	s := newSite(t)
	s.addBranch(t, "B2")
	o := s.placeOrder(t, "B2", "B2-1", "ccb", 1, false)
	b := s.as(t, orders.RoleBranchStaff, "HQ")
	if resp, body := b.get(fmt.Sprintf("/orders/%d", o.ID)); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "页面不存在") {
		t.Fatalf("another branch's order: %d", resp.StatusCode)
	}
	if resp := b.post(fmt.Sprintf("/orders/%d/cancel", o.ID), url.Values{"reason": {"x"}}); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("cancel another branch's order: %d", resp.StatusCode)
	}
	if got, _ := s.svc.Get(context.Background(), office, o.ID); got.CancelReq {
		t.Fatal("another branch's order was cancelled")
	}
	if resp, _ := b.get("/orders/999999"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a missing order: %d", resp.StatusCode)
	}
}

// Auditors have no order pages: each is the 404 page.
func TestAuditorGets404OnOrderPages(t *testing.T) {
	s := newSite(t)
	o := s.placeOrder(t, "HQ", "A-1", "ccb", 1, false)
	b := s.as(t, orders.RoleAuditor, "")
	for _, p := range []string{"/orders", "/orders/new", "/catalogue", fmt.Sprintf("/orders/%d", o.ID)} {
		if resp, _ := b.get(p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("auditor at %s: %d, want 404", p, resp.StatusCode)
		}
	}
	if resp := b.post("/orders/new", url.Values{"order_ref": {"x"}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("auditor posting an order: %d", resp.StatusCode)
	}
}

// Money is ¥1,234.56 on every order page: the catalogue's prices, the form's mall totals
// and remaining budget, the list and the order.
func TestOrderPagesShowMoneyAsYuan(t *testing.T) {
	s := newSite(t)
	year := time.Now().In(time.FixedZone("CST", 8*3600)).Year()
	if _, _, err := s.svc.SetBudget(context.Background(), office, "HQ", year, 500000); err != nil {
		t.Fatal(err)
	}
	o := s.placeOrder(t, "HQ", "M-1", "ccb", 20, false) // 20 × 68.00
	b := s.as(t, orders.RoleBranchStaff, "HQ")
	cat := mustGet(t, b, "/catalogue")
	for _, want := range []string{"¥68.00", "¥69.00", "¥50.00", "合作社一", "宜川县", "苹果", "扶贫产品认定编号"} {
		if !strings.Contains(cat, want) {
			t.Errorf("the catalogue lacks %q", want)
		}
	}
	if resp, _ := b.get("/catalogue?format=xlsx&table=0"); resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "spreadsheetml") {
		t.Errorf("the catalogue's XLSX: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if body := mustGet(t, b, "/orders"); !strings.Contains(body, "¥1,360.00") {
		t.Errorf("the list lacks ¥1,360.00")
	}
	if body := mustGet(t, b, fmt.Sprintf("/orders/%d", o.ID)); !strings.Contains(body, "¥1,360.00") || !strings.Contains(body, "¥68.00") {
		t.Errorf("the order page lacks ¥1,360.00 or ¥68.00")
	}
	form := mustGet(t, b, "/orders/new")
	if !strings.Contains(form, "剩余 <strong>¥3,640.00</strong>") || !strings.Contains(form, "预算 ¥5,000.00") {
		t.Errorf("the form does not show the remaining budget as Budgets gives it: %s", excerpt(form, "预算"))
	}
	// Without script, "更新合计" shows each mall's total for the lines.
	_, body := b.postBody("/orders/new", url.Values{"form_token": {"x"}, "line-0-sku": {"P1"}, "line-0-qty": {"1000"}, "action": {"refresh"}, "mall": {"auto"}})
	if !strings.Contains(body, "¥68,000.00") || !strings.Contains(body, "¥69,000.00") {
		t.Errorf("refreshed totals: %s", excerpt(body, "商城"))
	}
}

// The order pages carry no inline script or style (the CSP forbids them).
func TestOrderPagesHaveNoInlineScriptOrStyle(t *testing.T) {
	s := newSite(t)
	o := s.placeOrder(t, "HQ", "CSP-1", "ccb", 1, true)
	b := s.as(t, orders.RoleBranchStaff, "HQ")
	scriptTag := regexp.MustCompile(`<script[^>]*>`)
	for _, p := range []string{"/orders", "/orders/new", "/catalogue", fmt.Sprintf("/orders/%d", o.ID)} {
		resp, body := b.get(p)
		if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Errorf("%s: CSP %q", p, resp.Header.Get("Content-Security-Policy"))
		}
		for _, tag := range scriptTag.FindAllString(body, -1) {
			if !strings.Contains(tag, ` src="/static/`) {
				t.Errorf("%s: inline script %s", p, tag)
			}
		}
		if strings.Contains(body, " style=") || strings.Contains(body, "<style") || regexp.MustCompile(`\son[a-z]+=`).MatchString(body) {
			t.Errorf("%s: inline style or event handler", p)
		}
	}
	if resp, js := b.get("/static/orders.js"); resp.StatusCode != http.StatusOK || !strings.Contains(js, "order-form") {
		t.Errorf("orders.js: %d", resp.StatusCode)
	}
}

func excerpt(s, near string) string {
	i := strings.Index(s, near)
	if i < 0 {
		return "(" + near + " absent)"
	}
	return s[max(0, i-200):min(len(s), i+400)]
}

// An order whose dispatch gave up shows why on its page, with a retry button for the aid
// office only; the retry sends it again (pending), shows the step on the timeline, and a
// second post is refused in Chinese. The review page lists it.
func TestRetryDispatchFromTheOrderPage(t *testing.T) {
	s := newSite(t)
	o := s.placeOrder(t, "HQ", "R-1", "ccb", 2, false)
	f := orders.DispatchFailureOf("ccb", &orders.MallError{Mall: "ccb", HTTPStatus: 200, Code: "20000", SubCode: "SYSTEM_BUSY",
		Message: "busy", Retryable: true}, 25, time.Now())
	if _, err := s.svc.MarkDispatchFailed(context.Background(), o.ID, f); err != nil {
		t.Fatal(err)
	}
	page := fmt.Sprintf("/orders/%d", o.ID)
	staff := s.as(t, orders.RoleBranchStaff, "HQ")
	body := mustGet(t, staff, page)
	if !strings.Contains(body, "发送商城失败") || !strings.Contains(body, "20000 SYSTEM_BUSY: busy") || !strings.Contains(body, "共尝试 25 次") {
		t.Fatal("the order page does not say the dispatch gave up, nor why")
	}
	if strings.Contains(body, "重新发送到商城</button>") {
		t.Error("branch staff are offered the retry")
	}
	if resp := staff.post(page+"/retry-dispatch", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("branch staff retry: %d, want the 404 page", resp.StatusCode)
	}
	b := s.as(t, orders.RoleAidOffice, "")
	if !strings.Contains(mustGet(t, b, "/office/review"), "发送商城失败的订单") {
		t.Error("the review page does not list the order")
	}
	if !strings.Contains(mustGet(t, b, page), "重新发送到商城</button>") {
		t.Fatal("the aid office is not offered the retry")
	}
	if resp := b.post(page+"/retry-dispatch", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("retry: %d", resp.StatusCode)
	}
	got, err := s.svc.Get(context.Background(), office, o.ID)
	if err != nil || got.Status != orders.StatusPending || got.DispatchFailure != nil {
		t.Fatalf("after the retry: %+v %v", got, err)
	}
	if body := mustGet(t, b, page); !strings.Contains(body, "扶贫办重新发送") || strings.Contains(body, "重新发送到商城</button>") {
		t.Error("the timeline does not show the retry, or the retry is still offered")
	}
	if resp, body := b.postBody(page+"/retry-dispatch", nil); resp.StatusCode != http.StatusConflict || !strings.Contains(body, "不能重新发送") {
		t.Errorf("second retry: %d", resp.StatusCode)
	}
}
