package api

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"aidmall/bizday"
	"aidmall/orders"
	"aidmall/reports"
)

const contentTypeCSV = "text/csv; charset=utf-8"

// benefitReport is GET /v1/reports/benefit?from=YYYY-MM-DD&to=YYYY-MM-DD&by=…: the
// reports.Benefit of ATTRIBUTION.md §3 as JSON (reports.WriteJSON), or as CSV
// (reports.WriteCSV) with format=csv or when the
// Accept header prefers text/csv. Dates are business days in Beijing time, both
// inclusive. aid_office and auditor only (the route's guard).
func (s *Server) benefitReport(c echo.Context) error {
	q, csv, err := parseBenefitQuery(c.QueryParams(), c.Request().Header.Get(echo.HeaderAccept))
	if err != nil {
		return err
	}
	b, err := s.cfg.Reports.Benefit(c.Request().Context(), q)
	if err != nil {
		return err
	}
	c.Response().Header().Add(echo.HeaderVary, echo.HeaderAccept)
	var buf bytes.Buffer
	if !csv {
		if err := reports.WriteJSON(&buf, b); err != nil {
			return fmt.Errorf("render benefit json: %w", err)
		}
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, buf.Bytes())
	}
	if err := reports.WriteCSV(&buf, b); err != nil {
		return fmt.Errorf("render benefit csv: %w", err)
	}
	c.Response().Header().Set(echo.HeaderContentDisposition,
		fmt.Sprintf(`attachment; filename="benefit-%s-%s-%s.csv"`, q.From, q.To, q.By))
	return c.Blob(http.StatusOK, contentTypeCSV, buf.Bytes())
}

// parseBenefitQuery reads from, to and by (all required) and format (json or csv,
// optional); csv is true for format=csv, or without format when accept prefers text/csv.
// Unreadable parameters are a 400; a query reports.Query.Validate refuses is a 422.
func parseBenefitQuery(params url.Values, accept string) (q reports.Query, csv bool, err error) {
	var errs []fieldProblem
	bad := func(name, detail string) { errs = append(errs, fieldProblem{Parameter: name, Detail: detail}) }
	format := ""
	for _, name := range slices.Sorted(maps.Keys(params)) {
		vs := params[name]
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
		case "format":
			if v != "json" && v != "csv" {
				bad(name, "must be json or csv")
			}
			format = v
		default:
			bad(name, "unknown parameter")
		}
	}
	for _, name := range []string{"by", "from", "to"} {
		if !params.Has(name) {
			bad(name, "required")
		}
	}
	if len(errs) > 0 {
		return q, false, badParameters(errs)
	}
	if verr := q.Validate(); verr != nil {
		return q, false, reportQueryProblem(verr)
	}
	if format == "" {
		return q, prefersCSV(accept), nil
	}
	return q, format == "csv", nil
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

// prefersCSV reports whether an Accept header (RFC 9110 §12.5.1) gives text/csv a higher
// quality than application/json. Only those two exact types count; wildcards leave JSON,
// the default, in place.
func prefersCSV(accept string) bool {
	var csvQ, jsonQ float64
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f <= 1 {
				q = f
			} else {
				continue
			}
		}
		switch mt {
		case "text/csv":
			csvQ = max(csvQ, q)
		case "application/json":
			jsonQ = max(jsonQ, q)
		}
	}
	return csvQ > 0 && csvQ > jsonQ
}

func joinBy(dims []reports.By) string {
	names := make([]string, len(dims))
	for i, d := range dims {
		names[i] = string(d)
	}
	return strings.Join(names, ", ")
}
