package abc

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"aidmall/bizday"
	"aidmall/config"
	"aidmall/internal/sandboxtest"
	"aidmall/malls"
	"aidmall/malls/conformance"
	"aidmall/orders"
)

// TestConformanceAgainstFake runs the mall driver conformance suite against the fake ABC
// mall of these tests.
func TestConformanceAgainstFake(t *testing.T) {
	t.Parallel()
	k := newKeys(t)
	m := newFakeMall(t, k)
	mall, err := Connect(Config{BaseURL: m.srv.URL, AppID: testAppID, PartnerKey: k.partner, MallKey: &k.mall.PublicKey},
		newMemNonces(time.Now))
	if err != nil {
		t.Fatal(err)
	}
	var busy bool
	m.hook = func(w http.ResponseWriter, r *http.Request) bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		if !busy {
			return false
		}
		busy = false
		m.answer(w, r, http.StatusServiceUnavailable, []byte(`{"code":"SERVICE_UNAVAILABLE","message":"busy"}`))
		return true
	}
	nonce := 0
	conformance.Run(t, conformance.Harness{
		Driver: Driver,
		Mall:   mall,
		Order:  func(t *testing.T) orders.CreateRequest { return sampleOrder(orders.NewOutOrderNo(time.Now())) },
		Ship:   func(t *testing.T, no orders.OutOrderNo) { m.ship(string(no)) },
		Notification: func(t *testing.T, placed orders.CreateRequest) (*http.Request, []byte, orders.FulfilmentEvent) {
			nonce++
			body := []byte(strings.Replace(deliveredBody, "AM20190305100000000042", string(placed.OutOrderNo), 1))
			n := signNotification(t, k.mall, notifyPath, time.Now(), "conformance-nonce-"+string(rune('a'+nonce)), body)
			r := httptest.NewRequest(http.MethodPost, n.path, strings.NewReader(string(body)))
			r.Header = n.header
			return r, body, orders.FulfilmentEvent{Mall: Code, EventID: "EVT-2019031200042-03", Type: orders.EventDelivered,
				OutOrderNo: placed.OutOrderNo, LineNo: 1, Quantity: 20}
		},
		Busy: func(t *testing.T) {
			m.mu.Lock()
			busy = true
			m.mu.Unlock()
		},
		Statement: func(t *testing.T) ([]byte, []orders.FulfilmentEvent, int) {
			refund := `{"eventId":"EVT-2","eventType":"ITEM_REFUNDED","occurredAt":"2019-03-06T08:30:15+08:00","partnerOrderNo":"AM2","mallOrderNo":"ABC2","lineNo":1,"quantity":3,"refundFen":20700}`
			return []byte(goodLine + "\n" + `{"eventId":1}` + "\n" + refund + "\n"), []orders.FulfilmentEvent{
				{EventID: "EVT-1", Type: orders.EventShipped, OutOrderNo: "AM1", LineNo: 2, Quantity: 5,
					OccurredAt: time.Date(2019, 3, 5, 12, 0, 0, 0, bizday.Beijing)},
				{EventID: "EVT-2", Type: orders.EventRefunded, OutOrderNo: "AM2", LineNo: 1, Quantity: 3, RefundFen: 20700,
					OccurredAt: time.Date(2019, 3, 6, 8, 30, 15, 0, bizday.Beijing)},
			}, 1
		},
		// abc-mall.md "Signing": a nonce seen in the last 10 minutes and a timestamp more
		// than 5 minutes off the clock are refused.
		Nonces:  true,
		Window:  5 * time.Minute,
		Headers: []string{HeaderAppID, HeaderTimestamp, HeaderNonce, HeaderSignature},
		At: func(t *testing.T, now func() time.Time) malls.Mall {
			at, err := Connect(Config{BaseURL: m.srv.URL, AppID: testAppID, PartnerKey: k.partner, MallKey: &k.mall.PublicKey, Now: now},
				newMemNonces(now))
			if err != nil {
				t.Fatal(err)
			}
			return at
		},
	})
}

// TestConformanceAgainstSandbox runs the suite against the reference sandbox
// (../shared/mallsandbox; skipped, saying so, when it is absent), the mall opened from
// the sandbox's key files as in production.
func TestConformanceAgainstSandbox(t *testing.T) {
	sb := sandboxtest.Start(t, "--ccb-addr=", "--ship-after", "50ms", "--deliver-after", "100ms", "--quiet")
	h := conformance.Live(t, Driver, config.MallConfig{URL: sb.ABCURL, AppID: sb.ABCAppID,
		PrivateKeyFile: sb.ABCPartnerPrivateKey, MallPublicKeyFile: sb.ABCMallPublicKey},
		func() malls.NonceStore { return newMemNonces(time.Now) },
		func() orders.CreateRequest {
			// products.csv: ABC-770031 listed at 6900 fen.
			return orders.CreateRequest{OutOrderNo: orders.NewOutOrderNo(time.Now()), BuyerRef: "CONFORMANCE", BuyerName: "集团总部机关工会",
				DeliveryMode: orders.DeliveryBulk, ShipTo: orders.ShipTo{Name: "王*", Phone: "138****0000", Address: "西安市雁塔区"},
				Lines: []orders.CreateLine{{LineNo: 1, ItemID: "ABC-770031", Quantity: 2, UnitPrice: 6900}}, Total: 13800}
		})
	h.Nonces, h.Window = true, 5*time.Minute // abc-mall.md "Signing"
	h.Headers = []string{HeaderAppID, HeaderTimestamp, HeaderNonce, HeaderSignature}
	conformance.Run(t, h)
}
