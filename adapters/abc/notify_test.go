package abc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"aidmall/orders"
)

// memNonces is an in-memory NonceStore on an injected clock.
type memNonces struct {
	mu   sync.Mutex
	now  func() time.Time
	seen map[string]time.Time // key -> expiry
	err  error
}

func newMemNonces(now func() time.Time) *memNonces {
	return &memNonces{now: now, seen: map[string]time.Time{}}
}

func (s *memNonces) Remember(_ context.Context, key string, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return false, s.err
	}
	if exp, ok := s.seen[key]; ok && s.now().Before(exp) {
		return false, nil
	}
	s.seen[key] = s.now().Add(ttl)
	return true, nil
}

const notifyPath = "/webhooks/abc?tenant=hq"

// notification is one signed notification as the mall sends it.
type notification struct {
	path   string
	header http.Header
	body   []byte
}

// signNotification signs body as the mall would: POST, path, ts (Unix ms), nonce.
func signNotification(t testing.TB, key *sm2.PrivateKey, path string, ts time.Time, nonce string, body []byte) notification {
	t.Helper()
	tsText := strconv.FormatInt(ts.UnixMilli(), 10)
	sig, err := Sign(key, SigningString(http.MethodPost, path, tsText, nonce, body))
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set(HeaderAppID, testAppID)
	h.Set(HeaderTimestamp, tsText)
	h.Set(HeaderNonce, nonce)
	h.Set(HeaderSignature, sig)
	return notification{path: path, header: h, body: body}
}

const (
	deliveredBody = `{"eventId":"EVT-2019031200042-03","eventType":"ITEM_DELIVERED","occurredAt":"2019-03-05T14:22:10+08:00",` +
		`"partnerOrderNo":"AM20190305100000000042","mallOrderNo":"ABC8812019031200042","lineNo":1,"quantity":20,"refundFen":0,"attempt":1}`
	confirmedBody = `{"eventId":"EVT-2019031200042-01","eventType":"ORDER_CONFIRMED","occurredAt":"2019-03-05T10:00:00+08:00",` +
		`"partnerOrderNo":"AM20190305100000000042","mallOrderNo":"ABC8812019031200042","lineNo":null,"quantity":null,"refundFen":0,"attempt":2}`
	refundedBody = `{"eventId":"EVT-2019031200042-04","eventType":"ITEM_REFUNDED","occurredAt":"2019-03-06T02:00:00Z",` +
		`"partnerOrderNo":"AM20190305100000000042","mallOrderNo":"ABC8812019031200042","lineNo":1,"quantity":5,"refundFen":34000,"attempt":1}`
	shippedNoLine = `{"eventId":"EVT-2019031200042-02","eventType":"ITEM_SHIPPED","occurredAt":"2019-03-05T12:00:00+08:00",` +
		`"partnerOrderNo":"AM20190305100000000042","mallOrderNo":"ABC8812019031200042","lineNo":null,"quantity":20,"refundFen":0,"attempt":1}`
)

