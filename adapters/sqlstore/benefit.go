package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"

	"aidmall/bizday"
	"aidmall/reports"
)

// Benefit figures (migrations 00016, 00017): ATTRIBUTION.md §3's figures of every slice of
// every business year and month, kept in the ledger's transaction, so that a report of one
// whole year or month (the office's year report, the responsibility letter, a monthly
// return) reads one row per slice of its answer instead of one per (slice, household).
//
// A household counts in a slice where its net there is > 0 (§3.2), so the figures are kept
// with each household's net per period and slice (benefit_nets): when a delivery or refund
// moves a net across zero, the slice's households and people move by one household and its
// members. People are members as currently registered (§3.3): a member count changed by
// the registry import is carried into every slice where the household counts
// (foldMemberChanges), in the import's transaction. What the figures do not answer goes to
// the rollups as before (figuresPeriod says when): ranges that are not one year or month,
// ranges wholly inside closed periods (people as registered at closing, §5.3), pairs of
// dimensions other than a dimension and the month.

// benefitDims are the dimensions the figures are kept by: "" the whole ledger (the
// totals), then each ledger column a report breaks down by (the month is the period), and
// the pair branch × funding (benefitPair: the responsibility letter's amounts per branch).
var benefitDims = []string{"", "county_code", "category", "sku", "supplier_code", "branch_code", "mall", "funding", benefitPair}

// benefitPair is the dimension of the pair branch × funding: its slice is the branch code,
// "/" and the funding (a funding never holds "/": the slice splits at its last "/").
const benefitPair = "branch_code,funding"

// benefitSliceOf is the slice of ledger row r in dimension d.
func benefitSliceOf(r *ledgerRow, d string) string {
	switch d {
	case "":
		return ""
	case benefitPair:
		return r.Branch + "/" + r.Funding
	}
	return r.col(d)
}

// benefitGrains are the lengths of the figures' periods in a business day: year, month.
var benefitGrains = []int{4, 7}

// benefitSlice is a slice of one period: its dimension and the value it keys by.
type benefitSlice struct{ Period, Dim, Slice string }

func (k benefitSlice) compare(o benefitSlice) int {
	// Each comparison only when the ones before are equal (cmp.Or would make all three).
	if c := strings.Compare(k.Period, o.Period); c != 0 {
		return c
	}
	if c := strings.Compare(k.Dim, o.Dim); c != 0 {
		return c
	}
	return strings.Compare(k.Slice, o.Slice)
}

// benefitNet is one household's net in a slice.
type benefitNet struct {
	benefitSlice
	Household string
}

func (k benefitNet) compare(o benefitNet) int {
	if c := k.benefitSlice.compare(o.benefitSlice); c != 0 {
		return c
	}
	return strings.Compare(k.Household, o.Household)
}

// is reports whether k is the net of a stored row's key (period, dim, slice, household).
func (k *benefitNet) is(key []string) bool {
	return k.Period == key[0] && k.Dim == key[1] && k.Slice == key[2] && k.Household == key[3]
}

var (
	benefitNetKeys    = []string{"period", "dim", "slice", "household_no"}
	benefitNetSums    = []string{"net_fen", "union_fen", "delivered_fen", "refunded_fen"}
	benefitFigureKeys = []string{"period", "dim", "slice"}
	benefitFigureSums = []string{"amount_fen", "union_fen", "delivered_fen", "refunded_fen", "unattributed_fen", "households", "people"}
)

