package sqlstore

import (
	"context"
	"fmt"

	"aidmall/households"
	"aidmall/reports"
)

// Suppliers returns every supplier of the catalogue, by code (the pages' catalogue shows
// each product's supplier and county).
func (s *Store) Suppliers(ctx context.Context) ([]households.Supplier, error) {
	var rows []struct {
		Code       string `db:"code"`
		Name       string `db:"name"`
		USCC       string `db:"uscc"`
		CountyCode string `db:"county_code"`
		Kind       string `db:"kind"`
	}
	if err := s.db.SelectContext(ctx, &rows, `SELECT code, name, uscc, county_code, kind FROM suppliers ORDER BY code`); err != nil {
		return nil, fmt.Errorf("suppliers: %w", err)
	}
	out := make([]households.Supplier, len(rows))
	for i, r := range rows {
		out[i] = households.Supplier{Code: r.Code, Name: r.Name, USCC: r.USCC, CountyCode: r.CountyCode, Kind: households.SupplierKind(r.Kind)}
	}
	return out, nil
}

// Labels returns the names for people of a breakdown's keys (county 610630 → 宜川县,
// category apple → 苹果, branch HQ → its name), the very labels the reports print, so a
// page names things as the reports do.
func (s *Store) Labels(ctx context.Context, by reports.By) (map[string]string, error) {
	return s.labels(ctx, s.db, by)
}
