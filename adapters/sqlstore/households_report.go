package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/shopspring/decimal"

	"aidmall/bizday"
	"aidmall/households"
	"aidmall/money"
	"aidmall/orders"
	"aidmall/reports"
)

// readTx begins the read-only snapshot a report reads in (as Benefit does).
func (s *Store) readTx(ctx context.Context) (*sql.TxOptions, error) {
	if s.db.Dialect == Postgres {
		return &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}, nil
	}
	return nil, nil
}

// HouseholdsReport is every household with a ledger entry in from..to, its net benefit
// (ATTRIBUTION.md §3.1), masked ID number, member count (as of closing inside closed
// periods, §5.3) and the suppliers it is linked to during the period.
func (s *Store) HouseholdsReport(ctx context.Context, from, to bizday.Day) (reports.Households, error) {
	h := reports.Households{From: from, To: to, Timezone: "Asia/Shanghai", Rows: []reports.HouseholdRow{}}
	if to.Before(from) {
		return h, orders.Errorf(orders.ErrInvalid, "from %s is after to %s", from, to)
	}
	if fs := reports.SpanErrors(from, to); len(fs) > 0 {
		return h, &orders.ValidationError{Fields: fs}
	}
	opts, _ := s.readTx(ctx)
	tx, err := s.rdb.BeginTxx(ctx, opts)
	if err != nil {
		return h, fmt.Errorf("households report: %w", err)
	}
	defer tx.Rollback()
	members, err := membersTable(ctx, tx, from, to)
	if err != nil {
		return h, err
	}
	var rows []struct {
		No      households.HouseholdNo `db:"household_no"`
		ID      string                 `db:"id_masked"`
		Members int                    `db:"members"`
		Net     int64                  `db:"net"`
	}
	src, args := rollupSource(from, to, "household_no <> ''")
	if err := tx.SelectContext(ctx, &rows, tx.Rebind(`SELECT x.household_no, hh.id_masked, m.members, x.net FROM (
		SELECT household_no, SUM(amount_fen) AS net FROM `+src+` GROUP BY household_no) x
		JOIN households hh ON hh.household_no = x.household_no
		JOIN `+members+` m ON m.household_no = x.household_no
		ORDER BY x.household_no`), args...); err != nil {
		return h, fmt.Errorf("households report: %w", err)
	}
	var links []struct {
		No       households.HouseholdNo `db:"household_no"`
		Supplier string                 `db:"supplier_code"`
	}
	if err := tx.SelectContext(ctx, &links, tx.Rebind(`SELECT DISTINCT household_no, supplier_code FROM linkages
		WHERE valid_from <= ? AND (valid_to = '' OR valid_to > ?) ORDER BY household_no, supplier_code`), to.String(), from.String()); err != nil {
		return h, fmt.Errorf("households report linkages: %w", err)
	}
	sups := map[households.HouseholdNo][]string{}
	for _, l := range links {
		sups[l.No] = append(sups[l.No], l.Supplier)
	}
	for _, r := range rows {
		ss := sups[r.No]
		if ss == nil {
			ss = []string{}
		}
		h.Rows = append(h.Rows, reports.HouseholdRow{HouseholdNo: r.No, IDNumber: r.ID, Members: r.Members,
			NetAmount: money.Fen(r.Net), Benefited: r.Net > 0, Suppliers: ss})
	}
	h.Sum()
	return h, nil
}

