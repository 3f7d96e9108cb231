package sqlstore_test

import (
	"context"
	"fmt"
	"testing"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
)

// addSums inserts new keys and adds to existing ones, whatever the row count: on SQLite
// the padding rows (the last row again, with sums of 0) add nothing.
func TestAddSumsAddsEachRowOnce(t *testing.T) {
	for _, n := range []int{1, 8, 9, 65, 130} {
		if s := sqlstore.SQLiteSumsSize(n); s < n || s-n > 63 {
			t.Errorf("%d rows padded to %d", n, s)
		}
	}
	for _, d := range sqltest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			ctx := context.Background()
			db := d.Open(t)
			if _, err := db.ExecContext(ctx, `CREATE TABLE sums_t (a TEXT NOT NULL, b TEXT NOT NULL, x BIGINT NOT NULL, y BIGINT NOT NULL, PRIMARY KEY (a, b))`); err != nil {
				t.Fatal(err)
			}
			add := func(n int, x int64) {
				t.Helper()
				var keys [][]string
				var sums [][]int64
				for i := range n {
					keys = append(keys, []string{"k", fmt.Sprintf("%03d", i)})
					sums = append(sums, []int64{x, int64(i)})
				}
				if err := sqlstore.AddSums(ctx, db, "sums_t", []string{"a", "b"}, []string{"x", "y"}, keys, sums); err != nil {
					t.Fatal(err)
				}
			}
			add(9, 5)  // 9 new rows (padded to 16 on SQLite)
			add(70, 1) // 9 added to, 61 new (padded to 128)
			var got struct {
				N int64 `db:"n"`
				X int64 `db:"x"`
				Y int64 `db:"y"`
			}
			if err := db.GetContext(ctx, &got, `SELECT COUNT(*) AS n, SUM(x) AS x, SUM(y) AS y FROM sums_t`); err != nil {
				t.Fatal(err)
			}
			// x: 9×5 + 70×1; y: 0+…+8 and 0+…+69.
			if got.N != 70 || got.X != 115 || got.Y != 36+2415 {
				t.Fatalf("rows %d, sum x %d, sum y %d; want 70, 115, 2451", got.N, got.X, got.Y)
			}
		})
	}
}