func TestVerifierParse(t *testing.T) {
	t.Parallel()
	now := time.Date(2019, 3, 5, 14, 22, 15, 0, time.FixedZone("CST", 8*3600))
	clock := func() time.Time { return now }
	k := newKeys(t)
	good := func(nonce string, body string) notification {
		return signNotification(t, k.mall, notifyPath, now.Add(-2*time.Second), nonce, []byte(body))
	}
	type step struct {
		n       notification
		wantErr error // nil: accepted
		// unreadable: the error must also wrap orders.ErrUnreadableEvent (verified and
		// fresh, then the body failed), so that the webhook keeps it; false on every
		// other error.
		unreadable bool
	}
	// Signed bodies the spec does not allow: verified, then unreadable.
	shippedWithRefund := `{"eventId":"EVT-2019031200042-02","eventType":"ITEM_SHIPPED","occurredAt":"2019-03-05T12:00:00+08:00",` +
		`"partnerOrderNo":"AM20190305100000000042","mallOrderNo":"ABC8812019031200042","lineNo":1,"quantity":20,"refundFen":500,"attempt":1}`
	unknownType := `{"eventId":"EVT-2019031200042-09","eventType":"ITEM_LOST","occurredAt":"2019-03-05T12:00:00+08:00",` +
		`"partnerOrderNo":"AM20190305100000000042","mallOrderNo":"ABC8812019031200042","lineNo":1,"quantity":20,"refundFen":0,"attempt":1}`
	quantityAsText := `{"eventId":"EVT-2019031200042-03","eventType":"ITEM_DELIVERED","occurredAt":"2019-03-05T14:22:10+08:00",` +
		`"partnerOrderNo":"AM20190305100000000042","mallOrderNo":"ABC8812019031200042","lineNo":1,"quantity":"20","refundFen":0,"attempt":1}`
	for _, tc := range []struct {
		name  string
		steps []step
		check func(t *testing.T, ev orders.FulfilmentEvent)
	}{
		{name: "good_delivery_is_accepted", steps: []step{{n: good("n-0000000000000001", deliveredBody)}},
			check: func(t *testing.T, ev orders.FulfilmentEvent) {
				want := orders.FulfilmentEvent{Mall: Code, EventID: "EVT-2019031200042-03", Type: orders.EventDelivered,
					OutOrderNo: "AM20190305100000000042", MallOrderNo: "ABC8812019031200042", LineNo: 1, Quantity: 20,
					OccurredAt: time.Date(2019, 3, 5, 6, 22, 10, 0, time.UTC), Source: "notify"}
				if !ev.OccurredAt.Equal(want.OccurredAt) {
					t.Errorf("occurred at %v, want %v", ev.OccurredAt, want.OccurredAt)
				}
				ev.OccurredAt = want.OccurredAt
				if ev != want {
					t.Errorf("event = %+v\nwant    %+v", ev, want)
				}
			}},
		{name: "null_line_on_order_confirmed_is_a_whole_order_event", steps: []step{{n: good("n-0000000000000002", confirmedBody)}},
			check: func(t *testing.T, ev orders.FulfilmentEvent) {
				if ev.Type != orders.EventAccepted || ev.LineNo != 0 || ev.Quantity != 0 {
					t.Errorf("event = %+v", ev)
				}
			}},
		{name: "refund_carries_its_fen_and_utc_time", steps: []step{{n: good("n-0000000000000003", refundedBody)}},
			check: func(t *testing.T, ev orders.FulfilmentEvent) {
				if ev.Type != orders.EventRefunded || ev.RefundFen != 34000 || ev.Quantity != 5 ||
					!ev.OccurredAt.Equal(time.Date(2019, 3, 6, 10, 0, 0, 0, time.FixedZone("", 8*3600))) {
					t.Errorf("event = %+v", ev)
				}
			}},
		{name: "tampered_body_is_a_bad_signature", steps: []step{{n: func() notification {
			n := good("n-0000000000000004", deliveredBody)
			n.body = []byte(`{"eventId":"EVT-2019031200042-03","eventType":"ITEM_DELIVERED","occurredAt":"2019-03-05T14:22:10+08:00",` +
				`"partnerOrderNo":"AM20190305100000000042","mallOrderNo":"ABC8812019031200042","lineNo":1,"quantity":200,"refundFen":0,"attempt":1}`)
			return n
		}(), wantErr: ErrBadSignature}}},
		{name: "signed_with_another_key_is_a_bad_signature", steps: []step{{
			n: signNotification(t, newKeys(t).mall, notifyPath, now, "n-0000000000000005", []byte(deliveredBody)), wantErr: ErrBadSignature}}},
		{name: "signed_for_another_path_is_a_bad_signature", steps: []step{{
			n: func() notification {
				n := signNotification(t, k.mall, "/webhooks/abc", now, "n-0000000000000006", []byte(deliveredBody))
				n.path = notifyPath
				return n
			}(), wantErr: ErrBadSignature}}},
		{name: "another_app_id_is_refused", steps: []step{{n: func() notification {
			n := good("n-0000000000000007", deliveredBody)
			n.header.Set(HeaderAppID, "ABC2019031200000002")
			return n
		}(), wantErr: ErrBadSignature}}},
		{name: "timestamp_six_minutes_old_is_stale", steps: []step{{
			n: signNotification(t, k.mall, notifyPath, now.Add(-6*time.Minute), "n-0000000000000008", []byte(deliveredBody)), wantErr: ErrStale}}},
		{name: "timestamp_six_minutes_ahead_is_stale", steps: []step{{
			n: signNotification(t, k.mall, notifyPath, now.Add(6*time.Minute), "n-0000000000000009", []byte(deliveredBody)), wantErr: ErrStale}}},
		{name: "timestamp_four_minutes_old_is_fresh", steps: []step{{
			n: signNotification(t, k.mall, notifyPath, now.Add(-4*time.Minute), "n-0000000000000010", []byte(deliveredBody))}}},
		{name: "replayed_nonce_is_stale", steps: []step{
			{n: good("n-0000000000000011", deliveredBody)},
			{n: good("n-0000000000000011", deliveredBody), wantErr: ErrStale},
		}},
		{name: "nonce_of_15_characters_is_malformed", steps: []step{{n: good("n-0000000000012", deliveredBody), wantErr: ErrMalformed}}},
		{name: "nonce_of_33_characters_is_malformed", steps: []step{{n: good("n-0000000000000000000000000000013", deliveredBody), wantErr: ErrMalformed}}},
		{name: "nonce_of_16_and_32_characters_is_accepted", steps: []step{
			{n: good("n-00000000000014", deliveredBody)},
			{n: good("n-000000000000000000000000000015", deliveredBody)},
		}},
		// A forged copy must not use up the nonce of the genuine one, nor make the event seen.
		{name: "forged_copy_then_good_copy_with_the_same_nonce", steps: []step{
			{n: func() notification {
				n := good("n-0000000000000016", deliveredBody)
				n.header.Set(HeaderSignature, signNotification(t, newKeys(t).mall, notifyPath, now, "n-0000000000000016", []byte(deliveredBody)).header.Get(HeaderSignature))
				return n
			}(), wantErr: ErrBadSignature},
			{n: good("n-0000000000000016", deliveredBody)},
		}},
		{name: "good_copy_twice_with_new_nonces_both_parse_as_one_event", steps: []step{
			{n: good("n-0000000000000017", deliveredBody)},
			{n: good("n-0000000000000018", deliveredBody)},
		}, check: func(t *testing.T, ev orders.FulfilmentEvent) {
			if ev.EventID != "EVT-2019031200042-03" {
				t.Errorf("event id = %q", ev.EventID)
			}
		}},
		{name: "missing_signature_header_is_malformed", steps: []step{{n: func() notification {
			n := good("n-0000000000000019", deliveredBody)
			n.header.Del(HeaderSignature)
			return n
		}(), wantErr: ErrMalformed}}},
		{name: "timestamp_in_seconds_is_malformed", steps: []step{{n: func() notification {
			n := good("n-0000000000000020", deliveredBody)
			n.header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10)+".0")
			return n
		}(), wantErr: ErrMalformed}}},
		{name: "item_event_without_line_is_unreadable", steps: []step{{n: good("n-0000000000000021", shippedNoLine), wantErr: ErrMalformed, unreadable: true}}},
		{name: "refund_fen_on_shipment_is_unreadable", steps: []step{{n: good("n-0000000000000022", shippedWithRefund), wantErr: ErrMalformed, unreadable: true}}},
		{name: "unknown_event_type_is_unreadable", steps: []step{{n: good("n-0000000000000023", unknownType), wantErr: ErrMalformed, unreadable: true}}},
		{name: "quantity_as_text_is_unreadable", steps: []step{{n: good("n-0000000000000024", quantityAsText), wantErr: ErrMalformed, unreadable: true}}},
		{name: "tampered_into_a_bad_field_is_a_bad_signature_not_unreadable", steps: []step{{n: func() notification {
			n := good("n-0000000000000025", deliveredBody)
			n.body = []byte(unknownType)
			return n
		}(), wantErr: ErrBadSignature}}},
		{name: "unsigned_bad_field_is_malformed_not_unreadable", steps: []step{{n: func() notification {
			n := good("n-0000000000000026", unknownType)
			n.header.Del(HeaderSignature)
			return n
		}(), wantErr: ErrMalformed}}},
		{name: "stale_bad_field_is_stale_not_unreadable", steps: []step{{
			n: signNotification(t, k.mall, notifyPath, now.Add(-6*time.Minute), "n-0000000000000027", []byte(unknownType)), wantErr: ErrStale}}},
		// What the webhook must answer 400 whoever sent it: headers missing or not in their
		// form, and a body that is not the shape of a notification, before any signature.
		{name: "missing_timestamp_header_is_malformed", steps: []step{{n: func() notification {
			n := good("n-0000000000000030", deliveredBody)
			n.header.Del(HeaderTimestamp)
			return n
		}(), wantErr: ErrMalformed}}},
		{name: "repeated_nonce_header_is_malformed", steps: []step{{n: func() notification {
			n := good("n-0000000000000031", deliveredBody)
			n.header.Add(HeaderNonce, "n-0000000000000099")
			return n
		}(), wantErr: ErrMalformed}}},
		{name: "signature_not_base64_is_malformed", steps: []step{{n: func() notification {
			n := good("n-0000000000000032", deliveredBody)
			n.header.Set(HeaderSignature, "not base64!")
			return n
		}(), wantErr: ErrMalformed}}},
		{name: "signed_empty_object_is_malformed_not_unreadable", steps: []step{{n: good("n-0000000000000033", `{}`), wantErr: ErrMalformed}}},
		{name: "signed_array_is_malformed_not_unreadable", steps: []step{{n: good("n-0000000000000034", `[{"eventId":"E"}]`), wantErr: ErrMalformed}}},
		{name: "signed_body_with_a_nul_byte_is_malformed_not_unreadable", steps: []step{{n: good("n-0000000000000035",
			strings.Replace(deliveredBody, "EVT-", "EVT\x00-", 1)), wantErr: ErrMalformed}}},
		{name: "signed_body_with_an_escaped_nul_is_malformed_not_unreadable", steps: []step{{n: good("n-0000000000000036",
			strings.Replace(deliveredBody, "ABC881", `ABC\u0000881`, 1)), wantErr: ErrMalformed}}},
		{name: "signed_body_not_utf8_is_malformed_not_unreadable", steps: []step{{n: good("n-0000000000000037",
			strings.Replace(deliveredBody, "ABC881", "ABC\xff881", 1)), wantErr: ErrMalformed}}},
		{name: "signed_event_id_with_a_line_break_is_unreadable", steps: []step{{n: good("n-0000000000000038",
			strings.Replace(deliveredBody, "EVT-", `EVT\n-`, 1)), wantErr: ErrMalformed, unreadable: true}}},
		{name: "replayed_bad_field_is_stale_not_unreadable", steps: []step{
			{n: good("n-0000000000000028", unknownType), wantErr: ErrMalformed, unreadable: true},
			{n: good("n-0000000000000028", unknownType), wantErr: ErrStale},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := NewVerifier(testAppID, &k.mall.PublicKey, newMemNonces(clock), clock)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.steps {
				ev, err := v.Parse(context.Background(), http.MethodPost, s.n.path, s.n.header, s.n.body)
				if s.wantErr != nil {
					if !errors.Is(err, s.wantErr) {
						t.Fatalf("step %d: error = %v, want %v", i+1, err, s.wantErr)
					}
					if got := errors.Is(err, orders.ErrUnreadableEvent); got != s.unreadable {
						t.Fatalf("step %d: error = %v: wraps ErrUnreadableEvent = %v, want %v", i+1, err, got, s.unreadable)
					}
					continue
				}
				if err != nil {
					t.Fatalf("step %d: %v", i+1, err)
				}
				if err := ev.Validate(); err != nil {
					t.Errorf("step %d: parsed event does not validate: %v", i+1, err)
				}
				if tc.check != nil {
					tc.check(t, ev)
				}
			}
		})
	}
}

