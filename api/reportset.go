package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"aidmall/bizday"
	"aidmall/money"
	"aidmall/orders"
	"aidmall/reports"
)

// ReportSet serves the report set beyond the benefit report: the responsibility-letter
// indicators and their targets, breakdowns, supplier sales, unattributed sales and
// branch spending (adapters/sqlstore's Store satisfies it).
type ReportSet interface {
	Indicators(ctx context.Context, year int) (reports.Indicators, error)
	Breakdown(ctx context.Context, q reports.BreakdownQuery) (reports.Breakdown, error)
	SupplierSales(ctx context.Context, p reports.Period) (reports.SupplierSales, error)
	Unattributed(ctx context.Context, p reports.Period) (reports.Unattributed, error)
	Spending(ctx context.Context, p reports.Period) (reports.Spending, error)
	Target(ctx context.Context, year int) (reports.Target, bool, error)
	// SetTarget stores a year's target and returns the one it replaced (had false when none).
	SetTarget(ctx context.Context, t reports.Target) (before reports.Target, had bool, err error)
}

// reportSetRoutes adds the report set's routes: reports for aid_office and auditor,
// setting a target for aid_office only.
func (s *Server) reportSetRoutes(e *echo.Echo, route func(...echo.MiddlewareFunc) []echo.MiddlewareFunc) {
	if s.cfg.ReportSet == nil {
		return
	}
	readers := allowRoles("reports", orders.Caller.CanReadReports)
	e.GET("/v1/reports/indicators", s.indicatorsReport, route(readers)...)
	e.GET("/v1/reports/breakdown", s.breakdownReport, route(readers)...)
	e.GET("/v1/reports/suppliers", s.supplierReport, route(readers)...)
	e.GET("/v1/reports/unattributed", s.unattributedReport, route(readers)...)
	e.GET("/v1/reports/spending", s.spendingReport, route(readers)...)
	e.GET("/v1/targets/:year", s.getTarget, route(readers)...)
	e.PUT("/v1/targets/:year", s.putTarget, route(allowRoles("targets", func(c orders.Caller) bool { return c.Role == orders.RoleAidOffice }))...)
}

// reportParams are a report's query parameters: the period (from/to, month, quarter or
// year, reports.ParsePeriod), the output (format, charset, headers: readReportOutput) and
// the report's own extra parameters by name; notAcceptable is the 406 of an Accept header
// naming no format we write (acceptable returns it).
type reportParams struct {
	period        reports.Period
	out           reportOutput
	values        map[string]string
	notAcceptable *problem
}

// acceptable is the 406 problem when the Accept header names no format we write, else
// nil: a handler returns it once its own parameters are read, so that a bad request is a
// 400 or 422 before it is a 406.
func (rp reportParams) acceptable() error {
	if rp.notAcceptable != nil {
		return rp.notAcceptable
	}
	return nil
}

// parseReportParams reads a report's query parameters, the extra names allowed besides
// the period and the output's. Every unreadable, repeated or unknown parameter is a 400
// naming it; a range whose end is before its start, a 422 naming to. An Accept header
// naming no format we write is left in notAcceptable for the handler (rp.acceptable).
func parseReportParams(params url.Values, accept string, extra []string) (reportParams, error) {
	out := reportParams{values: map[string]string{}}
	var errs []fieldProblem
	bad := func(name, detail string) { errs = append(errs, fieldProblem{Parameter: name, Detail: detail}) }
	var pp reports.PeriodParams
	for _, name := range slices.Sorted(maps.Keys(params)) {
		if reportOutputParams[name] {
			continue // readReportOutput's
		}
		vs := params[name]
		if len(vs) > 1 {
			bad(name, "give this parameter once")
			continue
		}
		v := vs[0]
		switch name {
		case "from":
			pp.From = v
		case "to":
			pp.To = v
		case "month":
			pp.Month = v
		case "quarter":
			pp.Quarter = v
		case "year":
			pp.Year = v
		default:
			if slices.Contains(extra, name) {
				out.values[name] = v
			} else {
				bad(name, "unknown parameter")
			}
		}
	}
	o, outErrs, notAcceptable := readReportOutput(params, accept)
	out.out = o
	errs = append(errs, outErrs...)
	if len(errs) > 0 {
		return out, badParameters(errs)
	}
	p, err := readPeriod(pp)
	if err != nil {
		return out, err
	}
	out.period = p
	out.notAcceptable = notAcceptable
	return out, nil
}

