package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"aidmall/households"
	"aidmall/orders"
)

type fakeHouseholds map[string]households.View

func (f fakeHouseholds) HouseholdView(_ context.Context, no string) (households.View, error) {
	h, ok := f[no]
	if !ok {
		return households.View{}, orders.ErrNotFound
	}
	return h, nil
}

func TestHouseholdIsShownMaskedToTheAidOfficeOnly(t *testing.T) {
	t.Parallel()
	reg := fakeHouseholds{"06300101001": {No: "06300101001", HeadName: "张*", IDNumber: "610630********123X",
		Phone: "138****0000", Members: 4, County: "宜川县"}}
	h := newHarness(t, func(c *Config) { c.Households = reg })
	cases := []struct {
		name, key, no string
		want          int
	}{
		{"when_aid_office_expect_the_masked_household", "key-office", "06300101001", http.StatusOK},
		{"when_aid_office_asks_an_unknown_number_expect_404", "key-office", "99999999999", http.StatusNotFound},
		{"when_branch_staff_expect_403", "key-hq", "06300101001", http.StatusForbidden},
		{"when_auditor_expect_403", "key-auditor", "06300101001", http.StatusForbidden},
		{"when_no_key_expect_401", "", "06300101001", http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := h.do(request{method: http.MethodGet, path: "/v1/households/" + tc.no, key: tc.key})
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
			if tc.want != http.StatusOK {
				problemOf(t, rec)
				if strings.Contains(rec.Body.String(), "123X") {
					t.Fatalf("a refusal carries household data: %s", rec.Body)
				}
				return
			}
			var v households.View
			if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
				t.Fatal(err)
			}
			if v.IDNumber != "610630********123X" || v.Phone != "138****0000" || v.Members != 4 {
				t.Fatalf("household %+v", v)
			}
		})
	}
}
