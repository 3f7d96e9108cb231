// Package bundleorders reads a bundle's orders.csv and order_lines.csv into the JSON
// bodies of POST /v1/orders, as the demo places them (cmd/aidmall) and the fault harness
// (internal/faultharness) places them again.
package bundleorders

import (
	"fmt"
	"io/fs"
	"strconv"

	"aidmall/imports"
)

// Order is one group order of a bundle's orders.csv with its order_lines.csv lines,
// in the JSON shape of POST /v1/orders.
type Order struct {
	OrderRef     string `json:"order_ref"`
	BranchCode   string `json:"branch_code"`
	Mall         string `json:"mall"`
	Funding      string `json:"funding"`
	DeliveryMode string `json:"delivery_mode"`
	ShipTo       ShipTo `json:"ship_to"`
	Lines        []Line `json:"lines"`
	PlacedAt     string `json:"placed_at"`
}

// ShipTo is an order's consignee.
type ShipTo struct {
	Name    string `json:"name"`
	Phone   string `json:"phone"`
	Address string `json:"address"`
}

// Line is one line of an Order.
type Line struct {
	SKU        string      `json:"sku"`
	Quantity   int64       `json:"quantity"`
	UnitPrice  string      `json:"unit_price"`
	Recipients []Recipient `json:"recipients,omitempty"`
}

// Recipient is one recipient of a per_recipient line.
type Recipient struct {
	Name     string `json:"name"`
	Phone    string `json:"phone"`
	Address  string `json:"address"`
	Quantity int64  `json:"quantity"`
}

// readCSV reads the UTF-8 CSV name of fsys, with a header, into maps keyed by column
// name (imports.ReadCSV).
func readCSV(fsys fs.FS, name string) ([]map[string]string, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return imports.ReadCSV(f, name)
}

// DeskPhone stands for a union office's desk phone. The bundle's order sheets carry
// no consignee (the branches send their addresses separately), and both malls require one,
// so the demo ships each order to its branch's union office at this made-up number (one a
// courier could dial: the service refuses placeholders such as 010-00000000).
const DeskPhone = "010-68001234"

// Load reads orders.csv and order_lines.csv; each order ships to its branch's
// union office (see DeskPhone). The sheets list no recipients for their per_recipient
// orders either (the members' list went to the mall separately), and a new per_recipient
// order must name every line's recipients, so the demo names the union office as each
// such line's one recipient, for the line's whole quantity: the money, the lines and so
// every figure are the sheet's.
func Load(fsys fs.FS, branchName func(code string) string) ([]Order, error) {
	os, err := readCSV(fsys, "orders.csv")
	if err != nil {
		return nil, err
	}
	ls, err := readCSV(fsys, "order_lines.csv")
	if err != nil {
		return nil, err
	}
	lines := map[string][]Line{}
	for i, l := range ls {
		q, err := strconv.ParseInt(l["quantity"], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("order_lines.csv row %d, quantity: %w", i+2, err)
		}
		lines[l["order_ref"]] = append(lines[l["order_ref"]], Line{SKU: l["sku"], Quantity: q, UnitPrice: l["unit_price"]})
	}
	out := make([]Order, 0, len(os))
	for _, o := range os {
		office := ShipTo{Name: branchName(o["branch_code"]) + " 工会办公室", Phone: DeskPhone, Address: branchName(o["branch_code"])}
		ls := lines[o["order_ref"]]
		if o["delivery_mode"] == "per_recipient" {
			for i := range ls {
				ls[i].Recipients = []Recipient{{Name: office.Name, Phone: office.Phone, Address: office.Address, Quantity: ls[i].Quantity}}
			}
		}
		out = append(out, Order{
			OrderRef: o["order_ref"], BranchCode: o["branch_code"], Mall: o["mall"], Funding: o["funding"],
			DeliveryMode: o["delivery_mode"], PlacedAt: o["placed_at"], Lines: ls, ShipTo: office,
		})
	}
	return out, nil
}

// BranchNames reads the bundle's branches.csv: branch code → name.
func BranchNames(fsys fs.FS) (map[string]string, error) {
	rows, err := readCSV(fsys, "branches.csv")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, r := range rows {
		out[r["code"]] = r["name"]
	}
	return out, nil
}
