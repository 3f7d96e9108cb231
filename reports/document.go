package reports

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"aidmall/money"
)

// A Document is a report as every renderer sees it (text table, CSV, XLSX): its
// parameters, its headline indicators and one Table per breakdown. Any report becomes one
// either by implementing Tabular or, for a plain struct with json tags, through DocumentOf.
// The renderers never compute a figure: each value is the report's own.
type Document struct {
	Report   string  // short English name for files: "benefit", "indicators"
	Title    string  // Chinese title: "受益统计"
	Params   []Field // the query: period, dimension, year…
	Headline []Field // the headline indicators: households, people, purchased, helped to sell…
	Tables   []Table // one per breakdown
}

// A Field is one labelled value: a parameter or a headline indicator.
type Field struct {
	Name  string // English (the JSON field name): "households"
	Title string // Chinese: "受益户数"
	Value Value
}

// A Column of a Table: Name is the English header (the JSON field name), Title the
// Chinese one, Kind the kind of its cells.
type Column struct {
	Name  string
	Title string
	Kind  Kind
}

// A Table is one breakdown: Rows in display order, each as long as Columns, and Total the
// 合计 row (as long as Columns; nil when the table has none). The total is the report's
// own (households over the whole period are not the sum of the rows'), never summed here.
type Table struct {
	Name    string // sheet name, Chinese ("按县"); at most 31 characters in XLSX
	Columns []Column
	Rows    [][]Value
	Total   []Value
}

// Tabular is a report that lays itself out as a Document.
type Tabular interface {
	Document() Document
}

// Kind is the kind of a Value.
type Kind uint8

const (
	KindText  Kind = iota // text, kept as text (codes such as 610630 stay text in XLSX)
	KindInt               // a count
	KindMoney             // money.Fen, written as yuan with two decimals; a number in XLSX
	// KindPercent is a percentage with two decimals as the report computed it ("12.35",
	// reports.Percent), written "12.35%" in text and CSV and, in XLSX, as the exact
	// decimal fraction (0.1235, Value.Fraction) formatted 0.00%. It may be empty (no
	// budget, no target): an empty cell.
	KindPercent
)

// A Value is one cell: text, an integer, an amount of money in fen or a percentage.
type Value struct {
	kind Kind
	text string
	n    int64
}

// Text, Int and Money make values.
func Text(s string) Value      { return Value{kind: KindText, text: s} }
func Int(n int64) Value        { return Value{kind: KindInt, n: n} }
func Money(f money.Fen) Value  { return Value{kind: KindMoney, n: int64(f)} }
func (v Value) Kind() Kind     { return v.kind }
func (v Value) Fen() money.Fen { return money.Fen(v.n) }
func (v Value) Int() int64     { return v.n }
func (v Value) IsNumber() bool { return v.kind != KindText }

// PercentValue makes a percentage cell from a report's percentage with two decimals
// ("12.35" for 12.35%, as reports.Percent writes it); nil is an empty percentage cell.
func PercentValue(p *string) Value {
	if p == nil {
		return Value{kind: KindPercent}
	}
	return Value{kind: KindPercent, text: *p}
}

// IsEmpty reports whether v is an empty cell: empty text or an absent percentage.
func (v Value) IsEmpty() bool { return (v.kind == KindText || v.kind == KindPercent) && v.text == "" }

// Fraction is a percentage as the exact decimal fraction it stands for, the percent's
// decimal point moved two places ("12.35" → "0.1235", "100.00" → "1"), computed on
// decimals, never floats; "" for an empty percentage or any other kind.
func (v Value) Fraction() string {
	if v.kind != KindPercent || v.text == "" {
		return ""
	}
	d, err := decimal.NewFromString(v.text)
	if err != nil {
		return ""
	}
	return d.Shift(-2).String()
}

// String is the value as written in CSV and text: money as yuan with two decimals
// ("-68.00"), integers in decimal, a percentage with its sign ("12.35%", "" when absent),
// text as is.
func (v Value) String() string {
	switch v.kind {
	case KindInt:
		return strconv.FormatInt(v.n, 10)
	case KindMoney:
		return money.Fen(v.n).String()
	case KindPercent:
		if v.text == "" {
			return ""
		}
		return v.text + "%"
	}
	return v.text
}

// FileName is the report's file name with extension ext ("csv"): the report's name then
// its parameters' values, joined by "-" ("benefit-2019-01-01-2019-12-31-county.csv"); with
// chinese, the Chinese title in place of the name ("受益统计-2019-01-01-…"). Characters
// unsafe in file names become "_".
func (d Document) FileName(ext string, chinese bool) string {
	parts := []string{d.Report}
	if chinese && d.Title != "" {
		parts[0] = d.Title
	}
	if parts[0] == "" {
		parts[0] = "report"
	}
	for _, p := range d.Params {
		if s := p.Value.String(); s != "" && p.Name != "timezone" {
			parts = append(parts, s)
		}
	}
	name := strings.Map(func(r rune) rune {
		if r < 0x20 || strings.ContainsRune(`/\:*?"<>|;, `, r) {
			return '_'
		}
		return r
	}, strings.Join(parts, "-"))
	return name + "." + ext
}

