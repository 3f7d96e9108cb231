package web

// White-box: the domain's own refusals, produced by calling the domain, go through the
// pages' one Chinese table; a reworded domain message fails here rather than showing
// English to a clerk.

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/money"
	"aidmall/orders"
)

// english finds words left in English: three or more ASCII letters in a row that are not
// a code the message quotes (a SKU, a mall or a period stays as it is).
var english = regexp.MustCompile(`[A-Za-z]{3,}`)

func TestDomainRefusalsAreSaidInChinese(t *testing.T) {
	st := sqltest.Store(t, sqltest.SQLite(t))
	fx := sqltest.Seed(t, st)
	svc, err := orders.NewService(st, []orders.MallInfo{{Code: "ccb", Limits: ccb.Limits}, {Code: "abc", Limits: abc.Limits}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	staff := orders.Caller{Name: "web:hq", Role: orders.RoleBranchStaff, BranchCode: fx.Branch}
	office := orders.Caller{Name: "web:office", Role: orders.RoleAidOffice}
	ctx := context.Background()
	price := money.Fen(1)
	good := func() orders.PlaceRequest {
		return orders.PlaceRequest{OrderRef: "ZH-1", Mall: "ccb", Funding: orders.FundingUnion, DeliveryMode: orders.DeliveryPerRecipient,
			Lines: []orders.PlaceLine{{SKU: fx.Products[0], Quantity: 2, Recipients: []orders.Recipient{{Name: "王芳", Phone: "13800001111", Address: "宜川县丹州镇 1 号", Quantity: 2}}}}}
	}
	bad := map[string]func(r *orders.PlaceRequest){
		"everything missing":          func(r *orders.PlaceRequest) { *r = orders.PlaceRequest{} },
		"unknown mall":                func(r *orders.PlaceRequest) { r.Mall = "icbc" },
		"unknown funding":             func(r *orders.PlaceRequest) { r.Funding = "gift" },
		"unknown delivery":            func(r *orders.PlaceRequest) { r.DeliveryMode = "drone" },
		"long order_ref":              func(r *orders.PlaceRequest) { r.OrderRef = strings.Repeat("K", 200) },
		"unknown SKU":                 func(r *orders.PlaceRequest) { r.Lines[0].SKU = "NOPE" },
		"SKU the mall does not list":  func(r *orders.PlaceRequest) { r.Lines[0].SKU = fx.Products[1]; r.Mall = "abc" },
		"zero quantity":               func(r *orders.PlaceRequest) { r.Lines[0].Quantity = 0 },
		"recipients do not add up":    func(r *orders.PlaceRequest) { r.Lines[0].Quantity = 3 },
		"recipient without a phone":   func(r *orders.PlaceRequest) { r.Lines[0].Recipients[0].Phone = "" },
		"recipient phone not a phone": func(r *orders.PlaceRequest) { r.Lines[0].Recipients[0].Phone = "call me" },
		"bulk with recipients":        func(r *orders.PlaceRequest) { r.DeliveryMode = orders.DeliveryBulk },
		"price changed":               func(r *orders.PlaceRequest) { r.Lines[0].UnitPrice = &price },
		"masked phone":                func(r *orders.PlaceRequest) { r.Lines[0].Recipients[0].Phone = "138****1234" },
		"placeholder phone":           func(r *orders.PlaceRequest) { r.Lines[0].Recipients[0].Phone = "11111111111" },
		"NUL in a name":               func(r *orders.PlaceRequest) { r.Lines[0].Recipients[0].Name = "王\x00芳" },
		"order_ref with a space":      func(r *orders.PlaceRequest) { r.OrderRef = "K 13" },
		"long address":                func(r *orders.PlaceRequest) { r.Lines[0].Recipients[0].Address = strings.Repeat("路", 201) },
		"huge quantity":               func(r *orders.PlaceRequest) { r.Lines[0].Quantity = 1 << 40 },
		"line without recipients":     func(r *orders.PlaceRequest) { r.Lines[0].Recipients = nil },
		"too many lines":              func(r *orders.PlaceRequest) { r.Lines = make([]orders.PlaceLine, orders.MaxLines+1) },
		"branch staff back-dating":    func(r *orders.PlaceRequest) { t := time.Now().AddDate(0, -1, 0); r.PlacedAt = &t },
	}
	type refusal struct{ what, msg string }
	var said []refusal
	collect := func(what string, err error) {
		t.Helper()
		var ve *orders.ValidationError
		var oe *orders.Error
		switch {
		case errors.As(err, &ve):
			for _, f := range ve.Fields {
				said = append(said, refusal{what + " " + f.Pointer, f.Detail})
			}
		case errors.As(err, &oe) && oe.Message != "":
			said = append(said, refusal{what, oe.Message})
		default:
			t.Errorf("%s: done, or failed without a refusal: %v", what, err)
		}
	}
	for name, breakIt := range bad {
		r := good()
		breakIt(&r)
		_, err := svc.Place(ctx, staff, r)
		collect(name, err)
	}
	for name, at := range map[string]time.Time{"placed long ago": time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), "placed next year": time.Now().AddDate(1, 0, 0)} {
		r := good()
		r.BranchCode, r.PlacedAt = fx.Branch, &at
		_, err := svc.Place(ctx, office, r)
		collect(name, err)
	}
	for _, p := range []string{"2x19", time.Now().Format("2006") + "-13", time.Now().AddDate(1, 0, 0).Format("2006")} {
		_, err := svc.ClosePeriod(ctx, office, p, "年报")
		collect("close "+p, err)
	}
	_, err = svc.ReopenPeriod(ctx, office, "2019", "更正")
	collect("reopen with none closed", err)
	_, err = svc.ClosePeriod(ctx, office, "2019", "")
	collect("close without a reason", err)
	if len(said) < 15 {
		t.Fatalf("only %d refusals collected: %q", len(said), said)
	}
	for _, r := range said {
		zh := zhMessage(r.msg)
		if left := english.FindAllString(zh, -1); len(left) > 0 {
			t.Errorf("%s: %q\n   → %q still says %q in English", r.what, r.msg, zh, left)
		}
	}
}
