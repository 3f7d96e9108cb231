package api

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"aidmall/orders"
	"aidmall/review"
)

// ReviewQueue is the review queue's use cases; *review.Service satisfies it. Errors are
// the orders domain's kinds (ErrForbidden, ErrNotFound, ErrConflict, ErrNotAllowed,
// *orders.ValidationError).
type ReviewQueue interface {
	List(ctx context.Context, caller orders.Caller) ([]review.Item, error)
	Get(ctx context.Context, caller orders.Caller, id string) (review.Item, error)
	Resolve(ctx context.Context, caller orders.Caller, id string, outcome review.Outcome, note string) (review.Item, error)
}

// listReview is GET /v1/review: the open items, oldest first (aid_office).
func (s *Server) listReview(c echo.Context) error {
	caller, _ := callerFrom(c)
	if len(c.QueryParams()) > 0 {
		var errs []fieldProblem
		for name := range c.QueryParams() {
			errs = append(errs, fieldProblem{Parameter: name, Detail: "unknown parameter"})
		}
		return badParameters(errs)
	}
	items, err := s.cfg.Review.List(c.Request().Context(), caller)
	if err != nil {
		return err
	}
	if items == nil {
		items = []review.Item{}
	}
	return writeJSON(c, http.StatusOK, map[string]any{"items": items})
}

// getReview is GET /v1/review/{id}: one item, open or resolved, with what could not be
// read (aid_office).
func (s *Server) getReview(c echo.Context) error {
	caller, _ := callerFrom(c)
	it, err := s.cfg.Review.Get(c.Request().Context(), caller, c.Param("id"))
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, it)
}

// resolveReview is POST /v1/review/{id}/resolve {"outcome": "dismissed"|"reread", "note":
// "…"}: resolves the item, recorded in the audit log (aid_office).
func (s *Server) resolveReview(c echo.Context) error {
	caller, _ := callerFrom(c)
	raw, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	// Read as every body is (decode.go): UTF-8 JSON, no duplicate or unknown keys, no
	// control characters in the note.
	var outcome, note string
	if err := decodeBody(c.Request().Header.Get(echo.HeaderContentType), raw,
		topObject(object(map[string]fieldDecoder{"outcome": str(&outcome), "note": str(&note)}))); err != nil {
		return err
	}
	it, err := s.cfg.Review.Resolve(c.Request().Context(), caller, c.Param("id"), review.Outcome(outcome), note)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, it)
}
