package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/jmoiron/sqlx"

	"aidmall/audit"
	"aidmall/bizday"
	"aidmall/households"
	"aidmall/orders"
)

var _ households.LinkageStreamStore = (*Store)(nil)

// ImportLinkageStream is StreamLinkages, stored (households.LinkageStreamStore).
func (s *Store) ImportLinkageStream(ctx context.Context, next func(households.References) ([]households.Linkage, error),
	done func() (households.ImportInfo, bool, func(households.Linkage) bool)) (households.Counts, error) {
	c, _, err := s.StreamLinkages(ctx, next, done, false)
	return c, err
}

// txRefs answers households.References inside an import's transaction.
type txRefs struct{ tx *sqlx.Tx }

func (r txRefs) HouseholdsExist(ctx context.Context, nos []households.HouseholdNo) (map[households.HouseholdNo]bool, error) {
	return existingIn(ctx, r.tx, "households", "household_no", nos)
}

func (r txRefs) SuppliersExist(ctx context.Context, codes []string) (map[string]bool, error) {
	return existingIn(ctx, r.tx, "suppliers", "code", codes)
}

// existingIn is existing, read in tx.
func existingIn[K ~string](ctx context.Context, tx *sqlx.Tx, table, col string, keys []K) (map[K]bool, error) {
	out := make(map[K]bool, len(keys))
	const batch = 500
	for i := 0; i < len(keys); i += batch {
		part := keys[i:min(i+batch, len(keys))]
		args := make([]any, len(part))
		for j, k := range part {
			args[j] = string(k)
		}
		var found []K
		if err := tx.SelectContext(ctx, &found, tx.Rebind(`SELECT `+col+` FROM `+table+` WHERE `+col+` IN (`+marks(len(part))+`)`), args...); err != nil {
			return nil, fmt.Errorf("%s: %w", table, err)
		}
		for _, f := range found {
			out[f] = true
		}
	}
	return out, nil
}

// StreamLinkages stores the linkages next gives, batch by batch, in ONE transaction
// (households.LinkageStreamStore): each batch's stored linkages are read by one query
// per supplier, its new ones written by one multi-row INSERT and each changed one by an
// UPDATE, as ImportLinkages stores them one by one. After the last batch done says
// whether to keep it and, with inFile, removes each supplier's stored linkages the file
// did not have (prune); then the ledger of every changed supplier is worked out again
// (orders.Rework) and the import's audit entry appended. It returns what the rework
// moved; with dryRun all of it is done and rolled back.
func (s *Store) StreamLinkages(ctx context.Context, next func(households.References) ([]households.Linkage, error),
	done func() (households.ImportInfo, bool, func(households.Linkage) bool), dryRun bool) (households.Counts, orders.Changes, error) {
	var (
		c  households.Counts
		ch orders.Changes
	)
	errDiscard := errors.New("linkages import not kept")
	err := s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		c, ch = households.Counts{}, orders.Changes{}
		w := linkageWriter{s: s, tx: tx, suppliers: map[string]bool{}, changed: map[string]bool{}}
		defer w.close()
		// Each batch reads the linkages and households it names at random places of their
		// indexes, as the household import does: the same bounded cache.
		restore, err := importCache(ctx, tx)
		if err != nil {
			return fmt.Errorf("linkages: %w", err)
		}
		defer restore()
		for {
			ls, err := next(txRefs{tx})
			if err != nil {
				return err
			}
			if ls == nil {
				break
			}
			if err := w.write(ctx, ls, &c); err != nil {
				return err
			}
		}
		info, keep, inFile := done()
		if !keep {
			return errDiscard
		}
		if inFile != nil {
			if err := w.prune(ctx, inFile, &c); err != nil {
				return err
			}
		}
		codes := make([]string, 0, len(w.changed))
		for code := range w.changed {
			codes = append(codes, code)
		}
		sort.Strings(codes)
		if ch, err = s.rework(ctx, tx, codes); err != nil {
			return err
		}
		if dryRun {
			return errDryRun
		}
		e, err := info.Entry(audit.ActorFrom(ctx), c)
		if err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, e)
	})
	switch {
	case errors.Is(err, errDiscard):
		return households.Counts{}, orders.Changes{}, nil
	case errors.Is(err, errDryRun):
		err = nil
	}
	return c, ch, err
}