// Document lays the benefit report out: the period and dimension, the totals as headline
// indicators, and one table of its rows keyed by the dimension (县, 月份…) with the 合计 row
// carrying the totals' households and people (the period as a whole) and the net of all rows.
func (b Benefit) Document() Document {
	d := Document{
		Report: "benefit",
		Title:  "受益统计",
		Params: []Field{
			{"from", "起始日", Text(b.From.String())},
			{"to", "截止日", Text(b.To.String())},
			{"timezone", "时区", Text(b.Timezone)},
			{"by", "维度", Text(string(b.By))},
		},
		Headline: totalsFields(b.Totals),
	}
	t := Table{
		Name: "按" + dimensionTitle(b.By),
		Columns: []Column{
			{"key", dimensionTitle(b.By), KindText},
			{"label", "名称", KindText},
			{"households", "受益户数", KindInt},
			{"people", "受益人数", KindInt},
			{"net_amount", "净额", KindMoney},
		},
		Rows: [][]Value{},
	}
	var net money.Fen
	for _, r := range b.Rows {
		net += r.NetAmount
		t.Rows = append(t.Rows, []Value{Text(r.Key), Text(r.Label), Int(int64(r.Households)), Int(int64(r.People)), Money(r.NetAmount)})
	}
	t.Total = []Value{Text(""), Text("合计"), Int(int64(b.Totals.Households)), Int(int64(b.Totals.People)), Money(net)}
	d.Tables = []Table{t}
	return d
}

func totalsFields(t Totals) []Field {
	return []Field{
		{"households", "受益户数", Int(int64(t.Households))},
		{"people", "受益人数", Int(int64(t.People))},
		{"purchased_amount", "购买金额", Money(t.PurchasedAmount)},
		{"helped_sell_amount", "帮助销售金额", Money(t.HelpedSellAmount)},
		{"unattributed_amount", "未归属金额", Money(t.UnattributedAmount)},
		{"delivered_amount", "签收金额", Money(t.DeliveredAmount)},
		{"refunded_amount", "退款金额", Money(t.RefundedAmount)},
	}
}

// dimensionTitle is the Chinese name of a dimension ("县" for county).
func dimensionTitle(b By) string {
	if t, ok := titles[string(b)]; ok {
		return t
	}
	return string(b)
}

// titles are the Chinese headers of the field names reports use; DocumentOf falls back on
// them for a field without a `zh` tag, and on the field's JSON name when absent here.
var titles = map[string]string{
	"county": "县", "category": "品类", "sku": "SKU", "supplier": "供应商", "branch": "工会单位",
	"mall": "商城", "month": "月份", "funding": "资金来源", "quarter": "季度", "year": "年度", "day": "日期",
	"from": "起始日", "to": "截止日", "timezone": "时区", "by": "维度", "period": "期间",
	"key": "代码", "label": "名称", "name": "名称", "code": "代码",
	"households": "受益户数", "people": "受益人数", "linked_households": "联结户数",
	"purchased_amount": "购买金额", "helped_sell_amount": "帮助销售金额",
	"unattributed_amount": "未归属金额", "delivered_amount": "签收金额", "refunded_amount": "退款金额",
	"net_amount": "净额", "amount": "金额", "net_units": "净数量", "units": "数量",
	"placed_amount": "下单金额", "cancelled_amount": "取消金额", "rejected_amount": "拒单金额",
	"budget": "预算", "used": "已使用", "used_amount": "已使用金额", "remaining": "剩余", "used_percent": "使用比例",
	"purchased_target": "购买目标", "helped_sell_target": "帮助销售目标",
	"purchased_percent": "购买完成比例", "helped_sell_percent": "帮助销售完成比例",
	"previous": "上年同期", "change": "变化", "totals": "合计", "rows": "明细",
	"county_code": "县代码", "supplier_code": "供应商代码", "branch_code": "工会单位代码",
	"household_no": "户编号", "id_number": "身份证号(脱敏)", "kind": "类型", "order_ref": "订单号",
	"line": "行", "event_id": "事件号", "weight": "权重", "linkage_type": "联结类型",
}

var fenType = reflect.TypeFor[money.Fen]()
var textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()

