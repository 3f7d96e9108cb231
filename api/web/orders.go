package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"aidmall/bizday"
	"aidmall/households"
	"aidmall/money"
	"aidmall/orders"
	"aidmall/reports"
)

// Timeline reads an order's fulfilment events in the order they happened;
// *sqlstore.Store satisfies it.
type Timeline interface {
	OrderEvents(ctx context.Context, orderID int64) ([]orders.RecordedEvent, error)
	// OrderSteps reads the steps that are not a mall's events: dispatch given up, sent
	// again by hand, a failover's two steps.
	OrderSteps(ctx context.Context, orderID int64) ([]orders.OrderStep, error)
}

// orderPages adds the branch staff's pages: the catalogue, the order form, the order list
// with filters, one order with its timeline, and cancel (the aid office sees every order;
// auditors get the 404 page, as for any page not theirs).
func (s *Server) orderPages(g pageGroup) {
	guard := s.requireRole(canOrder)
	if s.cfg.Catalogue != nil {
		g.GET("/catalogue", s.cataloguePage, guard)
		g.GET("/orders/new", s.newOrder, guard)
		g.POST("/orders/new", s.postOrder, guard)
	}
	g.GET("/orders", s.orderList, guard)
	g.GET("/orders/:id", s.orderPage, guard)
	g.POST("/orders/:id/cancel", s.cancelOrder, guard)
	// Only the aid office sends an order whose dispatch gave up again.
	g.POST("/orders/:id/retry-dispatch", s.retryDispatch, s.requireRole(orders.Caller.CanRetryDispatch))
}

// Labels for people of the orders' codes.
var (
	statusNames = map[orders.Status]string{
		orders.StatusPending: "待发往商城", orders.StatusRejected: "商城拒单", orders.StatusSubmitted: "已提交商城",
		orders.StatusAccepted: "商城已接单", orders.StatusPartiallyShipped: "部分发货", orders.StatusShipped: "已发货",
		orders.StatusPartiallyDelivered: "部分签收", orders.StatusDelivered: "已签收", orders.StatusRefunded: "已退款",
		orders.StatusCancelled:       "已取消",
		orders.StatusCancelRequested: "取消处理中",
		orders.StatusDispatchFailed:  "发送商城失败",
	}
	statusOrder = []orders.Status{orders.StatusPending, orders.StatusSubmitted, orders.StatusAccepted, orders.StatusPartiallyShipped, orders.StatusShipped, orders.StatusPartiallyDelivered, orders.StatusDelivered, orders.StatusRefunded, orders.StatusCancelled, orders.StatusRejected,
		orders.StatusCancelRequested, orders.StatusDispatchFailed}
	fundingNames = map[orders.Funding]string{orders.FundingUnion: "工会经费", orders.FundingEmployeePays: "职工自费", orders.FundingExternal: "外部资金"}
	fundingOrder = []orders.Funding{orders.FundingUnion, orders.FundingEmployeePays, orders.FundingExternal}
	deliveryName = map[orders.DeliveryMode]string{orders.DeliveryBulk: "统一送到单位", orders.DeliveryPerRecipient: "按收件人分别配送"}
	eventNames   = map[orders.EventType]string{orders.EventAccepted: "商城接单", orders.EventShipped: "发货", orders.EventDelivered: "签收",
		orders.EventRefunded: "退款", orders.EventCancelled: "商城取消"}
)

func nameOr(m map[string]string, k string) string {
	if v, ok := m[k]; ok {
		return v
	}
	return k
}

func (s *Server) mallName(code orders.Mall) string {
	for _, m := range s.cfg.Malls {
		if m.Code == code {
			return m.Name
		}
	}
	if code == "" {
		return "—"
	}
	return string(code)
}

// phoneFor is how a phone is shown to v: as the API shows it (households.MaskPhone), in
// full to the aid office only.
func phoneFor(v Viewer, phone string) string {
	if v.Role == orders.RoleAidOffice {
		return phone
	}
	return households.MaskPhone(phone)
}

// --- the order form ---------------------------------------------------------------

// orderFormView is what order_new.html shows.
type orderFormView struct {
	Form      orderForm
	Errs      orderFormErrors
	Lines     []lineView
	Products  []product
	Malls     []MallName
	Totals    []mallTotal
	Budget    *orders.BranchBudget
	Branches  []option // the aid office's choice of branch
	Fundings  []option
	Office    bool
	Year      int
	RowErrors int // rows that cannot be read, pasted or typed
}

