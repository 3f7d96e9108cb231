package sqlstore

import (
	"context"

	"aidmall/bizday"
	"aidmall/reports"
	"github.com/jmoiron/sqlx"
)

// Unexported parts the external tests (package sqlstore_test) check.

// Translate is translate.
func Translate(err error) error { return translate(err) }

// ViolatedKey is violatedKey.
func ViolatedKey(err error) string { return violatedKey(err) }

// KnownUniqueKey reports whether uniqueKeys lists the key table(cols), or the key is a
// generated id that needs no entry.
func KnownUniqueKey(table string, cols []string) (name string, ok bool) {
	if surrogateKey(cols) {
		return table + "_pkey", true
	}
	for _, k := range uniqueKeys {
		if k.table == table && len(k.cols) == len(cols) {
			same := true
			for i := range cols {
				same = same && k.cols[i] == cols[i]
			}
			if same {
				return k.name, true
			}
		}
	}
	return "", false
}

// Remigrate migrates db down to version (undoing every later migration) and up again, as
// an existing database of that version meets the newer ones.
func (db *DB) Remigrate(ctx context.Context, version int64) error {
	p, err := db.provider()
	if err != nil {
		return err
	}
	if _, err := p.DownTo(ctx, version); err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// BreakdownFiguresSQL is the one pass of a breakdown by by over p (people from the
// register) as the store runs it, for the benchmark's EXPLAIN.
func BreakdownFiguresSQL(p reports.Period, by ...reports.By) (string, []any) {
	var cols, keys []string
	for _, d := range by {
		cols, keys = append(cols, ledgerColumn(d)), append(keys, sliceExpr[d])
	}
	src, args := rollupSource(p.From, p.To, "", cols...)
	return sliceFiguresSQL(src, "households", keys...), args
}

// AddSums is addSums in a transaction of db.
func AddSums(ctx context.Context, db *DB, table string, keyCols, sumCols []string, keys [][]string, sums [][]int64) error {
	return db.inTx(ctx, func(tx *sqlx.Tx) error {
		return addSums(ctx, tx, table, keyCols, sumCols, sumRows{Keys: keys, Sums: sums})
	})
}

// SQLiteSumsSize is sqliteSumsSize.
func SQLiteSumsSize(n int) int { return sqliteSumsSize(n) }

// AnalyzeAfter is analyzeAfter.
var AnalyzeAfter = analyzeAfter

// FiguresAnswer reports whether a report of from..to is read from the benefit figures
// (figuresPeriod), in a snapshot as the reports take.
func (s *Store) FiguresAnswer(ctx context.Context, from, to bizday.Day) (bool, error) {
	tx, err := s.snapshot(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	rr, err := newReportRange(ctx, tx, from, to)
	return rr.figures != "", err
}

// RebuildBenefitFigures recomputes the benefit figures alone from the ledger (a synthetic
// ledger's benchmark that measures only the reports the figures answer).
func (s *Store) RebuildBenefitFigures(ctx context.Context) error {
	return s.db.inTx(ctx, func(tx *sqlx.Tx) error { return rebuildBenefit(ctx, tx) })
}
