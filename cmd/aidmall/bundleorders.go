package main

import (
	"io/fs"

	"aidmall/imports"
	"aidmall/internal/bundleorders"
)

// The demo's orders are a bundle's orders.csv and order_lines.csv in the JSON shape of
// POST /v1/orders (internal/bundleorders, shared with the fault harness).
type (
	bundleOrder     = bundleorders.Order
	bundleLine      = bundleorders.Line
	bundleRecipient = bundleorders.Recipient
	shipTo          = bundleorders.ShipTo
)

// demoDeskPhone stands for a union office's desk phone (bundleorders.DeskPhone).
const demoDeskPhone = bundleorders.DeskPhone

// loadBundleOrders reads orders.csv and order_lines.csv (bundleorders.Load).
func loadBundleOrders(fsys fs.FS, branchName func(code string) string) ([]bundleOrder, error) {
	return bundleorders.Load(fsys, branchName)
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
