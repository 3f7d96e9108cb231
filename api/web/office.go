package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"html/template"
	"io"
	"strings"

	"github.com/labstack/echo/v4"

	"aidmall/adapters/xlsxreport"
	"aidmall/attribution"
	"aidmall/audit"
	"aidmall/bizday"
	"aidmall/households"
	"aidmall/imports"
	"aidmall/money"
	"aidmall/orders"
	"aidmall/reports"
	"aidmall/review"
)

// The aid office's pages drive the same use cases as the /v1 API, through these
// interfaces (cmd/aidmall passes the same values it gives api.Config).

// ReviewQueue is the review queue's use cases; *review.Service satisfies it.
type ReviewQueue interface {
	List(ctx context.Context, caller orders.Caller) ([]review.Item, error)
	Get(ctx context.Context, caller orders.Caller, id string) (review.Item, error)
	Resolve(ctx context.Context, caller orders.Caller, id string, outcome review.Outcome, note string) (review.Item, error)
}

// Budgets reads and sets the branches' budgets per year, and gives one branch's budget with
// what is used of it to whoever may read it (a clerk their own branch's, for the order
// form); *orders.Service satisfies it.
type Budgets interface {
	BranchBudget(ctx context.Context, caller orders.Caller, branch string, year int) (orders.BranchBudget, error)
	Budgets(ctx context.Context, caller orders.Caller, year int) ([]orders.BranchBudget, error)
	SetBudget(ctx context.Context, caller orders.Caller, branch string, year int, amount money.Fen) (orders.BranchBudget, *money.Fen, error)
}

// Targets reads and sets the group's yearly targets (the report set's; the store
// satisfies it, recording the change in the audit log as the actor of the context).
type Targets interface {
	Target(ctx context.Context, year int) (reports.Target, bool, error)
	SetTarget(ctx context.Context, t reports.Target) (before reports.Target, had bool, err error)
}

// Periods closes and reopens periods and lists them (orders.Service's use cases and the
// store's list, as api.Periods).
type Periods interface {
	ClosePeriod(ctx context.Context, c orders.Caller, name, reason string) (attribution.ClosedPeriod, error)
	ReopenPeriod(ctx context.Context, c orders.Caller, name, reason string) (attribution.ClosedPeriod, error)
	Periods(ctx context.Context) ([]orders.PeriodRecord, error)
}

// AuditLog reads the audit log; adapters/sqlstore's Store satisfies it.
type AuditLog interface {
	AuditEntries(ctx context.Context, f audit.Filter) ([]audit.Entry, int64, error)
}

// Households shows one registered household, masked, and the ledger entries behind its
// benefit (the store's HouseholdView and Provenance, as GET /v1/households/{no} and
// /provenance).
type Households interface {
	HouseholdView(ctx context.Context, no households.HouseholdNo) (households.View, error)
	Provenance(ctx context.Context, no households.HouseholdNo, from, to bizday.Day) (reports.Provenance, error)
}

// Imports is every import by upload, the CLI's own (imports.Files satisfies it).
type Imports interface {
	Import(ctx context.Context, kind households.Kind, name string, r io.Reader, strict bool, budgetYear int) (households.Report, error)
	Linkages(ctx context.Context, name string, r io.Reader, strict, dryRun bool) (households.Report, orders.Changes, error)
	History(ctx context.Context, caller orders.Caller, ordersCSV, linesCSV io.Reader) (imports.HistoryReport, error)
	Statement(ctx context.Context, mall orders.Mall, name string, r io.Reader) (imports.StatementReport, error)
}

