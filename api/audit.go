package api

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"aidmall/audit"
)

// AuditLog reads the audit log; adapters/sqlstore's Store satisfies it.
type AuditLog interface {
	// AuditEntries returns one page, oldest first, and the sequence number to pass as
	// Filter.After for the next (0 on the last page).
	AuditEntries(ctx context.Context, f audit.Filter) ([]audit.Entry, int64, error)
}

// auditPage is GET /v1/audit's answer.
type auditPage struct {
	Entries    []audit.Entry `json:"entries"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// listAudit is GET /v1/audit?from=&to=&action=&object=&cursor=&limit=: the audit log,
// oldest first (aid_office and auditor: the route's guard). from/to are RFC 3339
// instants; action is exact or a prefix ending in "."; cursor is next_cursor of the page
// before.
func (s *Server) listAudit(c echo.Context) error {
	var f audit.Filter
	var errs []fieldProblem
	bad := func(name, detail string) { errs = append(errs, fieldProblem{Parameter: name, Detail: detail}) }
	params := c.QueryParams()
	for _, name := range slices.Sorted(maps.Keys(params)) {
		vs := params[name]
		if len(vs) > 1 {
			bad(name, "give this parameter once")
			continue
		}
		v := vs[0]
		switch name {
		case "from", "to":
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				bad(name, "must be an RFC 3339 instant, e.g. 2019-03-01T00:00:00+08:00")
			} else if name == "from" {
				f.From = t
			} else {
				f.To = t
			}
		case "action":
			f.Action = v
		case "object":
			f.Object = v
		case "cursor":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				bad(name, "must be the next_cursor of a previous page")
			}
			f.After = n
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 500 {
				bad(name, "must be a whole number from 1 to 500")
			}
			f.Limit = n
		default:
			bad(name, "unknown parameter")
		}
	}
	if len(errs) > 0 {
		return badParameters(errs)
	}
	es, next, err := s.cfg.Audit.AuditEntries(c.Request().Context(), f)
	if err != nil {
		return err
	}
	page := auditPage{Entries: es}
	if page.Entries == nil {
		page.Entries = []audit.Entry{}
	}
	if next > 0 {
		page.NextCursor = strconv.FormatInt(next, 10)
	}
	return writeJSON(c, http.StatusOK, page)
}
