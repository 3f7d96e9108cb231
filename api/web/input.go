package web

import (
	"mime"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"aidmall/orders"
)

// cleanInput refuses a request whose path parameters, query parameters or (URL-encoded)
// form fields hold text no field may hold — NUL and other control characters, broken
// UTF-8, replacement characters, bidirectional overrides (orders.TextProblem) — with a
// 400 page naming the fields, before any handler or store sees it (PostgreSQL refuses NUL
// outright; nothing such is ever stored). Form fields may hold tabs and line breaks (a
// list pasted from a spreadsheet); a password is checked only for NUL. Multipart uploads
// are the importers' to read, with their own bounds and row errors.
func (s *Server) cleanInput(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		bad := map[string]bool{}
		values := c.ParamValues()
		for i, name := range c.ParamNames() {
			if i < len(values) && orders.TextProblem(values[i]) != "" {
				bad[name] = true
			}
		}
		for name, vs := range c.QueryParams() {
			for _, v := range vs {
				if orders.TextProblem(name) != "" || orders.TextProblem(v) != "" {
					bad[name] = true
				}
			}
		}
		r := c.Request()
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); r.Method == http.MethodPost && mt == "application/x-www-form-urlencoded" {
			if err := r.ParseForm(); err != nil {
				return s.render(c, http.StatusBadRequest, "error.html", Page{Title: "表单无法读取", Error: "表单无法读取，请返回后重新填写提交。"})
			}
			for name, vs := range r.PostForm {
				if domainChecked(c.Path(), name) {
					continue
				}
				for _, v := range vs {
					if formTextProblem(name, v) {
						bad[name] = true
					}
				}
			}
		}
		if len(bad) == 0 {
			return next(c)
		}
		names := make([]string, 0, len(bad))
		for n := range bad {
			names = append(names, n)
		}
		sort.Strings(names)
		return s.render(c, http.StatusBadRequest, "error.html", Page{Title: "输入有误",
			Error: "刚才提交或打开的内容含有不可见的控制字符或乱码（如空字符），已拒绝，没有保存任何内容。请返回，检查刚输入或粘贴的内容后重试。（" + strings.Join(names, "、") + "）"})
	}
}

// orderFormText matches the order form's free-text fields, which orders.Service.Place
// checks itself, each refusal shown on its own field or pasted row with the form kept as
// typed (a Word line break pasted into a list must not throw the clerk's rows away).
var orderFormText = regexp.MustCompile(`^(order_ref|ship_name|ship_phone|ship_address|line-[0-9]+-paste|line-[0-9]+-r-[0-9]+-(name|phone|address))$`)

// domainChecked reports whether form field name of the route path is checked by the
// domain use case the route calls, so this gate leaves it to it.
func domainChecked(path, name string) bool {
	return path == "/orders/new" && orderFormText.MatchString(name)
}

// formTextProblem reports whether v, the form field name's value, holds what no field may:
// a form's text may hold tabs and line breaks, a password anything but NUL and broken UTF-8.
func formTextProblem(name, v string) bool {
	if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
		return true
	}
	if strings.Contains(name, "password") {
		return false
	}
	return orders.TextProblem(strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, v)) != ""
}
