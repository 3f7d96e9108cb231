package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"aidmall/orders"
)

// An amount on the budget form is read as the API reads money: "68.000" is refused, not
// taken as ¥68.00 (or as ¥68,000); thousands commas every three digits are fine.
func TestBudgetFormReadsMoneyAsTheContract(t *testing.T) {
	s := newSite(t)
	office := s.as(t, orders.RoleAidOffice, "")
	budget := func() string {
		bs, err := s.svc.Budgets(context.Background(), orders.Caller{Role: orders.RoleAidOffice}, 2026)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			if b.BranchCode == "HQ" && b.Budget != nil {
				return b.Budget.String()
			}
		}
		return "none"
	}
	before := budget()
	for _, bad := range []string{"68.000", "1,00", "+68", "68.", "６８"} {
		resp := office.post("/office/budgets", url.Values{"branch": {"HQ"}, "year": {"2026"}, "amount": {bad}})
		if resp.StatusCode < 400 || resp.StatusCode >= 500 || budget() != before {
			t.Errorf("amount %q: %d, budget %s (was %s): want a refusal and no change", bad, resp.StatusCode, budget(), before)
		}
	}
	for _, tc := range [][2]string{{"928,000.00", "928000.00"}, {"¥1,000", "1000.00"}, {"68", "68.00"}} {
		typed, want := tc[0], tc[1]
		resp := office.post("/office/budgets", url.Values{"branch": {"HQ"}, "year": {"2026"}, "amount": {typed}})
		if resp.StatusCode != http.StatusSeeOther || budget() != want {
			t.Errorf("amount %q: %d, budget %s, want %s", typed, resp.StatusCode, budget(), want)
		}
	}
	if _, body := office.get("/office/budgets?year=2026"); !strings.Contains(body, "¥68.00") {
		t.Errorf("the budgets page does not show the budget set")
	}
}