type option struct{ Value, Label string }

// lineView is a line of the form with its empty rows for more recipients.
type lineView struct {
	I, N int // index in the form, number shown (I+1)
	formLine
	Rows    []formRecipient
	BadRows []pastedRow
	Good    int // pasted rows that read well
}

func (s *Server) newOrder(c echo.Context) error {
	v, _ := viewerFrom(c)
	f := orderForm{Token: newFormToken(s.now()), Mall: string(orders.MallAuto), Funding: string(orders.FundingUnion),
		Delivery: string(orders.DeliveryPerRecipient)}
	if v.Role == orders.RoleAidOffice {
		f.Branch = c.QueryParam("branch")
	}
	return s.renderOrderForm(c, http.StatusOK, f, orderFormErrors{}, "")
}

// branchOf is the branch an order of this form is for: a clerk's own, the office's choice.
func branchOf(v Viewer, f orderForm) string {
	if v.Role == orders.RoleBranchStaff {
		return v.BranchCode
	}
	return f.Branch
}

func (s *Server) renderOrderForm(c echo.Context, status int, f orderForm, fe orderFormErrors, msg string) error {
	ctx := c.Request().Context()
	v, _ := viewerFrom(c)
	cat, err := s.loadCatalogue(ctx)
	if err != nil {
		return s.fail(c, err)
	}
	req, _, _, _ := f.request(branchOf(v, f))
	view := orderFormView{Form: f, Errs: fe, Products: cat.Products, Malls: cat.Malls, Totals: cat.totals(req),
		Office: v.Role == orders.RoleAidOffice, Year: s.now().In(bizday.Beijing).Year()}
	for _, fu := range fundingOrder {
		view.Fundings = append(view.Fundings, option{string(fu), fundingNames[fu]})
	}
	if view.Office {
		names, err := s.cfg.Catalogue.Labels(ctx, reports.ByBranch)
		if err != nil {
			return s.fail(c, err)
		}
		for code, name := range names {
			view.Branches = append(view.Branches, option{code, name + "（" + code + "）"})
		}
		sortOptions(view.Branches)
	}
	if b := branchOf(v, f); b != "" && s.cfg.Budgets != nil {
		bb, err := s.cfg.Budgets.BranchBudget(ctx, v.Caller(), b, view.Year)
		if err == nil {
			view.Budget = &bb
		} else if orders.ErrorKind(err) == nil {
			return s.fail(c, err)
		}
	}
	lines := f.Lines
	for n := 0; n < emptyLinesOffered || len(lines) == 0; n++ {
		lines = append(lines, formLine{})
	}
	for i, l := range lines {
		lv := lineView{I: i, N: i + 1, formLine: l, Rows: append(append([]formRecipient{}, l.Typed...), make([]formRecipient, emptyTypedRows)...)}
		for _, r := range l.Pasted {
			if r.Err != "" {
				lv.BadRows = append(lv.BadRows, r)
				view.RowErrors++
			} else {
				lv.Good++
			}
		}
		for _, r := range l.Typed {
			if r.Err != "" {
				view.RowErrors++
			}
		}
		view.Lines = append(view.Lines, lv)
	}
	return s.render(c, status, "order_new.html", Page{Title: "下单", Active: "/orders/new", Error: msg, Data: view})
}

func sortOptions(o []option) {
	for i := 1; i < len(o); i++ {
		for j := i; j > 0 && o[j].Value < o[j-1].Value; j-- {
			o[j], o[j-1] = o[j-1], o[j]
		}
	}
}