// readPeriod reads a period by reports.ParsePeriod: a 400 naming the parameter at fault,
// except a readable range whose end is before its start, which is a 422 naming to (as
// reports.Query.Validate has it).
func readPeriod(pp reports.PeriodParams) (reports.Period, error) {
	p, err := reports.ParsePeriod(pp)
	if err == nil {
		return p, nil
	}
	if pp.Month == "" && pp.Quarter == "" && pp.Year == "" {
		from, ferr := bizday.Parse(strings.TrimSpace(pp.From))
		to, terr := bizday.Parse(strings.TrimSpace(pp.To))
		if ferr == nil && terr == nil && to.Before(from) {
			return p, reportQueryProblem(err)
		}
	}
	return p, parameterProblem(err)
}

// parameterProblem turns a domain ValidationError (fields by pointer "/name") into a 400
// naming the query parameters.
func parameterProblem(err error) error {
	var ve *orders.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	var errs []fieldProblem
	for _, f := range ve.Fields {
		errs = append(errs, fieldProblem{Parameter: strings.TrimPrefix(f.Pointer, "/"), Detail: f.Detail})
	}
	return badParameters(errs)
}

// indicatorsReport is GET /v1/reports/indicators?year=YYYY: JSON, CSV or XLSX (sendReport).
func (s *Server) indicatorsReport(c echo.Context) error {
	params := c.QueryParams()
	for name := range params {
		if name != "year" && !reportOutputParams[name] {
			return badParameters([]fieldProblem{{Parameter: name, Detail: "unknown parameter (indicators take year, and format, charset, headers)"}})
		}
	}
	if !params.Has("year") {
		return badParameters([]fieldProblem{{Parameter: "year", Detail: "required (YYYY)"}})
	}
	rp, err := parseReportParams(params, c.Request().Header.Get(echo.HeaderAccept), nil)
	if err != nil {
		return err
	}
	if err := rp.acceptable(); err != nil {
		return err
	}
	x, err := s.cfg.ReportSet.Indicators(c.Request().Context(), rp.period.From.Start().Year())
	if err != nil {
		return reportError(err)
	}
	return s.sendReport(c, "indicators", x, rp.out)
}

// breakdownReport is GET /v1/reports/breakdown?by=a[,b]&<period>[&compare=true].
func (s *Server) breakdownReport(c echo.Context) error {
	rp, err := parseReportParams(c.QueryParams(), c.Request().Header.Get(echo.HeaderAccept), []string{"by", "compare"})
	if err != nil {
		return err
	}
	q := reports.BreakdownQuery{Period: rp.period}
	by, ok := rp.values["by"]
	if !ok {
		return badParameters([]fieldProblem{{Parameter: "by", Detail: "required: a dimension or a pair, e.g. county,month"}})
	}
	if q.By, err = reports.ParseDimensions(by); err != nil {
		return parameterProblem(err)
	}
	if v, ok := rp.values["compare"]; ok {
		if q.Compare, err = strconv.ParseBool(v); err != nil {
			return badParameters([]fieldProblem{{Parameter: "compare", Detail: "must be true or false"}})
		}
	}
	if err := rp.acceptable(); err != nil {
		return err
	}
	b, err := s.cfg.ReportSet.Breakdown(c.Request().Context(), q)
	if err != nil {
		return reportError(err)
	}
	if b.Rows == nil {
		b.Rows = []reports.BreakdownRow{}
	}
	return s.sendReport(c, "breakdown", b, rp.out)
}

