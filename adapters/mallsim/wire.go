package mallsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"aidmall/money"
	"aidmall/orders"
)

// order0 is a create request after decoding, before the checks both malls share.
type order0 struct {
	outOrderNo, buyerRef, buyerName string
	mode                            orders.DeliveryMode
	shipTo                          *wireContact
	lines                           []line0
	total                           money.Fen
}

type line0 struct {
	no         int
	item       string
	qty        int64
	price      money.Fen
	recipients []wireRecipient
}

// maxQuantity bounds a line's quantity so that quantity × price never overflows int64 fen.
const maxQuantity = 1_000_000

// check applies the rules both specs share to o and returns its content: buyer_ref 1–64
// characters, a buyer name, at least one line, line numbers positive and unique,
// quantities 1–1,000,000, unit prices positive; bulk needs ship_to and takes no
// recipients; a per_recipient line's recipients (each with name, phone, address and a
// positive quantity) add up to its quantity, and a line without recipients needs ship_to.
// The error names the first problem in the spec's field names of CCB (the ABC caller
// reads them as the same fields).
func (o order0) check() (content, error) {
	c := content{OutOrderNo: o.outOrderNo, BuyerRef: o.buyerRef, BuyerName: o.buyerName, DeliveryMode: o.mode, Total: o.total}
	switch n := utf8.RuneCountInString(o.buyerRef); {
	case !utf8.ValidString(o.buyerRef) || n == 0 || n > 64:
		return content{}, errors.New("buyer_ref must be 1-64 characters")
	case o.buyerName == "":
		return content{}, errors.New("buyer_name is empty")
	case len(o.lines) == 0:
		return content{}, errors.New("no lines")
	}
	if o.shipTo != nil && !o.shipTo.empty() {
		st, err := contact(o.shipTo.Name, o.shipTo.Phone, o.shipTo.Address, "ship_to")
		if err != nil {
			return content{}, err
		}
		c.ShipTo = &st
	}
	if o.mode == orders.DeliveryBulk && c.ShipTo == nil {
		return content{}, errors.New("bulk delivery needs ship_to")
	}
	seen := map[int]bool{}
	for i, l := range o.lines {
		switch {
		case l.no <= 0:
			return content{}, fmt.Errorf("lines[%d]: line number must be positive", i)
		case seen[l.no]:
			return content{}, fmt.Errorf("lines[%d]: line number %d repeated", i, l.no)
		case l.item == "":
			return content{}, fmt.Errorf("lines[%d]: empty item id", i)
		case l.qty <= 0 || l.qty > maxQuantity:
			return content{}, fmt.Errorf("lines[%d]: quantity must be 1-%d", i, maxQuantity)
		case l.price <= 0:
			return content{}, fmt.Errorf("lines[%d]: unit price must be positive", i)
		}
		seen[l.no] = true
		cl := contentLine{LineNo: l.no, ItemID: l.item, Quantity: l.qty, UnitPrice: l.price}
		if len(l.recipients) > 0 {
			if o.mode != orders.DeliveryPerRecipient {
				return content{}, fmt.Errorf("lines[%d]: recipients are for per_recipient delivery only", i)
			}
			var sum int64
			for j, r := range l.recipients {
				f := fmt.Sprintf("lines[%d].recipients[%d]", i, j)
				st, err := contact(r.Name, r.Phone, r.Address, f)
				if err != nil {
					return content{}, err
				}
				if r.Quantity == nil || *r.Quantity <= 0 || *r.Quantity > maxQuantity {
					return content{}, fmt.Errorf("%s: quantity must be 1-%d", f, maxQuantity)
				}
				sum += *r.Quantity
				cl.Recipients = append(cl.Recipients, orders.Recipient{Name: st.Name, Phone: st.Phone, Address: st.Address, Quantity: *r.Quantity})
			}
			if sum != l.qty {
				return content{}, fmt.Errorf("lines[%d]: recipients' quantities add up to %d, the line has %d", i, sum, l.qty)
			}
		} else if o.mode == orders.DeliveryPerRecipient && c.ShipTo == nil {
			return content{}, fmt.Errorf("lines[%d]: per_recipient line without recipients needs ship_to", i)
		}
		c.Lines = append(c.Lines, cl)
	}
	return c, nil
}

// empty reports whether every field of w is absent or "" (read as no ship_to).
func (w *wireContact) empty() bool {
	for _, p := range []*string{w.Name, w.Phone, w.Address} {
		if p != nil && *p != "" {
			return false
		}
	}
	return true
}

// contact checks a name/phone/address triple: all present and non-empty.
func contact(name, phone, address *string, field string) (orders.ShipTo, error) {
	if name == nil || phone == nil || address == nil || *name == "" || *phone == "" || *address == "" {
		return orders.ShipTo{}, fmt.Errorf("%s needs name, phone and address", field)
	}
	return orders.ShipTo{Name: *name, Phone: *phone, Address: *address}, nil
}

// sum is Σ quantity × unit price over the lines (quantities and prices are bounded by
// check, so it does not overflow for any realistic listing).
func (c content) sum() money.Fen {
	var s money.Fen
	for _, l := range c.Lines {
		s += money.Fen(l.Quantity) * l.UnitPrice
	}
	return s
}

// decodeStrict decodes one JSON value into v: unknown fields, wrong types and trailing data
// are errors.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}
