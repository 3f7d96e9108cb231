package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"aidmall/audit"
	"aidmall/bizday"
	"aidmall/orders"
	"aidmall/reports"
)

// auditPageSize is how many entries one page of the audit log shows.
const auditPageSize = 50

// auditActions are the audit log's actions in Chinese, in the filter's order; a prefix
// ending in "." filters a family (as GET /v1/audit's action does).
var auditActions = []struct{ Action, Label string }{
	{"order.", "订单（全部）"},
	{audit.ActionOrderPlace, "下单"},
	{audit.ActionOrderCancel, "取消订单"},
	{audit.ActionOrderHistory, "导入历史订单"},
	{audit.ActionOrderDispatchFailed, "发送商城失败"},
	{audit.ActionOrderRetryDispatch, "重新发送到商城"},
	{audit.ActionOrderFailover, "转到其他商城"},
	{audit.ActionImport, "导入名录文件"},
	{audit.ActionStatementImport, "导入商城对账单"},
	{audit.ActionBudgetSet, "设置预算"},
	{audit.ActionTargetSet, "设置年度目标"},
	{audit.ActionPeriodClose, "结账"},
	{audit.ActionPeriodReopen, "重新打开期间"},
	{audit.ActionReviewResolve, "处理待复核事项"},
	{"key.", "API 密钥（全部）"},
	{audit.ActionKeyCreate, "新建 API 密钥"},
	{audit.ActionKeyRevoke, "吊销 API 密钥"},
	{audit.ActionKeyRotate, "更换 API 密钥"},
	{"person.", "人员与登录（全部）"},
	{audit.ActionPersonCreate, "新建人员"},
	{audit.ActionPersonReset, "重置密码"},
	{audit.ActionPersonDisable, "停用人员"},
	{audit.ActionPersonEnable, "启用人员"},
	{audit.ActionSignIn, "登录"},
	{audit.ActionSignInRefused, "登录被拒"},
}

// auditActionName is an action in Chinese (the action itself when unknown).
func auditActionName(a string) string {
	for _, x := range auditActions {
		if x.Action == a {
			return x.Label
		}
	}
	return a
}

// auditFilter is the filter as typed: Beijing days from and to (both inclusive), action,
// object.
type auditFilter struct {
	From, To, Action, Object string
}

type auditData struct {
	Filter  auditFilter
	Actions []struct{ Action, Label string }
	Tables  []tableView
	Count   int
	First   bool   // this is the first page
	Next    string // the next page's address ("" on the last)
	Start   string // the first page's address with the same filter
	Errs    *formErrors
}

// auditDocument is one page of entries, in Beijing time, with their changes as recorded
// (personal fields were masked before they reached the log).
func auditDocument(es []audit.Entry) reports.Document {
	t := reports.Table{Name: "审计日志", Columns: []reports.Column{
		{Name: "seq", Title: "序号", Kind: reports.KindInt}, {Name: "at", Title: "时间（北京）"}, {Name: "actor", Title: "操作人"},
		{Name: "role", Title: "角色"}, {Name: "action", Title: "操作"}, {Name: "object", Title: "对象"},
		{Name: "before", Title: "变更前"}, {Name: "after", Title: "变更后"},
	}, Rows: [][]reports.Value{}}
	for _, e := range es {
		t.Rows = append(t.Rows, []reports.Value{
			reports.Int(e.Seq), reports.Text(e.At.In(bizday.Beijing).Format("2006-01-02 15:04:05")), reports.Text(e.Actor.Name),
			reports.Text(roleName(orders.Role(e.Actor.Role))), reports.Text(auditActionName(e.Action)), reports.Text(e.Object),
			reports.Text(string(e.Before)), reports.Text(string(e.After)),
		})
	}
	return reports.Document{Report: "audit", Title: "审计日志", Tables: []reports.Table{t}}
}

// auditPage is GET /office/audit?from=&to=&action=&object=&cursor=: the audit log, oldest
// first, a page at a time (the store's AuditEntries, as GET /v1/audit); the aid office and
// auditors.
func (s *Server) auditPage(c echo.Context) error {
	q := c.QueryParams()
	d := auditData{Filter: auditFilter{From: strings.TrimSpace(q.Get("from")), To: strings.TrimSpace(q.Get("to")),
		Action: strings.TrimSpace(q.Get("action")), Object: strings.TrimSpace(q.Get("object"))}, Actions: auditActions}
	f := audit.Filter{Action: d.Filter.Action, Object: d.Filter.Object, Limit: auditPageSize}
	fe := &formErrors{Message: "筛选条件有误：请更正下列标出的内容。", Fields: map[string]string{}}
	if d.Filter.From != "" {
		day, err := bizday.Parse(d.Filter.From)
		if err != nil {
			fe.Fields["from"] = "请填写日期，如 2019-03-01。"
		} else {
			f.From = day.Start()
		}
	}
	if d.Filter.To != "" {
		day, err := bizday.Parse(d.Filter.To)
		if err != nil {
			fe.Fields["to"] = "请填写日期，如 2019-03-31。"
		} else {
			f.To = day.AddDays(1).Start()
		}
	}
	if v := q.Get("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return s.notFound(c)
		}
		f.After = n
	}
	if len(fe.Fields) > 0 {
		d.Errs = fe
		return s.render(c, http.StatusBadRequest, "office_audit.html", Page{Title: "审计日志", Active: "/office/audit", Error: fe.Message, Data: d})
	}
	es, next, err := s.cfg.Audit.AuditEntries(c.Request().Context(), f)
	if err != nil {
		return s.fail(c, err)
	}
	doc := auditDocument(es)
	if done, err := s.download(c, doc); done {
		return err
	}
	d.Tables, d.Count, d.First = s.tablesOf(c, doc), len(es), f.After == 0
	page := func(cursor int64) string {
		v := url.Values{}
		for k, val := range map[string]string{"from": d.Filter.From, "to": d.Filter.To, "action": d.Filter.Action, "object": d.Filter.Object} {
			if val != "" {
				v.Set(k, val)
			}
		}
		if cursor > 0 {
			v.Set("cursor", strconv.FormatInt(cursor, 10))
		}
		if len(v) == 0 {
			return "/office/audit"
		}
		return "/office/audit?" + v.Encode()
	}
	d.Start = page(0)
	if next > 0 {
		d.Next = page(next)
	}
	return s.render(c, http.StatusOK, "office_audit.html", Page{Title: "审计日志", Active: "/office/audit", Data: d})
}
