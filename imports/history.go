// Package imports is the one way files that people hand over come into aidmall, for the
// CLI (aidmall import …) and the aid office's pages alike: order history (a bundle's
// orders.csv and order_lines.csv, as orders already at their malls), a mall's statement
// file (its events applied through orders.Service, the file audited), and a linkages file
// with its dry run (what it would move in the ledger). Registry and catalogue files go
// through households.Registry, which this package drives for linkages.
//
// It decides nothing itself: the rules are orders.Service's and households.Registry's; it
// reads the files, calls them row by row and reports every bad row with its file, row
// number, field and reason.
package imports

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"aidmall/money"
	"aidmall/orders"
)

// HistoryLoader loads an order already at its mall; *orders.Service satisfies it.
type HistoryLoader interface {
	LoadHistory(ctx context.Context, caller orders.Caller, h orders.HistoryOrder) (*orders.GroupOrder, bool, error)
}

// HistoryReport says what importing order history did: orders.csv rows read, orders
// loaded, orders already known, and every bad row (of order_lines.csv first, then of
// orders.csv).
type HistoryReport struct {
	Rows, Created, Unchanged int
	Errors                   []RowError
}

// RowError is one bad row of an imported file: its file, its row as a spreadsheet shows
// it (the header is row 1), the order_ref when known, the field(s) at fault ("" when the
// whole row is), and the reason. Err is the domain's error for a refused order (its
// *orders.ValidationError names each bad field), nil otherwise.
type RowError struct {
	File   string
	Row    int
	Ref    string
	Field  string
	Reason string
	Err    error
}

// String is the row error as the CLI prints it ("orders.csv row 3, placed_at: …").
func (e RowError) String() string {
	switch {
	case e.Ref != "":
		return fmt.Sprintf("%s row %d (%s): %s", e.File, e.Row, e.Ref, e.Reason)
	case e.Field != "" && e.File == OrdersFile:
		return fmt.Sprintf("%s row %d, %s: %s", e.File, e.Row, e.Field, e.Reason)
	}
	return fmt.Sprintf("%s row %d: %s", e.File, e.Row, e.Reason)
}

// The order history's two files.
const (
	OrdersFile = "orders.csv"
	LinesFile  = "order_lines.csv"
)

// HistoryFS imports the order history of a bundle folder (its orders.csv and
// order_lines.csv), as History.
func HistoryFS(ctx context.Context, svc HistoryLoader, caller orders.Caller, bundle fs.FS) (HistoryReport, error) {
	of, err := bundle.Open(OrdersFile)
	if err != nil {
		return HistoryReport{}, err
	}
	defer of.Close()
	lf, err := bundle.Open(LinesFile)
	if err != nil {
		return HistoryReport{}, err
	}
	defer lf.Close()
	return History(ctx, svc, caller, of, lf)
}

// History loads orders.csv (ordersCSV) and order_lines.csv (linesCSV) as orders already
// placed at their malls (orders.Service.LoadHistory, as caller), so that the malls'
// statements can be applied to them. Each bad order is reported with its orders.csv row
// and the others are loaded; a line that does not read is reported and left out of its
// order. The error is a file that cannot be read as CSV, or a failure of the store; the
// report then holds what was done before it.
func History(ctx context.Context, svc HistoryLoader, caller orders.Caller, ordersCSV, linesCSV io.Reader) (HistoryReport, error) {
	var rep HistoryReport
	os, err := ReadCSV(ordersCSV, OrdersFile)
	if err != nil {
		return rep, err
	}
	ls, err := ReadCSV(linesCSV, LinesFile)
	if err != nil {
		return rep, err
	}
	lines := map[string][]orders.HistoryLine{}
	for i, l := range ls {
		no, err1 := strconv.Atoi(l["line_no"])
		q, err2 := strconv.ParseInt(l["quantity"], 10, 64)
		p, err3 := money.ParseYuan(l["unit_price"])
		if err := errors.Join(err1, err2, err3); err != nil {
			var fields []string
			for j, e := range []error{err1, err2, err3} {
				if e != nil {
					fields = append(fields, []string{"line_no", "quantity", "unit_price"}[j])
				}
			}
			rep.Errors = append(rep.Errors, RowError{File: LinesFile, Row: i + 2, Field: strings.Join(fields, ", "), Reason: err.Error()})
			continue
		}
		lines[l["order_ref"]] = append(lines[l["order_ref"]], orders.HistoryLine{LineNo: no, SKU: l["sku"], Quantity: q, UnitPrice: p})
	}
	for i, o := range os {
		rep.Rows++
		placed, err := time.Parse(time.RFC3339, o["placed_at"])
		if err != nil {
			rep.Errors = append(rep.Errors, RowError{File: OrdersFile, Row: i + 2, Field: "placed_at", Reason: "want RFC 3339 with an offset"})
			continue
		}
		_, created, err := svc.LoadHistory(ctx, caller, orders.HistoryOrder{
			OrderRef: o["order_ref"], BranchCode: o["branch_code"], Mall: orders.Mall(o["mall"]), Funding: orders.Funding(o["funding"]),
			DeliveryMode: orders.DeliveryMode(o["delivery_mode"]), PlacedAt: placed, OutOrderNo: orders.OutOrderNo(o["out_order_no"]),
			MallOrderNo: o["mall_order_no"], Lines: lines[o["order_ref"]],
		})
		switch {
		case err != nil && (errors.Is(err, orders.ErrInvalid) || errors.Is(err, orders.ErrConflict)):
			rep.Errors = append(rep.Errors, RowError{File: OrdersFile, Row: i + 2, Ref: o["order_ref"], Reason: err.Error(), Err: err})
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

// Write prints the report as the CLI does, name being what was imported (a folder).
func (r HistoryReport) Write(w io.Writer, name string) {
	fmt.Fprintf(w, "%s (orders): %d orders, %d loaded, %d already known; %d errors\n", name, r.Rows, r.Created, r.Unchanged, len(r.Errors))
	for _, e := range r.Errors {
		fmt.Fprintln(w, "  "+e.String())
	}
}

// ReadCSV reads a UTF-8 CSV with a header into maps keyed by column name (name is the
// file's, for errors). A row shorter than the header leaves the missing columns absent.
func ReadCSV(r io.Reader, name string) ([]map[string]string, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var out []map[string]string
	for row := 2; ; row++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s row %d: %w", name, row, err)
		}
		m := make(map[string]string, len(header))
		for i, h := range header {
			if i < len(rec) {
				m[h] = rec[i]
			}
		}
		out = append(out, m)
	}
}
