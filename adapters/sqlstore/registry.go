package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"aidmall/audit"
	"aidmall/bizday"
	"aidmall/households"
	"aidmall/orders"
)

var _ households.RegistryStore = (*Store)(nil)

// upsert stores one record keyed by key in table: inserted when absent, updated when its
// content (compared column by column, or by fingerprint for sealed rows) differs, left
// alone otherwise. cols and vals are the content columns, without updated_at.
func (s *Store) upsert(ctx context.Context, tx *sqlx.Tx, table string, keyCols []string, keyVals []any, cols []string, vals []any, c *households.Counts) error {
	where := ""
	for i, k := range keyCols {
		if i > 0 {
			where += " AND "
		}
		where += k + " = ?"
	}
	sel := "SELECT "
	for i, col := range cols {
		if i > 0 {
			sel += ", "
		}
		sel += col
	}
	row := tx.QueryRowxContext(ctx, tx.Rebind(sel+" FROM "+table+" WHERE "+where), keyVals...)
	old, err := row.SliceScan()
	now := s.utcNow()
	if err != nil {
		if translate(err) != nil && !isNoRows(err) {
			return fmt.Errorf("%s: %w", table, err)
		}
		all := append(append(append([]string{}, keyCols...), cols...), "updated_at")
		args := append(append(append([]any{}, keyVals...), vals...), now)
		q := "INSERT INTO " + table + " (" + join(all) + ") VALUES (" + marks(len(all)) + ")"
		if _, err := tx.ExecContext(ctx, tx.Rebind(q), args...); err != nil {
			return fmt.Errorf("insert into %s: %w", table, translate(err))
		}
		c.Inserted++
		return nil
	}
	if sameValues(old, vals) {
		c.Unchanged++
		return nil
	}
	set := ""
	for i, col := range cols {
		set += col + " = ?, "
		_ = i
	}
	set += "updated_at = ?"
	args := append(append(append([]any{}, vals...), now), keyVals...)
	if _, err := tx.ExecContext(ctx, tx.Rebind("UPDATE "+table+" SET "+set+" WHERE "+where), args...); err != nil {
		return fmt.Errorf("update %s: %w", table, translate(err))
	}
	c.Updated++
	return nil
}

// UpsertBranches stores branches in one transaction.
func (s *Store) UpsertBranches(ctx context.Context, bs []households.Branch) (households.Counts, error) {
	var c households.Counts
	err := s.importTx(ctx, &c, func(tx *sqlx.Tx) error {
		c = households.Counts{}
		for _, b := range bs {
			var bc households.Counts
			if err := s.upsert(ctx, tx, "branches", []string{"code"}, []any{b.Code},
				[]string{"name", "company", "members"},
				[]any{b.Name, b.Company, int64(b.Members)}, &bc); err != nil {
				return err
			}
			if b.BudgetYear != 0 {
				// The budget of the year the import names: a changed budget is a changed branch.
				var budc households.Counts
				if err := s.upsert(ctx, tx, "branch_budgets", []string{"branch_code", "year"}, []any{b.Code, b.BudgetYear},
					[]string{"budget_fen"}, []any{int64(b.Budget)}, &budc); err != nil {
					return err
				}
				if budc.Unchanged == 0 && bc.Unchanged == 1 {
					bc.Unchanged, bc.Updated = 0, 1
				}
			}
			c.Inserted += bc.Inserted
			c.Updated += bc.Updated
			c.Unchanged += bc.Unchanged
		}
		return nil
	})
	return c, err
}

// UpsertSuppliers stores suppliers in one transaction.
func (s *Store) UpsertSuppliers(ctx context.Context, ss []households.Supplier) (households.Counts, error) {
	var c households.Counts
	err := s.importTx(ctx, &c, func(tx *sqlx.Tx) error {
		c = households.Counts{}
		for _, v := range ss {
			if err := s.upsert(ctx, tx, "suppliers", []string{"code"}, []any{v.Code},
				[]string{"name", "uscc", "county_code", "kind"},
				[]any{v.Name, v.USCC, v.CountyCode, string(v.Kind)}, &c); err != nil {
				return err
			}
		}
		if c.Updated > 0 { // a county may have changed: the unit figures key by it
			return rebuildUnitFigures(ctx, tx)
		}
		return nil
	})
	return c, err
}

