package mallsim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/households"
	"aidmall/money"
	"aidmall/orders"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testKeys generates one key set for the whole test binary (RSA 2048 generation is slow);
// nothing modifies it.
var testKeys = sync.OnceValues(NewKeys)

func keys(t testing.TB) *Keys {
	t.Helper()
	k, err := testKeys()
	if err != nil {
		t.Fatalf("NewKeys: %v", err)
	}
	return k
}

// testCatalogue lists two products at both malls and one at CCB only.
var testCatalogue = []households.Product{
	{SKU: "T-APL", Listings: map[string]households.Listing{"ccb": {ItemID: "CCB-T-APL", Price: 6800}, "abc": {ItemID: "ABC-T-APL", Price: 6900}}},
	{SKU: "T-PEP", Listings: map[string]households.Listing{"ccb": {ItemID: "CCB-T-PEP", Price: 4200}, "abc": {ItemID: "ABC-T-PEP", Price: 4300}}},
	{SKU: "T-WAL", Listings: map[string]households.Listing{"ccb": {ItemID: "CCB-T-WAL", Price: 7650}}},
}

// item returns the mall's item id and price of sku in testCatalogue.
func item(t testing.TB, m orders.Mall, sku string) (string, money.Fen) {
	t.Helper()
	for _, p := range testCatalogue {
		if p.SKU == sku {
			if id, price, ok := p.Listing(string(m)); ok {
				return id, price
			}
		}
	}
	t.Fatalf("%s does not list %s", m, sku)
	return "", 0
}

// nonceMemory is an in-memory abc.NonceStore for the test webhook.
type nonceMemory struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (n *nonceMemory) Remember(_ context.Context, key string, _ time.Duration) (bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.seen[key] {
		return false, nil
	}
	n.seen[key] = true
	return true, nil
}

// delivery is one notification attempt that reached the webhook and verified.
type delivery struct {
	Mall    orders.Mall
	Path    string
	Event   orders.FulfilmentEvent
	Attempt int  // ABC body "attempt"; 0 for CCB
	Acked   bool // the webhook answered with an acknowledgement
}

// refuse decides how the webhook answers a verified delivery: "" acknowledges, anything
// else names a wrong answer (see webhook.answerWrong). n counts deliveries of the event id.
type refuse func(m orders.Mall, e orders.FulfilmentEvent, n int) string

// webhook is the partner's side of notifications, verifying with the real adapters.
type webhook struct {
	srv    *httptest.Server
	ccbV   *ccb.Verifier
	abcV   *abc.Verifier
	abcAck *abc.Client // signs acknowledgements with the partner key
	refuse refuse

	mu         sync.Mutex
	deliveries []delivery
	unverified []string // why a notification failed verification
	arrived    chan struct{}
}

func newWebhook(t *testing.T, k *Keys, refuse refuse) *webhook {
	t.Helper()
	h := &webhook{refuse: refuse, arrived: make(chan struct{}, 1024)}
	var err error
	if h.ccbV, err = ccb.NewVerifier(DefaultCCBAppID, &k.CCBMall.PublicKey); err != nil {
		t.Fatal(err)
	}
	if h.abcV, err = abc.NewVerifier(DefaultABCAppID, &k.ABCMall.PublicKey, &nonceMemory{seen: map[string]bool{}}, time.Now); err != nil {
		t.Fatal(err)
	}
	if h.abcAck, err = abc.New(abc.Config{BaseURL: "http://127.0.0.1:1", AppID: DefaultABCAppID, PartnerKey: k.ABCPartner, MallKey: &k.ABCMall.PublicKey}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhooks/ccb/", h.ccb)
	mux.HandleFunc("POST /webhooks/abc/", h.abc)
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	return h
}

// url is the notify URL for mall m; suffix tells orders apart when a test needs to.
func (h *webhook) url(m orders.Mall, suffix string) string {
	return h.srv.URL + "/webhooks/" + string(m) + "/" + suffix
}

func (h *webhook) ccb(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ev, err := h.ccbV.Parse(body)
	if err != nil {
		h.bad(w, "ccb: "+err.Error())
		return
	}
	wrong := h.record(ccb.Code, r.URL.Path, ev, 0)
	if wrong != "" {
		h.answerWrong(w, wrong)
		return
	}
	status, ct, ack := ccb.AckSuccess()
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(status)
	w.Write(ack)
}

func (h *webhook) abc(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ev, err := h.abcV.Parse(r.Context(), r.Method, r.URL.RequestURI(), r.Header, body)
	if err != nil {
		h.bad(w, "abc: "+err.Error())
		return
	}
	var a struct{ Attempt int }
	json.Unmarshal(body, &a)
	wrong := h.record(abc.Code, r.URL.Path, ev, a.Attempt)
	if wrong != "" {
		h.answerWrong(w, wrong)
		return
	}
	status, hdr, ack := h.abcAck.Ack(r.URL.RequestURI())
	for k, vs := range hdr {
		w.Header()[k] = vs
	}
	w.WriteHeader(status)
	w.Write(ack)
}

// answerWrong writes an answer that the spec says is not an acknowledgement.
func (h *webhook) answerWrong(w http.ResponseWriter, how string) {
	switch how {
	case "500":
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte("success"))
	case "SUCCESS": // CCB: wrong case
		w.Write([]byte("SUCCESS"))
	case "success\n": // CCB: 8 bytes
		w.Write([]byte("success\n"))
	case "code0001": // ABC: 200 with another code
		w.Write([]byte(`{"code":"0001"}`))
	case "forged": // ABC: 200 code 0000 with a signature that does not verify
		w.Header().Set(abc.HeaderTimestamp, "1")
		w.Header().Set(abc.HeaderNonce, "0123456789abcdef")
		w.Header().Set(abc.HeaderSignature, "MEUCIQDx")
		w.Write([]byte(`{"code":"0000"}`))
	default:
		panic("unknown wrong answer " + how)
	}
}

