package web

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"aidmall/money"
	"aidmall/orders"
)

// The order form (/orders/new) as the browser sends it. Field names are index-based, so
// that the page works without script: line-{i}-sku, line-{i}-qty, line-{i}-remove,
// line-{i}-paste (rows pasted from a spreadsheet) and line-{i}-r-{j}-{name,phone,address,qty}
// (recipients typed in rows). The script only adds and removes rows, renumbering them.

// Bounds on what one form may carry (a bigger order is an import, not a form).
const (
	maxFormLines      = 50
	maxTypedPerLine   = 500
	emptyTypedRows    = 2 // empty recipient rows offered under each line
	emptyLinesOffered = 1 // empty line rows offered under the lines
)

// orderForm is the form as typed, kept whole to render it again with its errors.
type orderForm struct {
	Token    string
	OrderRef string
	Branch   string // the aid office chooses it; branch staff's is theirs
	Mall     string // "auto" or a mall code
	Funding  string
	Delivery string // bulk or per_recipient
	ShipTo   orders.ShipTo
	Lines    []formLine
	Removed  bool // a line was removed: show the form again rather than place
}

// formLine is one line of the form.
type formLine struct {
	SKU, Qty string
	Typed    []formRecipient
	Paste    string
	Pasted   []pastedRow
	Errs     []string // the line's own errors (product, quantity, recipients' total)
}

// formRecipient is one recipient typed in a row.
type formRecipient struct {
	Name, Phone, Address, Qty string
	Err                       string
}

func (r formRecipient) empty() bool {
	return strings.TrimSpace(r.Name+r.Phone+r.Address+r.Qty) == ""
}

func (l formLine) empty() bool {
	if strings.TrimSpace(l.SKU+l.Qty+l.Paste) != "" {
		return false
	}
	for _, r := range l.Typed {
		if !r.empty() {
			return false
		}
	}
	return true
}

// readOrderForm reads the posted form; empty lines and empty typed rows are dropped.
func readOrderForm(v url.Values) orderForm {
	get := func(k string) string { return strings.TrimSpace(v.Get(k)) }
	f := orderForm{Token: get("form_token"), OrderRef: get("order_ref"), Branch: get("branch"), Mall: get("mall"),
		Funding: get("funding"), Delivery: get("delivery_mode"),
		ShipTo: orders.ShipTo{Name: get("ship_name"), Phone: get("ship_phone"), Address: get("ship_address")}}
	for i := 0; i < maxFormLines; i++ {
		p := fmt.Sprintf("line-%d-", i)
		l := formLine{SKU: get(p + "sku"), Qty: get(p + "qty"), Paste: v.Get(p + "paste")}
		for j := 0; j < maxTypedPerLine; j++ {
			rp := fmt.Sprintf("%sr-%d-", p, j)
			r := formRecipient{Name: get(rp + "name"), Phone: get(rp + "phone"), Address: get(rp + "address"), Qty: get(rp + "qty")}
			if !r.empty() {
				l.Typed = append(l.Typed, r)
			}
		}
		if v.Get(p+"remove") != "" {
			f.Removed = true
			continue
		}
		if !l.empty() {
			f.Lines = append(f.Lines, l)
		}
	}
	return f
}

// origin says where recipient k of request line i came from: typed row j, or pasted row n.
type origin struct {
	line   int // index into orderForm.Lines
	typed  int // -1 when pasted
	pasted int // index into formLine.Pasted; -1 when typed
}

// request converts f into a PlaceRequest for branch. It reports false when some row
// could not be read (a pasted row of the wrong shape, a quantity that is not a number):
// those rows carry their errors and nothing must be placed. lineOf maps a request line to
// its form line; recips maps (request line, recipient) to where it was typed or pasted.
func (f *orderForm) request(branch string) (req orders.PlaceRequest, lineOf []int, recips [][]origin, ok bool) {
	ok = true
	req = orders.PlaceRequest{OrderRef: f.OrderRef, BranchCode: branch, Mall: orders.Mall(f.Mall),
		Funding: orders.Funding(f.Funding), DeliveryMode: orders.DeliveryMode(f.Delivery)}
	perRecipient := req.DeliveryMode == orders.DeliveryPerRecipient
	if !perRecipient {
		req.ShipTo = f.ShipTo
	}
	for i := range f.Lines {
		l := &f.Lines[i]
		pl := orders.PlaceLine{SKU: l.SKU}
		var from []origin
		if perRecipient {
			for j := range l.Typed {
				r := &l.Typed[j]
				n, err := strconv.ParseInt(r.Qty, 10, 64)
				if err != nil || n <= 0 {
					r.Err = "数量应为正整数"
					ok = false
				}
				pl.Recipients = append(pl.Recipients, orders.Recipient{Name: r.Name, Phone: r.Phone, Address: r.Address, Quantity: n})
				from = append(from, origin{line: i, typed: j, pasted: -1})
			}
			if l.Pasted == nil { // read once; a second reading keeps the errors placed on its rows
				l.Pasted = parsePasted(l.Paste)
			}
			for j, r := range l.Pasted {
				if r.Err != "" {
					ok = false
				}
				pl.Recipients = append(pl.Recipients, orders.Recipient{Name: r.Name, Phone: r.Phone, Address: r.Address, Quantity: r.Quantity})
				from = append(from, origin{line: i, typed: -1, pasted: j})
			}
		}
		switch q, err := strconv.ParseInt(l.Qty, 10, 64); {
		case l.Qty == "" && len(pl.Recipients) > 0:
			// No quantity typed: the recipients' quantities are the line's.
			for _, r := range pl.Recipients {
				pl.Quantity += r.Quantity
			}
		case err != nil:
			if l.Qty != "" {
				l.Errs = append(l.Errs, "数量应为正整数")
				ok = false
			}
		default:
			pl.Quantity = q
		}
		req.Lines = append(req.Lines, pl)
		lineOf = append(lineOf, i)
		recips = append(recips, from)
	}
	return req, lineOf, recips, ok
}