// addBenefit adds the ledger rows to the benefit figures, in the transaction that books
// them: each household's nets first (returning the new nets, hence which crossed zero),
// then the slices' sums, households and people, last (on PostgreSQL every delivery adds to
// the same few slice rows: their locks are held for the shortest time). Keys go in one
// order, so concurrent writers take row locks in the same order.
func addBenefit(ctx context.Context, tx *sqlx.Tx, rows []ledgerRow) error {
	// Each row adds to 18 nets and 18 slices; the sums are gathered in lists, found by maps
	// of their keys' positions (one hash a key and row, no pointer a key), and each list is
	// sorted once.
	type netSums struct {
		key  benefitNet
		sums [4]int64 // net, union, delivered, refunded (as rollupSums)
	}
	type figSums struct {
		key  benefitSlice
		sums [7]int64
	}
	netAt := make(map[benefitNet]int, len(rows)*len(benefitDims)*len(benefitGrains))
	figAt := map[benefitSlice]int{}
	var nets []netSums
	var figs []figSums
	slice := make([]string, len(benefitDims))
	for i := range rows {
		r := &rows[i]
		for j, d := range benefitDims {
			slice[j] = benefitSliceOf(r, d)
		}
		adds := [4]int64{r.Amount, r.unionPart(), r.sourcePart("delivered"), r.sourcePart("refunded")}
		for _, n := range benefitGrains {
			for j, d := range benefitDims {
				k := benefitSlice{Period: r.Day[:n], Dim: d, Slice: slice[j]}
				fi, ok := figAt[k]
				if !ok {
					fi = len(figs)
					figAt[k] = fi
					figs = append(figs, figSums{key: k})
				}
				// The household's net in the slice carries the same sums as the slice (the
				// unattributed part as household ''): the nets are the ledger's rollups by
				// this dimension (rollupSource reads them).
				nk := benefitNet{k, r.HouseholdNo}
				ni, ok := netAt[nk]
				if !ok {
					ni = len(nets)
					netAt[nk] = ni
					nets = append(nets, netSums{key: nk})
				}
				f, net := &figs[fi].sums, &nets[ni].sums
				for x, add := range adds {
					f[x] += add
					net[x] += add
				}
				if r.HouseholdNo == "" {
					f[4] += r.Amount
				}
			}
		}
	}
	slices.SortFunc(nets, func(a, b netSums) int { return a.key.compare(b.key) })
	add := sumRows{Keys: make([][]string, len(nets)), Sums: make([][]int64, len(nets))}
	for i := range nets {
		k := &nets[i].key
		add.Keys[i] = []string{k.Period, k.Dim, k.Slice, k.Household}
		add.Sums[i] = nets[i].sums[:]
	}
	// A net crosses zero when the new one and the one before (new − added) differ in sign.
	// The stored rows come back in the order sent as a rule (then the next one is the row),
	// else, or for SQLite's padding (the last key again), the key is searched for.
	crossed := make([]int64, len(nets))
	households := map[string]bool{}
	next := 0
	if err := addSumsReturning(ctx, tx, "benefit_nets", benefitNetKeys, benefitNetSums, add, func(key []string, net int64) {
		i := next
		if i >= len(nets) || !nets[i].key.is(key) {
			var found bool
			k := benefitNet{benefitSlice{key[0], key[1], key[2]}, key[3]}
			if i, found = slices.BinarySearchFunc(nets, k, func(a netSums, k benefitNet) int { return a.key.compare(k) }); !found {
				return // not a row sent: nothing to count (never seen; the sums are the database's)
			}
		}
		next = i + 1
		k := &nets[i].key
		if k.Household == "" { // the unattributed part: no household to count
			return
		}
		if c := sign(net) - sign(net-nets[i].sums[0]); c != 0 {
			crossed[i] = c
			households[k.Household] = true
		}
	}); err != nil {
		return fmt.Errorf("benefit figures: %w", err)
	}
	if len(households) > 0 {
		members, err := memberCounts(ctx, tx, households)
		if err != nil {
			return fmt.Errorf("benefit figures: %w", err)
		}
		for i, c := range crossed {
			if c == 0 {
				continue
			}
			k := &nets[i].key
			m, ok := members[k.Household]
			if !ok { // not registered: counted nowhere, as the reports' join with the registry
				continue
			}
			f := &figs[figAt[k.benefitSlice]].sums
			f[5] += c
			f[6] += c * m
		}
	}
	slices.SortFunc(figs, func(a, b figSums) int { return a.key.compare(b.key) })
	fadd := sumRows{Keys: make([][]string, len(figs)), Sums: make([][]int64, len(figs))}
	for i := range figs {
		k := &figs[i].key
		fadd.Keys[i] = []string{k.Period, k.Dim, k.Slice}
		fadd.Sums[i] = figs[i].sums[:]
	}
	if err := addSums(ctx, tx, "benefit_figures", benefitFigureKeys, benefitFigureSums, fadd); err != nil {
		return fmt.Errorf("benefit figures: %w", err)
	}
	return nil
}

