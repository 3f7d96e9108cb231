package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"aidmall/money"
	"aidmall/orders"
)

// Request bodies are decoded strictly, so that every problem comes back at once with a
// JSON pointer (RFC 6901) and nothing the client did not mean is stored or sent to a mall:
//
//	Content-Type not application/json (or a charset but UTF-8)  415 unsupported-media-type
//	a body that is not UTF-8 (GB18030, Latin-1, a BOM), empty, not JSON,
//	data after the JSON value, a member name twice in one object,
//	nesting deeper than maxDepth                                  400 malformed-json
//	a control character (NUL, line break, …), U+FFFD, a lone
//	surrogate or a bidi override in any string                    400 invalid-text
//	an unknown field, a wrong type, money not exactly as the
//	contract's pattern, a fractional quantity, a timestamp
//	without an offset                                             422 validation
//
// Values (known malls, positive quantities, dialable phones, ...) are the domain's to check
// (orders.Service.Place), which the pages call too.

// maxDepth bounds the nesting of a request body: the deepest request (an order's
// recipients) is 5 levels deep.
const maxDepth = 16

// fieldDecoder decodes one JSON value found at pointer ptr.
type fieldDecoder func(d *bodyDecoder, raw json.RawMessage, ptr string)

// bodyDecoder collects the field problems of one body.
type bodyDecoder struct {
	errs []fieldProblem
}

func (d *bodyDecoder) add(ptr, detail string) {
	d.errs = append(d.errs, fieldProblem{Pointer: ptr, Detail: detail})
}

// unsupportedMediaType is the 415 for a body that is not UTF-8 JSON by its Content-Type.
func unsupportedMediaType(detail string) *problem {
	return &problem{status: http.StatusUnsupportedMediaType, slug: "unsupported-media-type",
		title: "Unsupported media type", detail: detail}
}

// checkContentType takes application/json, with no parameter but charset=utf-8.
func checkContentType(contentType string) error {
	if strings.TrimSpace(contentType) == "" {
		return unsupportedMediaType("send the body with Content-Type: application/json")
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/json" {
		return unsupportedMediaType("send the body as application/json")
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return unsupportedMediaType("send the body as application/json in UTF-8 (charset=utf-8 or none)")
		}
	}
	return nil
}

// decodeBody checks the Content-Type and the encoding and syntax of body (scanBody), then
// walks it with top (which must expect an object). It returns a *problem: 415, 400 or 422.
func decodeBody(contentType string, body []byte, top fieldDecoder) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return malformed("the body is empty; send a JSON object")
	}
	if err := checkContentType(contentType); err != nil {
		return err
	}
	if bytes.HasPrefix(body, []byte("\xef\xbb\xbf")) {
		return malformed("the body starts with a byte order mark; send UTF-8 JSON without one")
	}
	if i := invalidUTF8At(body); i >= 0 {
		return malformed(fmt.Sprintf("the body is not UTF-8 (at byte %d): send UTF-8 JSON, not GB18030 or another encoding", i))
	}
	if err := scanBody(body); err != nil {
		return err
	}
	d := &bodyDecoder{}
	top(d, body, "")
	if len(d.errs) > 0 {
		return &problem{status: http.StatusUnprocessableEntity, slug: "validation",
			title: "The request has invalid fields", detail: "see errors", errors: d.errs}
	}
	return nil
}

// invalidUTF8At is the offset of the first byte of b that is not UTF-8, or -1.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// scanFrame is one open object or array of scanBody.
type scanFrame struct {
	object  bool
	ptr     string
	names   map[string]bool // the object's member names so far
	name    string          // the object's current member
	wantKey bool
	index   int // the array's next element
}