// UpsertProducts stores products with their listings (product_listings, one row per mall
// that lists the SKU; a mall no longer listing it loses its row) in one transaction. A
// product counts as updated when its columns or its listings changed.
func (s *Store) UpsertProducts(ctx context.Context, ps []households.Product) (households.Counts, error) {
	var c households.Counts
	err := s.importTx(ctx, &c, func(tx *sqlx.Tx) error {
		c = households.Counts{}
		for _, p := range ps {
			var pc households.Counts
			if err := s.upsert(ctx, tx, "products", []string{"sku"}, []any{p.SKU},
				[]string{"name", "category", "spec", "unit", "supplier_code", "aid_cert_no"},
				[]any{p.Name, string(p.Category), p.Spec, p.Unit, p.SupplierCode, p.AidCertNo}, &pc); err != nil {
				return err
			}
			changed, err := syncListings(ctx, tx, p)
			if err != nil {
				return err
			}
			if changed && pc.Unchanged == 1 {
				pc.Unchanged, pc.Updated = 0, 1
			}
			c.Inserted += pc.Inserted
			c.Updated += pc.Updated
			c.Unchanged += pc.Unchanged
		}
		if c.Updated > 0 { // a supplier or category may have changed: the unit figures key by them
			return rebuildUnitFigures(ctx, tx)
		}
		return nil
	})
	return c, err
}

