package web

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"aidmall/attribution"
	"aidmall/orders"
	"aidmall/reports"
	"aidmall/review"
)

// reviewKinds are the review queue's kinds of item in Chinese.
var reviewKinds = map[review.Kind]string{
	review.KindHeldEvent:      "暂挂事件",
	review.KindParkedEvent:    "等待订单的事件",
	review.KindUnreadable:     "无法读取的通知或对账行",
	review.KindRejectedOrder:  "商城拒绝的订单",
	review.KindStrandedOrder:  "未送达商城的订单",
	review.KindDispatchFailed: "发送商城失败的订单（可在订单页重新发送）",
}

// reviewReasons are the held reasons and the store's own reasons in Chinese, with the rule
// behind them (review.Rule's, in the office's words).
var reviewReasons = map[string]string{
	attribution.ReasonRefundExceedsDelivered:                                      "退款超过该行已妥投（扣除此前退款）的数量：不计金额，待此前的妥投补足后自动生效（ATTRIBUTION.md §1.6）",
	attribution.ReasonDeliveryExceedsOrdered:                                      "妥投数量将超过订购数量：不计金额（ATTRIBUTION.md §1.6）",
	orders.ReasonUnknownLine:                                                      "事件指向订单中不存在的行：不计金额",
	"no order has this out_order_no":                                              "尚无订单使用该商城订单号",
	"has not reached its mall: its dispatch is still trying, or its job was lost": "订单尚未送达商城：仍在重试，或发送任务已丢失",
}

// reviewItem is one item as the page shows it.
type reviewItem struct {
	review.Item
	KindName string
	Why      string // the reason in Chinese (the mall's own words for a refusal)
	MallName string // the mall's name for people
	Note     string // the note typed, when the form is shown again
	Errs     *formErrors
}

type reviewData struct {
	Items  []reviewItem
	Tables []tableView
}

func newReviewItem(it review.Item) reviewItem {
	why, ok := reviewReasons[it.Reason]
	if !ok {
		why = it.Reason // a mall's code and message, or a parser's reason: as written
	}
	if it.Kind == review.KindDispatchFailed {
		why = fmt.Sprintf("共尝试 %d 次后停止：%s", it.Attempts, it.Reason) // the mall's own words
	}
	return reviewItem{Item: it, KindName: reviewKinds[it.Kind], Why: why}
}

// reviewDocument is the queue as a table, the figures the page shows.
func reviewDocument(items []reviewItem) reports.Document {
	t := reports.Table{Name: "待复核", Columns: []reports.Column{
		{Name: "id", Title: "编号"}, {Name: "kind", Title: "类别"}, {Name: "since", Title: "时间"},
		{Name: "reason", Title: "原因"}, {Name: "mall", Title: "商城"}, {Name: "out_order_no", Title: "商城订单号"},
		{Name: "event_id", Title: "事件"}, {Name: "line_no", Title: "行号", Kind: reports.KindInt},
		{Name: "quantity", Title: "数量", Kind: reports.KindInt}, {Name: "refund", Title: "退款", Kind: reports.KindMoney},
	}}
	for _, it := range items {
		t.Rows = append(t.Rows, []reports.Value{
			reports.Text(it.ID), reports.Text(it.KindName), reports.Text(beijing(it.Since)), reports.Text(it.Why),
			reports.Text(it.MallName), reports.Text(it.OutOrderNo), reports.Text(it.EventID), reports.Int(int64(it.LineNo)),
			reports.Int(it.Quantity), reports.Money(it.Refund),
		})
	}
	return reports.Document{Report: "review", Title: "待复核", Tables: []reports.Table{t}}
}

// reviewPage is GET /office/review: the open items, oldest first, each with its details
// and a resolve form.
func (s *Server) reviewPage(c echo.Context) error {
	return s.showReview(c, http.StatusOK, "", nil)
}

// showReview renders the queue; the item failed (with note and errs) shows its form's
// refusal.
func (s *Server) showReview(c echo.Context, status int, failed string, shown *reviewItem) error {
	_, caller := acting(c)
	items, err := s.cfg.Review.List(c.Request().Context(), caller)
	if err != nil {
		return s.fail(c, err)
	}
	views := make([]reviewItem, len(items))
	for i, it := range items {
		views[i] = newReviewItem(it)
		if it.Mall != "" {
			views[i].MallName = s.mallName(orders.Mall(it.Mall))
		}
		if shown != nil && it.ID == failed {
			views[i].Note, views[i].Errs = shown.Note, shown.Errs
		}
	}
	doc := reviewDocument(views)
	if done, err := s.download(c, doc); done {
		return err
	}
	p := Page{Title: "待复核", Active: "/office/review", Data: reviewData{Items: views, Tables: s.tablesOf(c, doc)}}
	if shown != nil {
		p.Error = shown.Errs.Message
	}
	return s.render(c, status, "office_review.html", p)
}

// resolveReview is POST /office/review/resolve (id, outcome, note): the queue's Resolve,
// audited; a refusal shows the queue again with the item's form and what is wrong.
func (s *Server) resolveReview(c echo.Context) error {
	ctx, caller := acting(c)
	id, note := c.FormValue("id"), c.FormValue("note")
	it, err := s.cfg.Review.Resolve(ctx, caller, id, review.Outcome(c.FormValue("outcome")), note)
	if err != nil {
		fe, ok := refusal(err)
		if !ok {
			return s.fail(c, err)
		}
		status := http.StatusUnprocessableEntity
		if errors409(err) {
			status = http.StatusConflict
		}
		return s.showReview(c, status, id, &reviewItem{Note: note, Errs: fe})
	}
	s.flash(c, "已处理待复核事项 "+it.ID+"（"+zhWord(string(it.Resolved.Outcome))+"）。")
	return c.Redirect(http.StatusSeeOther, "/office/review")
}

// errors409 reports whether err is a conflict (already done, or not allowed now).
func errors409(err error) bool {
	k := orders.ErrorKind(err)
	return k == orders.ErrConflict || k == orders.ErrNotAllowed || k == orders.ErrNotFound
}