// sign is 1 for a net > 0 (a household that counts), 0 otherwise.
func sign(net int64) int64 {
	if net > 0 {
		return 1
	}
	return 0
}

// memberCounts reads the member counts of the registered households among nos. On
// PostgreSQL the transaction holds the closed periods' lock in share mode already: every
// ledger writer takes it before its first order (orders.Tx.ClosedPeriods, LockPeriods),
// and a registry import carrying member changes into the figures (foldMemberChanges)
// takes it exclusively, so it sees every net written with the counts it changed.
func memberCounts(ctx context.Context, tx *sqlx.Tx, nos map[string]bool) (map[string]int64, error) {
	list := slices.Sorted(maps.Keys(nos))
	out := make(map[string]int64, len(list))
	for start := 0; start < len(list); start += 500 {
		part := padIn(list[start:min(start+500, len(list))])
		args := make([]any, len(part))
		for i, no := range part {
			args[i] = no
		}
		var rows []struct {
			No      string `db:"household_no"`
			Members int64  `db:"members"`
		}
		if err := tx.SelectContext(ctx, &rows, tx.Rebind(`SELECT household_no, members FROM households WHERE household_no IN (`+marks(len(part))+`)`), args...); err != nil {
			return nil, fmt.Errorf("household members: %w", err)
		}
		for _, r := range rows {
			out[r.No] = r.Members
		}
	}
	return out, nil
}

// foldMemberChanges carries the member counts changed in this transaction (logged by the
// trigger of migration 00016) into the people of every slice where the household counts,
// and empties the log. The registry import calls it before it commits. On PostgreSQL it
// takes the closed periods' lock exclusively first: a ledger writer that read a count
// before this import changed it has committed by then, so its nets are seen here and get
// the change; one that starts later waits, and reads the new count.
func foldMemberChanges(ctx context.Context, tx *sqlx.Tx) error {
	var pending bool
	if err := tx.GetContext(ctx, &pending, `SELECT EXISTS (SELECT 1 FROM household_member_changes)`); err != nil {
		return fmt.Errorf("member changes: %w", err)
	}
	if !pending {
		return nil
	}
	if tx.DriverName() != "sqlite" {
		if _, err := tx.ExecContext(ctx, `SELECT id FROM ledger_period_lock WHERE id = 1 FOR UPDATE`); err != nil {
			return fmt.Errorf("lock closed periods: %w", err)
		}
	}
	for _, q := range foldMemberChangesSQL {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("member changes: %w", err)
		}
	}
	return nil
}

var foldMemberChangesSQL = []string{
	`UPDATE benefit_figures SET people = benefit_figures.people + d.delta FROM ` + pendingPeopleSQL + ` d
	WHERE benefit_figures.period = d.period AND benefit_figures.dim = d.dim AND benefit_figures.slice = d.slice`,
	`DELETE FROM household_member_changes`,
}

