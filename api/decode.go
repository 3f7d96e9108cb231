package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"aidmall/money"
	"aidmall/orders"
)

// Request bodies are decoded strictly, by walking the JSON against the shape each handler
// expects, so that every problem comes back at once with a JSON pointer (RFC 6901):
// malformed JSON → 400 malformed-json; an unknown field, a wrong type, money as a bare
// number or a timestamp without an offset → 422 validation with one entry per field.
// Values (known malls, positive quantities, ...) are the domain's to check.

// fieldDecoder decodes one JSON value found at pointer ptr.
type fieldDecoder func(d *bodyDecoder, raw json.RawMessage, ptr string)

// bodyDecoder collects the field problems of one body.
type bodyDecoder struct {
	errs []fieldProblem
}

func (d *bodyDecoder) add(ptr, detail string) {
	d.errs = append(d.errs, fieldProblem{Pointer: ptr, Detail: detail})
}

// decodeBody checks the Content-Type (absent, or JSON) and the syntax of body, then walks
// it with top (which must expect an object). It returns a *problem: 415, 400 or 422.
func decodeBody(contentType string, body []byte, top fieldDecoder) error {
	if contentType != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return &problem{status: http.StatusUnsupportedMediaType, slug: "unsupported-media-type",
				title: "Unsupported media type", detail: "send the body as application/json"}
		}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return malformed("the body is empty; send a JSON object")
	}
	if !json.Valid(body) {
		var v any
		err := json.Unmarshal(body, &v)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return malformed(fmt.Sprintf("the body is not valid JSON (at byte %d: %s)", se.Offset, se.Error()))
		}
		return malformed("the body is not valid JSON")
	}
	d := &bodyDecoder{}
	top(d, body, "")
	if len(d.errs) > 0 {
		return &problem{status: http.StatusUnprocessableEntity, slug: "validation",
			title: "The request has invalid fields", detail: "see errors", errors: d.errs}
	}
	return nil
}

func malformed(detail string) *problem {
	return &problem{status: http.StatusBadRequest, slug: "malformed-json", title: "Malformed JSON", detail: detail}
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// object decodes a JSON object whose members are given by fields; a member not in fields
// is an error at its own pointer. null is taken as an empty object. Members are visited
// in name order, so problems come in a stable order.
func object(fields map[string]fieldDecoder) fieldDecoder {
	return func(d *bodyDecoder, raw json.RawMessage, ptr string) {
		if isNull(raw) {
			return
		}
		var members map[string]json.RawMessage
		if err := json.Unmarshal(raw, &members); err != nil {
			d.add(ptr, "must be an object")
			return
		}
		for _, name := range slices.Sorted(maps.Keys(members)) {
			p := ptr + "/" + escapePointer(name)
			if f, ok := fields[name]; ok {
				f(d, members[name], p)
			} else {
				d.add(p, "unknown field")
			}
		}
	}
}

// array decodes a JSON array (null = empty) into *dst, one element per item, each
// decoded by the decoder each returns for it.
func array[T any](dst *[]T, each func(elem *T) fieldDecoder) fieldDecoder {
	return func(d *bodyDecoder, raw json.RawMessage, ptr string) {
		if isNull(raw) {
			return
		}
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			d.add(ptr, "must be an array")
			return
		}
		*dst = make([]T, len(items))
		for i, item := range items {
			each(&(*dst)[i])(d, item, ptr+"/"+strconv.Itoa(i))
		}
	}
}

// str decodes a JSON string (null = "").
func str[S ~string](dst *S) fieldDecoder {
	return func(d *bodyDecoder, raw json.RawMessage, ptr string) {
		if isNull(raw) {
			return
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			d.add(ptr, "must be a string")
			return
		}
		*dst = S(s)
	}
}

// integer decodes a JSON integer (no fraction, no exponent; null = 0).
func integer(dst *int64) fieldDecoder {
	return func(d *bodyDecoder, raw json.RawMessage, ptr string) {
		if isNull(raw) {
			return
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
		if err != nil {
			d.add(ptr, "must be a whole number")
			return
		}
		*dst = n
	}
}

// yuan decodes money: a JSON string of yuan with at most 2 decimals ("68.00"); a bare
// number is refused so that money never passes through a float (money.Fen). null = absent.
func yuan(dst **money.Fen) fieldDecoder {
	return func(d *bodyDecoder, raw json.RawMessage, ptr string) {
		if isNull(raw) {
			return
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			d.add(ptr, `money must be a string of yuan with at most 2 decimals, e.g. "68.00", not a number`)
			return
		}
		f, err := money.ParseYuan(s)
		if err != nil {
			d.add(ptr, `must be an amount of yuan with at most 2 decimals, e.g. "68.00"`)
			return
		}
		*dst = &f
	}
}

// timestamp decodes an RFC 3339 timestamp with a UTC offset ("2019-03-05T14:22:10+08:00"
// or "...Z"). null = absent.
func timestamp(dst **time.Time) fieldDecoder {
	return func(d *bodyDecoder, raw json.RawMessage, ptr string) {
		if isNull(raw) {
			return
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			d.add(ptr, "must be an RFC 3339 timestamp string with an offset")
			return
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			d.add(ptr, `must be an RFC 3339 timestamp with an offset, e.g. "2019-03-05T14:22:10+08:00"`)
			return
		}
		*dst = &t
	}
}

// escapePointer escapes a member name for a JSON pointer (RFC 6901 §3).
func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// placeRequestDecoder is the shape of POST /v1/orders:
//
//	{order_ref, branch_code, mall, funding, delivery_mode, ship_to{name,phone,address},
//	 lines[{sku, quantity, unit_price?, recipients?[{name,phone,address,quantity}]}], placed_at?}
func placeRequestDecoder(req *orders.PlaceRequest) fieldDecoder {
	return object(map[string]fieldDecoder{
		"order_ref":     str(&req.OrderRef),
		"branch_code":   str(&req.BranchCode),
		"mall":          str(&req.Mall),
		"funding":       str(&req.Funding),
		"delivery_mode": str(&req.DeliveryMode),
		"ship_to": object(map[string]fieldDecoder{
			"name":    str(&req.ShipTo.Name),
			"phone":   str(&req.ShipTo.Phone),
			"address": str(&req.ShipTo.Address),
		}),
		"lines": array(&req.Lines, func(l *orders.PlaceLine) fieldDecoder {
			return object(map[string]fieldDecoder{
				"sku":        str(&l.SKU),
				"quantity":   integer(&l.Quantity),
				"unit_price": yuan(&l.UnitPrice),
				"recipients": array(&l.Recipients, func(r *orders.Recipient) fieldDecoder {
					return object(map[string]fieldDecoder{
						"name":     str(&r.Name),
						"phone":    str(&r.Phone),
						"address":  str(&r.Address),
						"quantity": integer(&r.Quantity),
					})
				}),
			})
		}),
		"placed_at": timestamp(&req.PlacedAt),
	})
}

// topObject wraps an object decoder for a request body: the body must be an object, not
// null or another value.
func topObject(inner fieldDecoder) fieldDecoder {
	return func(d *bodyDecoder, raw json.RawMessage, ptr string) {
		if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
			d.add(ptr, "the body must be a JSON object")
			return
		}
		inner(d, raw, ptr)
	}
}

// decodePlaceRequest reads the body of POST /v1/orders into a PlaceRequest.
func decodePlaceRequest(contentType string, body []byte) (orders.PlaceRequest, error) {
	var req orders.PlaceRequest
	err := decodeBody(contentType, body, topObject(placeRequestDecoder(&req)))
	return req, err
}
