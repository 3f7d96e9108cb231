package api

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"aidmall/households"
)

// Households shows registered households, masked (adapters/sqlstore implements it).
type Households interface {
	// HouseholdView returns household no, masked; orders.ErrNotFound if not registered.
	HouseholdView(ctx context.Context, no households.HouseholdNo) (households.View, error)
}

// getHousehold is GET /v1/households/{no}: one registered household with its name, ID
// number and phone masked (GB 11643 ID as 610630********123X). aid_office only (the
// route's guard): branches and auditors never see household records.
func (s *Server) getHousehold(c echo.Context) error {
	h, err := s.cfg.Households.HouseholdView(c.Request().Context(), households.HouseholdNo(c.Param("no")))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h)
}