// syncListings makes p's rows of product_listings exactly p.Listings (those that list:
// an item id and a price above zero) and reports whether anything changed.
func syncListings(ctx context.Context, tx *sqlx.Tx, p households.Product) (bool, error) {
	var old []listingRow
	if err := tx.SelectContext(ctx, &old, tx.Rebind(`SELECT sku, mall, item_id, price_fen FROM product_listings WHERE sku = ?`), p.SKU); err != nil {
		return false, fmt.Errorf("product listings %s: %w", p.SKU, err)
	}
	want := map[string]households.Listing{}
	for m := range p.Listings {
		if id, price, ok := p.Listing(m); ok {
			want[m] = households.Listing{ItemID: id, Price: price}
		}
	}
	changed := false
	for _, o := range old {
		w, keep := want[o.Mall]
		switch {
		case !keep:
			if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM product_listings WHERE sku = ? AND mall = ?`), p.SKU, o.Mall); err != nil {
				return false, fmt.Errorf("product listings %s: %w", p.SKU, translate(err))
			}
			changed = true
		case w.ItemID != o.ItemID || int64(w.Price) != o.PriceFen:
			if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE product_listings SET item_id = ?, price_fen = ? WHERE sku = ? AND mall = ?`),
				w.ItemID, int64(w.Price), p.SKU, o.Mall); err != nil {
				return false, fmt.Errorf("product listings %s: %w", p.SKU, translate(err))
			}
			changed = true
		}
		delete(want, o.Mall)
	}
	for m, w := range want {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO product_listings (sku, mall, item_id, price_fen) VALUES (?, ?, ?, ?)`),
			p.SKU, m, w.ItemID, int64(w.Price)); err != nil {
			return false, fmt.Errorf("product listings %s: %w", p.SKU, translate(err))
		}
		changed = true
	}
	return changed, nil
}

// UpsertHouseholds stores sealed households in one transaction. A row is unchanged when
// its fingerprint (a keyed hash of every plain field) is; sealed bytes differ on every
// seal and are never compared.
func (s *Store) UpsertHouseholds(ctx context.Context, hs []households.SealedHousehold) (households.Counts, error) {
	var c households.Counts
	err := s.importTx(ctx, &c, func(tx *sqlx.Tx) error {
		c = households.Counts{}
		for _, h := range hs {
			var fp string
			err := tx.GetContext(ctx, &fp, tx.Rebind(`SELECT fingerprint FROM households WHERE household_no = ?`), h.No)
			switch {
			case err == nil && fp == h.Fingerprint:
				c.Unchanged++
				continue
			case err != nil && !isNoRows(err):
				return fmt.Errorf("households: %w", err)
			}
			cols := []any{h.NameSealed, h.NameMasked, h.IDSealed, h.IDHash, h.IDMasked, h.PhoneSealed, h.PhoneHash, h.PhoneMasked,
				int64(h.Members), h.County, h.Township, h.Village, h.Attribute, int64(h.ExitYear), h.Fingerprint, h.SealKey, s.utcNow()}
			if err == nil {
				if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE households SET name_sealed = ?, name_masked = ?, id_sealed = ?, id_hash = ?,
					id_masked = ?, phone_sealed = ?, phone_hash = ?, phone_masked = ?, members = ?, county = ?, township = ?, village = ?,
					attribute = ?, exit_year = ?, fingerprint = ?, seal_key = ?, updated_at = ? WHERE household_no = ?`), append(cols, h.No)...); err != nil {
					return fmt.Errorf("update household %s: %w", h.No, err)
				}
				c.Updated++
				continue
			}
			if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO households (name_sealed, name_masked, id_sealed, id_hash, id_masked,
				phone_sealed, phone_hash, phone_masked, members, county, township, village, attribute, exit_year, fingerprint, seal_key,
				updated_at, household_no) VALUES (`+marks(18)+`)`), append(cols, h.No)...); err != nil {
				return fmt.Errorf("insert household %s: %w", h.No, translate(err))
			}
			c.Inserted++
		}
		// Checked after the writes: a rotation finishing meanwhile either sees these rows
		// (and goes on) or has retired the key before this check (and this refuses).
		return refuseRetiredKeys(ctx, tx, hs)
	})
	return c, err
}

// UpsertLinkages stores linkages keyed by (supplier, household, type, valid_from) in one
// transaction; with prune it takes ls as the whole set of every supplier it names: that
// supplier's rows absent from ls are removed. Weights are stored × 10^4 (exact for at most 4 decimal
// places). When a supplier's set changed, every order with a sale line of that supplier
// and money-moving events is worked out again in the same transaction, so the ledger
// always follows the registry (ATTRIBUTION.md §2.1: linkages active on each event's day),
// correcting entries booked on each event's own business day.
func (s *Store) UpsertLinkages(ctx context.Context, ls []households.Linkage, prune bool) (households.Counts, error) {
	c, _, err := s.ImportLinkages(ctx, ls, prune, false)
	return c, err
}

// errDryRun rolls a dry run's transaction back.
var errDryRun = errors.New("dry run")

// ImportLinkages is UpsertLinkages that also returns the money the change moved in the
// ledger, per household and period (orders.Rework; closed periods' share went to the
// adjustment day, ATTRIBUTION.md §5.2). With dryRun it does all of it in the same
// transaction and rolls it back: nothing is stored, and the counts and changes say what
// would have been (§5.5).
func (s *Store) ImportLinkages(ctx context.Context, ls []households.Linkage, prune, dryRun bool) (households.Counts, orders.Changes, error) {
	var c households.Counts
	var ch orders.Changes
	// A dry run's errDryRun rolls the transaction back before its audit entry is written.
	err := s.importTx(ctx, &c, func(tx *sqlx.Tx) error {
		c, ch = households.Counts{}, orders.Changes{}
		keep := map[string]map[string]bool{} // supplier → keys in the file
		changed := map[string]bool{}
		for _, l := range ls {
			w := l.Weight.Shift(4)
			if !w.IsInteger() || !w.IsPositive() {
				return fmt.Errorf("linkage %s/%s: weight %s is not positive with at most 4 decimals", l.SupplierCode, l.HouseholdNo, l.Weight)
			}
			before := c
			if err := s.upsert(ctx, tx, "linkages",
				[]string{"supplier_code", "household_no", "type", "valid_from"},
				[]any{l.SupplierCode, l.HouseholdNo, string(l.Type), l.ValidFrom.String()},
				[]string{"weight_e4", "valid_to"}, []any{w.IntPart(), l.ValidTo.String()}, &c); err != nil {
				return err
			}
			if c.Unchanged == before.Unchanged {
				changed[l.SupplierCode] = true
			}
			if keep[l.SupplierCode] == nil {
				keep[l.SupplierCode] = map[string]bool{}
			}
			keep[l.SupplierCode][linkageKey(l.HouseholdNo, string(l.Type), l.ValidFrom.String())] = true
		}
		if !prune {
			keep = nil
		}
		suppliers := make([]string, 0, len(keep))
		for supplier := range keep {
			suppliers = append(suppliers, supplier)
		}
		sort.Strings(suppliers) // one lock order for concurrent imports
		for _, supplier := range suppliers {
			keys := keep[supplier]
			var rows []linkageRow
			if err := tx.SelectContext(ctx, &rows, tx.Rebind(`SELECT supplier_code, household_no, type, weight_e4, valid_from, valid_to
				FROM linkages WHERE supplier_code = ?`), supplier); err != nil {
				return fmt.Errorf("linkages of %s: %w", supplier, err)
			}
			for _, r := range rows {
				if keys[linkageKey(r.HouseholdNo, r.Type, r.ValidFrom)] {
					continue
				}
				if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM linkages WHERE supplier_code = ? AND household_no = ? AND type = ? AND valid_from = ?`),
					r.SupplierCode, r.HouseholdNo, r.Type, r.ValidFrom); err != nil {
					return fmt.Errorf("remove linkage: %w", err)
				}
				c.Removed++
				changed[supplier] = true
			}
		}
		codes := make([]string, 0, len(changed))
		for code := range changed {
			codes = append(codes, code)
		}
		sort.Strings(codes)
		// The ledger follows the registry in this same transaction; the rule is the
		// orders domain's.
		var err error
		if ch, err = s.rework(ctx, tx, codes); err != nil {
			return err
		}
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	return c, ch, err
}

