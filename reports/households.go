package reports

import (
	"slices"
	"strings"

	"github.com/shopspring/decimal"

	"aidmall/bizday"
	"aidmall/households"
	"aidmall/money"
)

// HouseholdRow is one household's net benefit in a period (ATTRIBUTION.md §3.1): its ID
// number masked, its member count (as registered when the period was closed, when it lies
// wholly inside closed periods, §5.3), and the suppliers it is linked to during the period.
type HouseholdRow struct {
	HouseholdNo households.HouseholdNo `json:"household_no"`
	IDNumber    string                 `json:"id_number"` // masked
	Members     int                    `json:"members"`
	NetAmount   money.Fen              `json:"net_amount"`
	Benefited   bool                   `json:"benefited"` // net > 0 (§3.2)
	Suppliers   []string               `json:"suppliers"`
}

// Households is the per-household report of a period: every household with a ledger entry
// in it, by household number; totals count those benefited once, with their people.
type Households struct {
	From     bizday.Day     `json:"from"`
	To       bizday.Day     `json:"to"`
	Timezone string         `json:"timezone"`
	Rows     []HouseholdRow `json:"rows"`
	Totals   struct {
		Households int       `json:"households"`
		People     int       `json:"people"`
		NetAmount  money.Fen `json:"net_amount"` // attributed to households (the unattributed part is not here)
	} `json:"totals"`
}

// Sum fills h's totals from its rows.
func (h *Households) Sum() {
	h.Totals.Households, h.Totals.People, h.Totals.NetAmount = 0, 0, 0
	for _, r := range h.Rows {
		h.Totals.NetAmount += r.NetAmount
		if r.Benefited {
			h.Totals.Households++
			h.Totals.People += r.Members
		}
	}
}

// Kinds of a provenance entry.
const (
	KindDelivery   = "delivery"   // a delivery's share, booked when it was first applied
	KindRefund     = "refund"     // a refund's share, booked when it was first applied
	KindCorrection = "correction" // a correcting entry (§1.5, §1.6, a linkage change, a reopening)
	KindAdjustment = "adjustment" // a correction of a closed day booked on the adjustment day (§5.2)
)

// EntryKind is the kind of a ledger entry from its event's type and flags.
func EntryKind(source string, correction, adjustment bool) string {
	switch {
	case adjustment:
		return KindAdjustment
	case correction:
		return KindCorrection
	case source == "refunded":
		return KindRefund
	}
	return KindDelivery
}

// ProvenanceEntry is one ledger entry behind a household's figure. Day is the business
// day it counts on; Concerns, for an adjustment, the day of its event. LinkageTypes and
// Weight are the household's linkages with the supplier active on the event's day (the
// current registry), empty when it has none now.
type ProvenanceEntry struct {
	Day          bizday.Day  `json:"day"`
	Concerns     *bizday.Day `json:"concerns_day,omitempty"`
	Amount       money.Fen   `json:"amount"`
	Kind         string      `json:"kind"`
	OrderRef     string      `json:"order_ref"`
	BranchCode   string      `json:"branch_code"`
	LineNo       int         `json:"line_no"`
	SKU          string      `json:"sku"`
	Mall         string      `json:"mall"`
	MallEventID  string      `json:"mall_event_id"`
	Supplier     string      `json:"supplier"`
	LinkageTypes []string    `json:"linkage_types"`
	Weight       string      `json:"weight"`
}

// Provenance is every ledger entry of one household in a period; NetAmount is their sum,
// its net benefit (§3.1).
type Provenance struct {
	HouseholdNo households.HouseholdNo `json:"household_no"`
	IDNumber    string                 `json:"id_number"` // masked
	From        bizday.Day             `json:"from"`
	To          bizday.Day             `json:"to"`
	Entries     []ProvenanceEntry      `json:"entries"`
	NetAmount   money.Fen              `json:"net_amount"`
}

// LinkageOn is what links household hh to supplier on day d (§2.1): the types of its
// active linkages, sorted, and the sum of their weights ("" when none is active).
func LinkageOn(links []households.Linkage, supplier string, hh households.HouseholdNo, d bizday.Day) ([]string, string) {
	types := []string{}
	w := decimal.Zero
	for _, l := range links {
		if l.SupplierCode == supplier && l.HouseholdNo == hh && l.ActiveOn(d) {
			if !slices.Contains(types, string(l.Type)) {
				types = append(types, string(l.Type))
			}
			w = w.Add(l.Weight)
		}
	}
	slices.Sort(types)
	if len(types) == 0 {
		return types, ""
	}
	return types, strings.TrimSuffix(strings.TrimRight(w.StringFixed(4), "0"), ".")
}
