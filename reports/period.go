package reports

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"aidmall/bizday"
	"aidmall/orders"
)

// Period is a report's business days, From through To, both inclusive (Beijing).
type Period struct {
	From bizday.Day `json:"from"`
	To   bizday.Day `json:"to"`
}

// PeriodParams are the ways a period is written, by the parameter names of the API and
// the flags of the CLI: a date range (From and To, YYYY-MM-DD), a Month (2019-03), a
// Quarter (2019Q1) or a Year (2019). Exactly one way is given.
type PeriodParams struct {
	From, To, Month, Quarter, Year string
	// Flags: the period was given by the CLI's flags, and the details name them so
	// (--from, not from). A period missing altogether is then the command's fault, not one
	// flag's: its field has no pointer. The pointers are the same either way.
	Flags bool
}

var (
	monthRE   = regexp.MustCompile(`^(\d{4})-(\d{2})$`)
	quarterRE = regexp.MustCompile(`^(\d{4})[Qq]([1-4])$`)
	yearRE    = regexp.MustCompile(`^\d{4}$`)
)

// ParsePeriod reads a period (business days in Beijing time, both ends inclusive). It
// returns an *orders.ValidationError (wrapping orders.ErrInvalid) whose fields name the
// parameter at fault by pointer ("/from", "/to", "/month", "/quarter", "/year"): an
// unreadable value, a range with only one end or its end before its start, none of the
// ways given, or more than one.
func ParsePeriod(p PeriodParams) (Period, error) {
	var fields []orders.FieldError
	bad := func(name, detail string) {
		fields = append(fields, orders.FieldError{Pointer: "/" + name, Detail: detail})
	}
	// n is how the details name a parameter: as the API's, or as the CLI's flag.
	n := func(name string) string {
		if p.Flags {
			return "--" + name
		}
		return name
	}
	var given []string
	for _, g := range []struct{ name, v string }{{"from", p.From}, {"to", p.To}, {"month", p.Month}, {"quarter", p.Quarter}, {"year", p.Year}} {
		if strings.TrimSpace(g.v) != "" {
			given = append(given, g.name)
		}
	}
	ways := 0
	if p.From != "" || p.To != "" {
		ways++
	}
	for _, v := range []string{p.Month, p.Quarter, p.Year} {
		if v != "" {
			ways++
		}
	}
	if ways == 0 {
		detail := fmt.Sprintf("give a period: %s and %s (YYYY-MM-DD), %s (YYYY-MM), %s (YYYYQn) or %s (YYYY)", n("from"), n("to"), n("month"), n("quarter"), n("year"))
		if p.Flags {
			return Period{}, &orders.ValidationError{Fields: []orders.FieldError{{Detail: detail}}}
		}
		bad("year", detail)
		return Period{}, &orders.ValidationError{Fields: fields}
	}
	if ways > 1 {
		named := make([]string, len(given))
		for i, g := range given {
			named[i] = n(g)
		}
		for _, g := range given {
			bad(g, fmt.Sprintf("give one of %s/%s, %s, %s or %s, not %s", n("from"), n("to"), n("month"), n("quarter"), n("year"), strings.Join(named, " and ")))
		}
		return Period{}, &orders.ValidationError{Fields: fields}
	}
	var out Period
	switch {
	case p.From != "" || p.To != "":
		for _, e := range []struct {
			name, v string
			d       *bizday.Day
		}{{"from", p.From, &out.From}, {"to", p.To, &out.To}} {
			if e.v == "" {
				bad(e.name, "required with "+n(map[string]string{"from": "to", "to": "from"}[e.name])+" (YYYY-MM-DD, Beijing)")
				continue
			}
			d, err := bizday.Parse(strings.TrimSpace(e.v))
			if err != nil {
				bad(e.name, fmt.Sprintf("%q is not a date YYYY-MM-DD", e.v))
				continue
			}
			*e.d = d
		}
		if len(fields) == 0 && out.To.Before(out.From) {
			bad("to", fmt.Sprintf("%s is before %s %s", out.To, n("from"), out.From))
		}
	case p.Month != "":
		m := monthRE.FindStringSubmatch(strings.TrimSpace(p.Month))
		mo := 0
		if m != nil {
			mo, _ = strconv.Atoi(m[2])
		}
		if m == nil || mo < 1 || mo > 12 || m[1] == "0000" {
			bad("month", fmt.Sprintf("%q is not a month YYYY-MM", p.Month))
			break
		}
		y, _ := strconv.Atoi(m[1])
		out = months(y, mo, 1)
	case p.Quarter != "":
		m := quarterRE.FindStringSubmatch(strings.TrimSpace(p.Quarter))
		if m == nil || m[1] == "0000" {
			bad("quarter", fmt.Sprintf("%q is not a quarter YYYYQn (n 1 to 4)", p.Quarter))
			break
		}
		y, _ := strconv.Atoi(m[1])
		q, _ := strconv.Atoi(m[2])
		out = months(y, 3*q-2, 3)
	case p.Year != "":
		y, err := ParseYear(p.Year)
		if err != nil {
			bad("year", err.Error())
			break
		}
		out = YearPeriod(y)
	}
	if len(fields) == 0 {
		// Days a report does not cover (SpanErrors) are the parameter's fault, named as
		// given: from or to, or the month, quarter or year that reaches them.
		for _, f := range SpanErrors(out.From, out.To) {
			name := strings.TrimPrefix(f.Pointer, "/")
			if name != "from" && name != "to" || !slices.Contains(given, name) {
				name = given[0]
				f.Detail = fmt.Sprintf("%q reaches outside the business days a report covers, %s to %s", strings.TrimSpace(map[string]string{
					"month": p.Month, "quarter": p.Quarter, "year": p.Year}[name]), FirstDay, LastDay)
			}
			if !slices.ContainsFunc(fields, func(g orders.FieldError) bool { return g.Pointer == "/"+name }) {
				bad(name, f.Detail)
			}
		}
	}
	if len(fields) > 0 {
		return Period{}, &orders.ValidationError{Fields: fields}
	}
	return out, nil
}