// reportError is a report's error as the API answers it: the report's own refusal of its
// query (a domain ValidationError, e.g. a comparison reaching before the first day a
// report covers) is the 422 every report gives, naming query parameters as the benefit
// report does (reportQueryProblem); any other error as it is.
func reportError(err error) error {
	var ve *orders.ValidationError
	if errors.As(err, &ve) {
		return reportQueryProblem(err)
	}
	return err
}

// periodReport serves a report of one period in the asked output (sendReport).
func periodReport[T reports.Tabular](s *Server, name string, get func(context.Context, reports.Period) (T, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		rp, err := parseReportParams(c.QueryParams(), c.Request().Header.Get(echo.HeaderAccept), nil)
		if err != nil {
			return err
		}
		if err := rp.acceptable(); err != nil {
			return err
		}
		v, err := get(c.Request().Context(), rp.period)
		if err != nil {
			return reportError(err)
		}
		return s.sendReport(c, name, v, rp.out)
	}
}

// supplierReport is GET /v1/reports/suppliers?<period>.
func (s *Server) supplierReport(c echo.Context) error {
	return periodReport(s, "suppliers", s.cfg.ReportSet.SupplierSales)(c)
}

// unattributedReport is GET /v1/reports/unattributed?<period>.
func (s *Server) unattributedReport(c echo.Context) error {
	return periodReport(s, "unattributed", s.cfg.ReportSet.Unattributed)(c)
}

// spendingReport is GET /v1/reports/spending?<period>.
func (s *Server) spendingReport(c echo.Context) error {
	return periodReport(s, "spending", s.cfg.ReportSet.Spending)(c)
}

func pathYear(c echo.Context) (int, error) {
	y, err := reports.ParseYear(c.Param("year"))
	if err != nil {
		return 0, &problem{status: http.StatusNotFound, slug: "not-found", title: "Not Found", detail: err.Error()}
	}
	return y, nil
}

// getTarget is GET /v1/targets/{year}: the year's target, 404 when none is set.
func (s *Server) getTarget(c echo.Context) error {
	y, err := pathYear(c)
	if err != nil {
		return err
	}
	t, ok, err := s.cfg.ReportSet.Target(c.Request().Context(), y)
	if err != nil {
		return err
	}
	if !ok {
		return &problem{status: http.StatusNotFound, slug: "not-found", title: "Not Found", detail: fmt.Sprintf("no target is set for %d", y)}
	}
	return c.JSON(http.StatusOK, t)
}

// putTarget is PUT /v1/targets/{year} {"purchased_amount":"…","helped_sell_amount":"…"}
// (yuan strings): sets the year's target, aid_office only.
func (s *Server) putTarget(c echo.Context) error {
	y, err := pathYear(c)
	if err != nil {
		return err
	}
	raw, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	var body struct{ Purchased, HelpedSell *money.Fen }
	if err := decodeBody(c.Request().Header.Get(echo.HeaderContentType), raw, topObject(object(map[string]fieldDecoder{
		"purchased_amount": yuan(&body.Purchased), "helped_sell_amount": yuan(&body.HelpedSell)}))); err != nil {
		return err
	}
	var fields []orders.FieldError
	if body.Purchased == nil {
		fields = append(fields, orders.FieldError{Pointer: "/purchased_amount", Detail: "required (yuan, e.g. \"1200000.00\")"})
	}
	if body.HelpedSell == nil {
		fields = append(fields, orders.FieldError{Pointer: "/helped_sell_amount", Detail: "required (yuan, e.g. \"800000.00\")"})
	}
	if len(fields) > 0 {
		return &orders.ValidationError{Fields: fields}
	}
	caller, _ := callerFrom(c)
	t := reports.Target{Year: y, PurchasedAmount: *body.Purchased, HelpedSellAmount: *body.HelpedSell,
		SetBy: caller.Name, SetAt: s.now().UTC()}
	if _, _, err := s.cfg.ReportSet.SetTarget(c.Request().Context(), t); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}
