package api

import (
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"aidmall/bizday"
	"aidmall/orders"
	"aidmall/reports"
)

// benefitReport is GET /v1/reports/benefit?from=YYYY-MM-DD&to=YYYY-MM-DD&by=…: the
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

// parseBenefitQuery reads from, to and by (all required) and the output parameters
// (format, charset, headers: readReportOutput). Unreadable parameters are a 400; a query
// reports.Query.Validate refuses is a 422; an Accept naming no format we write, a 406.
func parseBenefitQuery(params url.Values, accept string) (q reports.Query, out reportOutput, err error) {
	var errs []fieldProblem
	bad := func(name, detail string) { errs = append(errs, fieldProblem{Parameter: name, Detail: detail}) }
	for _, name := range slices.Sorted(maps.Keys(params)) {
		vs := params[name]
		if reportOutputParams[name] {
			continue
		}
		if len(vs) > 1 {
			bad(name, "give this parameter once")
			continue
		}
		v := vs[0]
		switch name {
		case "from", "to":
			d, perr := bizday.Parse(v)
			if perr != nil {
				bad(name, "must be a date YYYY-MM-DD (Beijing time)")
			} else if name == "from" {
				q.From = d
			} else {
				q.To = d
			}
		case "by":
			by, perr := reports.ParseBy(v)
			if perr != nil {
				bad(name, "must be one of "+joinBy(reports.Dimensions()))
			}
			q.By = by
		default:
			bad(name, "unknown parameter")
		}
	}
	for _, name := range []string{"by", "from", "to"} {
		if !params.Has(name) {
			bad(name, "required")
		}
	}
	out, outErrs, notAcceptable := readReportOutput(params, accept)
	errs = append(errs, outErrs...)
	if len(errs) > 0 {
		return q, out, badParameters(errs)
	}
	if verr := q.Validate(); verr != nil {
		return q, out, reportQueryProblem(verr)
	}
	if notAcceptable != nil {
		return q, out, notAcceptable
	}
	return q, out, nil
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