// postOrder is POST /orders/new. "refresh" shows the form again with its totals (the way
// to see them without script); otherwise the order is placed once per form token: a
// repeat of the token (a double click, a refresh of the POST, the back button and submit
// again) lands on the order the token placed. Success redirects (303) to the order.
func (s *Server) postOrder(c echo.Context) error {
	ctx := c.Request().Context()
	v, _ := viewerFrom(c)
	form, err := c.FormParams()
	if err != nil {
		return s.renderOrderForm(c, http.StatusBadRequest, orderForm{Token: newFormToken(s.now())}, orderFormErrors{}, "表单无法读取，请重新填写。")
	}
	f := readOrderForm(form)
	issued, ok := formTokenTime(f.Token)
	if !ok {
		f.Token = newFormToken(s.now())
		return s.renderOrderForm(c, http.StatusBadRequest, f, orderFormErrors{}, "表单已失效，请核对后重新提交。")
	}
	branch := branchOf(v, f)
	req, lineOf, recips, readable := f.request(branch)
	if f.Removed || c.FormValue("action") == "refresh" {
		return s.renderOrderForm(c, http.StatusOK, f, orderFormErrors{}, "")
	}
	// A repeat of a submission already placed goes to its order.
	if o := s.placedBy(ctx, v, branch, issued, req); o != nil {
		return s.toOrder(c, o, "此订单已提交过，没有重复下单。")
	}
	if !readable {
		return s.renderOrderForm(c, http.StatusUnprocessableEntity, f, orderFormErrors{}, "有的收件人行无法读取，请按下方标出的行修改后再提交；订单尚未提交。")
	}
	o, err := s.cfg.Orders.Place(ctx, v.Caller(), req)
	if err == nil {
		return s.toOrder(c, o, fmt.Sprintf("订单已提交：%s，共 %s。", o.OrderRef, yuan(o.Total())))
	}
	// Two submissions of one form at once: the other placed it.
	if o := s.placedBy(ctx, v, branch, issued, req); o != nil {
		return s.toOrder(c, o, "此订单已提交过，没有重复下单。")
	}
	var ve *orders.ValidationError
	switch {
	case errors.As(err, &ve):
		fe := f.place(ve, lineOf, recips, func(string) string { return s.budgetMessage(ctx, v, branch) })
		return s.renderOrderForm(c, http.StatusUnprocessableEntity, f, fe, "订单尚未提交：请按标出的地方修改。")
	case errors.Is(err, orders.ErrOrderRefTaken):
		fe := orderFormErrors{Fields: map[string]string{"order_ref": "本单位已有这个单号的订单，请换一个单号"}}
		return s.renderOrderForm(c, http.StatusConflict, f, fe, "订单尚未提交：单号已被使用。")
	case errors.Is(err, orders.ErrForbidden):
		return s.notFound(c)
	}
	return s.fail(c, err)
}

// placedBy returns the order a submission of the form rendered at issued already placed:
// the branch's order with req's order_ref, made after the form was rendered and as req
// asks. The order_ref is unique per branch (the domain's key), so a second submission of
// the same form can never make a second order; this finds the first one to show it.
func (s *Server) placedBy(ctx context.Context, v Viewer, branch string, issued time.Time, req orders.PlaceRequest) *orders.GroupOrder {
	if req.OrderRef == "" || branch == "" || orders.TextProblem(req.OrderRef) != "" || !orders.ValidCode(branch) {
		return nil // Place refuses it, naming the field
	}
	os, _, err := s.cfg.Orders.List(ctx, v.Caller(), orders.ListFilter{BranchCode: branch, OrderRef: strings.TrimSpace(req.OrderRef), Limit: 1})
	if err != nil || len(os) == 0 {
		return nil
	}
	o := &os[0]
	// created_at is the store's clock; allow it a little skew against the page's.
	if o.CreatedAt.Before(issued.Add(-2*time.Second)) || !sameOrder(o, req) {
		return nil
	}
	return o
}

func (s *Server) toOrder(c echo.Context, o *orders.GroupOrder, msg string) error {
	s.flash(c, msg)
	return c.Redirect(http.StatusSeeOther, orderURL(o.ID))
}

// budgetMessage says why an order was refused for the budget, with what remains.
func (s *Server) budgetMessage(ctx context.Context, v Viewer, branch string) string {
	year := s.now().In(bizday.Beijing).Year()
	if s.cfg.Budgets != nil {
		if b, err := s.cfg.Budgets.BranchBudget(ctx, v.Caller(), branch, year); err == nil && b.Remaining != nil {
			return fmt.Sprintf("超出本单位 %d 年预算：预算 %s，已用 %s，剩余 %s", year, yuan(*b.Budget), yuan(b.Used), yuan(max(*b.Remaining, 0)))
		}
	}
	return fmt.Sprintf("超出本单位 %d 年预算", year)
}

// --- the list ----------------------------------------------------------------------

