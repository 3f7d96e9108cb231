package api

import (
	"testing"

	"aidmall/money"
)

func TestDecodePlaceRequest(t *testing.T) {
	t.Parallel()
	t.Run("when_every_field_given_expect_all_converted", func(t *testing.T) {
		t.Parallel()
		body := `{"order_ref":"R1","branch_code":"HQ","mall":"auto","funding":"external","delivery_mode":"per_recipient",
			"ship_to":{"name":"n","phone":"p","address":"a"},"placed_at":"2019-03-01T10:00:00+08:00",
			"lines":[{"sku":"S","quantity":3,"unit_price":"68.5","recipients":[{"name":"r","phone":"1","address":"x","quantity":3}]}]}`
		req, err := decodePlaceRequest("application/json; charset=utf-8", []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		l := req.Lines[0]
		if req.OrderRef != "R1" || req.Mall != "auto" || req.Funding != "external" || req.DeliveryMode != "per_recipient" ||
			req.ShipTo.Address != "a" || req.PlacedAt == nil || req.PlacedAt.Unix() != 1551405600 ||
			l.SKU != "S" || l.Quantity != 3 || l.UnitPrice == nil || *l.UnitPrice != money.Fen(6850) ||
			len(l.Recipients) != 1 || l.Recipients[0].Quantity != 3 {
			t.Errorf("decoded %+v (line %+v)", req, l)
		}
	})
	t.Run("when_optional_fields_null_expect_absent", func(t *testing.T) {
		t.Parallel()
		req, err := decodePlaceRequest("application/json", []byte(`{"placed_at":null,"lines":[{"sku":"S","quantity":1,"unit_price":null}]}`))
		if err != nil || req.PlacedAt != nil || req.Lines[0].UnitPrice != nil {
			t.Errorf("got %+v, %v", req, err)
		}
	})
	tests := []struct {
		name        string
		body        string
		wantStatus  int
		wantPointer string
	}{
		{"when_recipient_has_unknown_field_expect_pointer_to_it", `{"lines":[{"recipients":[{"name":"a","id_number":"x"}]}]}`, 422, "/lines/0/recipients/0/id_number"},
		{"when_lines_not_an_array_expect_pointer", `{"lines":{"sku":"a"}}`, 422, "/lines"},
		{"when_ship_to_not_an_object_expect_pointer", `{"ship_to":"Beijing"}`, 422, "/ship_to"},
		{"when_quantity_has_exponent_expect_pointer", `{"lines":[{"quantity":1e2}]}`, 422, "/lines/0/quantity"},
		{"when_quantity_overflows_expect_pointer", `{"lines":[{"quantity":99999999999999999999}]}`, 422, "/lines/0/quantity"},
		{"when_unit_price_has_exponent_expect_pointer", `{"lines":[{"unit_price":"6.8e1"}]}`, 422, "/lines/0/unit_price"},
		{"when_body_is_null_expect_422", `null`, 422, ""},
		{"when_trailing_garbage_expect_400", `{} {}`, 400, ""},
		{"when_whitespace_only_expect_400", " \n", 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := decodePlaceRequest("application/json", []byte(tt.body))
			p := problemFor(err)
			if err == nil || p.status != tt.wantStatus {
				t.Fatalf("error %v, want status %d", err, tt.wantStatus)
			}
			if tt.wantPointer != "" && (len(p.errors) != 1 || p.errors[0].Pointer != tt.wantPointer) {
				t.Errorf("errors %+v, want one at %s", p.errors, tt.wantPointer)
			}
		})
	}
}