// pendingPeopleSQL is the change of people per slice that the member changes not yet
// carried into the figures make (a table expression: period, dim, slice, delta). A
// changed household's nets are found from its own ledger entries (the index
// ledger_entries_household), each read by the nets' key: the nets keep no index by
// household (migration 00021), which every new net would write.
var pendingPeopleSQL = func() string {
	from, period, slice := benefitFrom()
	return `(SELECT n.period, n.dim, n.slice, SUM(c.delta) AS delta
		FROM (SELECT household_no, SUM(members_delta) AS delta FROM household_member_changes GROUP BY household_no) c
		JOIN (SELECT DISTINCT ` + period + ` AS period, d.dim AS dim, ` + slice + ` AS slice, l.household_no
			FROM ` + from + ` WHERE l.household_no IN (SELECT household_no FROM household_member_changes)) k ON k.household_no = c.household_no
		JOIN benefit_nets n ON n.dim = k.dim AND n.period = k.period AND n.slice = k.slice AND n.household_no = k.household_no
		WHERE n.net_fen > 0 GROUP BY n.period, n.dim, n.slice)`
}()

// benefitFrom is the ledger crossed with every grain and dimension of the figures, with
// period, dim and slice: the figures recomputed from the ledger (rebuild, verify) group it.
func benefitFrom() (from, period, slice string) {
	dims := make([]string, len(benefitDims))
	cases := make([]string, 0, len(benefitDims))
	for i, d := range benefitDims {
		dims[i] = "SELECT '" + d + "' AS dim"
		switch d {
		case "":
		case benefitPair:
			cases = append(cases, "WHEN '"+d+"' THEN l.branch_code || '/' || l.funding")
		default:
			cases = append(cases, "WHEN '"+d+"' THEN l."+d)
		}
	}
	grains := make([]string, len(benefitGrains))
	for i, n := range benefitGrains {
		grains[i] = fmt.Sprintf("SELECT %d AS n", n)
	}
	from = `ledger_entries l CROSS JOIN (` + strings.Join(grains, " UNION ALL ") + `) g CROSS JOIN (` + strings.Join(dims, " UNION ALL ") + `) d`
	return from, "substr(l.business_day, 1, g.n)", "CASE d.dim " + strings.Join(cases, " ") + " ELSE '' END"
}

// benefitNetsSelect is benefit_nets recomputed from the ledger, the unattributed part
// under the empty household number.
func benefitNetsSelect() string {
	from, period, slice := benefitFrom()
	return `SELECT ` + period + ` AS period, d.dim AS dim, ` + slice + ` AS slice, COALESCE(l.household_no, '') AS household_no, SUM(l.amount_fen) AS net_fen, ` + ledgerPartsSQL("l.") + `
		FROM ` + from + ` GROUP BY ` + period + `, d.dim, ` + slice + `, COALESCE(l.household_no, '')`
}

// benefitFiguresSelect is benefit_figures recomputed from the ledger, households and
// people counted over the nets nets (a table expression with benefit_nets' columns).
func benefitFiguresSelect(nets string) string {
	from, period, slice := benefitFrom()
	return `SELECT f.period, f.dim, f.slice, f.amount_fen, f.union_fen, f.delivered_fen, f.refunded_fen, f.unattributed_fen,
		COALESCE(c.households, 0) AS households, COALESCE(c.people, 0) AS people
		FROM (SELECT ` + period + ` AS period, d.dim AS dim, ` + slice + ` AS slice, SUM(l.amount_fen) AS amount_fen,
			` + ledgerPartsSQL("l.") + `,
			SUM(CASE WHEN l.household_no IS NULL THEN l.amount_fen ELSE 0 END) AS unattributed_fen
			FROM ` + from + ` GROUP BY ` + period + `, d.dim, ` + slice + `) f
		LEFT JOIN (SELECT n.period, n.dim, n.slice, COUNT(*) AS households, SUM(h.members) AS people
			FROM ` + nets + ` n JOIN households h ON h.household_no = n.household_no WHERE n.net_fen > 0
			GROUP BY n.period, n.dim, n.slice) c ON c.period = f.period AND c.dim = f.dim AND c.slice = f.slice`
}