type orderListView struct {
	Q        listQuery
	Statuses []option
	Malls    []MallName
	Office   bool
	Tables   []tableView
	IDs      []int64 // row i's order
	Next     string  // the next page's address, "" on the last
	First    string  // the first page's address when this is not it
	Errs     map[string]string
}

// listQuery is the list's filters as typed.
type listQuery struct{ Status, Mall, From, To, OrderRef, Branch, Cursor string }

// orderList is GET /orders: the orders the viewer may see, newest first, with filters
// (status, mall, placed from/to in Beijing days, order_ref; branch for the aid office)
// and keyset paging as GET /v1/orders pages; downloadable.
func (s *Server) orderList(c echo.Context) error {
	v, _ := viewerFrom(c)
	q := listQuery{Status: c.QueryParam("status"), Mall: c.QueryParam("mall"), From: c.QueryParam("from"), To: c.QueryParam("to"),
		OrderRef: strings.TrimSpace(c.QueryParam("order_ref")), Branch: strings.TrimSpace(c.QueryParam("branch")), Cursor: c.QueryParam("cursor")}
	view := orderListView{Q: q, Malls: s.cfg.Malls, Office: v.Role == orders.RoleAidOffice, Errs: map[string]string{}}
	for _, st := range statusOrder {
		view.Statuses = append(view.Statuses, option{string(st), statusNames[st]})
	}
	f := orders.ListFilter{Status: orders.Status(q.Status), Mall: orders.Mall(q.Mall), OrderRef: q.OrderRef, Cursor: q.Cursor}
	if view.Office {
		f.BranchCode = q.Branch
	}
	if _, ok := statusNames[f.Status]; q.Status != "" && !ok {
		view.Errs["status"] = "没有这个状态"
	}
	if q.Mall != "" && s.mallName(f.Mall) == q.Mall {
		view.Errs["mall"] = "没有这个商城"
	}
	var from, to bizday.Day
	for _, d := range []struct {
		name, v string
		into    *bizday.Day
	}{{"from", q.From, &from}, {"to", q.To, &to}} {
		if d.v == "" {
			continue
		}
		day, err := bizday.Parse(d.v)
		if err != nil {
			view.Errs[d.name] = "日期应写作 2019-03-01"
			continue
		}
		*d.into = day
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		view.Errs["to"] = "结束日期早于开始日期"
	}
	if len(view.Errs) > 0 {
		return s.render(c, http.StatusBadRequest, "order_list.html", Page{Title: "订单", Error: "筛选条件有误，请按标出的地方修改。", Data: view})
	}
	if !from.IsZero() {
		f.From = from.Start()
	}
	if !to.IsZero() {
		f.To = to.AddDays(1).Start()
	}
	page, next, err := s.cfg.Orders.List(c.Request().Context(), v.Caller(), f)
	if err != nil {
		if orders.ErrorKind(err) == orders.ErrInvalid {
			return s.render(c, http.StatusBadRequest, "order_list.html", Page{Title: "订单", Error: "翻页位置无效，已回到第一页。",
				Data: view})
		}
		return s.fail(c, err)
	}
	doc := s.listDocument(page)
	if done, err := s.download(c, doc); done {
		return err
	}
	for _, o := range page {
		view.IDs = append(view.IDs, o.ID)
	}
	view.Tables = s.tablesOf(c, doc)
	u := *c.Request().URL
	qs := u.Query()
	if next != "" {
		qs.Set("cursor", next)
		view.Next = "/orders?" + qs.Encode()
	}
	if q.Cursor != "" {
		qs.Del("cursor")
		view.First = "/orders?" + qs.Encode()
	}
	title := "我的订单"
	if view.Office {
		title = "全部订单"
	}
	return s.render(c, http.StatusOK, "order_list.html", Page{Title: title, Data: view})
}

// listDocument lays a page of orders out as one table.
func (s *Server) listDocument(page []orders.GroupOrder) reports.Document {
	t := reports.Table{Name: "订单", Columns: []reports.Column{
		{Name: "id", Title: "订单号", Kind: reports.KindText}, {Name: "order_ref", Title: "单号"}, {Name: "branch_code", Title: "单位"},
		{Name: "placed_at", Title: "下单时间（北京时间）"}, {Name: "mall", Title: "商城"}, {Name: "funding", Title: "资金来源"},
		{Name: "delivery_mode", Title: "配送方式"}, {Name: "status", Title: "状态"}, {Name: "total_amount", Title: "金额", Kind: reports.KindMoney},
	}}
	for _, o := range page {
		t.Rows = append(t.Rows, []reports.Value{reports.Text(strconv.FormatInt(o.ID, 10)), reports.Text(o.OrderRef), reports.Text(o.BranchCode),
			reports.Text(beijing(o.PlacedAt)), reports.Text(s.mallName(o.Mall)), reports.Text(fundingNames[o.Funding]),
			reports.Text(deliveryName[o.DeliveryMode]), reports.Text(statusNames[o.Status]), reports.Money(o.Total())})
	}
	return reports.Document{Report: "orders", Title: "订单", Tables: []reports.Table{t}}
}

