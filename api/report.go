package api

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"aidmall/orders"
	"aidmall/reports"
)

// benefitReport is GET /v1/reports/benefit?from=YYYY-MM-DD&to=YYYY-MM-DD&by=… (or month=,
// quarter=, year= in place of from and to): the
// reports.Benefit of ATTRIBUTION.md §3 as JSON, CSV or XLSX (format=, or the Accept
// header: see readReportOutput and sendReport). Dates are business days in Beijing time,
// both inclusive. aid_office and auditor only (the route's guard).
func (s *Server) benefitReport(c echo.Context) error {
	q, out, err := parseBenefitQuery(c.QueryParams(), c.Request().Header.Get(echo.HeaderAccept))
	if err != nil {
		return err
	}
	b, err := s.cfg.Reports.Benefit(c.Request().Context(), q)
	if err != nil {
		return err
	}
	if b.Rows == nil {
		b.Rows = []reports.Row{}
	}
	return s.sendReport(c, "benefit", b, out)
}

// parseBenefitQuery reads the period (from and to, month, quarter or year: parseReportParams
// with reports.ParsePeriod), by (required) and the output parameters (format, charset,
// headers: readReportOutput). Unreadable parameters are a 400; a query
// reports.Query.Validate refuses (an end before the start) is a 422; an Accept header
// naming no format we write, a 406.
func parseBenefitQuery(params url.Values, accept string) (q reports.Query, out reportOutput, err error) {
	rp, err := parseReportParams(params, accept, []string{"by"})
	if err != nil {
		return q, rp.out, err
	}
	q.From, q.To = rp.period.From, rp.period.To
	v, ok := rp.values["by"]
	if !ok {
		return q, rp.out, badParameters([]fieldProblem{{Parameter: "by", Detail: "required"}})
	}
	if q.By, err = reports.ParseBy(v); err != nil {
		return q, rp.out, badParameters([]fieldProblem{{Parameter: "by", Detail: "must be one of " + joinBy(reports.Dimensions())}})
	}
	if verr := q.Validate(); verr != nil {
		return q, rp.out, reportQueryProblem(verr)
	}
	return q, rp.out, rp.acceptable()
}

// reportQueryProblem turns reports.Query.Validate's error (fields by pointer: "/from",
// "/to", "/by") into a 422 naming the query parameters.
func reportQueryProblem(err error) *problem {
	p := &problem{status: http.StatusUnprocessableEntity, slug: "validation",
		title: "The request has invalid fields", detail: err.Error()}
	var ve *orders.ValidationError
	if errors.As(err, &ve) {
		p.detail = "see errors"
		for _, f := range ve.Fields {
			p.errors = append(p.errors, fieldProblem{Parameter: strings.TrimPrefix(f.Pointer, "/"), Detail: f.Detail})
		}
	}
	return p
}

func joinBy(dims []reports.By) string {
	names := make([]string, len(dims))
	for i, d := range dims {
		names[i] = string(d)
	}
	return strings.Join(names, ", ")
}
