package households_test

import (
	"context"
	"strings"
	"testing"

	"aidmall/adapters/registryfile"
	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/households"
	"aidmall/money"
)

// A branches file's budget column is stored as the budget of the year the import names,
// and only of that year.
func TestBranchesBudgetIsTheNamedYears(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		st := sqltest.Store(t, db)
		imp := func(year int, content string) households.Report {
			t.Helper()
			opts := []households.RegistryOption{households.WithFileDecoder(registryfile.Decoder{})}
			if year != 0 {
				opts = append(opts, households.WithBudgetYear(year))
			}
			r, err := households.NewRegistry(st, sqltest.Sealer(t), opts...)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := r.Import(ctx, households.KindBranches, "branches.csv", strings.NewReader(content), true)
			if err != nil || rep.Refused {
				t.Fatalf("import: %+v %v", rep, err)
			}
			return rep
		}
		budgets := func(year int) map[string]money.Fen {
			t.Helper()
			b, err := st.Budgets(ctx, year)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		const file = "code,name,company,members,budget\nHQ,总部工会,总部,860,928000.00\nS01,一公司工会,一公司,9120,216000.50\n"
		if rep := imp(0, file); rep.Counts.Inserted != 2 || len(budgets(2019)) != 0 {
			t.Fatalf("without a year: %+v, budgets %v; want the branches and no budget", rep.Counts, budgets(2019))
		}
		if rep := imp(2019, file); rep.Counts.Updated != 2 {
			t.Fatalf("the 2019 budgets are a change of both branches: %+v", rep.Counts)
		}
		if got := budgets(2019); got["HQ"] != 92_800_000 || got["S01"] != 21_600_050 || len(got) != 2 {
			t.Fatalf("2019 budgets %v", got)
		}
		if rep := imp(2019, file); rep.Counts.Unchanged != 2 {
			t.Fatalf("re-import: %+v, want unchanged", rep.Counts)
		}
		imp(2020, strings.Replace(file, "928000.00", "1000000.00", 1))
		if got := budgets(2020); got["HQ"] != 100_000_000 {
			t.Fatalf("2020 budgets %v", got)
		}
		if got := budgets(2019); got["HQ"] != 92_800_000 {
			t.Fatalf("importing 2020 changed 2019: %v", got)
		}
	})
}
