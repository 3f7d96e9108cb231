// Package bizday holds the business day (营业日) of aidmall: the calendar date of an instant
// in Beijing time (Asia/Shanghai, UTC+08:00), whatever zone the instant was written in
// (ATTRIBUTION.md, Terms). All periods — day, month, quarter, year — are taken in that zone.
package bizday

import (
	"fmt"
	"time"
)

// Beijing is the zone of business days. China has kept UTC+08:00 without daylight saving
// since 1991, so a fixed zone is exact for every date the service handles and needs no
// tzdata on the machine.
var Beijing = time.FixedZone("Asia/Shanghai", 8*60*60)

// Layout is the text form of a business day.
const Layout = "2006-01-02"

// Day is a calendar date in Beijing time, written YYYY-MM-DD. The zero value is no day.
type Day struct{ y, m, d int }

// Of returns the business day of instant t.
func Of(t time.Time) Day {
	b := t.In(Beijing)
	return Day{b.Year(), int(b.Month()), b.Day()}
}

// Parse reads "YYYY-MM-DD". It fails on anything else, including impossible dates and
// year 0000 (which would be the zero Day, "no day").
func Parse(s string) (Day, error) {
	t, err := time.ParseInLocation(Layout, s, Beijing)
	if err != nil || t.Year() < 1 {
		return Day{}, fmt.Errorf("invalid date %q: want YYYY-MM-DD", s)
	}
	return Of(t), nil
}

// MustParse is Parse for constants in tests and tables; it panics on bad input.
func MustParse(s string) Day {
	d, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// IsZero reports whether d is the zero Day.
func (d Day) IsZero() bool { return d.y == 0 }

// String returns "YYYY-MM-DD".
func (d Day) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.y, d.m, d.d)
}

// Month returns "YYYY-MM".
func (d Day) Month() string { return fmt.Sprintf("%04d-%02d", d.y, d.m) }

// Start returns the first instant of the day (00:00 Beijing time).
func (d Day) Start() time.Time { return time.Date(d.y, time.Month(d.m), d.d, 0, 0, 0, 0, Beijing) }

// Before reports whether d is an earlier day than e.
func (d Day) Before(e Day) bool { return d.String() < e.String() }

// AddDays returns the day n days after d (n may be negative).
func (d Day) AddDays(n int) Day { return Of(d.Start().AddDate(0, 0, n)) }

// MarshalText writes "YYYY-MM-DD".
func (d Day) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads "YYYY-MM-DD".
func (d *Day) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