func TestVerifierParse_nonce_store_failure_is_not_a_verdict(t *testing.T) {
	t.Parallel()
	now := time.Now()
	k := newKeys(t)
	store := newMemNonces(func() time.Time { return now })
	store.err = errors.New("redis: connection refused")
	v, err := NewVerifier(testAppID, &k.mall.PublicKey, store, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	n := signNotification(t, k.mall, notifyPath, now, "n-0000000000000001", []byte(deliveredBody))
	_, err = v.Parse(context.Background(), http.MethodPost, n.path, n.header, n.body)
	if err == nil || errors.Is(err, ErrStale) || errors.Is(err, ErrBadSignature) || errors.Is(err, ErrMalformed) {
		t.Errorf("error = %v, want the store's error (so the mall retries)", err)
	}
}

func TestVerifierParse_nonce_expires_after_ten_minutes(t *testing.T) {
	t.Parallel()
	now := time.Date(2019, 3, 5, 6, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	k := newKeys(t)
	v, err := NewVerifier(testAppID, &k.mall.PublicKey, newMemNonces(clock), clock)
	if err != nil {
		t.Fatal(err)
	}
	n := signNotification(t, k.mall, notifyPath, now, "n-0000000000000001", []byte(deliveredBody))
	if _, err := v.Parse(context.Background(), http.MethodPost, n.path, n.header, n.body); err != nil {
		t.Fatal(err)
	}
	now = now.Add(11 * time.Minute)
	n = signNotification(t, k.mall, notifyPath, now, "n-0000000000000001", []byte(deliveredBody))
	if _, err := v.Parse(context.Background(), http.MethodPost, n.path, n.header, n.body); err != nil {
		t.Errorf("nonce reused after 11 minutes: %v", err)
	}
}

func TestNewVerifier_rejects_missing_dependencies(t *testing.T) {
	t.Parallel()
	k := newKeys(t)
	store, clock := newMemNonces(time.Now), time.Now
	for name, f := range map[string]func() (*Verifier, error){
		"no_app_id": func() (*Verifier, error) { return NewVerifier("", &k.mall.PublicKey, store, clock) },
		"no_key":    func() (*Verifier, error) { return NewVerifier(testAppID, nil, store, clock) },
		"no_nonces": func() (*Verifier, error) { return NewVerifier(testAppID, &k.mall.PublicKey, nil, clock) },
		"no_clock":  func() (*Verifier, error) { return NewVerifier(testAppID, &k.mall.PublicKey, store, nil) },
	} {
		if v, err := f(); err == nil || v != nil {
			t.Errorf("%s: NewVerifier accepted it", name)
		}
	}
}

// The mall checks a signed acknowledgement with the partner's public key (method line
// RESPONSE, the notify path); an unsigned failure must not be mistaken for success.
func TestAck(t *testing.T) {
	t.Parallel()
	k := newKeys(t)
	now := time.Date(2019, 3, 5, 6, 0, 0, 0, time.UTC)
	c, err := New(Config{BaseURL: "https://mall.example", AppID: testAppID, PartnerKey: k.partner, MallKey: &k.mall.PublicKey,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	status, h, body := c.Ack(notifyPath)
	var ack struct{ Code string }
	if err := json.Unmarshal(body, &ack); err != nil || status != 200 || ack.Code != "0000" {
		t.Fatalf("ack = %d %s (%v)", status, body, err)
	}
	if h.Get(HeaderTimestamp) != strconv.FormatInt(now.UnixMilli(), 10) {
		t.Errorf("ack timestamp %q is not the injected clock", h.Get(HeaderTimestamp))
	}
	ss := SigningString("RESPONSE", notifyPath, h.Get(HeaderTimestamp), h.Get(HeaderNonce), body)
	if err := Verify(&k.partner.PublicKey, ss, h.Get(HeaderSignature)); err != nil {
		t.Errorf("ack signature does not verify with the partner key: %v", err)
	}
	if err := Verify(&k.partner.PublicKey, SigningString("RESPONSE", "/webhooks/abc", h.Get(HeaderTimestamp), h.Get(HeaderNonce), body), h.Get(HeaderSignature)); err == nil {
		t.Error("ack signature verifies for another path")
	}

	for code, want := range map[string]int{"BAD_SIGNATURE": 401, "STALE_REQUEST": 401, "BAD_REQUEST": 400, "INTERNAL_ERROR": 500} {
		status, _, body := AckFailure(code, `store "down"`)
		var f struct{ Code, Message string }
		if err := json.Unmarshal(body, &f); err != nil || status != want || f.Code != code || f.Message != `store "down"` {
			t.Errorf("AckFailure(%s) = %d %s, want %d", code, status, body, want)
		}
	}
}

// FuzzVerifierParse signs arbitrary bodies correctly: Parse must never call them a bad
// signature, must return a valid event or ErrMalformed, and must refuse the same body
// with one byte changed.
func FuzzVerifierParse(f *testing.F) {
	for _, b := range []string{deliveredBody, confirmedBody, refundedBody, shippedNoLine, `{}`, `[]`, `{"eventId":1}`, "", `{"eventId":"E"} {}`} {
		f.Add([]byte(b), "n-0000000000000001")
	}
	k := newKeys(f)
	now := time.Date(2019, 3, 5, 6, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	f.Fuzz(func(t *testing.T, body []byte, nonce string) {
		v, err := NewVerifier(testAppID, &k.mall.PublicKey, newMemNonces(clock), clock)
		if err != nil {
			t.Fatal(err)
		}
		n := signNotification(t, k.mall, notifyPath, now, nonce, body)
		ev, err := v.Parse(context.Background(), http.MethodPost, n.path, n.header, n.body)
		switch {
		case !ValidNonce(nonce):
			if !errors.Is(err, ErrMalformed) || errors.Is(err, orders.ErrUnreadableEvent) {
				t.Fatalf("bad nonce %q: error = %v", nonce, err)
			}
			return
		case err == nil:
			if verr := ev.Validate(); verr != nil || ev.Mall != Code || ev.Source != "notify" {
				t.Fatalf("accepted an invalid event %+v: %v", ev, verr)
			}
		case !errors.Is(err, ErrMalformed):
			t.Fatalf("correctly signed body: error = %v, want nil or ErrMalformed", err)
		}
		if len(body) == 0 {
			return
		}
		tampered := append([]byte(nil), body...)
		tampered[len(tampered)/2] ^= 0x01
		n2 := signNotification(t, k.mall, notifyPath, now, "n-tamper-00000001", body)
		// Changed into something that is no notification, it is malformed; into one, its
		// signature fails; never accepted nor taken for a genuine but unreadable one.
		_, err = v.Parse(context.Background(), http.MethodPost, n2.path, n2.header, tampered)
		if !errors.Is(err, ErrBadSignature) && (!errors.Is(err, ErrMalformed) || errors.Is(err, orders.ErrUnreadableEvent)) {
			t.Fatalf("tampered body: error = %v, want ErrBadSignature or (not unreadable) ErrMalformed", err)
		}
	})
}