// rebuildBenefitSQL recomputes the figures from the ledger and the registry (migration
// 00017, RebuildRollups).
func rebuildBenefitSQL() []string {
	return []string{
		`DELETE FROM benefit_figures`, `DELETE FROM benefit_nets`, `DELETE FROM household_member_changes`,
		`INSERT INTO benefit_nets (period, dim, slice, household_no, net_fen, union_fen, delivered_fen, refunded_fen) ` + benefitNetsSelect(),
		`INSERT INTO benefit_figures (period, dim, slice, amount_fen, union_fen, delivered_fen, refunded_fen, unattributed_fen, households, people) ` +
			benefitFiguresSelect("benefit_nets"),
	}
}

// rebuildBenefit runs rebuildBenefitSQL in the transaction ex is (migration 00017, a
// benchmark's synthetic ledger; RebuildRollups runs it with the rollups' statements).
func rebuildBenefit(ctx context.Context, ex interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}) error {
	for _, q := range rebuildBenefitSQL() {
		if _, err := ex.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("benefit figures: %w", err)
		}
	}
	return nil
}

// benefitChecks pair the figures' tables with their recomputation, as rollupChecks. The
// figures' people are checked with the member changes not yet carried into them (a
// member count changed outside the registry import: reports read the rollups meanwhile).
func benefitChecks() []struct{ table, have, want string } {
	netKey := "period || '|' || dim || '|' || slice || '|' || household_no"
	netSums := "net_fen || '/' || union_fen || '/' || delivered_fen || '/' || refunded_fen"
	figKey := "period || '|' || dim || '|' || slice"
	figSums := "amount_fen || '/' || union_fen || '/' || delivered_fen || '/' || refunded_fen || '/' || unattributed_fen || '/' || households || '/' || people"
	return []struct{ table, have, want string }{
		{"benefit_nets", `SELECT ` + netKey + ` AS k, ` + netSums + ` AS v FROM benefit_nets`,
			`SELECT ` + netKey + ` AS k, ` + netSums + ` AS v FROM (` + benefitNetsSelect() + `) r`},
		{"benefit_figures", `SELECT f.period || '|' || f.dim || '|' || f.slice AS k, f.amount_fen || '/' || f.union_fen || '/' ||
			f.delivered_fen || '/' || f.refunded_fen || '/' || f.unattributed_fen || '/' || f.households || '/' || (f.people + COALESCE(d.delta, 0)) AS v
			FROM benefit_figures f LEFT JOIN ` + pendingPeopleSQL + ` d ON d.period = f.period AND d.dim = f.dim AND d.slice = f.slice`,
			`SELECT ` + figKey + ` AS k, ` + figSums + ` AS v FROM (` + benefitFiguresSelect("("+benefitNetsSelect()+")") + `) r`},
	}
}

// reportRange is what a report of from..to reads, decided once in the report's snapshot:
// the member counts its people come from (membersTable) and, when the benefit figures
// answer it, their period (figuresPeriod; "" when the rollups do).
type reportRange struct {
	from, to bizday.Day
	members  string
	figures  string
}

func newReportRange(ctx context.Context, tx *sqlx.Tx, from, to bizday.Day) (reportRange, error) {
	r := reportRange{from: from, to: to}
	var err error
	if r.members, err = membersTable(ctx, tx, from, to); err != nil { // people as of closing, inside closed periods (§5.3)
		return r, err
	}
	period, ok, err := figuresPeriod(ctx, tx, from, to, r.members)
	if ok {
		r.figures = period
	}
	return r, err
}

