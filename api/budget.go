package api

import (
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"aidmall/money"
	"aidmall/orders"
)

// Budgets reads and sets the branches' budgets per year; *orders.Service satisfies it.
type Budgets interface {
	Budgets(ctx context.Context, caller orders.Caller, year int) ([]orders.BranchBudget, error)
	SetBudget(ctx context.Context, caller orders.Caller, branch string, year int, amount money.Fen) (orders.BranchBudget, *money.Fen, error)
}

// budgetList is the body of GET /v1/budgets.
type budgetList struct {
	Year     int                   `json:"year"`
	Branches []orders.BranchBudget `json:"branches"`
}

// listBudgets is GET /v1/budgets?year=YYYY: every branch's budget for the year (null when
// none is set: not limited), what its union_funds orders use and what remains. aid_office
// and auditor (the route's guard and the service's).
func (s *Server) listBudgets(c echo.Context) error {
	year, err := strconv.Atoi(c.QueryParam("year"))
	if err != nil {
		return badParameters([]fieldProblem{{Parameter: "year", Detail: "required: a year, e.g. 2019"}})
	}
	caller, _ := callerFrom(c)
	bs, err := s.cfg.Budgets.Budgets(c.Request().Context(), caller, year)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, budgetList{Year: year, Branches: bs})
}

// setBudget is PUT /v1/budgets/{branch}/{year} with {"amount": "928000.00"}: sets the
// branch's budget for the year and answers it as it now stands. Idempotent: the same body
// again changes nothing. aid_office only.
func (s *Server) setBudget(c echo.Context) error {
	year, err := strconv.Atoi(c.Param("year"))
	if err != nil {
		return &problem{status: http.StatusNotFound, slug: "not-found", title: "Not Found", detail: "the year in the path is not a year"}
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err
	}
	var amount *money.Fen
	err = decodeBody(c.Request().Header.Get(echo.HeaderContentType), body, topObject(object(map[string]fieldDecoder{"amount": yuan(&amount)})))
	if err != nil {
		return err
	}
	if amount == nil {
		return &problem{status: http.StatusUnprocessableEntity, slug: "validation", title: "The request has invalid fields",
			detail: "see errors", errors: []fieldProblem{{Pointer: "/amount", Detail: "required"}}}
	}
	caller, _ := callerFrom(c)
	b, _, err := s.cfg.Budgets.SetBudget(c.Request().Context(), caller, c.Param("branch"), year, *amount)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, b)
}
