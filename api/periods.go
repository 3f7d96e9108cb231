package api

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"aidmall/attribution"
	"aidmall/bizday"
	"aidmall/households"
	"aidmall/orders"
	"aidmall/reports"
)

// Periods closes and reopens periods (ATTRIBUTION.md §5) and shows the aid office its
// households and their provenance (orders.Service and adapters/sqlstore implement it).
type Periods interface {
	ClosePeriod(ctx context.Context, c orders.Caller, name, reason string) (attribution.ClosedPeriod, error)
	ReopenPeriod(ctx context.Context, c orders.Caller, name, reason string) (attribution.ClosedPeriod, error)
	Periods(ctx context.Context) ([]orders.PeriodRecord, error)
	HouseholdsReport(ctx context.Context, from, to bizday.Day) (reports.Households, error)
	Provenance(ctx context.Context, no households.HouseholdNo, from, to bizday.Day) (reports.Provenance, error)
}

type periodJSON struct {
	Period       string     `json:"period"`
	From         bizday.Day `json:"from"`
	To           bizday.Day `json:"to"`
	ClosedAt     time.Time  `json:"closed_at"`
	ClosedBy     string     `json:"closed_by"`
	Reason       string     `json:"reason"`
	ReopenedAt   *time.Time `json:"reopened_at,omitempty"`
	ReopenedBy   string     `json:"reopened_by,omitempty"`
	ReopenReason string     `json:"reopen_reason,omitempty"`
}

func periodOf(r orders.PeriodRecord) periodJSON {
	return periodJSON{Period: r.Name, From: r.First, To: r.Last, ClosedAt: r.ClosedAt, ClosedBy: r.ClosedBy, Reason: r.Reason,
		ReopenedAt: r.ReopenedAt, ReopenedBy: r.ReopenedBy, ReopenReason: r.ReopenReason}
}

// periodChange is POST /v1/periods/close and /v1/periods/reopen with {"period": "2019" or
// "2019-12", "reason": "…"}. aid_office only.
func (s *Server) periodChange(reopen bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		caller, _ := callerFrom(c)
		body, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return fmt.Errorf("read body: %w", err)
		}
		var name, reason string
		if err := decodeBody(c.Request().Header.Get(echo.HeaderContentType), body,
			topObject(object(map[string]fieldDecoder{"period": str(&name), "reason": str(&reason)}))); err != nil {
			return err
		}
		do := s.cfg.Periods.ClosePeriod
		if reopen {
			do = s.cfg.Periods.ReopenPeriod
		}
		p, err := do(c.Request().Context(), caller, name, reason)
		if err != nil {
			return err
		}
		rec := orders.PeriodRecord{ClosedPeriod: p}
		if reopen {
			now := s.now().UTC()
			rec.ReopenedAt, rec.ReopenedBy, rec.ReopenReason = &now, caller.Name, reason
		}
		return c.JSON(http.StatusOK, periodOf(rec))
	}
}

// listPeriods is GET /v1/periods: every period closed, reopened ones too, latest first.
func (s *Server) listPeriods(c echo.Context) error {
	ps, err := s.cfg.Periods.Periods(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]periodJSON, len(ps))
	for i, p := range ps {
		out[i] = periodOf(p)
	}
	return c.JSON(http.StatusOK, map[string]any{"periods": out})
}

// parseRange reads the required from and to (YYYY-MM-DD, Beijing, both inclusive).
func parseRange(params url.Values) (from, to bizday.Day, err error) {
	var errs []fieldProblem
	for _, name := range slices.Sorted(maps.Keys(params)) {
		vs := params[name]
		if name != "from" && name != "to" {
			errs = append(errs, fieldProblem{Parameter: name, Detail: "unknown parameter"})
			continue
		}
		if len(vs) > 1 {
			errs = append(errs, fieldProblem{Parameter: name, Detail: "give this parameter once"})
			continue
		}
		d, perr := bizday.Parse(vs[0])
		if perr != nil {
			errs = append(errs, fieldProblem{Parameter: name, Detail: "must be a date YYYY-MM-DD (Beijing time)"})
		} else if name == "from" {
			from = d
		} else {
			to = d
		}
	}
	for _, name := range []string{"from", "to"} {
		if !params.Has(name) {
			errs = append(errs, fieldProblem{Parameter: name, Detail: "required"})
		}
	}
	if len(errs) > 0 {
		return from, to, badParameters(errs)
	}
	if to.Before(from) {
		return from, to, &orders.ValidationError{Fields: []orders.FieldError{{Pointer: "/to", Detail: "must not be before from"}}}
	}
	return from, to, nil
}

// householdsReport is GET /v1/reports/households?from=&to=: per-household net benefit with
// masked ID numbers, people and linked suppliers. aid_office only.
func (s *Server) householdsReport(c echo.Context) error {
	from, to, err := parseRange(c.QueryParams())
	if err != nil {
		return err
	}
	h, err := s.cfg.Periods.HouseholdsReport(c.Request().Context(), from, to)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h)
}

// provenance is GET /v1/households/{no}/provenance?from=&to=: every ledger entry behind the
// household's net benefit in the period. aid_office only.
func (s *Server) provenance(c echo.Context) error {
	from, to, err := parseRange(c.QueryParams())
	if err != nil {
		return err
	}
	p, err := s.cfg.Periods.Provenance(c.Request().Context(), households.HouseholdNo(c.Param("no")), from, to)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}