// figuresPeriod returns the period of the figures that answer a report of from..to whose
// people come from members (membersTable): the year when from..to is one whole calendar
// year, the month when it is one whole month; ok is false when the figures do not answer
// it (another range, people as registered at closing, member changes not yet carried).
func figuresPeriod(ctx context.Context, tx *sqlx.Tx, from, to bizday.Day, members string) (string, bool, error) {
	if members != "households" {
		return "", false, nil
	}
	f, t := from.String(), to.String()
	var period string
	switch {
	case f[5:] == "01-01" && t == f[:4]+"-12-31":
		period = f[:4]
	case f[8:] == "01" && t[:7] == f[:7] && to.AddDays(1).String()[8:] == "01":
		period = f[:7]
	default:
		return "", false, nil
	}
	var pending bool
	if err := tx.GetContext(ctx, &pending, `SELECT EXISTS (SELECT 1 FROM household_member_changes)`); err != nil {
		return "", false, fmt.Errorf("member changes: %w", err)
	}
	return period, !pending, nil
}

// figuresTotals are the totals of period from the figures.
func figuresTotals(ctx context.Context, tx *sqlx.Tx, period string) (reports.Totals, error) {
	var t struct {
		Amount, Union, Delivered, Refunded, Unattributed, Households, People int64
	}
	err := tx.QueryRowxContext(ctx, tx.Rebind(`SELECT amount_fen, union_fen, delivered_fen, refunded_fen, unattributed_fen, households, people
		FROM benefit_figures WHERE period = ? AND dim = '' AND slice = ''`), period).
		Scan(&t.Amount, &t.Union, &t.Delivered, &t.Refunded, &t.Unattributed, &t.Households, &t.People)
	if err != nil && err != sql.ErrNoRows {
		return reports.Totals{}, fmt.Errorf("report totals: %w", err)
	}
	return totalsOf(t.Union, t.Amount-t.Union, t.Unattributed, t.Delivered, -t.Refunded, int(t.Households), t.People), nil
}

// figuresRows selects the sliceFigures of period by the dimensions by from the figures:
// one dimension, the month (of a year), a dimension and the month in either order, or
// branch and funding in either order; ok is false for any other pair.
func figuresRows(ctx context.Context, tx *sqlx.Tx, period string, by ...reports.By) ([]sliceFigures, bool, error) {
	if len(by) == 2 && (by[0] == reports.ByBranch && by[1] == reports.ByFunding || by[0] == reports.ByFunding && by[1] == reports.ByBranch) {
		var rows []sliceFigures
		if err := tx.SelectContext(ctx, &rows, tx.Rebind(`SELECT slice AS k1, '' AS k2, amount_fen AS net, households, people
			FROM benefit_figures WHERE period = ? AND dim = ?`), period, benefitPair); err != nil {
			return nil, false, fmt.Errorf("report rows: %w", err)
		}
		for i := range rows {
			at := strings.LastIndex(rows[i].K1, "/")
			branch, funding := rows[i].K1[:at], rows[i].K1[at+1:]
			rows[i].K1, rows[i].K2 = branch, funding
			if by[0] == reports.ByFunding {
				rows[i].K1, rows[i].K2 = funding, branch
			}
		}
		return rows, true, nil
	}
	dim, months, monthFirst := "", false, false
	for i, b := range by {
		if b == reports.ByMonth {
			months, monthFirst = true, i == 0
			continue
		}
		if dim != "" {
			return nil, false, nil
		}
		dim = ledgerColumn(b)
	}
	k1, k2 := "slice", "''"
	switch {
	case months && len(by) == 1:
		k1 = "period"
	case months && monthFirst:
		k1, k2 = "period", "slice"
	case months:
		k2 = "period"
	}
	where, args := "period = ?", []any{period}
	if months && len(period) == 4 {
		where, args = "period BETWEEN ? AND ?", []any{period + "-01", period + "-12"}
	}
	var out []sliceFigures
	if err := tx.SelectContext(ctx, &out, tx.Rebind(`SELECT `+k1+` AS k1, `+k2+` AS k2, amount_fen AS net, households, people
		FROM benefit_figures WHERE `+where+` AND dim = ?`), append(args, dim)...); err != nil {
		return nil, false, fmt.Errorf("report rows: %w", err)
	}
	return out, true, nil
}
