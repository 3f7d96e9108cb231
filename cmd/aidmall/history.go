package main

import (
	"context"
	"io/fs"

	"aidmall/audit"
	"aidmall/imports"
	"aidmall/orders"
)

// historyReport says what importing order history did (imports.HistoryReport).
type historyReport = imports.HistoryReport

// importHistory loads a bundle's orders.csv and order_lines.csv as orders already placed
// at their malls (imports.HistoryFS, as the aid office acting at the CLI), so that the
// malls' statements can be applied to them. Each bad order is reported with its
// orders.csv row and the others are loaded.
func importHistory(ctx context.Context, svc *orders.Service, bundle fs.FS) (historyReport, error) {
	office := orders.Caller{Name: audit.ActorFrom(ctx).Name, Role: orders.RoleAidOffice}
	return imports.HistoryFS(ctx, svc, office, bundle)
}