// DocumentOf lays any report out as a Document: a Tabular lays itself out; any other
// struct (or pointer to one) by its exported fields with json tags, so that a new report
// renders in every format without renderer code:
//
//   - a scalar field is a parameter (text, days, codes) or, when it is a number or money
//     (money.Fen), a headline indicator;
//   - a struct field (such as "totals") gives its scalar fields as headline indicators;
//   - a slice of structs is a table, one column per scalar field of the element. When the
//     report has a "totals" struct, the table's 合计 row takes its values from the totals'
//     fields of the same names (the report's own figures, never summed here); else the table
//     has no total row.
//
// Headers are the `zh:"…"` tag of a field, else a known title for its JSON name, else the
// name. report names the files. It returns an error when v is not a struct.
func DocumentOf(v any, report string) (Document, error) {
	if t, ok := v.(Tabular); ok {
		return t.Document(), nil
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return Document{}, fmt.Errorf("reports: cannot lay out a %T as a document", v)
	}
	d := Document{Report: report, Title: titleOr(report, "")}
	var totals map[string]Value
	type pending struct {
		f  fieldInfo
		rv reflect.Value
	}
	var slices []pending
	for _, f := range fieldsOf(rv.Type()) {
		fv := rv.FieldByIndex(f.index)
		switch {
		case isScalar(fv.Type()):
			val := scalar(fv)
			if val.IsNumber() {
				d.Headline = append(d.Headline, Field{f.name, f.title, val})
			} else {
				d.Params = append(d.Params, Field{f.name, f.title, val})
			}
		case deref(fv.Type()).Kind() == reflect.Struct:
			sv := derefValue(fv)
			if !sv.IsValid() {
				continue
			}
			if f.name == "totals" {
				totals = map[string]Value{}
			}
			for _, g := range fieldsOf(sv.Type()) {
				gv := sv.FieldByIndex(g.index)
				if !isScalar(gv.Type()) {
					continue
				}
				val := scalar(gv)
				d.Headline = append(d.Headline, Field{g.name, g.title, val})
				if totals != nil && f.name == "totals" {
					totals[g.name] = val
				}
			}
		case fv.Kind() == reflect.Slice && deref(fv.Type().Elem()).Kind() == reflect.Struct:
			slices = append(slices, pending{f, fv})
		}
	}
	for _, p := range slices {
		et := deref(p.rv.Type().Elem())
		t := Table{Name: p.f.title, Rows: [][]Value{}}
		if len(slices) == 1 && p.f.name == "rows" {
			t.Name = "明细"
		}
		var cols []fieldInfo
		for _, g := range fieldsOf(et) {
			if isScalar(g.typ) {
				cols = append(cols, g)
			}
		}
		for _, c := range cols {
			t.Columns = append(t.Columns, Column{c.name, c.title, kindOf(c.typ)})
		}
		for i := range p.rv.Len() {
			ev := derefValue(p.rv.Index(i))
			row := make([]Value, len(cols))
			for j, c := range cols {
				if ev.IsValid() {
					row[j] = scalar(ev.FieldByIndex(c.index))
				}
			}
			t.Rows = append(t.Rows, row)
		}
		if totals != nil {
			t.Total = make([]Value, len(cols))
			labelled := false
			for j, c := range cols {
				if v, ok := totals[c.name]; ok {
					t.Total[j] = v
				} else if !labelled && kindOf(c.typ) == KindText {
					t.Total[j], labelled = Text("合计"), true
				}
			}
		}
		d.Tables = append(d.Tables, t)
	}
	return d, nil
}

type fieldInfo struct {
	name, title string
	index       []int
	typ         reflect.Type
}

// fieldsOf lists t's exported fields that JSON would write, with their JSON names and
// Chinese titles; embedded structs are flattened as JSON does.
func fieldsOf(t reflect.Type) []fieldInfo {
	var out []fieldInfo
	for _, sf := range reflect.VisibleFields(t) {
		if !sf.IsExported() || (sf.Anonymous && sf.Type.Kind() == reflect.Struct) {
			continue
		}
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = sf.Name
		}
		out = append(out, fieldInfo{name: name, title: titleOr(name, sf.Tag.Get("zh")), index: sf.Index, typ: sf.Type})
	}
	return out
}

func titleOr(name, zh string) string {
	if zh != "" {
		return zh
	}
	if t, ok := titles[name]; ok {
		return t
	}
	return name
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

func derefValue(v reflect.Value) reflect.Value {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return reflect.Value{}
		}
		v = v.Elem()
	}
	return v
}

// isScalar reports whether a field of type t is one cell: money, a number, a string, a
// bool, or a value that marshals itself to text (bizday.Day).
func isScalar(t reflect.Type) bool {
	t = deref(t)
	if t == fenType || t.Implements(textMarshaler) || reflect.PointerTo(t).Implements(textMarshaler) {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

func kindOf(t reflect.Type) Kind {
	t = deref(t)
	switch {
	case t == fenType:
		return KindMoney
	case t.Implements(textMarshaler) || reflect.PointerTo(t).Implements(textMarshaler):
		return KindText
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return KindInt
	}
	return KindText
}

// scalar reads one cell; a nil pointer is empty text.
func scalar(v reflect.Value) Value {
	v = derefValue(v)
	if !v.IsValid() {
		return Text("")
	}
	if v.Type() == fenType {
		return Money(money.Fen(v.Int()))
	}
	if m, ok := v.Interface().(encoding.TextMarshaler); ok {
		b, err := m.MarshalText()
		if err != nil {
			return Text("")
		}
		return Text(string(b))
	}
	if v.CanAddr() {
		if m, ok := v.Addr().Interface().(encoding.TextMarshaler); ok {
			b, _ := m.MarshalText()
			return Text(string(b))
		}
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return Int(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return Int(int64(v.Uint()))
	case reflect.Bool:
		return Text(strconv.FormatBool(v.Bool()))
	}
	return Text(v.String())
}
