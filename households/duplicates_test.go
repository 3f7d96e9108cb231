package households_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/households"
)

// The duplicate checks of a household file keep its numbers packed (householdsSeen): every
// length a household number may have (leading zeros kept) and both kinds of check
// character are still told apart and named.
func TestHouseholdDuplicatesEveryNumberShape(t *testing.T) {
	t.Parallel()
	const header = "户编号,户主姓名,证件号码,家庭人口数,县(市、区),乡(镇),行政村,贫困户属性,脱贫年度,联系电话\n"
	// IDs of 宜川县 people born on successive days; withX has the check character X.
	var ids []string
	var withX string
	for d := 1; len(ids) < 12 || withX == ""; d++ {
		id := residentID(fmt.Sprintf("610630198001%02d%03d", 1+d/1000, d%1000))
		if strings.HasSuffix(id, "X") && withX == "" {
			withX = id
			continue
		}
		ids = append(ids, id)
	}
	long40 := strings.Repeat("9", 40)
	long19 := "0" + strings.Repeat("1", 18)
	rows := []struct{ no, id string }{
		{"1", ids[0]},                       // row 2
		{"01", ids[1]},                      // row 3: not row 2's number (a leading zero counts)
		{"001", ids[2]},                     // row 4
		{"01", ids[3]},                      // row 5: duplicate of row 3
		{"999999999999999999", ids[4]},      // row 6: 18 digits, the most that pack
		{"999999999999999999", ids[5]},      // row 7: duplicate of row 6
		{long19, ids[6]},                    // row 8: 19 digits
		{long19[1:] + "1", ids[7]},          // row 9: 19 digits, another number
		{long19, ids[8]},                    // row 10: duplicate of row 8
		{long40, withX},                     // row 11: 40 digits, an ID ending in X
		{"2", withX},                        // row 12: the ID of row 11's household
		{"3", ids[0]},                       // row 13: the ID of row 2's household
		{long40, ids[9]},                    // row 14: duplicate of row 11
		{"0000000000000000000001", ids[10]}, // row 15: 22 digits
	}
	var file strings.Builder
	file.WriteString(header)
	for _, r := range rows {
		file.WriteString(r.no + ",曹明根," + r.id + ",4,宜川县,丹州街道,南沟村,一般贫困户,,\n")
	}
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		reg := sqltest.Registry(t, sqltest.Store(t, db), nil)
		rep, err := reg.Import(context.Background(), households.KindHouseholds, "households.csv", strings.NewReader(file.String()), false)
		if err != nil {
			t.Fatal(err)
		}
		dup := func(row int, no string, first int) households.RowError {
			return households.RowError{Row: row, Column: "户编号", Reason: fmt.Sprintf("duplicate 户编号 %s, first in row %d", no, first)}
		}
		sameID := func(row int, id string, first int, no string) households.RowError {
			return households.RowError{Row: row, Column: "证件号码", Value: households.MaskID(id),
				Reason: fmt.Sprintf("the same ID number as row %d (household %s): one person is in one household", first, no)}
		}
		want := []households.RowError{
			dup(5, "01", 3),
			dup(7, "999999999999999999", 6),
			dup(10, long19, 8),
			sameID(12, withX, 11, long40),
			sameID(13, ids[0], 2, "1"),
			dup(14, long40, 11),
		}
		if !reflect.DeepEqual(rep.Errors, want) {
			t.Errorf("row errors:\n got %v\nwant %v", rep.Errors, want)
		}
		if rep.Loaded != 8 || rep.Counts.Inserted != 8 {
			t.Errorf("loaded %d, inserted %d: want the 8 rows without errors", rep.Loaded, rep.Counts.Inserted)
		}
	})
}