// --- one order ---------------------------------------------------------------------

type orderView struct {
	O             *orders.GroupOrder
	Status        string
	Mall          string
	Funding       string
	Delivery      string
	ShipPhone     string
	Tables        []tableView // lines, recipients (per_recipient), timeline
	CanCancel     bool
	CanRetry      bool // dispatch_failed and the viewer is the aid office
	CancelPending bool
	CancelError   string // how the cancel request stands when an attempt did not reach the mall
	Reason        string
	ReasonErr     string
}

// orderPage is GET /orders/{id}: the order, its lines, recipients (phones masked as the
// API masks them), and the timeline of its fulfilment events; another branch's order is
// the 404 page.
func (s *Server) orderPage(c echo.Context) error {
	return s.showOrder(c, http.StatusOK, "", "", "")
}

func (s *Server) showOrder(c echo.Context, status int, msg, reason, reasonErr string) error {
	v, _ := viewerFrom(c)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return s.notFound(c)
	}
	o, err := s.cfg.Orders.Get(c.Request().Context(), v.Caller(), id)
	if err != nil {
		return s.fail(c, err)
	}
	var events []orders.RecordedEvent
	var steps []orders.OrderStep
	if s.cfg.Timeline != nil {
		if events, err = s.cfg.Timeline.OrderEvents(c.Request().Context(), o.ID); err != nil {
			return s.fail(c, err)
		}
		if steps, err = s.cfg.Timeline.OrderSteps(c.Request().Context(), o.ID); err != nil {
			return s.fail(c, err)
		}
	}
	doc := s.orderDocument(v, o, events, steps)
	if done, err := s.download(c, doc); done {
		return err
	}
	view := orderView{O: o, Status: statusNames[o.Status], Mall: s.mallName(o.Mall), Funding: fundingNames[o.Funding],
		Delivery: deliveryName[o.DeliveryMode], ShipPhone: phoneFor(v, o.ShipTo.Phone), Tables: s.tablesOf(c, doc),
		CanCancel: o.Status.Cancellable() && !o.CancelReq, CanRetry: o.Status == orders.StatusDispatchFailed && v.Caller().CanRetryDispatch(),
		CancelPending: o.CancelReq && o.Status != orders.StatusCancelled,
		Reason:        reason, ReasonErr: reasonErr}
	if o.CancelError != "" {
		view.CancelError = cancelErrorNote(o)
	}
	return s.render(c, status, "order_show.html", Page{Title: "订单 " + o.OrderRef, Active: "/orders", Error: msg, Data: view})
}

