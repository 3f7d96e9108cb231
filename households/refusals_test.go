package households_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/households"
)

// residentID completes the first 17 characters of a GB 11643 number with its check character.
func residentID(first17 string) string {
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(first17[i]-'0') * w
	}
	return first17 + string("10X98765432"[sum%11])
}

// A registry import refuses what an office would refuse, row by row, and warns of what it
// would only check.
func TestRegistryImportRefusals(t *testing.T) {
	t.Parallel()
	const header = "户编号,户主姓名,证件号码,家庭人口数,县(市、区),乡(镇),行政村,贫困户属性,脱贫年度,联系电话\n"
	row := func(no, name, id, county string) string {
		return no + "," + name + "," + id + ",4," + county + ",丹州街道,南沟村,一般贫困户,,\n"
	}
	yichuan := residentID("61063019730227451")   // 宜川县
	yichuan2 := residentID("61063019800101002")  // 宜川县
	huanglong := residentID("61063119850302123") // 黄龙县, a neighbour
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		st := sqltest.Store(t, db)
		reg := sqltest.Registry(t, st, nil)
		file := header +
			row("06300101001", "曹明根", yichuan, "宜川县") + // row 2
			row("06300101002", "王小花", yichuan, "宜川县") + // row 3: the ID of row 2's household
			row("06300101003", "李四", huanglong, "宜川县") + // row 4: an ID issued in 黄龙县
			row("0630010100A", "赵五", yichuan2, "宜川县") + // row 5: not digits
			"06300101005,钱六," + yichuan2 + ",4,宜川县\n" + // row 6: missing cells
			strings.TrimSuffix(row("06300101006", "孙七", yichuan2, "宜川县"), "\n") + ",x\n" // row 7: an extra cell
		rep, err := reg.Import(ctx, households.KindHouseholds, "households.csv", strings.NewReader(file), false)
		if err != nil {
			t.Fatal(err)
		}
		wantErrs := []households.RowError{
			{Row: 3, Column: "证件号码", Value: households.MaskID(yichuan), Reason: "the same ID number as row 2 (household 06300101001): one person is in one household"},
			{Row: 5, Column: "户编号", Value: "0630010100A", Reason: "not a household number: want digits only (up to 40, leading zeros kept)"},
			{Row: 6, Column: "乡(镇)", Reason: "missing cells: the row has 5 cells, the header 10"},
			{Row: 7, Column: "column 11", Value: "x", Reason: "extra cells: the row has 11 cells, the header 10"},
		}
		if !reflect.DeepEqual(rep.Errors, wantErrs) {
			t.Errorf("row errors:\n got %#v\nwant %#v", rep.Errors, wantErrs)
		}
		wantWarn := []households.RowError{{Row: 4, Column: "证件号码", Value: households.MaskID(huanglong),
			Reason: "the ID number's region 610631 黄龙县 is outside the household's county 宜川县 (610630)"}}
		if !reflect.DeepEqual(rep.Warnings, wantWarn) {
			t.Errorf("warnings:\n got %#v\nwant %#v", rep.Warnings, wantWarn)
		}
		if rep.Loaded != 2 || rep.Counts.Inserted != 2 {
			t.Errorf("loaded %d, inserted %d: want rows 2 and 4 (a warning is no refusal)", rep.Loaded, rep.Counts.Inserted)
		}
		var text strings.Builder
		if err := rep.WriteText(&text); err != nil || !strings.Contains(text.String(), "warning: row 4, 证件号码") || strings.Contains(text.String(), huanglong) {
			t.Errorf("summary (ID numbers masked):\n%s", text.String())
		}
		// Every registry file: a row with an extra cell is refused.
		brep, err := reg.Import(ctx, households.KindBranches, "branches.csv",
			strings.NewReader("code,name,company,members,budget\nHQ,总部,总部,1,1.00\nS01,一,一,1,1.00,\n"), false)
		if err != nil {
			t.Fatal(err)
		}
		if len(brep.Errors) != 1 || brep.Errors[0].Row != 3 || !strings.HasPrefix(brep.Errors[0].Reason, "extra cells") || brep.Loaded != 1 {
			t.Errorf("branches with an extra cell: %+v", brep)
		}
	})
}

// The example bundle imports with exactly the row errors it has on purpose (rows 97, 250
// and 550 of its households file) and no other: the new rules refuse nothing else in it.
func TestBundleImportsWithItsKnownErrors(t *testing.T) {
	t.Parallel()
	st := sqltest.Store(t, sqltest.SQLite(t))
	reps := sqltest.ImportBundle(t, st, sqltest.ExampleBundle())
	want := map[households.Kind][]string{
		households.KindHouseholds: {
			"row 97, 证件号码: check character is 4, want 7",
			"row 250, 户编号: duplicate 户编号 06300501009, first in row 231",
			"row 550, 家庭人口数: empty, want a whole number 1–12",
		},
	}
	for _, r := range reps {
		var got []string
		for _, e := range r.Errors {
			got = append(got, e.String())
		}
		if !reflect.DeepEqual(got, want[r.Kind]) {
			t.Errorf("%s row errors:\n got %q\nwant %q", r.Kind, got, want[r.Kind])
		}
	}
}
