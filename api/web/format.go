package web

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"aidmall/bizday"
	"aidmall/money"
	"aidmall/reports"
)

// funcs are the templates' helpers: money as ¥1,234.56, times in Beijing time.
var funcs = template.FuncMap{
	"yuan":    yuan,
	"beijing": beijing,
	"day":     func(d bizday.Day) string { return d.String() },
	"cell":    cell,
	"event":   func(t any) string { return eventName(fmt.Sprint(t)) },
	"numeric": func(v reports.Value) bool { return v.IsNumber() },
	"numcol":  func(c reports.Column) bool { return c.Kind != reports.KindText },
}

// yuan writes fen as ¥1,234.56 (negative as -¥1,234.56).
func yuan(f money.Fen) string {
	n := int64(f)
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	whole := fmt.Sprint(n / 100)
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return fmt.Sprintf("%s¥%s.%02d", sign, b.String(), n%100)
}

// beijing writes t in Beijing time to the minute ("2019-03-04 15:04"); empty for zero.
func beijing(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(bizday.Beijing).Format("2006-01-02 15:04")
}