// orderFormErrors are the domain's refusals placed next to their fields, in Chinese.
type orderFormErrors struct {
	Fields map[string]string // order_ref, branch, mall, funding, delivery_mode, ship_name, ship_phone, ship_address, lines
	Other  []string          // what names no field of the form
}

func (e orderFormErrors) Any() bool { return len(e.Fields) > 0 || len(e.Other) > 0 }

// place puts each field error of ve next to its field, line, typed row or pasted row.
func (f *orderForm) place(ve *orders.ValidationError, lineOf []int, recips [][]origin, budgetText func(detail string) string) orderFormErrors {
	fe := orderFormErrors{Fields: map[string]string{}}
	for _, fld := range ve.Fields {
		parts := strings.Split(strings.TrimPrefix(fld.Pointer, "/"), "/")
		msg := zhMessage(fld.Detail)
		switch {
		case parts[0] == "lines" && len(parts) == 1:
			if strings.Contains(fld.Detail, "budget") {
				msg = budgetText(fld.Detail)
			}
			fe.Fields["lines"] = join(fe.Fields["lines"], msg)
		case parts[0] == "lines":
			k, err := strconv.Atoi(parts[1])
			if err != nil || k < 0 || k >= len(lineOf) {
				fe.Other = append(fe.Other, msg)
				continue
			}
			l := &f.Lines[lineOf[k]]
			if len(parts) >= 4 && parts[2] == "recipients" {
				r, err := strconv.Atoi(parts[3])
				if err != nil || r < 0 || r >= len(recips[k]) {
					l.Errs = append(l.Errs, msg)
					continue
				}
				o := recips[k][r]
				if o.typed >= 0 {
					l.Typed[o.typed].Err = join(l.Typed[o.typed].Err, msg)
				} else {
					l.Pasted[o.pasted].Err = join(l.Pasted[o.pasted].Err, msg)
				}
				continue
			}
			what := map[string]string{"sku": "商品：", "quantity": "数量：", "recipients": "收件人：", "unit_price": "单价："}[strings.Join(parts[2:], "/")]
			l.Errs = append(l.Errs, what+msg)
		case parts[0] == "ship_to" && len(parts) == 2:
			fe.Fields["ship_"+parts[1]] = join(fe.Fields["ship_"+parts[1]], msg)
		case parts[0] == "order_ref", parts[0] == "mall", parts[0] == "funding", parts[0] == "delivery_mode":
			fe.Fields[parts[0]] = join(fe.Fields[parts[0]], msg)
		case parts[0] == "branch_code":
			fe.Fields["branch"] = join(fe.Fields["branch"], msg)
		default:
			fe.Other = append(fe.Other, msg)
		}
	}
	return fe
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "；" + b
}

// newFormToken returns a one-time token for a form rendered at t: t's Unix milliseconds
// and 96 random bits, base64url. It names one rendering of the form; a repeat of the
// same token is the same submission (see placeOnce).
func newFormToken(t time.Time) string {
	var b [20]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixMilli()))
	_, _ = rand.Read(b[8:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// formTokenTime returns when the form with token tok was rendered; false for a token
// this site did not make.
func formTokenTime(tok string) (time.Time, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) != 20 {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(binary.BigEndian.Uint64(b[:8]))), true
}

// sameOrder reports whether o is what req asks for: the same funding, delivery, lines
// and recipients, and the mall asked for unless automatic.
func sameOrder(o *orders.GroupOrder, req orders.PlaceRequest) bool {
	if o.Funding != req.Funding || o.DeliveryMode != req.DeliveryMode || len(o.Lines) != len(req.Lines) ||
		(req.Mall != orders.MallAuto && o.Mall != req.Mall) {
		return false
	}
	for i, l := range req.Lines {
		ol := o.Lines[i]
		if ol.SKU != l.SKU || ol.Quantity != l.Quantity || len(ol.Recipients) != len(l.Recipients) {
			return false
		}
		for j, r := range l.Recipients {
			or := ol.Recipients[j]
			if or.Name != r.Name || or.Phone != r.Phone || or.Address != r.Address || or.Quantity != r.Quantity {
				return false
			}
		}
	}
	return true
}

// mallTotal is what the lines come to at one mall, from the catalogue's prices; Missing
// names the products that mall does not list (the total then cannot be had there).
type mallTotal struct {
	Mall    MallName
	Total   money.Fen
	Missing []string
	Best    bool // the mall `auto` would choose: every line listed, the lowest total
}

// totals works out each mall's total for the lines of req, as Place prices them (the
// chosen mall's listing), and which mall `auto` picks (lowest total, ties to the first).
func (c catalogue) totals(req orders.PlaceRequest) []mallTotal {
	out := make([]mallTotal, len(c.Malls))
	best := -1
	for i, m := range c.Malls {
		out[i].Mall = m
		for _, l := range req.Lines {
			if l.SKU == "" || l.Quantity <= 0 {
				continue
			}
			price, ok := c.Price(l.SKU, i)
			if !ok {
				out[i].Missing = append(out[i].Missing, l.SKU)
				continue
			}
			out[i].Total += price * money.Fen(l.Quantity)
		}
		if len(out[i].Missing) == 0 && (best < 0 || out[i].Total < out[best].Total) {
			best = i
		}
	}
	if best >= 0 && out[best].Total > 0 {
		out[best].Best = true
	}
	return out
}
