package web

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"aidmall/money"
	"aidmall/orders"
	"aidmall/reports"
)

// budgetsData is the budgets page: the year's budgets (and target), the forms' values and
// their refusal.
type budgetsData struct {
	Year       int
	Branches   []orders.BranchBudget
	Tables     []tableView
	HasTargets bool
	Target     *reports.Target
	Budget     budgetForm
	BudgetErrs *formErrors
	TargetForm targetForm
	TargetErrs *formErrors
}

type budgetForm struct{ Branch, Year, Amount string }

type targetForm struct{ Year, Purchased, HelpedSell string }

// budgetsDocument is the year's budgets, and its target when the page shows targets.
func budgetsDocument(year int, bs []orders.BranchBudget, target *reports.Target, withTargets bool) reports.Document {
	t := reports.Table{Name: "预算", Columns: []reports.Column{
		{Name: "branch", Title: "单位代码"}, {Name: "label", Title: "单位名称"}, {Name: "budget", Title: "预算", Kind: reports.KindMoney},
		{Name: "used", Title: "已使用", Kind: reports.KindMoney}, {Name: "remaining", Title: "剩余", Kind: reports.KindMoney},
	}, Rows: [][]reports.Value{}}
	for _, b := range bs {
		budget, remaining := reports.Text("无预算"), reports.Text("")
		if b.Budget != nil {
			budget, remaining = reports.Money(*b.Budget), reports.Money(*b.Remaining)
		}
		t.Rows = append(t.Rows, []reports.Value{reports.Text(b.BranchCode), reports.Text(b.BranchName), budget, reports.Money(b.Used), remaining})
	}
	doc := reports.Document{Report: "budgets", Title: "预算", Params: []reports.Field{{Name: "year", Title: "年度", Value: reports.Text(strconv.Itoa(year))}},
		Tables: []reports.Table{t}}
	if withTargets {
		tt := reports.Table{Name: "年度目标", Columns: []reports.Column{
			{Name: "year", Title: "年度"}, {Name: "purchased_amount", Title: "购买目标", Kind: reports.KindMoney},
			{Name: "helped_sell_amount", Title: "帮助销售目标", Kind: reports.KindMoney}, {Name: "set_by", Title: "设定人"}, {Name: "set_at", Title: "设定时间"},
		}, Rows: [][]reports.Value{}}
		if target != nil {
			tt.Rows = append(tt.Rows, []reports.Value{reports.Text(strconv.Itoa(target.Year)), reports.Money(target.PurchasedAmount),
				reports.Money(target.HelpedSellAmount), reports.Text(target.SetBy), reports.Text(beijing(target.SetAt))})
		}
		doc.Tables = append(doc.Tables, tt)
	}
	return doc
}

// yearParam reads ?year= (this Beijing year when absent); ok is false when it is not a year.
func (s *Server) yearParam(c echo.Context) (int, bool) {
	v := strings.TrimSpace(c.QueryParam("year"))
	if v == "" {
		return s.thisYear(), true
	}
	y, err := strconv.Atoi(v)
	return y, err == nil && y >= orders.MinBudgetYear && y <= orders.MaxBudgetYear
}

// budgetsPage is GET /office/budgets?year=: every branch's budget for the year with what
// its orders use and what remains (orders.Service.Budgets, as GET /v1/budgets), the
// year's targets, and the forms that set them.
func (s *Server) budgetsPage(c echo.Context) error {
	year, ok := s.yearParam(c)
	d := budgetsData{Year: year}
	if !ok {
		return s.showBudgets(c, http.StatusBadRequest, budgetsData{Year: s.thisYear(),
			BudgetErrs: &formErrors{Message: fmt.Sprintf("年份应为 %d 至 %d 之间的四位数字。", orders.MinBudgetYear, orders.MaxBudgetYear)}})
	}
	return s.showBudgets(c, http.StatusOK, d)
}

func (s *Server) showBudgets(c echo.Context, status int, d budgetsData) error {
	ctx, caller := acting(c)
	bs, err := s.cfg.Budgets.Budgets(ctx, caller, d.Year)
	if err != nil {
		return s.fail(c, err)
	}
	d.Branches, d.HasTargets = bs, s.cfg.Targets != nil
	if d.HasTargets {
		t, had, err := s.cfg.Targets.Target(ctx, d.Year)
		if err != nil {
			return s.fail(c, err)
		}
		if had {
			d.Target = &t
		}
	}
	doc := budgetsDocument(d.Year, bs, d.Target, d.HasTargets)
	if done, err := s.download(c, doc); done {
		return err
	}
	d.Tables = s.tablesOf(c, doc)
	if d.Budget.Year == "" {
		d.Budget.Year = strconv.Itoa(d.Year)
	}
	if d.TargetForm.Year == "" {
		d.TargetForm.Year = strconv.Itoa(d.Year)
		if d.Target != nil {
			d.TargetForm.Purchased, d.TargetForm.HelpedSell = d.Target.PurchasedAmount.String(), d.Target.HelpedSellAmount.String()
		}
	}
	p := Page{Title: "预算与目标", Active: "/office/budgets", Data: d}
	if d.BudgetErrs != nil {
		p.Error = d.BudgetErrs.Message
	} else if d.TargetErrs != nil {
		p.Error = d.TargetErrs.Message
	}
	return s.render(c, status, "office_budgets.html", p)
}

