package orders

import (
	"fmt"
	"strings"
)

// MallLimits are what a mall accepts of an order, as its driver states them from its
// spec (malls.Driver.Limits). The Service checks every order against the chosen mall's
// limits — for `auto`, against every connected mall's — so that a mall never refuses an
// order for its shape. The zero value sets no limit.
type MallLimits struct {
	// OrderRefMax is the most characters of an order_ref, which the mall keeps as the
	// buyer's reference (CCB buyer_ref, ABC buyerRef); 0: no limit.
	OrderRefMax int
	// OutOrderNoMax is the most characters of an out_order_no; 0: no limit. It must
	// leave room for NewOutOrderNo's (OutOrderNoLen).
	OutOrderNoMax int
	// OutOrderNoExtra are the characters an out_order_no may hold besides ASCII letters
	// and digits ("-_" for ABC); "" for none.
	OutOrderNoExtra string
	// ConsigneeRequired: the mall needs a consignee's name, phone and address for a bulk
	// order and for a per_recipient line without recipients.
	ConsigneeRequired bool
}

// MallInfo is one connected mall as the Service knows it: its code and its limits.
type MallInfo struct {
	Code   Mall
	Limits MallLimits
}

// OutOrderNoLen is the length of every NewOutOrderNo.
const OutOrderNoLen = 28

// ValidOutOrderNo reports whether s can be an out_order_no at the mall: 1 to
// OutOrderNoMax ASCII letters, digits or OutOrderNoExtra characters.
func (l MallLimits) ValidOutOrderNo(s OutOrderNo) bool {
	if s == "" || l.OutOrderNoMax > 0 && len(s) > l.OutOrderNoMax {
		return false
	}
	for _, r := range string(s) {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune(l.OutOrderNoExtra, r)) {
			return false
		}
	}
	return true
}

// outOrderNoRule says which out_order_no the mall accepts, for messages: "1–32 letters
// and digits".
func (l MallLimits) outOrderNoRule() string {
	n := "1 or more"
	if l.OutOrderNoMax > 0 {
		n = fmt.Sprintf("1–%d", l.OutOrderNoMax)
	}
	if l.OutOrderNoExtra == "" {
		return n + " letters and digits"
	}
	extra := make([]string, 0, len(l.OutOrderNoExtra))
	for _, r := range l.OutOrderNoExtra {
		extra = append(extra, string(r))
	}
	return fmt.Sprintf("%s letters, digits and %s", n, strings.Join(extra, " "))
}

// strictest is the limits that satisfy every one of ls: the shortest maximum, the
// fewest extra characters, a consignee when any needs one.
func strictest(ls []MallLimits) MallLimits {
	var out MallLimits
	for i, l := range ls {
		out.OrderRefMax = minLimit(out.OrderRefMax, l.OrderRefMax)
		out.OutOrderNoMax = minLimit(out.OutOrderNoMax, l.OutOrderNoMax)
		out.ConsigneeRequired = out.ConsigneeRequired || l.ConsigneeRequired
		if i == 0 {
			out.OutOrderNoExtra = l.OutOrderNoExtra
			continue
		}
		var keep strings.Builder
		for _, r := range out.OutOrderNoExtra {
			if strings.ContainsRune(l.OutOrderNoExtra, r) {
				keep.WriteRune(r)
			}
		}
		out.OutOrderNoExtra = keep.String()
	}
	return out
}

// minLimit is the stricter of two maximums, 0 meaning none.
func minLimit(a, b int) int {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}