// orderDocument lays an order out: its lines with the 合计 of their amounts, its recipients,
// and its timeline (placed, then each event with its Beijing time and amount).
func (s *Server) orderDocument(v Viewer, o *orders.GroupOrder, events []orders.RecordedEvent, steps []orders.OrderStep) reports.Document {
	lines := reports.Table{Name: "商品行", Columns: []reports.Column{
		{Name: "line_no", Title: "行号", Kind: reports.KindInt}, {Name: "sku", Title: "商品编码"}, {Name: "item_id", Title: "商城商品号"},
		{Name: "quantity", Title: "数量", Kind: reports.KindInt}, {Name: "unit_price", Title: "单价", Kind: reports.KindMoney},
		{Name: "amount", Title: "金额", Kind: reports.KindMoney}, {Name: "shipped_quantity", Title: "已发货", Kind: reports.KindInt},
		{Name: "delivered_quantity", Title: "已签收", Kind: reports.KindInt}, {Name: "refunded_amount", Title: "已退款", Kind: reports.KindMoney},
	}}
	var qty int64
	var refunded money.Fen
	for _, l := range o.Lines {
		lines.Rows = append(lines.Rows, []reports.Value{reports.Int(int64(l.LineNo)), reports.Text(l.SKU), reports.Text(l.ItemID),
			reports.Int(l.Quantity), reports.Money(l.UnitPrice), reports.Money(l.Amount()), reports.Int(l.ShippedQty),
			reports.Int(l.DeliveredQty), reports.Money(l.RefundedFen)})
		qty += l.Quantity
		refunded += l.RefundedFen
	}
	lines.Total = []reports.Value{reports.Text("合计"), reports.Text(""), reports.Text(""), reports.Int(qty), reports.Text(""),
		reports.Money(o.Total()), reports.Text(""), reports.Text(""), reports.Money(refunded)}
	doc := reports.Document{Report: "order-" + strconv.FormatInt(o.ID, 10), Title: "订单" + strconv.FormatInt(o.ID, 10), Tables: []reports.Table{lines}}
	if o.DeliveryMode == orders.DeliveryPerRecipient {
		rs := reports.Table{Name: "收件人", Columns: []reports.Column{
			{Name: "line_no", Title: "行号", Kind: reports.KindInt}, {Name: "name", Title: "姓名"}, {Name: "phone", Title: "电话"},
			{Name: "address", Title: "地址"}, {Name: "quantity", Title: "数量", Kind: reports.KindInt},
		}}
		for _, l := range o.Lines {
			for _, r := range l.Recipients {
				rs.Rows = append(rs.Rows, []reports.Value{reports.Int(int64(l.LineNo)), reports.Text(r.Name), reports.Text(phoneFor(v, r.Phone)),
					reports.Text(r.Address), reports.Int(r.Quantity)})
			}
		}
		doc.Tables = append(doc.Tables, rs)
	}
	tl := reports.Table{Name: "履约时间线", Columns: []reports.Column{
		{Name: "time", Title: "时间（北京时间）"}, {Name: "event", Title: "事件"}, {Name: "line_no", Title: "行号"},
		{Name: "quantity", Title: "数量"}, {Name: "amount", Title: "金额", Kind: reports.KindMoney}, {Name: "logistics_no", Title: "物流单号"},
		{Name: "note", Title: "说明"},
	}}
	tl.Rows = append(tl.Rows, []reports.Value{reports.Text(beijing(o.PlacedAt)), reports.Text("下单"), reports.Text(""), reports.Text(""),
		reports.Money(o.Total()), reports.Text(""), reports.Text(s.mallName(o.Mall) + " " + string(o.OutOrderNo))})
	for _, e := range events {
		ev := e.Event
		line, qtyText, amount := "", "", reports.Text("")
		if l := o.Line(ev.LineNo); l != nil {
			line = strconv.Itoa(l.LineNo) + " " + l.SKU
			switch ev.Type {
			case orders.EventShipped, orders.EventDelivered:
				amount = reports.Money(money.Fen(ev.Quantity) * l.UnitPrice)
			}
		}
		if ev.Quantity > 0 {
			qtyText = strconv.FormatInt(ev.Quantity, 10)
		}
		if ev.Type == orders.EventRefunded {
			amount = reports.Money(-ev.RefundFen)
		}
		note := ""
		if e.State == orders.EventHeld {
			note = "待扶贫办复核，未计入（" + e.HeldReason + "）"
		}
		tl.Rows = append(tl.Rows, []reports.Value{reports.Text(beijing(ev.OccurredAt)), reports.Text(nameOr(eventNamesText, string(ev.Type))),
			reports.Text(line), reports.Text(qtyText), amount, reports.Text(ev.LogisticsNo), reports.Text(note)})
	}
	for _, st := range steps {
		tl.Rows = append(tl.Rows, []reports.Value{reports.Text(beijing(st.At)), reports.Text(nameOr(stepNames, st.Step)), reports.Text(""),
			reports.Text(""), reports.Text(""), reports.Text(""), reports.Text(s.mallName(st.Mall) + " " + string(st.OutOrderNo) + "：" + st.Detail)})
	}
	if o.CancelReq && o.Status != orders.StatusCancelled {
		tl.Rows = append(tl.Rows, []reports.Value{reports.Text(""), reports.Text("已申请取消"), reports.Text(""), reports.Text(""),
			reports.Text(""), reports.Text(""), reports.Text("等待商城确认")})
	}
	if o.CancelError != "" {
		at := ""
		if o.CancelErrorAt != nil {
			at = beijing(*o.CancelErrorAt)
		}
		tl.Rows = append(tl.Rows, []reports.Value{reports.Text(at), reports.Text("取消请求未送达商城"), reports.Text(""), reports.Text(""),
			reports.Text(""), reports.Text(""), reports.Text(cancelErrorNote(o))})
	}
	if o.CancelRefusal != "" {
		tl.Rows = append(tl.Rows, []reports.Value{reports.Text(""), reports.Text("商城拒绝取消"), reports.Text(""), reports.Text(""),
			reports.Text(""), reports.Text(""), reports.Text(o.CancelRefusal)})
	}
	doc.Tables = append(doc.Tables, tl)
	return doc
}

