package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"aidmall/orders"
	"aidmall/people"
	"aidmall/reports"
)

// APIKey describes a stored API key (never its secret).
type APIKey struct {
	ID         int64
	Name       string
	Role       orders.Role
	BranchCode string
	Prefix     string // the key's first characters, to recognise it
	CreatedAt  time.Time
	RevokedAt  *time.Time
	RotatedAt  *time.Time
	LastUsedAt *time.Time
}

// Keys is the API keys for machines, as `aidmall users` manages them (sqlstore.Store,
// through cmd's adapter). Create and Rotate return the secret, shown once. Each change
// is audited by the store with the actor the request's context carries.
type Keys interface {
	APIKeys(ctx context.Context) ([]APIKey, error)
	CreateAPIKey(ctx context.Context, name string, role orders.Role, branch string) (string, APIKey, error)
	RotateAPIKey(ctx context.Context, id int64) (string, APIKey, error)
	RevokeAPIKey(ctx context.Context, id int64) error
}

// peoplePages adds the aid office's people and keys page (人员与密钥): the accounts with
// add, reset password, disable and enable; the API keys with create, rotate and revoke.
// Anyone else gets the 404 page.
func (s *Server) peoplePages(g pageGroup) {
	office := s.requireRole(people.CanManage)
	g.GET("/office/people", s.peoplePage, office)
	g.POST("/office/people", s.addPerson, office)
	g.POST("/office/people/:login/reset", s.resetPerson, office)
	g.POST("/office/people/:login/disable", s.disablePerson(true), office)
	g.POST("/office/people/:login/enable", s.disablePerson(false), office)
	g.POST("/office/keys", s.createKey, office)
	g.POST("/office/keys/:id/rotate", s.rotateKey, office)
	g.POST("/office/keys/:id/revoke", s.revokeKey, office)
}

// personForm is the add form's values and each bad field's message.
type personForm struct {
	Login, Name, Role, Branch string
	Errors                    map[string]string
}

// secret is a password or key shown once, right after it was made.
type secret struct {
	What  string // "王芳（wangfang）的初始密码"
	Value string
}

type peopleData struct {
	People  []people.Person // in the order of Tables[0]'s rows
	Keys    []APIKey        // in the order of Tables[1]'s rows (nil without Keys)
	Tables  []tableView
	Form    personForm
	KeyForm personForm
	Secret  *secret
	Roles   []roleOption
	HasKeys bool
}

type roleOption struct {
	Value orders.Role
	Label string
}

var roleOptions = []roleOption{{orders.RoleBranchStaff, "工会干事（本单位下单）"}, {orders.RoleAidOffice, "扶贫办"}, {orders.RoleAuditor, "审计（只看统计）"}}

// peopleDocument lays the accounts and keys out as tables, so that the page and its
// downloads show the same rows.
func peopleDocument(ps []people.Person, ks []APIKey, withKeys bool) reports.Document {
	at := func(t *time.Time) reports.Value {
		if t == nil {
			return reports.Text("")
		}
		return reports.Text(beijing(*t))
	}
	pt := reports.Table{Name: "人员", Columns: []reports.Column{
		{Name: "login", Title: "登录名"}, {Name: "name", Title: "姓名"}, {Name: "role", Title: "角色"},
		{Name: "branch_code", Title: "单位"}, {Name: "state", Title: "状态"}, {Name: "password_at", Title: "密码设置于"},
		{Name: "created_by", Title: "开设人"}, {Name: "updated_by", Title: "最近修改人"}}}
	for _, p := range ps {
		state := "正常"
		if p.Disabled {
			state = "已停用"
		}
		pt.Rows = append(pt.Rows, []reports.Value{reports.Text(p.Login), reports.Text(p.Name), reports.Text(roleName(p.Role)),
			reports.Text(p.BranchCode), reports.Text(state), reports.Text(beijing(p.PasswordAt)), reports.Text(p.CreatedBy), reports.Text(p.UpdatedBy)})
	}
	doc := reports.Document{Report: "people", Title: "人员与密钥", Tables: []reports.Table{pt}}
	if withKeys {
		kt := reports.Table{Name: "API 密钥", Columns: []reports.Column{
			{Name: "id", Title: "编号", Kind: reports.KindInt}, {Name: "prefix", Title: "密钥开头"}, {Name: "name", Title: "持有者"},
			{Name: "role", Title: "角色"}, {Name: "branch_code", Title: "单位"}, {Name: "state", Title: "状态"},
			{Name: "created_at", Title: "创建于"}, {Name: "last_used_at", Title: "最近使用"}}}
		for _, k := range ks {
			state := "有效"
			switch {
			case k.RevokedAt != nil:
				state = "已吊销 " + beijing(*k.RevokedAt)
			case k.RotatedAt != nil:
				state = "已轮换 " + beijing(*k.RotatedAt)
			}
			kt.Rows = append(kt.Rows, []reports.Value{reports.Int(k.ID), reports.Text(k.Prefix + "…"), reports.Text(k.Name),
				reports.Text(roleName(k.Role)), reports.Text(k.BranchCode), reports.Text(state), reports.Text(beijing(k.CreatedAt)), at(k.LastUsedAt)})
		}
		doc.Tables = append(doc.Tables, kt)
	}
	return doc
}

