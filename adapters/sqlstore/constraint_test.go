package sqlstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/orders"
)

// TestUniqueViolations: a write that breaks a unique key is the domain's conflict, named
// by its key, on both databases; other failures are not conflicts.
func TestUniqueViolations(t *testing.T) {
	now := time.Date(2019, 3, 1, 9, 0, 0, 0, time.UTC)
	branch := `INSERT INTO branches (code, name, company, members, updated_at) VALUES (?, 'b', 'c', 1, ?)`
	order := `INSERT INTO group_orders (order_ref, branch_code, funding, delivery_mode, ship_to_name, ship_to_phone, ship_to_address,
		placed_at, created_at, updated_at, mall, out_order_no, status, total_fen) VALUES (?, 'B1', 'f', 'd', 'n', 'p', 'a', ?, ?, ?, 'ccb', ?, 'pending', 0)`
	tests := []struct {
		name      string
		setup     [][]any // statements and their arguments run first, to succeed
		write     []any   // the statement that must fail
		key       string  // the violated key, "" for a failure that is no conflict
		wantNoKey bool
	}{
		{"primary_key", [][]any{{branch, "B1", now}}, []any{branch, "B1", now}, "branches_pkey", false},
		{"single_column_unique", [][]any{{branch, "B1", now}, {order, "r1", now, now, now, "OUT1"}},
			[]any{order, "r2", now, now, now, "OUT1"}, "group_orders_out_order_no_key", false},
		{"two_column_unique", [][]any{{branch, "B1", now}, {order, "r1", now, now, now, "OUT1"}},
			[]any{order, "r1", now, now, now, "OUT2"}, "group_orders_branch_code_order_ref_key", false},
		{"composite_primary_key", [][]any{
			{`INSERT INTO api_keys (name, role, key_hash, key_prefix, created_at) VALUES ('k', 'aid_office', 'h1', 'p', ?)`, now},
			{`INSERT INTO idempotency_keys (api_key_id, idem_key, fingerprint, token, locked_at, created_at) VALUES (1, 'k', 'f', 't', ?, ?)`, now, now}},
			[]any{`INSERT INTO idempotency_keys (api_key_id, idem_key, fingerprint, token, locked_at, created_at) VALUES (1, 'k', 'f', 't2', ?, ?)`, now, now},
			"idempotency_keys_pkey", false},
		{"foreign_key_is_no_conflict", nil, []any{order, "r1", now, now, now, "OUT1"}, "", true},
	}
	for _, d := range sqltest.Dialects {
		open := d.Open
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					db := open(t)
					ctx := context.Background()
					for _, st := range tt.setup {
						if _, err := db.ExecContext(ctx, db.Rebind(st[0].(string)), st[1:]...); err != nil {
							t.Fatalf("setup %q: %v", strings.Fields(st[0].(string))[2], err)
						}
					}
					_, err := db.ExecContext(ctx, db.Rebind(tt.write[0].(string)), tt.write[1:]...)
					if err == nil {
						t.Fatal("the write succeeded, want a failure")
					}
					got := sqlstore.Translate(err)
					if tt.wantNoKey {
						if errors.Is(got, orders.ErrConflict) || sqlstore.ViolatedKey(got) != "" {
							t.Fatalf("%v translated to a conflict (%q)", err, sqlstore.ViolatedKey(got))
						}
						return
					}
					if !errors.Is(got, orders.ErrConflict) || sqlstore.ViolatedKey(got) != tt.key {
						t.Fatalf("%v translated to %v (key %q), want a conflict on %s", err, got, sqlstore.ViolatedKey(got), tt.key)
					}
				})
			}
		})
	}
}
