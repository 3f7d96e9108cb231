package ccb_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"aidmall/adapters/ccb"
	"aidmall/money"
	"aidmall/orders"
)

const testAppID = "2019031200000001"

func deliveredParams() map[string]string {
	return map[string]string{
		"notify_id": "NT2019031200012301", "notify_type": "order.delivered",
		"notify_time": "2019-03-14 16:00:05", "occurred_at": "2019-03-14 15:59:58",
		"app_id": testAppID, "out_order_no": "AM20190312100000000001", "mall_order_no": "CCB20190312000123",
		"line_no": "1", "quantity": "20", "sign_type": "RSA2",
	}
}

func with(p map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range p {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "<delete>" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

func TestVerifierParse(t *testing.T) {
	t.Parallel()
	ks := testKeys(t)
	v, err := ccb.NewVerifier(testAppID, &ks.mall.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	good := signedNotification(t, ks.mall, deliveredParams())

	tampered := strings.Replace(string(good), "quantity=20", "quantity=200", 1)
	if tampered == string(good) {
		t.Fatal("test setup: quantity not found in body")
	}
	// A signer that wrongly includes sign_type in the signing string.
	withSignType := func() []byte {
		p := deliveredParams()
		form := url.Values{}
		for k, val := range p {
			form.Set(k, val)
		}
		form.Set("sign", rsaSign(t, ks.mall, specSigningString(p)))
		return []byte(form.Encode())
	}()
	missingSign := func() []byte {
		f, _ := url.ParseQuery(string(good))
		f.Del("sign")
		return []byte(f.Encode())
	}()

	// Bodies whose fields cannot be read and whose signature does not hold: a forger must
	// not be able to have them kept.
	tamperedUnknownType := []byte(strings.Replace(string(good), "notify_type=order.delivered", "notify_type=order.lost", 1))
	if string(tamperedUnknownType) == string(good) {
		t.Fatal("test setup: notify_type not found in body")
	}
	unsignedUnknownType := func() []byte {
		f, _ := url.ParseQuery(string(tamperedUnknownType))
		f.Del("sign")
		return []byte(f.Encode())
	}()

	tests := []struct {
		name    string
		body    []byte
		wantErr error
		// unreadable: the error must wrap orders.ErrUnreadableEvent (signed, then a field
		// failed), so that the webhook keeps the body; false on every other error.
		unreadable bool
		check      func(*testing.T, orders.FulfilmentEvent)
	}{
		{name: "good_delivery_is_accepted", body: good, check: func(t *testing.T, e orders.FulfilmentEvent) {
			want := orders.FulfilmentEvent{Mall: ccb.Code, EventID: "NT2019031200012301", Type: orders.EventDelivered,
				OutOrderNo: "AM20190312100000000001", MallOrderNo: "CCB20190312000123", LineNo: 1, Quantity: 20,
				OccurredAt: e.OccurredAt, Source: "notify"}
			if e != want {
				t.Errorf("event = %+v\nwant    %+v", e, want)
			}
			// 15:59:58 Beijing is 07:59:58 UTC, and the time comes back in the Beijing zone.
			if !e.OccurredAt.Equal(time.Date(2019, 3, 14, 7, 59, 58, 0, time.UTC)) {
				t.Errorf("occurred_at = %v", e.OccurredAt)
			}
			if _, off := e.OccurredAt.Zone(); off != 8*3600 {
				t.Errorf("occurred_at zone offset = %d s, want Beijing", off)
			}
		}},
		{name: "refund_amount_in_yuan_becomes_fen", body: signedNotification(t, ks.mall,
			with(deliveredParams(), "notify_type", "order.refunded", "quantity", "6", "amount", "408.00")),
			check: func(t *testing.T, e orders.FulfilmentEvent) {
				if e.Type != orders.EventRefunded || e.RefundFen != money.Fen(40800) || e.Quantity != 6 {
					t.Errorf("event = %+v", e)
				}
			}},
		{name: "shipment_keeps_its_logistics_number", body: signedNotification(t, ks.mall,
			with(deliveredParams(), "notify_type", "order.shipped", "logistics_no", "SF1234567890")),
			check: func(t *testing.T, e orders.FulfilmentEvent) {
				if e.Type != orders.EventShipped || e.LogisticsNo != "SF1234567890" {
					t.Errorf("event = %+v", e)
				}
			}},
		{name: "whole_order_event_without_line_no", body: signedNotification(t, ks.mall,
			with(deliveredParams(), "notify_type", "order.accepted", "line_no", "<delete>", "quantity", "<delete>")),
			check: func(t *testing.T, e orders.FulfilmentEvent) {
				if e.Type != orders.EventAccepted || e.LineNo != 0 || e.Quantity != 0 {
					t.Errorf("event = %+v", e)
				}
			}},
		{name: "cancelled_is_a_whole_order_event", body: signedNotification(t, ks.mall,
			with(deliveredParams(), "notify_type", "order.cancelled", "line_no", "<delete>", "quantity", "<delete>")),
			check: func(t *testing.T, e orders.FulfilmentEvent) {
				if e.Type != orders.EventCancelled || e.LineNo != 0 {
					t.Errorf("event = %+v", e)
				}
			}},
		{name: "empty_values_are_not_signed", body: signedNotification(t, ks.mall,
			with(deliveredParams(), "logistics_no", "", "amount", "")),
			check: func(t *testing.T, e orders.FulfilmentEvent) {
				if e.Type != orders.EventDelivered {
					t.Errorf("event = %+v", e)
				}
			}},
		{name: "tampered_field_is_a_bad_signature", body: []byte(tampered), wantErr: ccb.ErrBadSignature},
		{name: "wrong_key_is_a_bad_signature", body: signedNotification(t, ks.stranger, deliveredParams()), wantErr: ccb.ErrBadSignature},
		{name: "missing_sign_is_malformed", body: missingSign, wantErr: ccb.ErrMalformed},
		{name: "sign_type_inside_the_signing_string_is_a_bad_signature", body: withSignType, wantErr: ccb.ErrBadSignature},
		{name: "unknown_app_id_is_a_bad_signature", body: signedNotification(t, ks.mall,
			with(deliveredParams(), "app_id", "2019031200000999")), wantErr: ccb.ErrBadSignature},
		{name: "other_sign_type_is_malformed", body: signedNotification(t, ks.mall,
			with(deliveredParams(), "sign_type", "RSA")), wantErr: ccb.ErrMalformed},
		{name: "empty_json_object_is_malformed", body: []byte(`{}`), wantErr: ccb.ErrMalformed},
		{name: "raw_nul_byte_is_malformed_not_unreadable", body: []byte(strings.Replace(string(good), "NT2019", "NT\x002019", 1)), wantErr: ccb.ErrMalformed},
		{name: "percent_encoded_nul_is_malformed_not_unreadable", body: []byte(strings.Replace(string(good), "NT2019", "NT%002019", 1)), wantErr: ccb.ErrMalformed},
		{name: "percent_encoded_invalid_utf8_is_malformed_not_unreadable", body: []byte(strings.Replace(string(good), "NT2019", "NT%FF2019", 1)), wantErr: ccb.ErrMalformed},
		{name: "signed_notify_id_of_200_characters_is_unreadable", body: signedNotification(t, ks.mall,
			with(deliveredParams(), "notify_id", strings.Repeat("N", 200))), wantErr: ccb.ErrMalformed, unreadable: true},
		{name: "signed_notify_id_with_a_line_break_is_unreadable", body: signedNotification(t, ks.mall,
			with(deliveredParams(), "notify_id", "NT2019\n0312")), wantErr: ccb.ErrMalformed, unreadable: true},
		{name: "unknown_type_is_malformed", body: signedNotification(t, ks.mall,
			with(deliveredParams(), "notify_type", "order.lost")), wantErr: ccb.ErrMalformed, unreadable: true},
		{name: "line_event_without_line_no_is_malformed", body: signedNotification(t, ks.mall,
			with(deliveredParams(), "line_no", "<delete>")), wantErr: ccb.ErrMalformed, unreadable: true},
		{name: "delivery_without_quantity_is_malformed", body: signedNotification(t, ks.mall,
			with(deliveredParams(), "quantity", "<delete>")), wantErr: ccb.ErrMalformed, unreadable: true},
		{name: "negative_quantity_is_malformed", body: signedNotification(t, ks.mall,
			with(deliveredParams(), "quantity", "-3")), wantErr: ccb.ErrMalformed, unreadable: true},
		{name: "refund_without_amount_is_malformed", body: signedNotification(t, ks.mall,
			with(deliveredParams(), "notify_type", "order.refunded")), wantErr: ccb.ErrMalformed, unreadable: true},
		{name: "refund_amount_with_three_decimals_is_malformed", body: signedNotification(t, ks.mall,
			with(deliveredParams(), "notify_type", "order.refunded", "amount", "1.005")), wantErr: ccb.ErrMalformed, unreadable: true},
		{name: "time_with_offset_is_malformed", body: signedNotification(t, ks.mall,
			with(deliveredParams(), "occurred_at", "2019-03-14T15:59:58+08:00")), wantErr: ccb.ErrMalformed, unreadable: true},
		{name: "missing_notify_id_is_malformed", body: signedNotification(t, ks.mall,
			with(deliveredParams(), "notify_id", "<delete>")), wantErr: ccb.ErrMalformed, unreadable: true},
		{name: "repeated_parameter_is_malformed", body: append(append([]byte{}, good...), "&quantity=1"...), wantErr: ccb.ErrMalformed},
		{name: "not_a_form_is_malformed", body: []byte("%zz"), wantErr: ccb.ErrMalformed},
		{name: "tampered_body_with_a_bad_field_is_a_bad_signature_not_unreadable", body: tamperedUnknownType, wantErr: ccb.ErrBadSignature},
		{name: "unsigned_body_with_a_bad_field_is_malformed_not_unreadable", body: unsignedUnknownType, wantErr: ccb.ErrMalformed},
		{name: "bad_field_from_wrong_app_id_is_a_bad_signature_not_unreadable", body: signedNotification(t, ks.mall,
			with(deliveredParams(), "app_id", "2019031200000999", "notify_type", "order.lost")), wantErr: ccb.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := v.Parse(tt.body)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Parse err = %v, want %v", err, tt.wantErr)
				}
				if got := errors.Is(err, orders.ErrUnreadableEvent); got != tt.unreadable {
					t.Fatalf("Parse err = %v: wraps ErrUnreadableEvent = %v, want %v", err, got, tt.unreadable)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if err := ev.Validate(); err != nil {
				t.Errorf("parsed event does not validate: %v", err)
			}
			tt.check(t, ev)
		})
	}
}

func TestNewVerifierRejectsMissingDependencies(t *testing.T) {
	t.Parallel()
	ks := testKeys(t)
	if _, err := ccb.NewVerifier("", &ks.mall.PublicKey); err == nil {
		t.Error("empty app id accepted")
	}
	if _, err := ccb.NewVerifier(testAppID, nil); err == nil {
		t.Error("nil key accepted")
	}
}

func TestAcks(t *testing.T) {
	t.Parallel()
	t.Run("success_is_http_200_with_exactly_success", func(t *testing.T) {
		status, ct, body := ccb.AckSuccess()
		if status != 200 || string(body) != "success" || len(body) != 7 || !strings.HasPrefix(ct, "text/plain") {
			t.Fatalf("AckSuccess = %d %q %q", status, ct, body)
		}
	})
	t.Run("failure_is_not_an_acknowledgement", func(t *testing.T) {
		status, _, body := ccb.AckFailure()
		if status == 200 && string(body) == "success" {
			t.Fatal("AckFailure would acknowledge")
		}
		if status < 400 {
			t.Fatalf("AckFailure status %d, want an error status", status)
		}
	})
	t.Run("bodies_are_not_shared", func(t *testing.T) {
		_, _, b := ccb.AckSuccess()
		b[0] = 'X'
		if _, _, again := ccb.AckSuccess(); string(again) != "success" {
			t.Fatal("AckSuccess body was changed through an earlier result")
		}
	})
}

// FuzzVerifierParse checks that Parse never panics, fails only with its two sentinel
// errors, and that whatever it accepts is a valid event. (Mutated bodies almost never keep a
// valid signature; FuzzEventFields in event_internal_test.go fuzzes the field rules behind
// it.)
func FuzzVerifierParse(f *testing.F) {
	ks := testKeys(f)
	f.Add(signedNotification(f, ks.mall, deliveredParams()))
	f.Add(signedNotification(f, ks.mall, with(deliveredParams(), "notify_type", "order.refunded", "amount", "408.00")))
	f.Add(signedNotification(f, ks.mall, with(deliveredParams(), "notify_type", "order.accepted", "line_no", "<delete>")))
	f.Add(signedNotification(f, ks.mall, with(deliveredParams(), "quantity", "-1")))
	f.Add([]byte(""))
	f.Add([]byte("sign=&sign_type=RSA2"))
	f.Add([]byte("notify_id=%ff&line_no=99999999999999999999&quantity=1e3&amount=-0.01&sign=AAAA&sign_type=RSA2&app_id=2019031200000001"))
	v, err := ccb.NewVerifier(testAppID, &ks.mall.PublicKey)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := v.Parse(body)
		if err != nil {
			if !errors.Is(err, ccb.ErrBadSignature) && !errors.Is(err, ccb.ErrMalformed) {
				t.Fatalf("Parse error %v is neither ErrBadSignature nor ErrMalformed", err)
			}
			return
		}
		if verr := ev.Validate(); verr != nil || ev.Mall != ccb.Code || ev.Source != "notify" {
			t.Fatalf("accepted an invalid event %+v: %v", ev, verr)
		}
		form, _ := url.ParseQuery(string(body))
		if string(ev.EventID) != form.Get("notify_id") || string(ev.OutOrderNo) != form.Get("out_order_no") {
			t.Fatalf("event %+v does not carry the form's ids", ev)
		}
	})
}
