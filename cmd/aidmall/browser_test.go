package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"aidmall/bizday"
)

// TestBrowser drives the pages of a running `aidmall demo` (the demo year on SQLite, both
// malls simulated in process, the server on a 127.0.0.1 port) in Debian's headless
// Chromium, as the people they are for use them. Without Chromium it is skipped with the
// reason (and fails under CI=true). With -args -screenshots DIR it also writes the README's
// screenshots.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo year and Chromium: skipped with -short")
	}
	chromiumPath(t) // skip (or fail in CI) before the demo year runs
	start := time.Now()
	d := startDemo(t)
	b := startBrowser(t)
	t.Logf("demo serving at %s and Chromium started in %s", d.URL, time.Since(start).Round(time.Millisecond))

	desktop := func(t *testing.T) *tab { return newTab(t, b, d.URL, 1280, 800) }
	placedOrder := "" // the path of the order the order test placed, for the later tests

	t.Run("sign-in page is in Chinese under a strict CSP", func(t *testing.T) {
		p := desktop(t)
		ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
		defer cancel()
		resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(d.URL+"/signin"))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != 200 {
			t.Fatalf("GET /signin: %d %s", resp.Status, resp.StatusText)
		}
		csp, _ := resp.Headers["Content-Security-Policy"].(string)
		for _, want := range []string{"script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("CSP %q allows inline or eval'd script", csp)
		}
		if lang := eval[string](p, `document.documentElement.lang`); lang != "zh-CN" {
			t.Errorf("html lang = %q, want zh-CN", lang)
		}
		if h := p.text("main h1"); h != "登录" {
			t.Errorf("heading %q, want 登录", h)
		}
		p.labelled()
		p.noProblems("sign-in page")
	})

	t.Run("a signed-out request to any page goes to sign-in", func(t *testing.T) {
		p := desktop(t)
		for _, path := range []string{"/", "/orders", "/orders/new", "/orders/1", "/catalogue", "/dashboard", "/office/review", "/office/people"} {
			p.open(path)
			got := p.path()
			if !strings.HasPrefix(got, "/signin") {
				t.Errorf("signed out, %s ends at %s, want the sign-in page", path, got)
				continue
			}
			if h := p.text("main h1"); h != "登录" {
				t.Errorf("signed out, %s shows %q, want the sign-in page", path, h)
			}
		}
	})

	t.Run("branch staff orders per recipient from a pasted list, sees it listed and follows it to delivery", func(t *testing.T) {
		staff := d.SignIns["branch_staff"]
		p := desktop(t)
		p.signIn(staff)
		p.open("/orders/new")
		ref := "2027-HQ-新春-001" // the demo's database is new each run
		p.setField("#order_ref", ref)
		p.setField("#line-0-sku", demoSKU)
		p.run("per-recipient delivery, the mall chosen automatically",
			chromedp.Click(chromedp.CSS(`input[name=delivery_mode][value=per_recipient]`)),
			chromedp.Click(chromedp.CSS(`input[name=mall][value=auto]`)))
		// Rows copied from a spreadsheet: a header, then name, phone, address, quantity;
		// the third recipient's quantity is a word, not a number.
		p.paste("#line-0-paste", "姓名\t电话\t地址\t数量\n"+
			"王芳\t13800001234\t北京市西城区复兴门外大街1号\t2\n"+
			"李强\t13900002345\t北京市海淀区中关村大街27号\t3\n"+
			"赵敏\t13700003456\t北京市朝阳区建国路88号\t两箱\n")
		p.clickAndLoad(`button[name=action][value=place]`, chromedp.Click[chromedp.CSS])
		if !strings.HasPrefix(p.path(), "/orders/new") {
			t.Fatalf("a pasted list with a bad row went to %s, want the form again", p.path())
		}
		if bad := p.text(".bad-rows"); !strings.Contains(bad, "第 4 行") || !strings.Contains(bad, "两箱") {
			t.Errorf("the bad row is shown as %q, want row 4 and its quantity named", bad)
		}
		if n := d.ordersWithRef(t, staff.Branch, ref); n != 0 {
			t.Fatalf("a form with a bad row placed %d orders", n)
		}
		// The clerk corrects the row in the pasted text, kept as pasted, and submits again.
		p.setField("#line-0-paste", strings.Replace(eval[string](p, `document.querySelector("#line-0-paste").value`), "两箱", "1", 1))
		p.clickAndLoad(`button[name=action][value=place]`, chromedp.Click[chromedp.CSS])
		if !orderPathRE.MatchString(p.path()) {
			t.Fatalf("after submitting, the browser is at %s (%s), want the order's page", p.path(), p.text("main"))
		}
		placedOrder = p.path()
		o := d.orderByRef(t, staff.Branch, ref)
		if len(o.Lines) != 1 || o.Lines[0].Quantity != 6 || len(o.Lines[0].Recipients) != 3 {
			t.Fatalf("the order placed: %+v, want one line of 6 for 3 recipients", o)
		}
		if h := p.text("main h1"); !strings.Contains(h, ref) {
			t.Errorf("the order page's heading %q does not name %s", h, ref)
		}
		if got := p.text(".facts dd.num"); got != yuanOf(t, o.Total) {
			t.Errorf("the order page shows the amount %q, the API %s", got, o.Total)
		}
		rs := p.table("收件人")
		for _, name := range []string{"王芳", "李强", "赵敏"} {
			rs.row(t, name)
		}
		if html := eval[string](p, `document.querySelector("main").innerText`); strings.Contains(html, "13800001234") {
			t.Error("the order page shows a recipient's phone in full")
		}
		// The order list has it.
		p.open("/orders")
		list := p.table("订单")
		row := list.row(t, ref)
		if got := row[list.col(t, "金额")]; got != yuanOf(t, o.Total) {
			t.Errorf("the order list shows %s's amount as %q, the API %s", ref, got, o.Total)
		}
		// The simulated mall ships and delivers it; the order's page shows the timeline.
		deadline := time.Now().Add(45 * time.Second)
		for {
			p.open(placedOrder)
			if p.text("main h1 .status") == "已签收" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the order is still %q 45s after it was placed", p.text("main h1 .status"))
			}
			time.Sleep(time.Second)
		}
		tl := p.table("履约时间线")
		ev := tl.col(t, "事件")
		var events []string
		for _, r := range tl.Rows {
			events = append(events, r[ev])
		}
		if !slices.ContainsFunc(events, func(e string) bool { return strings.Contains(e, "签收") }) ||
			!slices.ContainsFunc(events, func(e string) bool { return strings.Contains(e, "发货") }) {
			t.Errorf("the timeline shows %q, want the shipment and the delivery", events)
		}
		p.noProblems("order form and order page", http.StatusUnprocessableEntity) // the form with the bad row
	})

	t.Run("a double submit places one order: double click, back and submit again, the same POST twice", func(t *testing.T) {
		staff := d.SignIns["branch_staff"]
		p := desktop(t)
		p.signIn(staff)
		fill := func(ref string) {
			p.open("/orders/new")
			p.setField("#order_ref", ref)
			p.setField("#line-0-sku", demoSKU)
			p.setField("#line-0-qty", "2")
			p.run("bulk delivery to the branch",
				chromedp.Click(chromedp.CSS(`input[name=delivery_mode][value=bulk]`)),
				chromedp.Click(chromedp.CSS(`input[name=mall][value=auto]`)))
			p.setField("#ship_name", "集团总部机关工会")
			p.setField("#ship_phone", "010-63201234")
			p.setField("#ship_address", "北京市西城区集团总部")
		}
		// A double click on the submit button.
		ref := "2027-HQ-0002"
		fill(ref)
		p.clickAndLoad(`button[name=action][value=place]`, doubleClick)
		if !orderPathRE.MatchString(p.path()) {
			t.Fatalf("after a double click the browser is at %s: %s", p.path(), p.text("main"))
		}
		first := p.path()
		if n := d.ordersWithRef(t, staff.Branch, ref); n != 1 {
			t.Errorf("a double click placed %d orders", n)
		}
		// The back button, then submit the same form again.
		eval[bool](p, `window.__stale = true`)
		p.run("back to the form", chromedp.NavigateBack())
		p.waitLoaded("back to the form")
		if strings.HasPrefix(p.path(), "/orders/new") && eval[bool](p, `!document.querySelector("button[name=action][value=place]").disabled`) {
			// Chromium loads the form again (no-store) and restores what was typed, but for
			// the 单号 (autocomplete=off): the clerk types it again.
			if eval[string](p, `document.querySelector("#order_ref").value`) == "" {
				p.setField("#order_ref", ref)
			}
			p.clickAndLoad(`button[name=action][value=place]`, chromedp.Click[chromedp.CSS])
			switch got := p.path(); {
			case got == first:
				t.Logf("back and submit again: the same order's page (%s)", got)
			case strings.Contains(p.text("main"), "单号已被使用"):
				t.Logf("back and submit again: the form, saying the 单号 is taken")
			default:
				t.Errorf("submitting again after the back button went to %s: %s", got, p.text("main"))
			}
		}
		if n := d.ordersWithRef(t, staff.Branch, ref); n != 1 {
			t.Errorf("back and submit again: %d orders", n)
		}
		// The same POST sent twice at once (a refresh of the POST while the first is on
		// its way, or script off): both land on the one order.
		ref2 := "2027-HQ-0003"
		fill(ref2)
		landed := eval[[]string](p, submitTwice, chromedp.EvalAwaitPromise)
		if len(landed) != 2 || landed[0] != landed[1] || !orderPathRE.MatchString(strings.TrimPrefix(landed[0], d.URL)) {
			t.Errorf("the same POST twice landed on %q, want one order's page twice", landed)
		}
		if n := d.ordersWithRef(t, staff.Branch, ref2); n != 1 {
			t.Errorf("the same POST twice placed %d orders", n)
		}
		p.noProblems("double submit")
	})

	t.Run("the aid office's dashboard shows the JSON report's figures for the demo year and draws its charts", func(t *testing.T) {
		p := desktop(t)
		p.signIn(d.SignIns["aid_office"])
		p.open("/dashboard?year=2019")
		var county, category, month benefitJSON
		d.getJSON(t, "/v1/reports/benefit?from=2019-01-01&to=2019-12-31&by=county", &county)
		d.getJSON(t, "/v1/reports/benefit?from=2019-01-01&to=2019-12-31&by=category", &category)
		d.getJSON(t, "/v1/reports/benefit?from=2019-01-01&to=2019-12-31&by=month", &month)
		if county.Totals.Households == 0 || len(county.Rows) == 0 {
			t.Fatalf("the demo year's report is empty: %+v", county)
		}
		// The headline figures, as cards.
		cards := eval[map[string]string](p, readCards)
		tot := county.Totals
		for _, c := range []struct {
			label string
			check func(shown string)
		}{
			{"受益户数", func(s string) { sameInt(t, "受益户数", s, tot.Households) }},
			{"受益人数", func(s string) { sameInt(t, "受益人数", s, tot.People) }},
			{"购买金额", func(s string) { sameMoney(t, "购买金额", s, tot.Purchased) }},
			{"帮助销售金额", func(s string) { sameMoney(t, "帮助销售金额", s, tot.HelpedSell) }},
		} {
			shown, ok := cards[c.label]
			if !ok {
				t.Errorf("the dashboard has no %s figure (cards: %q)", c.label, cards)
				continue
			}
			c.check(shown)
		}
		// By county, category and month: each row of each table is the JSON's row.
		for _, by := range []struct {
			table string
			rep   benefitJSON
		}{{"县", county}, {"品类", category}, {"月", month}} {
			tb := p.table(by.table)
			hh, people, net := tb.col(t, "受益户数"), tb.col(t, "受益人数"), tb.col(t, "净额")
			for _, r := range by.rep.Rows {
				key := r.Label
				if key == "" {
					key = r.Key
				}
				row := tb.row(t, key)
				sameInt(t, by.table+" "+key+" 受益户数", row[hh], r.Households)
				sameInt(t, by.table+" "+key+" 受益人数", row[people], r.People)
				sameMoney(t, by.table+" "+key+" 净额", row[net], r.NetAmount)
			}
			if len(tb.Rows) != len(by.rep.Rows) {
				t.Errorf("table %q has %d rows, the JSON report %d", tb.Name, len(tb.Rows), len(by.rep.Rows))
			}
		}
		// Each branch's figures, budget and use, and the group's: the indicators report.
		var ind indicatorsJSON
		d.getJSON(t, "/v1/reports/indicators?year=2019", &ind)
		tb := p.table("指标与预算")
		cols := map[string]int{}
		for _, c := range []string{"购买金额", "帮助销售金额", "受益户数", "受益人数", "预算", "已使用", "使用比例"} {
			cols[c] = tb.col(t, c)
		}
		check := func(who string, row []string, f indicatorRow) {
			sameMoney(t, who+" 购买金额", row[cols["购买金额"]], f.Purchased)
			sameMoney(t, who+" 帮助销售金额", row[cols["帮助销售金额"]], f.HelpedSell)
			sameInt(t, who+" 受益户数", row[cols["受益户数"]], f.Households)
			sameInt(t, who+" 受益人数", row[cols["受益人数"]], f.People)
			sameMoney(t, who+" 预算", row[cols["预算"]], f.Budget)
			sameMoney(t, who+" 已使用", row[cols["已使用"]], f.Used)
			if plain(row[cols["使用比例"]]) != f.UsedPercent {
				t.Errorf("%s 使用比例: page shows %q, the JSON report %s", who, row[cols["使用比例"]], f.UsedPercent)
			}
		}
		for _, br := range ind.Branches {
			check(br.Branch, tb.row(t, br.Branch), br)
		}
		if len(tb.Rows) != len(ind.Branches) {
			t.Errorf("table %q has %d branches, the JSON report %d", tb.Name, len(tb.Rows), len(ind.Branches))
		}
		check("集团合计", tb.Total, ind.Group)
		// The charts draw: each chart has an ECharts canvas of non-zero size.
		p.chartsDrawn()
		p.noProblems("dashboard")
	})

	t.Run("an open dashboard shows a delivery within 3 seconds, without a reload", func(t *testing.T) {
		year := time.Now().In(bizday.Beijing).Year()
		period := fmt.Sprintf("from=%d-01-01&to=%d-12-31", year, year)
		p := desktop(t)
		p.signIn(d.SignIns["aid_office"])
		p.open(fmt.Sprintf("/dashboard?year=%d", year))
		before := eval[map[string]string](p, readCards)["购买金额"]
		eval[bool](p, `window.__stale = true`) // a reload would clear it
		id := d.placeToday(t, "2027-HQ-LIVE-001", 5)
		// The simulated mall delivers; the dashboard must show it within 3 seconds.
		var delivered time.Time
		for deadline := time.Now().Add(45 * time.Second); delivered.IsZero(); {
			var o struct {
				Status string `json:"status"`
			}
			d.getJSON(t, fmt.Sprintf("/v1/orders/%d", id), &o)
			if o.Status == "delivered" {
				delivered = time.Now()
			} else if time.Now().After(deadline) {
				t.Fatalf("order %d is still %s after 45s", id, o.Status)
			} else {
				time.Sleep(100 * time.Millisecond)
			}
		}
		var want benefitJSON
		d.getJSON(t, "/v1/reports/benefit?"+period+"&by=county", &want)
		var shown string
		for {
			shown = eval[map[string]string](p, readCards)["购买金额"]
			if shown != before && plain(shown) == want.Totals.Purchased {
				break
			}
			if time.Since(delivered) > 3*time.Second {
				t.Fatalf("3s after the delivery the open dashboard shows 购买金额 %q (before %q), the JSON report %s", shown, before, want.Totals.Purchased)
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("购买金额 %s → %s, %s after the delivery was seen", before, shown, time.Since(delivered).Round(time.Millisecond))
		if !eval[bool](p, `window.__stale === true`) {
			t.Error("the dashboard reloaded the page rather than updating in place")
		}
		p.chartsDrawn()
		p.noProblems("live dashboard")
	})

	t.Run("an XLSX downloads from a dashboard table with the report's figures", func(t *testing.T) {
		p := desktop(t)
		dir := t.TempDir()
		p.downloadsTo(dir)
		p.signIn(d.SignIns["aid_office"])
		p.open("/dashboard?year=2019")
		var county benefitJSON
		d.getJSON(t, "/v1/reports/benefit?from=2019-01-01&to=2019-12-31&by=county", &county)
		tb := p.table("县")
		if tb.XLSX == "" {
			t.Fatalf("table %q has no XLSX link", tb.Name)
		}
		file := p.download(`figure.table a[href="`+tb.XLSX+`"]`, dir)
		x, err := excelize.OpenFile(file)
		if err != nil {
			t.Fatalf("the downloaded file is not an XLSX: %v", err)
		}
		defer x.Close()
		want := county.Rows[0]
		found := false
		for _, sheet := range x.GetSheetList() {
			rows, err := x.GetRows(sheet, excelize.Options{RawCellValue: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				if len(r) > 0 && (slices.Contains(r, want.Label) || slices.Contains(r, want.Key)) {
					hasAmount := false
					for _, c := range r {
						if v, err := decimal.NewFromString(plain(c)); err == nil && v.StringFixed(2) == want.NetAmount {
							hasAmount = true
						}
					}
					if !hasAmount {
						t.Errorf("sheet %s row %q lacks the net amount %s", sheet, r, want.NetAmount)
					}
					found = true
				}
			}
		}
		if !found {
			t.Errorf("the XLSX (sheets %q) has no row for %s", x.GetSheetList(), want.Label)
		}
	})

	t.Run("the aid office resolves a review item", func(t *testing.T) {
		var queue struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		d.getJSON(t, "/v1/review", &queue)
		if len(queue.Items) == 0 {
			t.Fatal("the demo year left nothing to review")
		}
		id := queue.Items[0].ID
		p := desktop(t)
		p.signIn(d.SignIns["aid_office"])
		p.open("/office/review")
		item := `article[id="item-` + id + `"]`
		p.run("resolve "+id,
			chromedp.SendKeys(chromedp.CSS(item+" textarea[name=note]"), "浏览器测试：已核对，退款超出签收，无需处理"),
			chromedp.Click(chromedp.CSS(item+" button[type=submit]")),
			chromedp.WaitNotPresent(chromedp.CSS(item)),
			chromedp.WaitVisible(chromedp.CSS("main")),
		)
		d.getJSON(t, "/v1/review", &queue)
		for _, it := range queue.Items {
			if it.ID == id {
				t.Errorf("review item %s is still in the queue after it was resolved on the page", id)
			}
		}
		p.noProblems("review page")
	})

	t.Run("another branch's order by URL is the 404 page", func(t *testing.T) {
		staff := d.SignIns["branch_staff"]
		var list struct {
			Items []struct {
				ID     int64  `json:"id"`
				Branch string `json:"branch_code"`
			} `json:"items"`
		}
		d.getJSON(t, "/v1/orders?limit=100", &list)
		var other, own int64
		for _, o := range list.Items {
			if o.Branch != staff.Branch && other == 0 {
				other = o.ID
			}
			if o.Branch == staff.Branch && own == 0 {
				own = o.ID
			}
		}
		if other == 0 || own == 0 {
			t.Fatalf("no order of another branch and of %s among %d", staff.Branch, len(list.Items))
		}
		p := desktop(t)
		p.signIn(staff)
		if status := p.status(fmt.Sprintf("/orders/%d", own)); status != 200 {
			t.Fatalf("branch staff of %s opening their own order %d: HTTP %d", staff.Branch, own, status)
		}
		status := p.status(fmt.Sprintf("/orders/%d", other))
		if status != 404 {
			t.Errorf("branch staff of %s opening another branch's order %d: HTTP %d, want 404", staff.Branch, other, status)
		}
		if h := p.text("main"); !strings.Contains(h, "不存在") {
			t.Errorf("another branch's order shows %q, want the 404 page", h)
		}
	})

	t.Run("the order form, an order and the dashboard fit a phone and a desktop, with no console error or CSP violation", func(t *testing.T) {
		staff := d.SignIns["branch_staff"]
		order := placedOrder
		if order == "" { // the order test did not place one: the branch's latest order
			var list struct {
				Items []struct {
					ID int64 `json:"id"`
				} `json:"items"`
			}
			d.getJSON(t, "/v1/orders?limit=1&branch="+staff.Branch, &list)
			if len(list.Items) == 0 {
				t.Fatalf("no order of %s", staff.Branch)
			}
			order = fmt.Sprintf("/orders/%d", list.Items[0].ID)
		}
		for _, screen := range []struct {
			name string
			w, h int64
		}{{"phone", 375, 812}, {"desktop", 1280, 800}} {
			phone := screen.w < 600
			// On a phone each shot is the screen at the part that matters; on a desktop the
			// whole page, or its first tall (px) of it when tall > 0.
			shot := func(p *tab, name, focus string, tall int64) {
				eval[bool](p, `document.activeElement && document.activeElement.blur(), true`) // no focus ring in the picture
				switch {
				case phone:
					p.scrollTo(focus)
					p.screenshot(name+"-"+screen.name, false)
				case tall > 0:
					p.viewport(screen.w, tall)
					p.screenshot(name+"-"+screen.name, false)
					p.viewport(screen.w, screen.h)
				default:
					p.screenshot(name+"-"+screen.name, true)
				}
			}
			p := newTab(t, b, d.URL, screen.w, screen.h)
			p.signIn(staff)
			p.open("/orders/new")
			p.setField("#order_ref", "2027-HQ-新春-002")
			p.setField("#line-0-sku", demoSKU)
			p.run("per-recipient delivery", chromedp.Click(chromedp.CSS(`input[name=delivery_mode][value=per_recipient]`)))
			p.paste("#line-0-paste", "王芳\t13800001234\t北京市西城区复兴门外大街1号\t2\n李强\t13900002345\t北京市海淀区中关村大街27号\t3\n赵敏\t13700003456\t北京市朝阳区建国路88号\t1\n")
			if phone {
				p.fitsWidth()
				p.labelled()
			}
			shot(p, "order-form", "[data-line]", 0)
			p.open(order)
			if phone {
				p.fitsWidth()
				p.labelled()
			}
			shot(p, "order-timeline", "figure.table:last-of-type", 0)
			p.noProblems("the branch staff's pages on a " + screen.name)

			office := newTab(t, b, d.URL, screen.w, screen.h)
			office.signIn(d.SignIns["aid_office"])
			office.open("/dashboard?year=2019")
			office.chartsDrawn()
			if phone {
				office.fitsWidth()
				office.labelled()
			}
			shot(office, "dashboard", ".cards", 1240) // the figures and the four charts
			office.noProblems("the dashboard on a " + screen.name)
		}
	})
}

// unlabelledControls lists the page's visible form controls that have no <label> (nor an
// aria-label), by name or id.
const unlabelledControls = `Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea"))
  .filter(function (el) { return el.labels.length === 0 && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby"); })
  .map(function (el) { return el.name || el.id || el.outerHTML.slice(0, 80); })`

// pageTable is a table of a page as a person reads it: its caption, column titles, body
// rows and footer (the 合计 row), each cell's text.
type pageTable struct {
	Name    string     `json:"name"`
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
	Total   []string   `json:"total"`
	XLSX    string     `json:"xlsx"`
}

// readTables is every downloadable table of the page (figure.table of the "table" template).
const readTables = `Array.from(document.querySelectorAll("figure.table")).map(function (f) {
  var cells = function (tr) { return Array.from(tr.children).map(function (c) { return c.textContent.trim(); }); };
  var cap = f.querySelector("figcaption span");
  var x = f.querySelector("a[href*='format=xlsx']");
  return {
    name: cap ? cap.textContent.trim() : "",
    columns: Array.from(f.querySelectorAll("thead th")).map(function (th) { return th.textContent.trim(); }),
    rows: Array.from(f.querySelectorAll("tbody tr")).map(cells),
    total: f.querySelector("tfoot tr") ? cells(f.querySelector("tfoot tr")) : [],
    xlsx: x ? x.getAttribute("href") : ""
  };
})`

// table is the page's table whose caption contains name.
func (p *tab) table(name string) pageTable {
	p.t.Helper()
	var names []string
	for _, tb := range eval[[]pageTable](p, readTables) {
		if strings.Contains(tb.Name, name) {
			return tb
		}
		names = append(names, tb.Name)
	}
	p.t.Fatalf("no table %q on %s (tables: %q)", name, p.path(), names)
	return pageTable{}
}

// col is the index of the column whose title contains title.
func (tb pageTable) col(t *testing.T, title string) int {
	t.Helper()
	for i, c := range tb.Columns {
		if strings.Contains(c, title) {
			return i
		}
	}
	t.Fatalf("table %q has no column %q (columns: %q)", tb.Name, title, tb.Columns)
	return -1
}

// row is the body row whose first cells include key.
func (tb pageTable) row(t *testing.T, key string) []string {
	t.Helper()
	for _, r := range tb.Rows {
		for _, c := range r[:min(2, len(r))] {
			if c == key {
				return r
			}
		}
	}
	t.Fatalf("table %q has no row %q", tb.Name, key)
	return nil
}

// plain is a figure as shown (¥1,234.56, 1,127, 75.61%) as the JSON writes it (1234.56, 1127, 75.61).
func plain(s string) string {
	return strings.NewReplacer("¥", "", ",", "", "%", "", " ", "", "\u00a0", "").Replace(s)
}

// sameMoney checks a money cell is shown as ¥1,234.56 and equals the JSON's "1234.56".
func sameMoney(t *testing.T, what, shown, json string) {
	t.Helper()
	if !strings.Contains(shown, "¥") || plain(shown) != json {
		t.Errorf("%s: page shows %q, the JSON report %q", what, shown, json)
	}
}

func sameInt(t *testing.T, what, shown string, json int64) {
	t.Helper()
	if plain(shown) != strconv.FormatInt(json, 10) {
		t.Errorf("%s: page shows %q, the JSON report %d", what, shown, json)
	}
}

// benefitJSON is GET /v1/reports/benefit's JSON.
type benefitJSON struct {
	Totals struct {
		Households int64  `json:"households"`
		People     int64  `json:"people"`
		Purchased  string `json:"purchased_amount"`
		HelpedSell string `json:"helped_sell_amount"`
	} `json:"totals"`
	Rows []struct {
		Key        string `json:"key"`
		Label      string `json:"label"`
		Households int64  `json:"households"`
		People     int64  `json:"people"`
		NetAmount  string `json:"net_amount"`
	} `json:"rows"`
}

// readCards is the dashboard's headline figures, label → value as shown.
const readCards = `Object.fromEntries(Array.from(document.querySelectorAll(".card")).map(function (c) {
  var l = c.querySelector(".card-label"), v = c.querySelector(".card-value");
  return [l ? l.textContent.trim() : "", v ? v.textContent.trim() : ""];
}))`

// chartsDrawn waits until every chart of the page ([data-chart]) has an ECharts canvas of
// non-zero size.
func (p *tab) chartsDrawn() {
	p.t.Helper()
	const js = `(function () {
  var charts = Array.from(document.querySelectorAll("[data-chart]"));
  if (charts.length === 0) return "no chart on the page";
  var bad = charts.filter(function (c) {
    var cv = c.querySelector("canvas");
    return !cv || cv.width === 0 || cv.height === 0 || cv.getBoundingClientRect().width === 0 || cv.getBoundingClientRect().height === 0;
  }).map(function (c) { return c.getAttribute("data-chart"); });
  return bad.length ? "not drawn: " + bad.join(", ") : "";
})()`
	deadline := time.Now().Add(10 * time.Second)
	for {
		msg := eval[string](p, js)
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("charts: %s%s", msg, p.consoleDump())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// status navigates to path and returns the HTTP status of the document.
func (p *tab) status(path string) int64 {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(p.base+path))
	if err != nil {
		p.t.Fatalf("open %s: %v", path, err)
	}
	return resp.Status
}

// fitsWidth fails the test when the page is wider than the screen: the document scrolls
// sideways (scrollWidth beyond the viewport; under mobile emulation Chromium widens
// innerWidth to the content, so the screen's width counts too), or something visible
// sticks out past the right edge other than inside a box that scrolls on its own (a
// wide table in its .table-wrap).
func (p *tab) fitsWidth() {
	p.t.Helper()
	const js = `(function () {
  var de = document.documentElement;
  var w = Math.min(window.innerWidth, de.clientWidth, screen.width);
  var scrolls = function (el) {
    for (var a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      var o = getComputedStyle(a).overflowX;
      if (o === "auto" || o === "scroll" || o === "hidden" || o === "clip") return true;
    }
    return false;
  };
  var name = function (el) {
    return el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (typeof el.className === "string" && el.className ? "." + el.className.trim().split(/\s+/).join(".") : "");
  };
  var out = Array.from(document.querySelectorAll("body *")).filter(function (el) {
    var r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.right > w + 1 && getComputedStyle(el).visibility !== "hidden" && !scrolls(el);
  });
  var wide = out.filter(function (el) { return out.indexOf(el.parentElement) < 0; }).slice(0, 6).map(function (el) {
    return name(el) + " (right edge " + Math.round(el.getBoundingClientRect().right) + ")";
  });
  if (de.scrollWidth <= w && wide.length === 0) return "";
  return "screen " + w + " px, document " + de.scrollWidth + " px wide; past the right edge: " + (wide.join(", ") || "nothing visible");
})()`
	if msg := eval[string](p, js); msg != "" {
		p.t.Errorf("%s is wider than the screen: %s", p.path(), msg)
	}
}

// demoSKU is a product of the demo's catalogue that both malls list.
const demoSKU = "YC-APL-5KG-DZ"

var orderPathRE = regexp.MustCompile(`^/orders/\d+$`)

// submitTwice posts the order form's fields twice at once, as a browser resubmitting the
// POST does, and returns the two pages (URLs, after redirects) it landed on.
const submitTwice = `(async function () {
  var f = document.getElementById("order-form");
  var body = new URLSearchParams(new FormData(f));
  body.set("action", "place");
  var rs = await Promise.all([0, 1].map(function () {
    return fetch(f.getAttribute("action"), {method: "POST", body: body, credentials: "same-origin"});
  }));
  return rs.map(function (r) { return r.url; });
})()`

// apiOrder is an order as GET /v1/orders gives it.
type apiOrder struct {
	ID    int64  `json:"id"`
	Ref   string `json:"order_ref"`
	Total string `json:"total_amount"`
	Lines []struct {
		Quantity   int64             `json:"quantity"`
		Recipients []json.RawMessage `json:"recipients"`
	} `json:"lines"`
}

// ordersWithRef counts the branch's orders with order_ref ref (GET /v1/orders?order_ref=).
func (d *demoSite) ordersWithRef(t *testing.T, branch, ref string) int {
	t.Helper()
	var list struct {
		Items []apiOrder `json:"items"`
	}
	d.getJSON(t, "/v1/orders?branch="+url.QueryEscape(branch)+"&order_ref="+url.QueryEscape(ref), &list)
	return len(list.Items)
}

// orderByRef is the branch's one order with order_ref ref.
func (d *demoSite) orderByRef(t *testing.T, branch, ref string) apiOrder {
	t.Helper()
	var list struct {
		Items []apiOrder `json:"items"`
	}
	d.getJSON(t, "/v1/orders?branch="+url.QueryEscape(branch)+"&order_ref="+url.QueryEscape(ref), &list)
	if len(list.Items) != 1 {
		t.Fatalf("%d orders of %s with order_ref %s, want 1", len(list.Items), branch, ref)
	}
	return list.Items[0]
}

// yuanOf is the JSON's "1234.50" as the pages show it: ¥1,234.50.
func yuanOf(t *testing.T, s string) string {
	t.Helper()
	whole, frac, ok := strings.Cut(s, ".")
	if !ok || len(frac) != 2 {
		t.Fatalf("money %q is not yuan with two decimals", s)
	}
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return "¥" + b.String() + "." + frac
}

// indicatorsJSON is GET /v1/reports/indicators's JSON.
type indicatorsJSON struct {
	Group    indicatorRow   `json:"group"`
	Branches []indicatorRow `json:"branches"`
}

type indicatorRow struct {
	Branch      string `json:"branch"`
	Purchased   string `json:"purchased_amount"`
	HelpedSell  string `json:"helped_sell_amount"`
	Households  int64  `json:"households"`
	People      int64  `json:"people"`
	Budget      string `json:"budget"`
	Used        string `json:"used"`
	UsedPercent string `json:"used_percent"`
}

// placeToday places an order of today for HQ through the API with the aid office's key
// (union funds, delivered to the branch), and returns its id.
func (d *demoSite) placeToday(t *testing.T, ref string, qty int) int64 {
	t.Helper()
	body := fmt.Sprintf(`{"order_ref":%q,"branch_code":"HQ","mall":"auto","funding":"union_funds","delivery_mode":"bulk",
		"ship_to":{"name":"集团总部机关工会","phone":"13800001234","address":"北京市西城区集团总部"},
		"lines":[{"sku":%q,"quantity":%d}]}`, ref, demoSKU, qty)
	ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, d.URL+"/v1/orders", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+d.Key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", ref)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var o struct {
		ID int64 `json:"id"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &o) != nil {
		t.Fatalf("POST /v1/orders: %s: %s", resp.Status, b)
	}
	return o.ID
}

// labelled fails the test when a form control of the page has no label.
func (p *tab) labelled() {
	p.t.Helper()
	if bad := eval[[]string](p, unlabelledControls); len(bad) > 0 {
		p.t.Errorf("%s: controls without a label: %q", p.path(), bad)
	}
}
