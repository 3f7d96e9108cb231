package ccb_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"aidmall/adapters/ccb"
	"aidmall/bizday"
	"aidmall/config"
	"aidmall/internal/sandboxtest"
	"aidmall/malls"
	"aidmall/malls/conformance"
	"aidmall/orders"
)

// TestConformanceAgainstFake runs the mall driver conformance suite against the fake CCB
// mall of these tests.
func TestConformanceAgainstFake(t *testing.T) {
	t.Parallel()
	m := newFakeMall(t, time.Now)
	ks := testKeys(t)
	mall, err := ccb.Connect(ccb.Config{BaseURL: m.srv.URL, AppID: m.appID, PartnerKey: ks.partner, MallKey: &ks.mall.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	conformance.Run(t, conformance.Harness{
		Driver: ccb.Driver,
		Mall:   mall,
		Order: func(t *testing.T) orders.CreateRequest {
			return appleOrder(orders.NewOutOrderNo(time.Now()))
		},
		Ship: func(t *testing.T, no orders.OutOrderNo) { m.ship(string(no), 1, 1) },
		Notification: func(t *testing.T, placed orders.CreateRequest) (*http.Request, []byte, orders.FulfilmentEvent) {
			p := with(deliveredParams(), "out_order_no", string(placed.OutOrderNo), "app_id", m.appID, "quantity", "3")
			body := signedNotification(t, ks.mall, p)
			r := httptest.NewRequest(http.MethodPost, "/webhooks/ccb", strings.NewReader(string(body)))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r, body, orders.FulfilmentEvent{Mall: ccb.Code, EventID: orders.MallEventID(p["notify_id"]), Type: orders.EventDelivered,
				OutOrderNo: placed.OutOrderNo, LineNo: 1, Quantity: 3}
		},
		Busy: func(t *testing.T) {
			m.mu.Lock()
			m.busy = 1
			m.mu.Unlock()
		},
		Statement: func(t *testing.T) ([]byte, []orders.FulfilmentEvent, int) {
			text := "通知编号,事件类型,商户订单号,商城订单号,行号,数量,退款金额,发生时间\r\n" +
				"N1,order.shipped,AM1,CCB1,1,2,,2019-03-12 09:00:00\r\n" +
				"N2,order.refunded,AM2,CCB2,3,1,42.50,2019-03-13 17:45:10\r\n" +
				"N3,order.delivered,AM1,CCB1,one,2,,2019-03-12 09:00:00\r\n"
			gb, err := simplifiedchinese.GB18030.NewEncoder().String(text)
			if err != nil {
				t.Fatal(err)
			}
			return []byte(gb), []orders.FulfilmentEvent{
				{EventID: "N1", Type: orders.EventShipped, OutOrderNo: "AM1", LineNo: 1, Quantity: 2,
					OccurredAt: time.Date(2019, 3, 12, 9, 0, 0, 0, bizday.Beijing)},
				{EventID: "N2", Type: orders.EventRefunded, OutOrderNo: "AM2", LineNo: 3, Quantity: 1, RefundFen: 4250,
					OccurredAt: time.Date(2019, 3, 13, 17, 45, 10, 0, bizday.Beijing)},
			}, 1
		},
		// ccb-mall.md: a notification carries no nonce and no timestamp window (the
		// signature alone): Nonces and Window stay unset.
	})
}

// TestConformanceAgainstSandbox runs the suite against the reference sandbox
// (../shared/mallsandbox; skipped, saying so, when it is absent), the mall opened from
// the sandbox's key files as in production.
func TestConformanceAgainstSandbox(t *testing.T) {
	sb := sandboxtest.Start(t, "--abc-addr=", "--ship-after", "50ms", "--deliver-after", "100ms", "--quiet")
	h := conformance.Live(t, ccb.Driver, config.MallConfig{URL: sb.CCBURL, AppID: sb.CCBAppID,
		PrivateKeyFile: sb.CCBPartnerPrivateKey, MallPublicKeyFile: sb.CCBMallPublicKey},
		func() malls.NonceStore { return nil },
		func() orders.CreateRequest {
			req := appleOrder(orders.NewOutOrderNo(time.Now()))
			req.BuyerRef = "CONFORMANCE" // not a bundle order_ref: the default script (ship, deliver)
			return req
		})
	conformance.Run(t, h)
}
