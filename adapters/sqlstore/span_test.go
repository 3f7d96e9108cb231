package sqlstore

import (
	"fmt"
	"testing"

	"aidmall/bizday"
)

// TestSpanOf: a range is cut into whole years, whole months outside them and days, each
// day of the range in exactly one part; without years, whole months and days.
func TestSpanOf(t *testing.T) {
	for _, c := range []struct {
		from, to string
		years    bool
		want     string
	}{
		{"2019-01-01", "2019-12-31", true, "[{0 2019 2019}]"},
		{"2019-01-01", "2019-12-31", false, "[{1 2019-01 2019-12}]"},
		{"2018-11-15", "2021-02-03", true, "[{2 2018-11-15 2018-11-30} {1 2018-12 2018-12} {0 2019 2020} {1 2021-01 2021-01} {2 2021-02-01 2021-02-03}]"},
		{"2018-12-01", "2020-01-31", true, "[{1 2018-12 2018-12} {0 2019 2019} {1 2020-01 2020-01}]"},
		{"2019-02-01", "2019-12-31", true, "[{1 2019-02 2019-12}]"},
		{"2019-01-01", "2019-12-30", true, "[{1 2019-01 2019-11} {2 2019-12-01 2019-12-30}]"},
		{"2019-03-05", "2019-03-20", true, "[{2 2019-03-05 2019-03-20}]"},
		{"2019-03-05", "2019-04-02", true, "[{2 2019-03-05 2019-04-02}]"},
		{"2019-12-31", "2021-01-01", true, "[{2 2019-12-31 2019-12-31} {0 2020 2020} {2 2021-01-01 2021-01-01}]"},
	} {
		got := fmt.Sprint(spanOf(bizday.MustParse(c.from), bizday.MustParse(c.to), c.years).parts)
		if got != c.want {
			t.Errorf("spanOf(%s, %s, %v) = %s, want %s", c.from, c.to, c.years, got, c.want)
		}
	}
}