// renderPeople renders the page with status, the add forms' state and a secret to show.
func (s *Server) renderPeople(c echo.Context, status int, form, keyForm personForm, sec *secret, errMsg string) error {
	ctx := c.Request().Context()
	ps, err := s.cfg.People.List(ctx)
	if err != nil {
		return s.fail(c, err)
	}
	var ks []APIKey
	if s.cfg.Keys != nil {
		if ks, err = s.cfg.Keys.APIKeys(ctx); err != nil {
			return s.fail(c, err)
		}
	}
	doc := peopleDocument(ps, ks, s.cfg.Keys != nil)
	if status == http.StatusOK && sec == nil {
		if done, err := s.download(c, doc); done {
			return err
		}
	}
	if form.Role == "" {
		form.Role = string(orders.RoleBranchStaff)
	}
	if keyForm.Role == "" {
		keyForm.Role = string(orders.RoleBranchStaff)
	}
	// Download links point at the page itself (GET), whichever form was posted.
	u := *c.Request().URL
	u.Path, u.RawQuery = "/office/people", ""
	views := make([]tableView, len(doc.Tables))
	for i := range doc.Tables {
		views[i] = tableOf(&u, doc, i)
	}
	return s.render(c, status, "people.html", Page{Title: "人员与密钥", Active: "/office/people", Error: errMsg, Data: peopleData{
		People: ps, Keys: ks, Tables: views, Form: form, KeyForm: keyForm, Secret: sec, Roles: roleOptions, HasKeys: s.cfg.Keys != nil}})
}

func (s *Server) peoplePage(c echo.Context) error {
	return s.renderPeople(c, http.StatusOK, personForm{}, personForm{}, nil, "")
}

// refuse renders the page with err's message for a person: each bad field next to it
// (400), a conflict (409), an unknown login or key (404 page); anything else is a 500.
func (s *Server) refusePeople(c echo.Context, err error, form, keyForm personForm) error {
	var inv *people.InvalidError
	var oe *orders.Error
	switch {
	case errors.As(err, &inv):
		form.Errors = map[string]string{}
		for _, f := range inv.Fields {
			form.Errors[f.Field] = f.Message
		}
		return s.renderPeople(c, http.StatusBadRequest, form, keyForm, nil, "请改正标出的项目："+inv.Message())
	case errors.Is(err, orders.ErrNotFound):
		return s.notFound(c)
	case errors.As(err, &oe) && oe.Message != "":
		status := http.StatusBadRequest
		if errors.Is(err, orders.ErrConflict) {
			status = http.StatusConflict
		}
		return s.renderPeople(c, status, form, keyForm, nil, oe.Message)
	}
	return s.fail(c, err)
}

// addPerson makes an account with a generated password, shown once on the page that
// answers (never stored in the session, never in a redirect).
func (s *Server) addPerson(c echo.Context) error {
	form := personForm{Login: strings.TrimSpace(c.FormValue("login")), Name: strings.TrimSpace(c.FormValue("name")),
		Role: c.FormValue("role"), Branch: strings.TrimSpace(c.FormValue("branch"))}
	branch := form.Branch
	if orders.Role(form.Role) != orders.RoleBranchStaff {
		branch = "" // the field is ignored for the other roles (it stays on the form)
	}
	p, pw, err := s.cfg.People.Add(c.Request().Context(), people.NewPerson{Login: form.Login, Name: form.Name, Role: orders.Role(form.Role), BranchCode: branch})
	if err != nil {
		return s.refusePeople(c, err, form, personForm{})
	}
	return s.renderPeople(c, http.StatusOK, personForm{}, personForm{},
		&secret{What: p.Name + "（" + p.Login + "）的初始密码", Value: pw}, "")
}