// scanBody reads body token by token and refuses, with a pointer each: a member name
// given twice in one object (encoding/json would keep the last silently), a string or
// member name that orders.TextProblem refuses, nesting deeper than maxDepth, and anything
// after the one JSON value. Syntax errors are a 400 with their byte offset.
func scanBody(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var (
		stack      []*scanFrame
		structural []fieldProblem
		text       []fieldProblem
	)
	top := func() *scanFrame {
		if len(stack) == 0 {
			return nil
		}
		return stack[len(stack)-1]
	}
	valuePtr := func() string {
		f := top()
		switch {
		case f == nil:
			return ""
		case f.object:
			return f.ptr + "/" + escapePointer(f.name)
		}
		return f.ptr + "/" + strconv.Itoa(f.index)
	}
	done := func() { // a value ended
		if f := top(); f != nil {
			if f.object {
				f.wantKey = true
			} else {
				f.index++
			}
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return malformed(fmt.Sprintf("the body is not valid JSON (at byte %d: %s)", se.Offset, se.Error()))
			}
			return malformed("the body is not valid JSON: it ends too soon")
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				stack = append(stack, &scanFrame{object: t == '{', ptr: valuePtr(), names: map[string]bool{}, wantKey: t == '{'})
				if len(stack) > maxDepth {
					return &problem{status: http.StatusBadRequest, slug: "malformed-json", title: "Malformed JSON",
						detail: fmt.Sprintf("the body nests deeper than %d levels", maxDepth),
						errors: []fieldProblem{{Pointer: top().ptr, Detail: "nested too deep"}}}
				}
				continue
			default:
				stack = stack[:len(stack)-1]
				done()
			}
		case string:
			if f := top(); f != nil && f.object && f.wantKey {
				p := f.ptr + "/" + escapePointer(t)
				if d := orders.TextProblem(t); d != "" {
					text = append(text, fieldProblem{Pointer: p, Detail: "the member name " + d})
				}
				if f.names[t] {
					structural = append(structural, fieldProblem{Pointer: p,
						Detail: "given twice in one object: send each member once"})
				}
				f.names[t], f.name, f.wantKey = true, t, false
				continue
			}
			if d := orders.TextProblem(t); d != "" {
				text = append(text, fieldProblem{Pointer: valuePtr(), Detail: d})
			}
			done()
		default:
			done()
		}
		if len(stack) == 0 {
			break
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		at := dec.InputOffset()
		structural = append(structural, fieldProblem{Pointer: "",
			Detail: fmt.Sprintf("data after the JSON value (from byte %d): send one JSON object", at)})
	}
	switch {
	case len(structural) > 0:
		return &problem{status: http.StatusBadRequest, slug: "malformed-json", title: "Malformed JSON",
			detail: "see errors", errors: structural}
	case len(text) > 0:
		return invalidText(text)
	}
	return nil
}

// invalidText is the 400 for text that orders.TextProblem refuses: in a body (pointers)
// or in path and query parameters (parameters).
func invalidText(errs []fieldProblem) *problem {
	return &problem{status: http.StatusBadRequest, slug: "invalid-text", title: "Text with characters not allowed",
		detail: "text must be UTF-8 without control characters (NUL, line breaks, …), U+FFFD or bidirectional overrides",
		errors: errs}
}

// checkParams is /v1 middleware: every path and query parameter, name and value, must be
// text that orders.TextProblem takes; a NUL in a household number must never reach
// PostgreSQL (a 500 there) nor be looked up as a different number on SQLite.
func checkParams(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		var errs []fieldProblem
		values := c.ParamValues()
		for i, name := range c.ParamNames() {
			if i < len(values) {
				if d := orders.TextProblem(values[i]); d != "" {
					errs = append(errs, fieldProblem{Parameter: name, Detail: d})
				}
			}
		}
		q := c.QueryParams()
		for _, name := range slices.Sorted(maps.Keys(q)) {
			if d := orders.TextProblem(name); d != "" {
				errs = append(errs, fieldProblem{Parameter: name, Detail: "the parameter name " + d})
				continue
			}
			for _, v := range q[name] {
				if d := orders.TextProblem(v); d != "" {
					errs = append(errs, fieldProblem{Parameter: name, Detail: d})
					break
				}
			}
		}
		if len(errs) > 0 {
			return invalidText(errs)
		}
		return next(c)
	}
}

// malformed is a 400 for a body that cannot be read as JSON at all; its one entry points
// at the whole document ("").
func malformed(detail string) *problem {
	return &problem{status: http.StatusBadRequest, slug: "malformed-json", title: "Malformed JSON", detail: detail,
		errors: []fieldProblem{{Pointer: "", Detail: detail}}}
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
		f, err := money.ParseAmount(s)
		if err != nil {
			d.add(ptr, `must be an amount of yuan as in "68.00": digits without a sign, spaces or leading zeros, at most 2 decimals`)
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