func linkageKey(household households.HouseholdNo, typ, from string) string {
	return string(household) + "\x00" + typ + "\x00" + from
}

// existing returns which of keys are in table's column col, in batches of 500.
func existing[K ~string](ctx context.Context, db *DB, table, col string, keys []K) (map[K]bool, error) {
	out := map[K]bool{}
	const batch = 500
	for i := 0; i < len(keys); i += batch {
		part := keys[i:min(i+batch, len(keys))]
		q, args, err := sqlx.In(`SELECT `+col+` FROM `+table+` WHERE `+col+` IN (?)`, part)
		if err != nil {
			return nil, err
		}
		var found []K
		if err := db.SelectContext(ctx, &found, db.Rebind(q), args...); err != nil {
			return nil, fmt.Errorf("%s: %w", table, err)
		}
		for _, f := range found {
			out[f] = true
		}
	}
	return out, nil
}

// HouseholdsExist reports which household numbers are registered.
func (s *Store) HouseholdsExist(ctx context.Context, nos []households.HouseholdNo) (map[households.HouseholdNo]bool, error) {
	return existing(ctx, s.db, "households", "household_no", nos)
}

// SuppliersExist reports which supplier codes are known.
func (s *Store) SuppliersExist(ctx context.Context, codes []string) (map[string]bool, error) {
	return existing(ctx, s.db, "suppliers", "code", codes)
}

type linkageRow struct {
	SupplierCode string                 `db:"supplier_code"`
	HouseholdNo  households.HouseholdNo `db:"household_no"`
	Type         string                 `db:"type"`
	WeightE4     int64                  `db:"weight_e4"`
	ValidFrom    string                 `db:"valid_from"`
	ValidTo      string                 `db:"valid_to"`
}

