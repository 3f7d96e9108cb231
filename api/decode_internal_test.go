package api

import (
	"errors"
	"reflect"
	"testing"

	"aidmall/money"
	"aidmall/orders"
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

// FuzzDecodePlaceRequest feeds arbitrary bodies and Content-Types to the order request
// decoder: it never panics; it refuses with a 400, 415 or 422 problem that has errors[]
// (415 aside); and what it takes holds only text the domain takes (orders.TextProblem),
// money within the contract's pattern, and decodes the same way twice.
func FuzzDecodePlaceRequest(f *testing.F) {
	for _, s := range []string{
		`{"order_ref":"K13","branch_code":"HQ","mall":"ccb","funding":"union_funds","delivery_mode":"bulk","ship_to":{"name":"王芳","phone":"13800001234","address":"北京市"},"lines":[{"sku":"YC-APL-5KG-DZ","quantity":20,"unit_price":"68.00"}]}`,
		`{"order_ref":"K13","order_ref":"K13b"}`,
		`{"lines":[{"recipients":[{"name":"\u0000","quantity":1}]}]}`,
		`{"ship_to":{"name":"\ud800"}} {}`,
		`{"lines":[{"unit_price":"068.00"},{"unit_price":"+1"},{"unit_price":"1."}]}`,
		"{\"order_ref\":\"\xc4\xfa\"}",
		`{"placed_at":"1990-01-01T00:00:00Z","lines":[[[[[[[[]]]]]]]]}`,
	} {
		f.Add("application/json", s)
	}
	f.Add("application/json; charset=gb18030", `{}`)
	f.Add("", `{}`)
	f.Fuzz(func(t *testing.T, contentType, body string) {
		req, err := decodePlaceRequest(contentType, []byte(body))
		if err != nil {
			var p *problem
			if !errors.As(err, &p) {
				t.Fatalf("not a problem: %v", err)
			}
			switch p.status {
			case 400, 422:
				if len(p.errors) == 0 {
					t.Fatalf("%d without errors[]: %v", p.status, err)
				}
			case 415:
			default:
				t.Fatalf("status %d: %v", p.status, err)
			}
			return
		}
		texts := []string{req.OrderRef, req.BranchCode, string(req.Mall), string(req.Funding), string(req.DeliveryMode),
			req.ShipTo.Name, req.ShipTo.Phone, req.ShipTo.Address}
		for _, l := range req.Lines {
			texts = append(texts, l.SKU)
			for _, r := range l.Recipients {
				texts = append(texts, r.Name, r.Phone, r.Address)
			}
			if l.UnitPrice != nil {
				if _, err := money.ParseAmount(l.UnitPrice.String()); err != nil {
					t.Fatalf("unit_price %s outside the contract", l.UnitPrice)
				}
			}
		}
		for _, s := range texts {
			if d := orders.TextProblem(s); d != "" {
				t.Fatalf("took %q: %s", s, d)
			}
		}
		again, err := decodePlaceRequest(contentType, []byte(body))
		if err != nil || !reflect.DeepEqual(req, again) {
			t.Fatalf("decoded differently twice: %+v, %+v, %v", req, again, err)
		}
	})
}
