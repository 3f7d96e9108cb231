package reports

import (
	"errors"
	"testing"

	"aidmall/money"
	"aidmall/orders"
)

func TestParsePeriod(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       PeriodParams
		from, to string
		badParam string
	}{
		{"range", PeriodParams{From: "2019-03-01", To: "2019-03-31"}, "2019-03-01", "2019-03-31", ""},
		{"one_day_range", PeriodParams{From: "2019-03-01", To: "2019-03-01"}, "2019-03-01", "2019-03-01", ""},
		{"month", PeriodParams{Month: "2019-03"}, "2019-03-01", "2019-03-31", ""},
		{"february_of_a_leap_year", PeriodParams{Month: "2020-02"}, "2020-02-01", "2020-02-29", ""},
		{"december", PeriodParams{Month: "2019-12"}, "2019-12-01", "2019-12-31", ""},
		{"first_quarter", PeriodParams{Quarter: "2019Q1"}, "2019-01-01", "2019-03-31", ""},
		{"fourth_quarter_lower_case", PeriodParams{Quarter: "2019q4"}, "2019-10-01", "2019-12-31", ""},
		{"year", PeriodParams{Year: "2019"}, "2019-01-01", "2019-12-31", ""},
		{"nothing", PeriodParams{}, "", "", "year"},
		{"from_without_to", PeriodParams{From: "2019-03-01"}, "", "", "to"},
		{"to_without_from", PeriodParams{To: "2019-03-01"}, "", "", "from"},
		{"to_before_from", PeriodParams{From: "2019-03-02", To: "2019-03-01"}, "", "", "to"},
		{"bad_date", PeriodParams{From: "2019-02-30", To: "2019-03-01"}, "", "", "from"},
		{"month_13", PeriodParams{Month: "2019-13"}, "", "", "month"},
		{"month_without_zero", PeriodParams{Month: "2019-3"}, "", "", "month"},
		{"quarter_5", PeriodParams{Quarter: "2019Q5"}, "", "", "quarter"},
		{"quarter_as_month", PeriodParams{Quarter: "2019-03"}, "", "", "quarter"},
		{"year_of_two_digits", PeriodParams{Year: "19"}, "", "", "year"},
		{"year_and_month", PeriodParams{Year: "2019", Month: "2019-03"}, "", "", "month"},
		// Days outside those a report covers (FirstDay..LastDay) are the parameter's fault,
		// named as given, whichever form the period takes.
		{"first_year_covered", PeriodParams{Year: "1901"}, "1901-01-01", "1901-12-31", ""},
		{"last_year_covered", PeriodParams{Year: "9998"}, "9998-01-01", "9998-12-31", ""},
		{"year_before_the_first", PeriodParams{Year: "1900"}, "", "", "year"},
		{"year_after_the_last", PeriodParams{Year: "9999"}, "", "", "year"},
		{"month_after_the_last", PeriodParams{Month: "9999-12"}, "", "", "month"},
		{"quarter_before_the_first", PeriodParams{Quarter: "1000Q1"}, "", "", "quarter"},
		{"from_before_the_first", PeriodParams{From: "0001-01-01", To: "2019-01-01"}, "", "", "from"},
		{"to_after_the_last", PeriodParams{From: "2019-01-01", To: "9999-12-31"}, "", "", "to"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := ParsePeriod(tc.in)
			if tc.badParam != "" {
				var ve *orders.ValidationError
				if !errors.As(err, &ve) || !errors.Is(err, orders.ErrInvalid) || ve.Fields[0].Pointer != "/"+tc.badParam {
					t.Fatalf("ParsePeriod(%+v) = %v, %v; want an error naming %s", tc.in, p, err, tc.badParam)
				}
				return
			}
			if err != nil || p.From.String() != tc.from || p.To.String() != tc.to {
				t.Fatalf("ParsePeriod(%+v) = %s..%s, %v; want %s..%s", tc.in, p.From, p.To, err, tc.from, tc.to)
			}
		})
	}
}

func TestYearBefore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in       PeriodParams
		from, to string
	}{
		{PeriodParams{Year: "2019"}, "2018-01-01", "2018-12-31"},
		{PeriodParams{Month: "2020-02"}, "2019-02-01", "2019-02-28"},
		{PeriodParams{Month: "2021-02"}, "2020-02-01", "2020-02-29"},
		{PeriodParams{From: "2020-02-29", To: "2020-03-15"}, "2019-02-28", "2019-03-15"},
	} {
		p, err := ParsePeriod(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if y := p.YearBefore(); y.From.String() != tc.from || y.To.String() != tc.to {
			t.Errorf("%+v a year before: %s..%s, want %s..%s", tc.in, y.From, y.To, tc.from, tc.to)
		}
	}
}

func TestPercent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		part, whole int64
		want        string
	}{{1, 3, "33.33"}, {2, 3, "66.67"}, {1, 8, "12.50"}, {1, 800, "0.13"}, {3, 2, "150.00"}, {-1, 800, "-0.13"}} {
		if got := Percent(moneyFen(tc.part), moneyFen(tc.whole)); got == nil || *got != tc.want {
			t.Errorf("Percent(%d, %d) = %v, want %s", tc.part, tc.whole, got, tc.want)
		}
	}
	if Percent(1, 0) != nil {
		t.Error("a percentage of nothing must be absent")
	}
}

func moneyFen(n int64) money.Fen { return money.Fen(n) }