func (s *Server) resetPerson(c echo.Context) error {
	p, pw, err := s.cfg.People.ResetPassword(c.Request().Context(), c.Param("login"), "")
	if err != nil {
		return s.refusePeople(c, err, personForm{}, personForm{})
	}
	return s.renderPeople(c, http.StatusOK, personForm{}, personForm{},
		&secret{What: p.Name + "（" + p.Login + "）的新密码（其原有登录已全部退出）", Value: pw}, "")
}

func (s *Server) disablePerson(disabled bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, err := s.cfg.People.SetDisabled(c.Request().Context(), c.Param("login"), disabled)
		if err != nil {
			return s.refusePeople(c, err, personForm{}, personForm{})
		}
		msg := p.Name + "（" + p.Login + "）已启用。"
		if disabled {
			msg = p.Name + "（" + p.Login + "）已停用，其登录已退出。"
		}
		s.flash(c, msg)
		return c.Redirect(http.StatusSeeOther, "/office/people")
	}
}

// createKey makes an API key; its secret is shown once on the page that answers.
func (s *Server) createKey(c echo.Context) error {
	if s.cfg.Keys == nil {
		return s.notFound(c)
	}
	form := personForm{Name: strings.TrimSpace(c.FormValue("name")), Role: c.FormValue("role"), Branch: strings.TrimSpace(c.FormValue("branch"))}
	form.Errors = map[string]string{}
	role := orders.Role(form.Role)
	branch := form.Branch
	if role != orders.RoleBranchStaff {
		branch = ""
	}
	switch {
	case form.Name == "":
		form.Errors["name"] = "请填写持有者（哪个系统或谁在用）"
	case len([]rune(form.Name)) > 64:
		form.Errors["name"] = "持有者最多 64 个字"
	}
	if !role.Valid() {
		form.Errors["role"] = "请选择角色"
	} else if role == orders.RoleBranchStaff && branch == "" {
		form.Errors["branch"] = "工会干事的密钥须指定单位"
	}
	if len(form.Errors) > 0 {
		return s.renderPeople(c, http.StatusBadRequest, personForm{}, form, nil, "请改正标出的项目。")
	}
	token, k, err := s.cfg.Keys.CreateAPIKey(c.Request().Context(), form.Name, role, branch)
	if err != nil {
		if errors.Is(err, orders.ErrInvalid) {
			form.Errors["branch"] = "没有代码为 " + branch + " 的单位"
			return s.renderPeople(c, http.StatusBadRequest, personForm{}, form, nil, "请改正标出的项目。")
		}
		return s.fail(c, err)
	}
	return s.renderPeople(c, http.StatusOK, personForm{}, personForm{},
		&secret{What: "API 密钥 " + strconv.FormatInt(k.ID, 10) + "（" + k.Name + "）", Value: token}, "")
}

func (s *Server) keyID(c echo.Context) (int64, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	return id, err == nil && id > 0 && s.cfg.Keys != nil
}

func (s *Server) rotateKey(c echo.Context) error {
	id, ok := s.keyID(c)
	if !ok {
		return s.notFound(c)
	}
	token, k, err := s.cfg.Keys.RotateAPIKey(c.Request().Context(), id)
	if err != nil {
		return s.refusePeople(c, err, personForm{}, personForm{})
	}
	return s.renderPeople(c, http.StatusOK, personForm{}, personForm{},
		&secret{What: "API 密钥 " + strconv.FormatInt(k.ID, 10) + "（" + k.Name + "）的新密钥（旧密钥已失效）", Value: token}, "")
}

func (s *Server) revokeKey(c echo.Context) error {
	id, ok := s.keyID(c)
	if !ok {
		return s.notFound(c)
	}
	if err := s.cfg.Keys.RevokeAPIKey(c.Request().Context(), id); err != nil {
		return s.refusePeople(c, err, personForm{}, personForm{})
	}
	s.flash(c, "API 密钥 "+strconv.FormatInt(id, 10)+" 已吊销。")
	return c.Redirect(http.StatusSeeOther, "/office/people")
}