// linkageWriter writes batches of linkages in one transaction.
type linkageWriter struct {
	s         *Store
	tx        *sqlx.Tx
	n         int // the batch size ins is prepared for
	ins, upd  *sqlx.Stmt
	suppliers map[string]bool // suppliers written
	changed   map[string]bool // suppliers whose set changed
}

func (w *linkageWriter) close() {
	for _, st := range []*sqlx.Stmt{w.ins, w.upd} {
		if st != nil {
			_ = st.Close()
		}
	}
}

var linkageCols = []string{"supplier_code", "household_no", "type", "weight_e4", "valid_from", "valid_to", "updated_at"}

// insertLinkagesSQL is the multi-row INSERT of n linkages; INSERT OR ROLLBACK on SQLite
// for the reason insertHouseholdsSQL gives (the rows were looked up first and the file's
// duplicates refused: a conflict is a bug, and rolls the import back).
func (s *Store) insertLinkagesSQL(n int) string {
	verb := "INSERT"
	if s.db.Dialect == SQLite {
		verb = "INSERT OR ROLLBACK"
	}
	row := "(" + marks(len(linkageCols)) + ")"
	return verb + " INTO linkages (" + join(linkageCols) + ") VALUES " + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

func (w *linkageWriter) write(ctx context.Context, ls []households.Linkage, c *households.Counts) error {
	if len(ls) == 0 {
		return nil
	}
	tx := w.tx
	// The batch's stored linkages: one query by its suppliers and households (a superset,
	// told apart by the whole key below), on the (supplier_code, household_no, …) index.
	var sups, nos []any
	seen := map[string]bool{}
	for _, l := range ls {
		if !w.suppliers[l.SupplierCode] {
			w.suppliers[l.SupplierCode] = true
		}
		if !seen["s"+l.SupplierCode] {
			seen["s"+l.SupplierCode] = true
			sups = append(sups, l.SupplierCode)
		}
		if !seen["h"+string(l.HouseholdNo)] {
			seen["h"+string(l.HouseholdNo)] = true
			nos = append(nos, string(l.HouseholdNo))
		}
	}
	var rows []linkageRow
	if err := tx.SelectContext(ctx, &rows, tx.Rebind(`SELECT supplier_code, household_no, type, weight_e4, valid_from, valid_to
		FROM linkages WHERE supplier_code IN (`+marks(len(sups))+`) AND household_no IN (`+marks(len(nos))+`)`), append(sups, nos...)...); err != nil {
		return fmt.Errorf("linkages: %w", err)
	}
	stored := make(map[string]linkageRow, len(rows))
	for _, r := range rows {
		stored[r.SupplierCode+"\x00"+linkageKey(r.HouseholdNo, r.Type, r.ValidFrom)] = r
	}
	now := w.s.utcNow()
	args := make([]any, 0, len(ls)*len(linkageCols))
	fresh := 0
	for _, l := range ls {
		we := l.Weight.Shift(4)
		if !we.IsInteger() || !we.IsPositive() {
			return fmt.Errorf("linkage %s/%s: weight %s is not positive with at most 4 decimals", l.SupplierCode, l.HouseholdNo, l.Weight)
		}
		weight, from, to := we.IntPart(), l.ValidFrom.String(), l.ValidTo.String()
		r, known := stored[l.SupplierCode+"\x00"+linkageKey(l.HouseholdNo, string(l.Type), from)]
		switch {
		case known && r.WeightE4 == weight && r.ValidTo == to:
			c.Unchanged++
			continue
		case known:
			if w.upd == nil {
				var err error
				if w.upd, err = tx.PreparexContext(ctx, tx.Rebind(`UPDATE linkages SET weight_e4 = ?, valid_to = ?, updated_at = ?
					WHERE supplier_code = ? AND household_no = ? AND type = ? AND valid_from = ?`)); err != nil {
					return fmt.Errorf("linkages: %w", translate(err))
				}
			}
			if _, err := w.upd.ExecContext(ctx, weight, to, now, l.SupplierCode, string(l.HouseholdNo), string(l.Type), from); err != nil {
				return fmt.Errorf("update linkage %s/%s: %w", l.SupplierCode, l.HouseholdNo, translate(err))
			}
			c.Updated++
		default:
			args = append(args, l.SupplierCode, string(l.HouseholdNo), string(l.Type), weight, from, to, now)
			fresh++
		}
		w.changed[l.SupplierCode] = true
	}
	if fresh == 0 {
		return nil
	}
	var err error
	if fresh == linkageBatchPrepared {
		if w.ins == nil {
			if w.ins, err = tx.PreparexContext(ctx, tx.Rebind(w.s.insertLinkagesSQL(fresh))); err != nil {
				return fmt.Errorf("linkages: %w", translate(err))
			}
		}
		_, err = w.ins.ExecContext(ctx, args...)
	} else {
		_, err = tx.ExecContext(ctx, tx.Rebind(w.s.insertLinkagesSQL(fresh)), args...)
	}
	if err != nil {
		return fmt.Errorf("insert linkages: %w", translate(err))
	}
	c.Inserted += fresh
	return nil
}

// linkageBatchPrepared is the batch of new linkages whose INSERT is prepared once (the
// households package's batch).
const linkageBatchPrepared = 512

// prune removes the stored linkages of every supplier written that the file did not have
// (inFile false); a removal changes the supplier's set.
func (w *linkageWriter) prune(ctx context.Context, inFile func(households.Linkage) bool, c *households.Counts) error {
	suppliers := make([]string, 0, len(w.suppliers))
	for s := range w.suppliers {
		suppliers = append(suppliers, s)
	}
	sort.Strings(suppliers) // one lock order for concurrent imports
	for _, supplier := range suppliers {
		rows, err := w.tx.QueryxContext(ctx, w.tx.Rebind(`SELECT household_no, type, valid_from FROM linkages WHERE supplier_code = ?`), supplier)
		if err != nil {
			return fmt.Errorf("linkages of %s: %w", supplier, err)
		}
		var gone []linkageRow // only the ones to remove are kept
		for rows.Next() {
			var r linkageRow
			if err := rows.Scan(&r.HouseholdNo, &r.Type, &r.ValidFrom); err != nil {
				_ = rows.Close() // the scan's error is the one to report
				return fmt.Errorf("linkages of %s: %w", supplier, err)
			}
			from, err := bizday.Parse(r.ValidFrom)
			if err != nil {
				_ = rows.Close() // the parse's error is the one to report
				return fmt.Errorf("linkage valid_from: %w", err)
			}
			if !inFile(households.Linkage{SupplierCode: supplier, HouseholdNo: r.HouseholdNo, Type: households.LinkageType(r.Type), ValidFrom: from}) {
				gone = append(gone, r)
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("linkages of %s: %w", supplier, err)
		}
		for _, r := range gone {
			if _, err := w.tx.ExecContext(ctx, w.tx.Rebind(`DELETE FROM linkages WHERE supplier_code = ? AND household_no = ? AND type = ? AND valid_from = ?`),
				supplier, r.HouseholdNo, r.Type, r.ValidFrom); err != nil {
				return fmt.Errorf("remove linkage: %w", err)
			}
			c.Removed++
			w.changed[supplier] = true
		}
	}
	return nil
}
