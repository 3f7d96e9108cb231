package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/households"
)

func TestHouseholdIsShownMaskedToTheAidOfficeOnly(t *testing.T) {
	t.Parallel()
	// Household 06300101001 of the 2019 bundle: ID 610630197302274514, phone 18966800067,
	// 4 members; imported (and sealed) through the registry import.
	h := newHarness(t)
	sqltest.ImportBundle(t, h.store, sqltest.ExampleBundle())
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
				if strings.Contains(rec.Body.String(), "4514") || strings.Contains(rec.Body.String(), "0067") {
					t.Fatalf("a refusal carries household data: %s", rec.Body)
				}
				return
			}
			var v households.View
			if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
				t.Fatal(err)
			}
			if v.IDNumber != "610630********4514" || v.Phone != households.MaskPhone("18966800067") || v.Members != 4 ||
				strings.Contains(rec.Body.String(), "19730227") {
				t.Fatalf("household %+v", v)
			}
		})
	}
}