// linkagesOf returns every linkage of a supplier (active or not; attribution filters by day).
func (s *Store) linkagesOf(ctx context.Context, q sqlx.QueryerContext, supplier string) ([]households.Linkage, error) {
	var rows []linkageRow
	if err := sqlx.SelectContext(ctx, q, &rows, s.db.Rebind(`SELECT supplier_code, household_no, type, weight_e4, valid_from, valid_to
		FROM linkages WHERE supplier_code = ? ORDER BY household_no, type, valid_from`), supplier); err != nil {
		return nil, fmt.Errorf("linkages of %s: %w", supplier, err)
	}
	out := make([]households.Linkage, 0, len(rows))
	for _, r := range rows {
		l, err := r.linkage()
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// linkage is the row as households reads it.
func (r linkageRow) linkage() (households.Linkage, error) {
	from, err := bizday.Parse(r.ValidFrom)
	if err != nil {
		return households.Linkage{}, fmt.Errorf("linkage valid_from: %w", err)
	}
	var to bizday.Day
	if r.ValidTo != "" {
		if to, err = bizday.Parse(r.ValidTo); err != nil {
			return households.Linkage{}, fmt.Errorf("linkage valid_to: %w", err)
		}
	}
	return households.Linkage{SupplierCode: r.SupplierCode, HouseholdNo: r.HouseholdNo,
		Type: households.LinkageType(r.Type), Weight: decimal.New(r.WeightE4, -4), ValidFrom: from, ValidTo: to}, nil
}

// HouseholdView returns household no as shown to people, masked; orders.ErrNotFound if
// it is not registered.
func (s *Store) HouseholdView(ctx context.Context, no households.HouseholdNo) (households.View, error) {
	var r struct {
		No        households.HouseholdNo `db:"household_no"`
		Name      string                 `db:"name_masked"`
		ID        string                 `db:"id_masked"`
		Phone     string                 `db:"phone_masked"`
		Members   int                    `db:"members"`
		County    string                 `db:"county"`
		Township  string                 `db:"township"`
		Village   string                 `db:"village"`
		Attribute string                 `db:"attribute"`
		ExitYear  int                    `db:"exit_year"`
	}
	err := s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT household_no, name_masked, id_masked, phone_masked, members, county,
		township, village, attribute, exit_year FROM households WHERE household_no = ?`), no)
	if err != nil {
		return households.View{}, fmt.Errorf("household: %w", translate(err)) // never the number asked: it may be an ID number typed in its place
	}
	return households.View{No: r.No, HeadName: r.Name, IDNumber: r.ID, Phone: r.Phone, Members: r.Members, County: r.County,
		Township: r.Township, Village: r.Village, Attribute: r.Attribute, ExitYear: r.ExitYear}, nil
}

var _ households.HouseholdStreamStore = (*Store)(nil)

// householdCols are the columns of a household row as ImportHouseholds writes them.
var householdCols = []string{"household_no", "name_sealed", "name_masked", "id_sealed", "id_hash", "id_masked", "phone_sealed",
	"phone_hash", "phone_masked", "members", "county", "township", "village", "attribute", "exit_year", "fingerprint", "seal_key", "updated_at"}

// ImportHouseholds stores the households next gives, batch by batch, in ONE transaction
// (households.HouseholdStreamStore): each batch's stored fingerprints are read by one
// query, its new households written by one multi-row INSERT (both prepared once for a
// full batch; on PostgreSQL by one COPY, writePostgres) and each changed one by an UPDATE; unchanged ones (same fingerprint) are
// left alone, as UpsertHouseholds does. After the last batch done says whether to keep
// it all and gives the import's audit entry, appended in the same transaction.
func (s *Store) ImportHouseholds(ctx context.Context, next func() ([]households.SealedHousehold, error), done func() (households.ImportInfo, bool)) (households.Counts, error) {
	var c households.Counts
	errDiscard := errors.New("households import not kept")
	err := s.db.inConnTx(ctx, func(conn *sqlx.Conn, tx *sqlx.Tx) error {
		c = households.Counts{}
		w := householdWriter{s: s, conn: conn, tx: tx, keys: map[string]bool{}}
		defer w.close()
		restore, err := importCache(ctx, tx)
		if err != nil {
			return fmt.Errorf("households: %w", err)
		}
		defer restore()
		for {
			hs, err := next()
			if err != nil {
				return err
			}
			if hs == nil {
				break
			}
			if err := w.write(ctx, hs, &c); err != nil {
				return err
			}
		}
		if err := w.flush(ctx, &c); err != nil {
			return err
		}
		info, keep := done()
		if !keep {
			return errDiscard
		}
		keys := make([]households.SealedHousehold, 0, len(w.keys))
		for k := range w.keys {
			keys = append(keys, households.SealedHousehold{SealKey: k})
		}
		if err := refuseRetiredKeys(ctx, tx, keys); err != nil {
			return err
		}
		if err := foldMemberChanges(ctx, tx); err != nil {
			return err
		}
		e, err := info.Entry(audit.ActorFrom(ctx), c)
		if err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, e)
	})
	if errors.Is(err, errDiscard) {
		return households.Counts{}, nil
	}
	return c, err
}

// householdWriter writes batches of households in one transaction, its statements for a
// batch of a given size prepared once.
type householdWriter struct {
	s    *Store
	conn *sqlx.Conn // the transaction's connection: COPY on PostgreSQL
	tx   *sqlx.Tx
	n    int // the batch size sel and ins are prepared for
	sel  *sqlx.Stmt
	ins  *sqlx.Stmt
	upd  *sqlx.Stmt
	keys map[string]bool // seal keys written
	// pending are the households given and not yet written (PostgreSQL: written
	// pgChunk at a time, flush).
	pending []households.SealedHousehold
}

// pgChunk is how many households PostgreSQL's import writes at a time: one lookup and one
// COPY for 8 of the domain's batches of 512, so that the writer makes a round trip to the
// server (each a wake-up of its process on a loaded machine) about every 2,000 rows.
const pgChunk = 4096

// flush writes the households still pending (PostgreSQL); nothing on SQLite, which
// writes each batch as it comes.
func (w *householdWriter) flush(ctx context.Context, c *households.Counts) error {
	if len(w.pending) == 0 {
		return nil
	}
	err := w.writePostgres(ctx, w.pending, c)
	w.pending = w.pending[:0]
	return err
}

func (w *householdWriter) close() {
	for _, st := range []*sqlx.Stmt{w.sel, w.ins, w.upd} {
		if st != nil {
			_ = st.Close()
		}
	}
}

// insertHouseholdsSQL is the multi-row INSERT of n households. On SQLite it is INSERT OR
// ROLLBACK: a multi-row statement that may abort needs a statement journal (a temporary
// file that every page it changes is copied to first), which took 23 % of the CPU of a
// 1M-row import and halved its rate (18,100 against 43,900 rows/s bare at 300k rows).
// A conflict there can only be a bug (the rows were looked up first, the file's duplicates
// refused, and SQLite has one writer): it rolls back the whole import, which is what an
// error does anyway.
func (s *Store) insertHouseholdsSQL(n int) string {
	verb := "INSERT"
	if s.db.Dialect == SQLite {
		verb = "INSERT OR ROLLBACK"
	}
	return verb + strings.TrimPrefix(insertHouseholdsSQL(n), "INSERT")
}

func insertHouseholdsSQL(n int) string {
	row := "(" + marks(len(householdCols)) + ")"
	return "INSERT INTO households (" + join(householdCols) + ") VALUES " + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

func (w *householdWriter) write(ctx context.Context, hs []households.SealedHousehold, c *households.Counts) error {
	if w.s.db.Dialect == Postgres {
		w.pending = append(w.pending, hs...)
		if len(w.pending) < pgChunk {
			return nil
		}
		return w.flush(ctx, c)
	}
	tx := w.tx
	var sel, ins *sqlx.Stmt
	if len(hs) == w.n || w.sel == nil {
		if w.sel == nil || len(hs) != w.n {
			w.close()
			var err error
			if w.sel, err = tx.PreparexContext(ctx, tx.Rebind(`SELECT household_no, fingerprint FROM households WHERE household_no IN (`+marks(len(hs))+`)`)); err != nil {
				return fmt.Errorf("households: %w", translate(err))
			}
			if w.ins, err = tx.PreparexContext(ctx, tx.Rebind(w.s.insertHouseholdsSQL(len(hs)))); err != nil {
				return fmt.Errorf("households: %w", translate(err))
			}
			if w.upd, err = tx.PreparexContext(ctx, tx.Rebind(`UPDATE households SET name_sealed = ?, name_masked = ?, id_sealed = ?, id_hash = ?,
				id_masked = ?, phone_sealed = ?, phone_hash = ?, phone_masked = ?, members = ?, county = ?, township = ?, village = ?,
				attribute = ?, exit_year = ?, fingerprint = ?, seal_key = ?, updated_at = ? WHERE household_no = ?`)); err != nil {
				return fmt.Errorf("households: %w", translate(err))
			}
			w.n = len(hs)
		}
		sel, ins = w.sel, w.ins
	}
	nos := make([]any, len(hs))
	for i, h := range hs {
		nos[i] = h.No
		w.keys[h.SealKey] = true
	}
	var (
		rows *sqlx.Rows
		err  error
	)
	if sel != nil {
		rows, err = sel.QueryxContext(ctx, nos...)
	} else {
		rows, err = tx.QueryxContext(ctx, tx.Rebind(`SELECT household_no, fingerprint FROM households WHERE household_no IN (`+marks(len(hs))+`)`), nos...)
	}
	if err != nil {
		return fmt.Errorf("households: %w", translate(err))
	}
	stored := map[households.HouseholdNo]string{}
	for rows.Next() {
		var no households.HouseholdNo
		var fp string
		if err := rows.Scan(&no, &fp); err != nil {
			rows.Close()
			return fmt.Errorf("households: %w", err)
		}
		stored[no] = fp
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("households: %w", err)
	}
	now := w.s.utcNow()
	args := make([]any, 0, len(hs)*len(householdCols))
	fresh := 0
	for _, h := range hs {
		fp, known := stored[h.No]
		cols := []any{h.NameSealed, h.NameMasked, h.IDSealed, h.IDHash, h.IDMasked, h.PhoneSealed, h.PhoneHash, h.PhoneMasked,
			int64(h.Members), h.County, h.Township, h.Village, h.Attribute, int64(h.ExitYear), h.Fingerprint, h.SealKey, now}
		switch {
		case known && fp == h.Fingerprint:
			c.Unchanged++
		case known:
			if _, err := w.upd.ExecContext(ctx, append(cols, h.No)...); err != nil {
				return fmt.Errorf("update household %s: %w", h.No, translate(err))
			}
			c.Updated++
		default:
			args = append(append(args, h.No), cols...)
			fresh++
		}
	}
	if fresh == 0 {
		return nil
	}
	if fresh == len(hs) && ins != nil {
		_, err = ins.ExecContext(ctx, args...)
	} else {
		_, err = tx.ExecContext(ctx, tx.Rebind(w.s.insertHouseholdsSQL(fresh)), args...)
	}
	if err != nil {
		return fmt.Errorf("insert households: %w", translate(err))
	}
	c.Inserted += fresh
	return nil
}

// writePostgres is write on PostgreSQL for a chunk of batches (flush): the chunk's stored
// fingerprints are read by one query (household_no = ANY of one array), its new households
// written by one binary COPY into households itself, and each changed one updated as on
// SQLite (so the members trigger fires as before); unchanged ones are left alone. COPY
// instead of a multi-row INSERT of 512 × 18 parameters: no statement to bind and plan per
// batch on the server, no speculative insertion (ON CONFLICT), and pgx writes each value
// once in binary instead of building a parameter list. A household stored twice (in the
// chunk, or by another transaction meanwhile) breaks households_pkey in the COPY: a
// conflict, and the whole import rolls back.
func (w *householdWriter) writePostgres(ctx context.Context, hs []households.SealedHousehold, c *households.Counts) error {
	tx := w.tx
	if w.sel == nil {
		var err error
		if w.sel, err = tx.PreparexContext(ctx, `SELECT household_no, fingerprint FROM households WHERE household_no = ANY($1)`); err != nil {
			return fmt.Errorf("households: %w", translate(err))
		}
		if w.upd, err = tx.PreparexContext(ctx, tx.Rebind(`UPDATE households SET name_sealed = ?, name_masked = ?, id_sealed = ?, id_hash = ?,
			id_masked = ?, phone_sealed = ?, phone_hash = ?, phone_masked = ?, members = ?, county = ?, township = ?, village = ?,
			attribute = ?, exit_year = ?, fingerprint = ?, seal_key = ?, updated_at = ? WHERE household_no = ?`)); err != nil {
			return fmt.Errorf("households: %w", translate(err))
		}
	}
	nos := make([]string, len(hs))
	for i, h := range hs {
		nos[i] = string(h.No)
		w.keys[h.SealKey] = true
	}
	rows, err := w.sel.QueryxContext(ctx, nos)
	if err != nil {
		return fmt.Errorf("households: %w", translate(err))
	}
	stored := map[households.HouseholdNo]string{}
	for rows.Next() {
		var no households.HouseholdNo
		var fp string
		if err := rows.Scan(&no, &fp); err != nil {
			rows.Close()
			return fmt.Errorf("households: %w", err)
		}
		stored[no] = fp
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("households: %w", err)
	}
	now := w.s.utcNow()
	fresh := make([]*households.SealedHousehold, 0, len(hs))
	for i := range hs {
		h := &hs[i]
		fp, known := stored[h.No]
		switch {
		case known && fp == h.Fingerprint:
			c.Unchanged++
		case known:
			if _, err := w.upd.ExecContext(ctx, h.NameSealed, h.NameMasked, h.IDSealed, h.IDHash, h.IDMasked, h.PhoneSealed, h.PhoneHash,
				h.PhoneMasked, int64(h.Members), h.County, h.Township, h.Village, h.Attribute, int64(h.ExitYear), h.Fingerprint, h.SealKey, now, h.No); err != nil {
				return fmt.Errorf("update household %s: %w", h.No, translate(err))
			}
			c.Updated++
		default:
			fresh = append(fresh, h)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	n, err := w.copyHouseholds(ctx, fresh, now)
	if err != nil {
		return fmt.Errorf("insert households: %w", translate(err))
	}
	if n != int64(len(fresh)) {
		return fmt.Errorf("insert households: COPY wrote %d rows of %d", n, len(fresh))
	}
	c.Inserted += len(fresh)
	return nil
}

// copyHouseholds writes hs into households by COPY on the transaction's connection and
// returns the rows written. One row's values are reused for the next: pgx encodes each
// row as it takes it.
func (w *householdWriter) copyHouseholds(ctx context.Context, hs []*households.SealedHousehold, now time.Time) (int64, error) {
	var n int64
	err := w.conn.Raw(func(dc any) error {
		pc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("COPY needs pgx's connection, not %T", dc)
		}
		vals := make([]any, len(householdCols))
		src := pgx.CopyFromSlice(len(hs), func(i int) ([]any, error) {
			h := hs[i]
			var phone any // NULL when no phone was given, as the INSERT wrote it
			if h.PhoneSealed != nil {
				phone = h.PhoneSealed
			}
			vals[0], vals[1], vals[2], vals[3], vals[4], vals[5] = string(h.No), h.NameSealed, h.NameMasked, h.IDSealed, h.IDHash, h.IDMasked
			vals[6], vals[7], vals[8], vals[9], vals[10], vals[11] = phone, h.PhoneHash, h.PhoneMasked, int64(h.Members), h.County, h.Township // int64: pgx range-checks it into INTEGER
			vals[12], vals[13], vals[14], vals[15], vals[16], vals[17] = h.Village, h.Attribute, int64(h.ExitYear), h.Fingerprint, h.SealKey, now
			return vals, nil
		})
		var err error
		n, err = pc.Conn().CopyFrom(ctx, pgx.Identifier{"households"}, householdCols, src)
		return err
	})
	return n, err
}

// importCache gives an import's SQLite transaction a larger but bounded page cache and
// returns what gives the connection its own back (a no-op on PostgreSQL). A million
// households do not fit SQLite's default 2 MiB: the random id_hash index (and the
// linkages' keys) then go to disk on every batch. 64 MiB: 36,500 rows/s bare at 1M rows
// and 159 MB peak RSS, against 25,700 and 95 MB at 32 MiB. cache_spill stays on
// (SQLite's default), so the transaction's dirty pages beyond it go to the WAL rather
// than to memory.
func importCache(ctx context.Context, tx *sqlx.Tx) (func(), error) {
	if tx.DriverName() != "sqlite" {
		return func() {}, nil
	}
	var was int64
	if err := tx.GetContext(ctx, &was, `PRAGMA cache_size`); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `PRAGMA cache_size = -65536`); err != nil {
		return nil, err
	}
	return func() { _, _ = tx.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf(`PRAGMA cache_size = %d`, was)) }, nil
}