// Provenance is every ledger entry of household no whose business day lies in from..to,
// with where it comes from; ErrNotFound when the household is not registered.
func (s *Store) Provenance(ctx context.Context, no households.HouseholdNo, from, to bizday.Day) (reports.Provenance, error) {
	p := reports.Provenance{HouseholdNo: no, From: from, To: to, Entries: []reports.ProvenanceEntry{}}
	if to.Before(from) {
		return p, orders.Errorf(orders.ErrInvalid, "from %s is after to %s", from, to)
	}
	if fs := reports.SpanErrors(from, to); len(fs) > 0 {
		return p, &orders.ValidationError{Fields: fs}
	}
	opts, _ := s.readTx(ctx)
	tx, err := s.rdb.BeginTxx(ctx, opts)
	if err != nil {
		return p, fmt.Errorf("provenance: %w", err)
	}
	defer tx.Rollback()
	if err := tx.GetContext(ctx, &p.IDNumber, tx.Rebind(`SELECT id_masked FROM households WHERE household_no = ?`), no); err != nil {
		return p, fmt.Errorf("household: %w", translate(err)) // never the number asked: it may be an ID number typed in its place
	}
	var lrows []linkageRow
	if err := tx.SelectContext(ctx, &lrows, tx.Rebind(`SELECT supplier_code, household_no, type, weight_e4, valid_from, valid_to
		FROM linkages WHERE household_no = ?`), no); err != nil {
		return p, fmt.Errorf("linkages of %s: %w", no, err)
	}
	links := make([]households.Linkage, 0, len(lrows))
	for _, r := range lrows {
		l := households.Linkage{SupplierCode: r.SupplierCode, HouseholdNo: r.HouseholdNo, Type: households.LinkageType(r.Type),
			Weight: decimal.New(r.WeightE4, -4)}
		if l.ValidFrom, err = bizday.Parse(r.ValidFrom); err != nil {
			return p, err
		}
		if r.ValidTo != "" {
			if l.ValidTo, err = bizday.Parse(r.ValidTo); err != nil {
				return p, err
			}
		}
		links = append(links, l)
	}
	var rows []struct {
		Day        string `db:"business_day"`
		Concerns   string `db:"concerns_day"`
		Amount     int64  `db:"amount_fen"`
		Source     string `db:"source"`
		Correction bool   `db:"correction"`
		Adjustment bool   `db:"adjustment"`
		OrderRef   string `db:"order_ref"`
		Branch     string `db:"branch_code"`
		LineNo     int    `db:"line_no"`
		SKU        string `db:"sku"`
		Mall       string `db:"mall"`
		EventID    string `db:"event_id"`
		EventDay   string `db:"event_day"`
		Supplier   string `db:"supplier_code"`
	}
	if err := tx.SelectContext(ctx, &rows, tx.Rebind(`SELECT le.business_day, le.concerns_day, le.amount_fen, le.source, le.correction,
		le.adjustment, o.order_ref, o.branch_code, l.line_no, le.sku, le.mall, e.event_id, e.business_day AS event_day, le.supplier_code
		FROM ledger_entries le JOIN order_lines l ON l.id = le.line_id JOIN group_orders o ON o.id = l.order_id
		JOIN fulfilment_events e ON e.id = le.event_row_id
		WHERE le.household_no = ? AND le.business_day BETWEEN ? AND ? ORDER BY le.business_day, le.id`), no, from.String(), to.String()); err != nil {
		return p, fmt.Errorf("provenance of %s: %w", no, err)
	}
	for _, r := range rows {
		day, err := bizday.Parse(r.Day)
		if err != nil {
			return p, err
		}
		evDay, err := bizday.Parse(r.EventDay)
		if err != nil {
			return p, err
		}
		e := reports.ProvenanceEntry{Day: day, Amount: money.Fen(r.Amount), Kind: reports.EntryKind(r.Source, r.Correction, r.Adjustment),
			OrderRef: r.OrderRef, BranchCode: r.Branch, LineNo: r.LineNo, SKU: r.SKU, Mall: r.Mall, MallEventID: r.EventID, Supplier: r.Supplier}
		if r.Concerns != "" {
			c, err := bizday.Parse(r.Concerns)
			if err != nil {
				return p, err
			}
			e.Concerns = &c
		}
		e.LinkageTypes, e.Weight = reports.LinkageOn(links, r.Supplier, no, evDay)
		p.Entries = append(p.Entries, e)
		p.NetAmount += e.Amount
	}
	slices.SortStableFunc(p.Entries, func(a, b reports.ProvenanceEntry) int {
		if a.Day.Before(b.Day) {
			return -1
		}
		if b.Day.Before(a.Day) {
			return 1
		}
		return 0
	})
	return p, nil
}
