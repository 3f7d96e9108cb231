package api_test

import (
	"net/http"
	"testing"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	. "aidmall/api"
	"aidmall/review"
)

// POST /v1/review/{id}/resolve reads its body as every body is read: a NUL in the note,
// a repeated key or another media type is refused, an unknown key named (422), (never a 500 on PostgreSQL,
// which refuses NUL in text), before the queue is touched.
func TestResolveReviewReadsItsBodyAsEveryBody(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		h := newHarnessOn(t, db, func(c *Config) {
			q, err := review.NewService(c.Households.(*sqlstore.Store), c.Orders.(*fakeOrders).Service, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			c.Review = q
		})
		tests := []struct {
			name, body, contentType string
			want                    int
		}{
			{"nul_in_the_note", `{"outcome":"dismissed","note":"checked\u0000"}`, "application/json", http.StatusBadRequest},
			{"unknown_key", `{"outcome":"dismissed","note":"checked","by":"me"}`, "application/json", http.StatusUnprocessableEntity},
			{"repeated_key", `{"outcome":"dismissed","note":"a","note":"b"}`, "application/json", http.StatusBadRequest},
			{"not_json", `outcome=dismissed`, "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
			{"well_formed_for_no_item", `{"outcome":"dismissed","note":"checked"}`, "application/json", http.StatusNotFound},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				rec := h.do(request{method: http.MethodPost, path: "/v1/review/held-999/resolve", key: "key-office", body: tc.body,
					header: map[string]string{"Content-Type": tc.contentType}})
				if rec.Code != tc.want {
					t.Fatalf("status %d, want %d: %s", rec.Code, tc.want, rec.Body)
				}
			})
		}
	})
}