// formYear reads a year field; the message is its refusal in Chinese ("" when it is fine).
func formYear(v string) (int, string) {
	y, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, "请填写四位年份，如 2019。"
	}
	return y, ""
}

// thousands is an amount with its thousands separated by commas, as people type and
// spreadsheets copy it ("928,000.00"); the commas must sit every three digits.
var thousands = regexp.MustCompile(`^[0-9]{1,3}(,[0-9]{3})+(\.[0-9]{1,2})?$`)

// formYuan reads an amount of yuan ("928000.00", "928000", "928,000.00", "¥928,000"):
// the contract's Money once a leading ¥ and well-placed thousands commas are taken off,
// so "68.000" (sixty-eight thousand to some, sixty-eight to others) is refused, not
// guessed. The message is its refusal.
func formYuan(v string) (money.Fen, string) {
	v = strings.TrimPrefix(strings.TrimSpace(v), "¥")
	if v == "" {
		return 0, "请填写金额（元），如 928000.00。"
	}
	if strings.Contains(v, ",") {
		if !thousands.MatchString(v) {
			return 0, "金额中的逗号应每三位一个，如 928,000.00；也可不写逗号。"
		}
		v = strings.ReplaceAll(v, ",", "")
	}
	f, err := money.ParseAmount(v)
	if err != nil {
		return 0, "金额应为元，最多两位小数，如 928000.00（不能写成 68.000）。"
	}
	return f, ""
}

// setBudget is POST /office/budgets (branch, year, amount): orders.Service.SetBudget, as
// PUT /v1/budgets/{branch}/{year}, audited there.
func (s *Server) setBudget(c echo.Context) error {
	ctx, caller := acting(c)
	form := budgetForm{Branch: strings.TrimSpace(c.FormValue("branch")), Year: c.FormValue("year"), Amount: c.FormValue("amount")}
	fe := &formErrors{Message: "预算未设置：请更正下列标出的内容。", Fields: map[string]string{}}
	year, msg := formYear(form.Year)
	if msg != "" {
		fe.Fields["year"] = msg
	}
	amount, msg := formYuan(form.Amount)
	if msg != "" {
		fe.Fields["amount"] = msg
	}
	if form.Branch == "" {
		fe.Fields["branch"] = "请选择单位。"
	}
	if len(fe.Fields) == 0 {
		b, before, err := s.cfg.Budgets.SetBudget(ctx, caller, form.Branch, year, amount)
		if err == nil {
			was := "原无预算"
			if before != nil {
				was = "原为 " + yuan(*before)
			}
			s.flash(c, fmt.Sprintf("已将 %s（%s）%d 年预算设为 %s（%s）。", b.BranchName, b.BranchCode, year, yuan(amount), was))
			return c.Redirect(http.StatusSeeOther, "/office/budgets?year="+strconv.Itoa(year))
		}
		var ok bool
		if fe, ok = refusal(err); !ok {
			return s.fail(c, err)
		}
		fe.Message = "预算未设置：" + fe.Message
	}
	shown := s.thisYear()
	if year >= orders.MinBudgetYear && year <= orders.MaxBudgetYear {
		shown = year
	}
	return s.showBudgets(c, http.StatusUnprocessableEntity, budgetsData{Year: shown, Budget: form, BudgetErrs: fe})
}

// setTarget is POST /office/targets (year, purchased, helped_sell): the report set's
// SetTarget, as PUT /v1/targets/{year}, audited by the store with this person as actor.
func (s *Server) setTarget(c echo.Context) error {
	ctx, caller := acting(c)
	form := targetForm{Year: c.FormValue("year"), Purchased: c.FormValue("purchased"), HelpedSell: c.FormValue("helped_sell")}
	fe := &formErrors{Message: "目标未设置：请更正下列标出的内容。", Fields: map[string]string{}}
	year, msg := formYear(form.Year)
	if msg != "" {
		fe.Fields["year"] = msg
	}
	purchased, msg := formYuan(form.Purchased)
	if msg != "" {
		fe.Fields["purchased_amount"] = msg
	}
	helped, msg := formYuan(form.HelpedSell)
	if msg != "" {
		fe.Fields["helped_sell_amount"] = msg
	}
	if len(fe.Fields) == 0 {
		t := reports.Target{Year: year, PurchasedAmount: purchased, HelpedSellAmount: helped, SetBy: caller.Name, SetAt: s.now().UTC()}
		_, _, err := s.cfg.Targets.SetTarget(ctx, t)
		if err == nil {
			s.flash(c, fmt.Sprintf("已设定 %d 年目标：购买 %s，帮助销售 %s。", year, yuan(purchased), yuan(helped)))
			return c.Redirect(http.StatusSeeOther, "/office/budgets?year="+strconv.Itoa(year))
		}
		var ok bool
		if fe, ok = refusal(err); !ok {
			return s.fail(c, err)
		}
		fe.Message = "目标未设置：" + fe.Message
	}
	shown := s.thisYear()
	if year >= orders.MinBudgetYear && year <= orders.MaxBudgetYear {
		shown = year
	}
	return s.showBudgets(c, http.StatusUnprocessableEntity, budgetsData{Year: shown, TargetForm: form, TargetErrs: fe})
}
