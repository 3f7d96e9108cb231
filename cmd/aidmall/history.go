package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"time"

	"aidmall/audit"
	"aidmall/money"
	"aidmall/orders"
)

// historyReport says what importing order history did.
type historyReport struct {
	Rows, Created, Unchanged int
	Errors                   []string
}

// importHistory loads a bundle's orders.csv and order_lines.csv as orders already placed
// at their malls (orders.Service.LoadHistory), so that the malls' statements can be
// applied to them. Each bad order is reported with its orders.csv row and the others are
// loaded.
func importHistory(ctx context.Context, svc *orders.Service, bundle fs.FS) (historyReport, error) {
	var rep historyReport
	os, err := readCSV(bundle, "orders.csv")
	if err != nil {
		return rep, err
	}
	ls, err := readCSV(bundle, "order_lines.csv")
	if err != nil {
		return rep, err
	}
	lines := map[string][]orders.HistoryLine{}
	var bad []string
	for i, l := range ls {
		no, err1 := strconv.Atoi(l["line_no"])
		q, err2 := strconv.ParseInt(l["quantity"], 10, 64)
		p, err3 := money.ParseYuan(l["unit_price"])
		if err := errors.Join(err1, err2, err3); err != nil {
			bad = append(bad, fmt.Sprintf("order_lines.csv row %d: %v", i+2, err))
			continue
		}
		lines[l["order_ref"]] = append(lines[l["order_ref"]], orders.HistoryLine{LineNo: no, SKU: l["sku"], Quantity: q, UnitPrice: p})
	}
	rep.Errors = bad
	office := orders.Caller{Name: audit.ActorFrom(ctx).Name, Role: orders.RoleAidOffice}
	for i, o := range os {
		rep.Rows++
		placed, err := time.Parse(time.RFC3339, o["placed_at"])
		if err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("orders.csv row %d, placed_at: want RFC 3339 with an offset", i+2))
			continue
		}
		_, created, err := svc.LoadHistory(ctx, office, orders.HistoryOrder{
			OrderRef: o["order_ref"], BranchCode: o["branch_code"], Mall: orders.Mall(o["mall"]), Funding: orders.Funding(o["funding"]),
			DeliveryMode: orders.DeliveryMode(o["delivery_mode"]), PlacedAt: placed, OutOrderNo: orders.OutOrderNo(o["out_order_no"]),
			MallOrderNo: o["mall_order_no"], Lines: lines[o["order_ref"]],
		})
		switch {
		case err != nil && (errors.Is(err, orders.ErrInvalid) || errors.Is(err, orders.ErrConflict)):
			rep.Errors = append(rep.Errors, fmt.Sprintf("orders.csv row %d (%s): %v", i+2, o["order_ref"], err))
		case err != nil:
			return rep, err
		case created:
			rep.Created++
		default:
			rep.Unchanged++
		}
	}
	return rep, nil
}

func (r historyReport) write(w io.Writer, name string) {
	fmt.Fprintf(w, "%s (orders): %d orders, %d loaded, %d already known; %d errors\n", name, r.Rows, r.Created, r.Unchanged, len(r.Errors))
	for _, e := range r.Errors {
		fmt.Fprintln(w, "  "+e)
	}
}