// ParseYear reads a calendar year, 4 digits from 1000 to 9999.
func ParseYear(s string) (int, error) {
	s = strings.TrimSpace(s)
	if !yearRE.MatchString(s) || s[0] == '0' {
		return 0, fmt.Errorf("%q is not a year YYYY", s)
	}
	y, _ := strconv.Atoi(s)
	return y, nil
}

// YearPeriod is the calendar year y, Beijing time.
func YearPeriod(y int) Period { return months(y, 1, 12) }

// months is n whole months from month m of year y.
func months(y, m, n int) Period {
	first := time.Date(y, time.Month(m), 1, 0, 0, 0, 0, bizday.Beijing)
	return Period{From: bizday.Of(first), To: bizday.Of(first.AddDate(0, n, -1))}
}

// Contains reports whether d lies in p.
func (p Period) Contains(d bizday.Day) bool {
	s := d.String()
	return !d.IsZero() && p.From.String() <= s && s <= p.To.String()
}

// YearBefore is the same period one year earlier: each end moved back a calendar year,
// 29 February to 28 February, and a period ending on the last day of February still ends
// on the last day of February (2020-02-01..2020-02-29 → 2019-02-01..2019-02-28).
func (p Period) YearBefore() Period { return Period{From: yearBefore(p.From), To: yearBefore(p.To)} }

func yearBefore(d bizday.Day) bizday.Day {
	t := d.Start()
	y, m, day := t.Date()
	last := time.Date(y-1, m+1, 0, 0, 0, 0, 0, bizday.Beijing).Day() // days in that month a year before
	endOfMonth := day == time.Date(y, m+1, 0, 0, 0, 0, 0, bizday.Beijing).Day()
	if day > last || endOfMonth {
		day = last
	}
	return bizday.Of(time.Date(y-1, m, day, 0, 0, 0, 0, bizday.Beijing))
}
