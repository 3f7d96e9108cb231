package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite" // also the database/sql driver "sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"aidmall/orders"
)

// A uniqueKey is one unique or primary key of the schema that a write may violate, with
// the domain error a violation means. PostgreSQL names the violated constraint
// (pgconn.PgError.ConstraintName); SQLite names the table and columns ("UNIQUE constraint
// failed: group_orders.out_order_no"). Both migrations define the same keys
// (TestMigrationsDefineTheSameSchema) and every one is listed here (TestUniqueKeysAreKnown).
type uniqueKey struct {
	name  string   // PostgreSQL's name for it: <table>_pkey, or <table>_<columns>_key
	table string   // the table
	cols  []string // its columns in order, as SQLite's message lists them
	err   error    // the domain error it means
	what  string   // what was taken, for the message
}

// Names of the unique keys code tells apart (ViolatedKey).
const (
	keyOrderOutOrderNo = "group_orders_out_order_no_key"
	keyOrderRef        = "group_orders_branch_code_order_ref_key"
)

var uniqueKeys = []uniqueKey{
	{"branches_pkey", "branches", []string{"code"}, orders.ErrConflict, "a branch with this code"},
	{"suppliers_pkey", "suppliers", []string{"code"}, orders.ErrConflict, "a supplier with this code"},
	{"products_pkey", "products", []string{"sku"}, orders.ErrConflict, "a product with this sku"},
	{"product_listings_pkey", "product_listings", []string{"sku", "mall"}, orders.ErrConflict, "a listing of this sku at this mall"},
	{"households_pkey", "households", []string{"household_no"}, orders.ErrConflict, "a household with this number"},
	{"linkages_supplier_code_household_no_type_valid_from_key", "linkages", []string{"supplier_code", "household_no", "type", "valid_from"}, orders.ErrConflict, "a linkage of this supplier, household and type from this day"},
	{"api_keys_key_hash_key", "api_keys", []string{"key_hash"}, orders.ErrConflict, "an API key with this secret"},
	{"idempotency_keys_pkey", "idempotency_keys", []string{"api_key_id", "idem_key"}, orders.ErrConflict, "this Idempotency-Key"},
	{keyOrderRef, "group_orders", []string{"branch_code", "order_ref"}, orders.ErrConflict, "an order of this branch with this order_ref"},
	{keyOrderOutOrderNo, "group_orders", []string{"out_order_no"}, orders.ErrConflict, "an order with this out_order_no"},
	{"order_lines_order_id_line_no_key", "order_lines", []string{"order_id", "line_no"}, orders.ErrConflict, "a line with this number"},
	{"fulfilment_events_mall_out_order_no_event_id_key", "fulfilment_events", []string{"mall", "out_order_no", "event_id"}, orders.ErrConflict, "an event with this id for this order"},
	{"meta_pkey", "meta", []string{"name"}, orders.ErrConflict, "a fact with this name"},
	{"audit_log_pkey", "audit_log", []string{"seq"}, orders.ErrConflict, "an audit entry with this sequence number"},
	{"review_resolutions_pkey", "review_resolutions", []string{"item"}, orders.ErrConflict, "a resolution of this review item"},
	{"branch_budgets_pkey", "branch_budgets", []string{"branch_code", "year"}, orders.ErrConflict, "a budget of this branch for this year"},
	{"closed_period_members_pkey", "closed_period_members", []string{"period_id", "household_no"}, orders.ErrConflict, "a member count of this household for this closed period"},
	{"targets_pkey", "targets", []string{"year"}, orders.ErrConflict, "a target for this year"},
	{"people_login_key", "people", []string{"login"}, orders.ErrConflict, "a person with this login"},
	{"web_sessions_pkey", "web_sessions", []string{"id"}, orders.ErrConflict, "a session with this id"},
	// PostgreSQL's partitioned ledger (migration 00014): its key must hold the partition
	// key; ids come from one sequence.
	{"ledger_entries_pkey", "ledger_entries", []string{"id", "business_day"}, orders.ErrConflict, "a ledger entry with this id"},
	// Rollups (rollups.go) are upserted on their keys: a violation cannot reach a client.
	{"ledger_rollups_pkey", "ledger_rollups", []string{"grp", "month", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "household_no"}, orders.ErrConflict, "a ledger rollup of this month and slice"},
	{"ledger_day_rollups_pkey", "ledger_day_rollups", []string{"grp", "business_day", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "household_no"}, orders.ErrConflict, "a ledger rollup of this day and slice"},
	{"ledger_year_rollups_pkey", "ledger_year_rollups", []string{"grp", "year", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "household_no"}, orders.ErrConflict, "a ledger rollup of this year and slice"},
	{"unit_month_rollups_pkey", "unit_month_rollups", []string{"month", "sku", "funding", "branch_code", "mall"}, orders.ErrConflict, "a units rollup of this month and slice"},
	{"benefit_nets_pkey", "benefit_nets", []string{"dim", "period", "slice", "household_no"}, orders.ErrConflict, "a household's net in this period and slice"},
	{"benefit_figures_pkey", "benefit_figures", []string{"dim", "period", "slice"}, orders.ErrConflict, "the figures of this period and slice"},
	{"unit_day_rollups_pkey", "unit_day_rollups", []string{"business_day", "sku", "funding", "branch_code", "mall"}, orders.ErrConflict, "a units rollup of this day and slice"},
	{"unit_figures_pkey", "unit_figures", []string{"dim", "period", "slice"}, orders.ErrConflict, "the unit figures of this period and slice"},
}