// officePages adds the aid office's pages: the review queue, imports by upload, budgets
// and targets, closed periods, the audit log and household provenance (people and keys
// are people.go's). Each is the aid office's only (others get the 404 page), but the
// audit log, which auditors read too; a page whose dependency is not configured is absent.
func (s *Server) officePages(g pageGroup) {
	office := s.requireRole(func(c orders.Caller) bool { return c.Role == orders.RoleAidOffice })
	if s.cfg.Review != nil {
		g.GET("/office/review", s.reviewPage, office)
		g.POST("/office/review/resolve", s.resolveReview, office)
	}
	if s.cfg.Imports != nil {
		g.GET("/office/imports", s.importsPage, office)
		g.POST("/office/imports/registry", s.importRegistry, office)
		g.POST("/office/imports/linkages", s.importLinkages, office)
		g.POST("/office/imports/linkages/confirm", s.confirmLinkages, office)
		g.POST("/office/imports/orders", s.importOrders, office)
		g.POST("/office/imports/statement", s.importStatement, office)
	}
	if s.cfg.Budgets != nil {
		g.GET("/office/budgets", s.budgetsPage, office)
		g.POST("/office/budgets", s.setBudget, office)
		if s.cfg.Targets != nil {
			g.POST("/office/targets", s.setTarget, office)
		}
	}
	if s.cfg.Periods != nil {
		g.GET("/office/periods", s.periodsPage, office)
		g.POST("/office/periods/close", s.periodChange(false), office)
		g.POST("/office/periods/reopen", s.periodChange(true), office)
	}
	if s.cfg.Audit != nil {
		g.GET("/office/audit", s.auditPage, s.requireRole(orders.Caller.CanReadReports))
	}
	if s.cfg.Households != nil {
		g.GET("/office/households", s.householdPage, office)
	}
}

// acting returns the request's context carrying v as the audit log's actor (stores that
// change state outside a domain use case — imports, targets — record it), and v's caller.
func acting(c echo.Context) (context.Context, orders.Caller) {
	v, _ := viewerFrom(c)
	caller := v.Caller()
	return audit.WithActor(c.Request().Context(), caller.Actor()), caller
}

// formErrors are a form's refusal for a person: a message and, by field name, what is
// wrong with each bad field, in Chinese.
type formErrors struct {
	Message string
	Fields  map[string]string
}

// Field is the message for field name ("" when it is fine).
func (f *formErrors) Field(name string) string {
	if f == nil {
		return ""
	}
	return f.Fields[name]
}

// refusal returns err, a domain refusal (an *orders.ValidationError or an *orders.Error
// with a message), as a form's errors in Chinese; ok is false for any other error (a
// failure: s.fail shows it).
func refusal(err error) (*formErrors, bool) {
	var ve *orders.ValidationError
	if errors.As(err, &ve) {
		fe := &formErrors{Message: "请更正下列标出的内容。", Fields: map[string]string{}}
		for _, f := range ve.Fields {
			name := strings.TrimPrefix(f.Pointer, "/")
			fe.Fields[name] = zhDetail(f.Detail)
		}
		return fe, true
	}
	var oe *orders.Error
	if errors.As(err, &oe) && oe.Message != "" {
		return &formErrors{Message: zhMessage(oe.Message)}, true
	}
	return nil, false
}

// maxUpload bounds an upload request (the file and the form), in bytes.
const maxUpload = 8 << 20

// inlineTables returns doc's tables with their downloads as data: links of the file
// itself (CSV and XLSX made from exactly the table shown): for a page that is the answer
// of a form post (an import's result), whose address cannot be fetched again.
func (s *Server) inlineTables(doc reports.Document) ([]tableView, error) {
	views := make([]tableView, len(doc.Tables))
	for i, t := range doc.Tables {
		one := doc
		one.Tables = []reports.Table{t}
		var csv, xlsx bytes.Buffer
		if err := reports.WriteCSVDocument(&csv, one, reports.CSVOptions{Charset: reports.UTF8BOM}); err != nil {
			return nil, err
		}
		if err := xlsxreport.Write(&xlsx, one, s.now()); err != nil {
			return nil, err
		}
		views[i] = tableView{Table: t,
			CSV:  template.URL("data:text/csv;charset=utf-8;base64," + base64.StdEncoding.EncodeToString(csv.Bytes())),
			XLSX: template.URL("data:application/vnd.openxmlformats-officedocument.spreadsheetml.sheet;base64," + base64.StdEncoding.EncodeToString(xlsx.Bytes())),
		}
	}
	return views, nil
}

// thisYear is the Beijing year of now.
func (s *Server) thisYear() int { return s.now().In(bizday.Beijing).Year() }