// cancelErrorNote says in Chinese how the cancel request stands after attempt
// o.CancelAttempt failed, with the error as the mall or the network gave it.
func cancelErrorNote(o *orders.GroupOrder) string {
	if !o.CancelReq {
		return fmt.Sprintf("第 %d 次尝试后放弃，可重新申请取消：%s", o.CancelAttempt, o.CancelError)
	}
	return fmt.Sprintf("第 %d 次尝试失败，系统将自动重试：%s", o.CancelAttempt, o.CancelError)
}

// stepNames are the timeline's names of orders.OrderStep kinds.
var stepNames = map[string]string{
	orders.StepDispatchFailed:    "发送商城失败（已停止重试）",
	orders.StepDispatchRetried:   "扶贫办重新发送",
	orders.StepFailoverAbsent:    "转单：原商城确认无此订单",
	orders.StepFailoverCancelled: "转单：原商城订单已取消",
	orders.StepFailoverMoved:     "转单：改发其他商城",
}

// retryDispatch is POST /orders/{id}/retry-dispatch (aid office): the order whose dispatch
// gave up is sent to its mall again (orders.Service.RetryDispatch).
func (s *Server) retryDispatch(c echo.Context) error {
	v, _ := viewerFrom(c)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return s.notFound(c)
	}
	_, err = s.cfg.Orders.RetryDispatch(c.Request().Context(), v.Caller(), id)
	switch {
	case err == nil:
		s.flash(c, "已重新发送，等待商城接单。")
		return c.Redirect(http.StatusSeeOther, orderURL(id))
	case errors.Is(err, orders.ErrNotFound), errors.Is(err, orders.ErrForbidden):
		return s.notFound(c)
	case errors.Is(err, orders.ErrNotAllowed):
		return s.showOrder(c, http.StatusConflict, "不能重新发送：订单不是“发送商城失败”状态（可能已重新发送）。", "", "")
	}
	return s.fail(c, err)
}

var eventNamesText = func() map[string]string {
	m := map[string]string{}
	for k, v := range eventNames {
		m[string(k)] = v
	}
	return m
}()

// cancelOrder is POST /orders/{id}/cancel with a reason (at most 200 characters, as the
// API takes): orders.Service.Cancel; a refusal is shown on the order in Chinese.
func (s *Server) cancelOrder(c echo.Context) error {
	v, _ := viewerFrom(c)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return s.notFound(c)
	}
	reason := strings.TrimSpace(c.FormValue("reason"))
	if utf8.RuneCountInString(reason) > 200 {
		return s.showOrder(c, http.StatusUnprocessableEntity, "未取消：取消原因最多 200 个字。", reason, "最多 200 个字")
	}
	o, err := s.cfg.Orders.Cancel(c.Request().Context(), v.Caller(), id, reason)
	switch {
	case err == nil:
		msg := "已申请取消，等待商城确认。"
		if o.Status == orders.StatusCancelled {
			msg = "订单已取消。"
		}
		s.flash(c, msg)
		return c.Redirect(http.StatusSeeOther, orderURL(id))
	case errors.Is(err, orders.ErrNotFound), errors.Is(err, orders.ErrForbidden):
		return s.notFound(c)
	case errors.Is(err, orders.ErrNotAllowed):
		return s.showOrder(c, http.StatusConflict, "不能取消：订单已发货或已结束，商城不再接受取消。", reason, "")
	}
	return s.fail(c, err)
}

// orderURL is the address of order id's page.
func orderURL(id int64) string { return "/orders/" + url.PathEscape(strconv.FormatInt(id, 10)) }