// surrogateKey reports whether a table's key is its generated id, which no write sets and
// so none can violate: those keys need no entry in uniqueKeys.
func surrogateKey(cols []string) bool { return len(cols) == 1 && cols[0] == "id" }

// violation is a write that broke a known unique key.
type violation struct {
	key   uniqueKey
	cause error
}

func (v *violation) Error() string {
	return fmt.Sprintf("%v: %s already exists", v.key.err, v.key.what)
}
func (v *violation) Unwrap() []error { return []error{v.key.err, v.cause} }

// violatedKey returns the name of the unique key err (from translate) reports broken, or
// "" when it reports none.
func violatedKey(err error) string {
	var v *violation
	if errors.As(err, &v) {
		return v.key.name
	}
	return ""
}

// translate maps driver errors to the domain's: no rows → orders.ErrNotFound, and a
// violation of a unique key in uniqueKeys → its domain error (a *violation naming the
// key), found by the constraint's name on PostgreSQL and by SQLite's extended result code
// and the table and columns its message names. Any other error is returned as it is.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w", orders.ErrNotFound)
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "23505" { // unique_violation
		for _, k := range uniqueKeys {
			if k.name == pg.ConstraintName {
				return &violation{key: k, cause: err}
			}
		}
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			if table, cols, ok := sqliteUniqueColumns(se.Error()); ok {
				for _, k := range uniqueKeys {
					if k.table == table && slices.Equal(k.cols, cols) {
						return &violation{key: k, cause: err}
					}
				}
			}
		}
	}
	return err
}

// sqliteUniqueColumns reads the table and columns from SQLite's message for a unique or
// primary key violation: "UNIQUE constraint failed: t.a, t.b" (modernc.org/sqlite adds
// a prefix and a " (code)" suffix).
func sqliteUniqueColumns(msg string) (table string, cols []string, ok bool) {
	const marker = "UNIQUE constraint failed: "
	i := strings.Index(msg, marker)
	if i < 0 {
		return "", nil, false
	}
	rest := msg[i+len(marker):]
	if j := strings.Index(rest, " ("); j >= 0 {
		rest = rest[:j]
	}
	for _, qualified := range strings.Split(rest, ", ") {
		t, c, found := strings.Cut(strings.TrimSpace(qualified), ".")
		if !found || (table != "" && t != table) {
			return "", nil, false
		}
		table = t
		cols = append(cols, c)
	}
	return table, cols, table != ""
}
