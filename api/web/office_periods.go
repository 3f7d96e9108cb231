package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"aidmall/bizday"
	"aidmall/orders"
	"aidmall/reports"
)

// periodsData is the closed periods page: the list, and the close and reopen forms with
// what was typed and their refusal.
type periodsData struct {
	Tables  []tableView
	Latest  string // the latest period still closed (the only one that can be reopened)
	Close   periodForm
	Reopen  periodForm
	Suggest string // the month before this one, for the close form's placeholder
}

type periodForm struct {
	Period, Reason string
	Errs           *formErrors
}

// periodsDocument is every period closed, reopened ones too, latest first.
func periodsDocument(ps []orders.PeriodRecord) reports.Document {
	t := reports.Table{Name: "结账期间", Columns: []reports.Column{
		{Name: "period", Title: "期间"}, {Name: "from", Title: "起始日"}, {Name: "to", Title: "截止日"}, {Name: "state", Title: "状态"},
		{Name: "closed_at", Title: "结账时间"}, {Name: "closed_by", Title: "结账人"}, {Name: "reason", Title: "结账原因"},
		{Name: "reopened_at", Title: "重新打开时间"}, {Name: "reopened_by", Title: "重新打开人"}, {Name: "reopen_reason", Title: "重新打开原因"},
	}, Rows: [][]reports.Value{}}
	for _, p := range ps {
		state, at := "已结账", ""
		if p.ReopenedAt != nil {
			state, at = "已重新打开", beijing(*p.ReopenedAt)
		}
		t.Rows = append(t.Rows, []reports.Value{
			reports.Text(p.Name), reports.Text(p.First.String()), reports.Text(p.Last.String()), reports.Text(state),
			reports.Text(beijing(p.ClosedAt)), reports.Text(p.ClosedBy), reports.Text(p.Reason),
			reports.Text(at), reports.Text(p.ReopenedBy), reports.Text(p.ReopenReason),
		})
	}
	return reports.Document{Report: "periods", Title: "结账期间", Tables: []reports.Table{t}}
}

// periodsPage is GET /office/periods: the closed periods (GET /v1/periods) and the forms
// to close a month or year and to reopen the latest.
func (s *Server) periodsPage(c echo.Context) error {
	return s.showPeriods(c, http.StatusOK, periodsData{})
}

func (s *Server) showPeriods(c echo.Context, status int, d periodsData) error {
	ps, err := s.cfg.Periods.Periods(c.Request().Context())
	if err != nil {
		return s.fail(c, err)
	}
	doc := periodsDocument(ps)
	if done, err := s.download(c, doc); done {
		return err
	}
	d.Tables = s.tablesOf(c, doc)
	for _, p := range ps {
		if p.ReopenedAt == nil {
			d.Latest = p.Name // latest first
			break
		}
	}
	if d.Reopen.Period == "" {
		d.Reopen.Period = d.Latest
	}
	y, m, _ := s.now().In(bizday.Beijing).AddDate(0, -1, 0).Date()
	d.Suggest = fmt.Sprintf("%04d-%02d", y, int(m))
	p := Page{Title: "结账期间", Active: "/office/periods", Data: d}
	if d.Close.Errs != nil {
		p.Error = d.Close.Errs.Message
	} else if d.Reopen.Errs != nil {
		p.Error = d.Reopen.Errs.Message
	}
	return s.render(c, status, "office_periods.html", p)
}

// periodChange is POST /office/periods/close and /office/periods/reopen (period, reason):
// orders.Service's ClosePeriod and ReopenPeriod, as POST /v1/periods/close|reopen.
func (s *Server) periodChange(reopen bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, caller := acting(c)
		form := periodForm{Period: strings.TrimSpace(c.FormValue("period")), Reason: c.FormValue("reason")}
		do, verb := s.cfg.Periods.ClosePeriod, "结账"
		if reopen {
			do, verb = s.cfg.Periods.ReopenPeriod, "重新打开"
		}
		p, err := do(ctx, caller, form.Period, form.Reason)
		if err == nil {
			s.flash(c, fmt.Sprintf("已%s期间 %s（%s 至 %s）。", verb, p.Name, p.First, p.Last))
			return c.Redirect(http.StatusSeeOther, "/office/periods")
		}
		fe, ok := refusal(err)
		if !ok {
			return s.fail(c, err)
		}
		fe.Message = "未能" + verb + "：" + fe.Message
		form.Errs = fe
		d := periodsData{}
		if reopen {
			d.Reopen = form
		} else {
			d.Close = form
		}
		status := http.StatusUnprocessableEntity
		if errors409(err) {
			status = http.StatusConflict
		}
		return s.showPeriods(c, status, d)
	}
}
