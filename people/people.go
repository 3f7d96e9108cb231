// Package people is the accounts of the people who sign in to the pages (网页账号): union
// branch staff (工会干事) of one branch, the group's aid office (扶贫办) and auditors. The
// aid office makes them, resets their passwords and disables them; API keys stay for
// machines. It holds the rules (logins, names, the password policy, argon2id hashing,
// session lifetimes) and the use cases (Service); adapters/sqlstore stores them.
//
// No password, hash or session id ever reaches the audit log or a log line: what is
// audited is Person.auditView.
package people

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"aidmall/orders"
)

// Person is one account. PasswordHash is the argon2id hash in PHC form (HashPassword);
// it never leaves the store but to be checked.
type Person struct {
	ID           int64
	Login        string
	Name         string
	Role         orders.Role
	BranchCode   string // branch_staff only
	PasswordHash string
	Disabled     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
	CreatedBy    string // the audit actor who made the account ("web:wang", "cli:root")
	UpdatedBy    string // who last reset, disabled or enabled it
	PasswordAt   time.Time
}

// Caller is p as the domain's caller: a page is allowed what an API key of the same role
// and branch is.
func (p Person) Caller() orders.Caller {
	return orders.Caller{Name: "web:" + p.Login, Role: p.Role, BranchCode: p.BranchCode}
}

// CanManage reports whether c may make, reset and disable accounts and manage API keys:
// the aid office only.
func CanManage(c orders.Caller) bool { return c.Role == orders.RoleAidOffice }

// auditView is what the audit log keeps of p: never the hash.
func (p Person) auditView() map[string]any {
	m := map[string]any{"login": p.Login, "name": p.Name, "role": string(p.Role), "disabled": p.Disabled}
	if p.BranchCode != "" {
		m["branch_code"] = p.BranchCode
	}
	if !p.PasswordAt.IsZero() {
		m["password_set_at"] = p.PasswordAt.UTC().Format(time.RFC3339)
	}
	return m
}

// Errors of the use cases. ErrBadSignIn is the one answer to an unknown login, a wrong
// password and a disabled account, so that a sign-in page cannot tell which.
var (
	ErrBadSignIn = errors.New("people: wrong login or password")
)

// FieldError is one bad field of a request, with its message for a person (zh-CN).
type FieldError struct {
	Field   string // login, name, role, branch, password
	Message string
}

// InvalidError lists every bad field of a request; it wraps orders.ErrInvalid.
type InvalidError struct{ Fields []FieldError }

func (e *InvalidError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid: " + strings.Join(parts, "; ")
}

func (e *InvalidError) Unwrap() error { return orders.ErrInvalid }

// Message is the fields' messages in one sentence, for a page or a terminal.
func (e *InvalidError) Message() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Message
	}
	return strings.Join(parts, "；")
}

// Of returns the message of field f ("" when it is fine).
func (e *InvalidError) Of(f string) string {
	for _, fe := range e.Fields {
		if fe.Field == f {
			return fe.Message
		}
	}
	return ""
}

func (e *InvalidError) add(field, format string, a ...any) {
	e.Fields = append(e.Fields, FieldError{Field: field, Message: fmt.Sprintf(format, a...)})
}

func (e *InvalidError) orNil() error {
	if e == nil || len(e.Fields) == 0 {
		return nil
	}
	return e
}

// loginPattern: 3 to 32 lowercase ASCII letters, digits, '.', '_' or '-', starting with a
// letter (pinyin names, staff numbers: wangfang, hq.zhang01).
var loginPattern = regexp.MustCompile(`^[a-z][a-z0-9._-]{2,31}$`)

// NormalizeLogin is login as stored: trimmed and lowercased (sign-in is case-blind).
func NormalizeLogin(login string) string { return strings.ToLower(strings.TrimSpace(login)) }

// CheckLogin reports whether login (normalized) has the login pattern.
func CheckLogin(login string) bool { return loginPattern.MatchString(login) }

// MaxNameRunes is the longest display name.
const MaxNameRunes = 32

func checkName(e *InvalidError, name string) {
	switch n := utf8.RuneCountInString(name); {
	case name == "":
		e.add("name", "请填写姓名")
	case n > MaxNameRunes:
		e.add("name", "姓名最多 %d 个字", MaxNameRunes)
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }):
		e.add("name", "姓名含有不可见字符")
	}
}

// NewPerson is an account as the aid office asks for it.
type NewPerson struct {
	Login      string
	Name       string
	Role       orders.Role
	BranchCode string
	// Password is the initial password; empty: one is generated (GeneratePassword) and
	// returned once.
	Password string
}

// check normalizes r and returns every bad field.
func (r *NewPerson) check() error {
	e := &InvalidError{}
	r.Login = NormalizeLogin(r.Login)
	r.Name = strings.TrimSpace(r.Name)
	r.BranchCode = strings.TrimSpace(r.BranchCode)
	if !CheckLogin(r.Login) {
		e.add("login", "登录名须为 3–32 位小写字母、数字或 . _ -，以字母开头")
	}
	checkName(e, r.Name)
	switch {
	case !r.Role.Valid():
		e.add("role", "角色须为 branch_staff（工会干事）、aid_office（扶贫办）或 auditor（审计）")
	case r.Role == orders.RoleBranchStaff && r.BranchCode == "":
		e.add("branch", "工会干事须指定所属单位")
	case r.Role != orders.RoleBranchStaff && r.BranchCode != "":
		e.add("branch", "只有工会干事属于某个单位")
	}
	if r.Password != "" {
		if msg := PasswordProblem(r.Password, r.Login); msg != "" {
			e.add("password", "%s", msg)
		}
	}
	return e.orNil()
}
