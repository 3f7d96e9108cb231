package api

import (
	"errors"
	"fmt"
	"github.com/labstack/echo/v4"
	"net/http"
	"strings"
	"testing"

	"aidmall/orders"
)

// A client sees the domain's message for it, never the internal wrap chain (table names,
// SQL, driver text), which is kept as the cause for the log.
func TestProblemFor_showsTheClientMessageNotTheChain(t *testing.T) {
	t.Parallel()
	driver := errors.New(`ERROR: duplicate key value violates unique constraint "group_orders_branch_code_order_ref_key" (SQLSTATE 23505)`)
	tests := []struct {
		name   string
		err    error
		status int
		detail string
	}{
		{"message_with_a_driver_cause", fmt.Errorf("place: %w", &orders.Error{Kind: orders.ErrConflict,
			Message: `branch HQ already has an order with order_ref "R1"`, Err: driver}),
			http.StatusConflict, `branch HQ already has an order with order_ref "R1"`},
		{"bare_kind_deep_in_a_chain", fmt.Errorf("order 5 lines: select from order_lines: %w", orders.ErrNotFound),
			http.StatusNotFound, "not found"},
		{"not_allowed", orders.Errorf(orders.ErrNotAllowed, "order 5 is shipped and can no longer be cancelled"),
			http.StatusConflict, "order 5 is shipped and can no longer be cancelled"},
		{"forbidden", orders.Errorf(orders.ErrForbidden, "role auditor may not place orders"),
			http.StatusForbidden, "role auditor may not place orders"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := problemFor(tc.err)
			if p.status != tc.status || p.detail != tc.detail {
				t.Fatalf("status %d detail %q, want %d %q", p.status, p.detail, tc.status, tc.detail)
			}
			for _, leak := range []string{"SQLSTATE", "select", "order_lines", "place:"} {
				if strings.Contains(p.detail, leak) {
					t.Fatalf("detail %q shows the internal chain (%q)", p.detail, leak)
				}
			}
			if !errors.Is(p.cause, tc.err) {
				t.Fatal("the chain is not kept as the cause for the log")
			}
		})
	}
}

// One problem type has one title (RFC 9457 §3.1.3): a 404 of the domain's and a 404 of
// the router read alike.
func TestProblemFor_oneTitleForOneType(t *testing.T) {
	t.Parallel()
	domain := problemFor(fmt.Errorf("order 5: %w", orders.ErrNotFound))
	router := problemFor(echo.NewHTTPError(http.StatusNotFound))
	if domain.slug != router.slug || domain.title != router.title {
		t.Errorf("not found: %q %q from the domain, %q %q from the router", domain.slug, domain.title, router.slug, router.title)
	}
}