func (h *webhook) bad(w http.ResponseWriter, why string) {
	h.mu.Lock()
	h.unverified = append(h.unverified, why)
	h.mu.Unlock()
	w.WriteHeader(http.StatusUnauthorized)
}

func (h *webhook) record(m orders.Mall, path string, ev orders.FulfilmentEvent, attempt int) string {
	h.mu.Lock()
	n := 1
	for _, d := range h.deliveries {
		if d.Mall == m && d.Event.EventID == ev.EventID {
			n++
		}
	}
	wrong := ""
	if h.refuse != nil {
		wrong = h.refuse(m, ev, n)
	}
	h.deliveries = append(h.deliveries, delivery{Mall: m, Path: path, Event: ev, Attempt: attempt, Acked: wrong == ""})
	h.mu.Unlock()
	select {
	case h.arrived <- struct{}{}:
	default:
	}
	return wrong
}

// acked returns the acknowledged events of order outOrderNo at mall m, in arrival order.
func (h *webhook) acked(m orders.Mall, outOrderNo string) []orders.FulfilmentEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []orders.FulfilmentEvent
	for _, d := range h.deliveries {
		if d.Acked && d.Mall == m && string(d.Event.OutOrderNo) == outOrderNo {
			out = append(out, d.Event)
		}
	}
	return out
}

// all returns every verified delivery.
func (h *webhook) all() []delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]delivery(nil), h.deliveries...)
}

func (h *webhook) failures() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.unverified...)
}

// waitAcked waits until order outOrderNo has n acknowledged events.
func (h *webhook) waitAcked(t *testing.T, m orders.Mall, outOrderNo string, n int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for len(h.acked(m, outOrderNo)) < n {
		select {
		case <-h.arrived:
		case <-deadline:
			t.Fatalf("%s %s: %d events acknowledged, want %d", m, outOrderNo, len(h.acked(m, outOrderNo)), n)
		}
	}
}

// rig is a simulator, a webhook and the real adapters' clients pointed at it.
type rig struct {
	sim     *Sim
	hook    *webhook
	clients map[orders.Mall]orders.MallClient
	ccb     *ccb.Client
	abc     *abc.Client
}

func newRig(t *testing.T, opt Options, refuse refuse) *rig {
	t.Helper()
	k := keys(t)
	hook := newWebhook(t, k, refuse)
	if opt.Keys == nil {
		opt.Keys = k
	}
	if opt.Catalogue == nil {
		opt.Catalogue = testCatalogue
	}
	sim, err := Start(context.Background(), opt)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := sim.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if f := hook.failures(); len(f) > 0 {
			t.Errorf("notifications that did not verify with the adapters: %q", f)
		}
	})
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	hc := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	cc, err := ccb.New(ccb.Config{BaseURL: sim.CCBURL(), AppID: DefaultCCBAppID, PartnerKey: k.CCBPartner, MallKey: &k.CCBMall.PublicKey, HTTP: hc})
	if err != nil {
		t.Fatal(err)
	}
	ac, err := abc.New(abc.Config{BaseURL: sim.ABCURL(), AppID: DefaultABCAppID, PartnerKey: k.ABCPartner, MallKey: &k.ABCMall.PublicKey, HTTP: hc})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{sim: sim, hook: hook, ccb: cc, abc: ac,
		clients: map[orders.Mall]orders.MallClient{ccb.Code: cc, abc.Code: ac}}
}

// order builds a create request at mall m: T-APL × 10 and T-PEP × 5 at the listed prices.
func (r *rig) order(t testing.TB, m orders.Mall, outOrderNo, buyerRef string) orders.CreateRequest {
	req := orders.CreateRequest{
		OutOrderNo: orders.OutOrderNo(outOrderNo), BuyerRef: buyerRef, BuyerName: "集团总部机关工会",
		DeliveryMode: orders.DeliveryBulk,
		ShipTo:       orders.ShipTo{Name: "王*", Phone: "138****0000", Address: "北京市西城区"},
		NotifyURL:    r.hook.url(m, outOrderNo),
	}
	for i, sku := range []string{"T-APL", "T-PEP"} {
		id, price := item(t, m, sku)
		req.Lines = append(req.Lines, orders.CreateLine{LineNo: i + 1, ItemID: id, Quantity: int64(10 - 5*i), UnitPrice: price})
	}
	for _, l := range req.Lines {
		req.Total += money.Fen(l.Quantity) * l.UnitPrice
	}
	return req
}

func (r *rig) waitIdle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.sim.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle: %v (stats %+v)", err, r.sim.Stats())
	}
}

// mallError unwraps err as a *orders.MallError or fails.
func mallError(t *testing.T, err error) *orders.MallError {
	t.Helper()
	var me *orders.MallError
	if !errors.As(err, &me) {
		t.Fatalf("error %v (%T) is not a *orders.MallError", err, err)
	}
	return me
}

// code returns the mall's code for a refusal: CCB sub_code, ABC code.
func code(me *orders.MallError) string {
	if me.Mall == ccb.Code {
		return me.SubCode
	}
	return me.Code
}

func types(evs []orders.FulfilmentEvent) string {
	var s []string
	for _, e := range evs {
		t := string(e.Type)
		if e.LineNo > 0 {
			t += "#" + string(rune('0'+e.LineNo))
		}
		s = append(s, t)
	}
	return strings.Join(s, " ")
}
