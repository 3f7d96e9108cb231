package mallsim

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/orders"
)

// stateOf returns the notifications and orders of mall m in st.
func stateOf(st State, m orders.Mall) ([]NotificationState, []OrderState) {
	var ns []NotificationState
	var os []OrderState
	for _, n := range st.Notifications {
		if n.Mall == m {
			ns = append(ns, n)
		}
	}
	for _, o := range st.Orders {
		if o.Mall == m {
			os = append(os, o)
		}
	}
	return ns, os
}

// With every fault of a notification on, each event is first sent forged (the adapters
// refuse it), then genuine, then once more after its acknowledgement; State says so.
func TestFaults_forged_first_then_genuine_then_a_copy(t *testing.T) {
	t.Parallel()
	for _, m := range malls {
		t.Run(string(m), func(t *testing.T) {
			t.Parallel()
			r := newRig(t, Options{Faults: Faults{DupRate: 1, BadSignRate: 1}}, nil)
			req := r.order(t, m, "AM20190312100000000101", "2019-HQ-0101")
			if _, err := r.clients[m].Create(context.Background(), req); err != nil {
				t.Fatalf("Create: %v", err)
			}
			r.waitIdle(t)
			got := r.hook.acked(m, string(req.OutOrderNo))
			if len(got) != 10 {
				t.Fatalf("%d acknowledged deliveries (%s), want each of 5 events twice", len(got), types(got))
			}
			for i := 0; i < len(got); i += 2 {
				if got[i].EventID != got[i+1].EventID {
					t.Errorf("delivery %d is %s, its copy %s", i, got[i].EventID, got[i+1].EventID)
				}
			}
			// The forged copies did not verify with the adapters: expected here.
			r.hook.mu.Lock()
			forged := len(r.hook.unverified)
			r.hook.unverified = nil
			r.hook.mu.Unlock()
			if forged != 5 {
				t.Errorf("%d notifications failed verification, want the 5 forged ones", forged)
			}
			ns, os := stateOf(r.sim.State(), m)
			if len(os) != 1 || os[0].CreateCalls != 1 || os[0].BuyerRef != "2019-HQ-0101" {
				t.Errorf("orders %+v, want the one created once", os)
			}
			if len(ns) != 5 {
				t.Fatalf("%d notifications in State, want 5", len(ns))
			}
			for _, n := range ns {
				if !n.Acked || n.GaveUp || n.Attempts != 1 || n.Duplicates != 1 || n.Forged != 1 || n.ForgedAcked != 0 {
					t.Errorf("notification %+v: want acked at the first genuine attempt, one copy, one forgery refused", n)
				}
			}
			f := r.sim.State().Faults[string(m)]
			if f[FaultDuplicate] != 5 || f[FaultForged] != 5 || f[FaultForgedAcked] != 0 {
				t.Errorf("faults %v, want 5 duplicates and 5 forged, none acknowledged", f)
			}
		})
	}
}

// A failed call is retryable; half the failures happen after the work, so the order
// exists although the partner heard 503, and a retry with the same content gets it.
func TestFaults_fail_after_the_work_keeps_the_order(t *testing.T) {
	t.Parallel()
	r := newRig(t, Options{Faults: Faults{FailRate: 1, Seed: 3}}, nil)
	const n = 16
	for i := 0; i < n; i++ {
		req := r.order(t, ccb.Code, fmt.Sprintf("AM201903121000000002%02d", i), fmt.Sprintf("2019-HQ-02%02d", i))
		_, err := r.ccb.Create(context.Background(), req)
		if me := mallError(t, err); !me.Retryable || me.HTTPStatus != 503 {
			t.Fatalf("create %d: %+v, want a retryable 503", i, me)
		}
	}
	st := r.sim.State()
	_, os := stateOf(st, ccb.Code)
	after, before := st.Faults["ccb"][FaultFailAfter], st.Faults["ccb"][FaultFailBefore]
	if after+before != n || len(os) != after {
		t.Fatalf("%d orders made, %d failures after the work and %d before; want one order per failure after, %d in all", len(os), after, before, n)
	}
	if after == 0 || before == 0 {
		t.Fatalf("seed 3 gave %d after and %d before, want both kinds", after, before)
	}
	r.waitIdle(t) // the orders made are fulfilled: the failures were of answers, not of notifications
}

// ABC throttles with 429 and Retry-After: 1, which its adapter reads; CCB's spec has no
// 429, so CCB is never throttled.
func TestFaults_abc_429_with_retry_after(t *testing.T) {
	t.Parallel()
	r := newRig(t, Options{Faults: Faults{TooManyRate: 1}}, nil)
	_, err := r.abc.Create(context.Background(), r.order(t, abc.Code, "AM20190312100000000301", "2019-HQ-0301"))
	me := mallError(t, err)
	if me.HTTPStatus != 429 || !me.Retryable || me.RetryAfter != time.Second {
		t.Fatalf("ABC create: %+v, want a retryable 429 with Retry-After 1 s", me)
	}
	if _, err := r.ccb.Create(context.Background(), r.order(t, ccb.Code, "AM20190312100000000302", "2019-HQ-0302")); err != nil {
		t.Fatalf("CCB create: %v, want it made", err)
	}
	r.waitIdle(t)
	if f := r.sim.State().Faults; f["abc"][FaultTooMany] != 1 || f["ccb"][FaultTooMany] != 0 {
		t.Fatalf("faults %v, want one 429 at ABC and none at CCB", f)
	}
	// The request log names each call's order and the 429 with its Retry-After, so that a
	// harness can check that no retry came sooner.
	var got []string
	for _, q := range r.sim.State().Requests {
		got = append(got, fmt.Sprintf("%s %s %s %d %s", q.Mall, q.Method, q.OutOrderNo, q.Status, q.RetryAfter))
	}
	want := []string{"abc POST AM20190312100000000301 429 1s", "ccb POST AM20190312100000000302 0 0s"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("request log %q, want %q", got, want)
	}
}

// A mall taken down closes connections without an answer until its window ends; the
// other mall answers meanwhile.
func TestFaults_down_mall_answers_nothing_until_back(t *testing.T) {
	t.Parallel()
	r := newRig(t, Options{}, nil)
	if !r.sim.Down(ccb.Code, 400*time.Millisecond) {
		t.Fatal("Down(ccb) refused")
	}
	if r.sim.Down("icbc", time.Second) {
		t.Fatal("Down of a mall the simulator does not play was accepted")
	}
	req := r.order(t, ccb.Code, "AM20190312100000000401", "2019-HQ-0401")
	_, err := r.ccb.Create(context.Background(), req)
	if me := mallError(t, err); !me.Retryable || me.HTTPStatus != 0 {
		t.Fatalf("create while down: %+v, want a retryable error with no answer", me)
	}
	if _, err := r.abc.Create(context.Background(), r.order(t, abc.Code, "AM20190312100000000402", "2019-HQ-0402")); err != nil {
		t.Fatalf("ABC create while CCB is down: %v", err)
	}
	time.Sleep(450 * time.Millisecond)
	if _, err := r.ccb.Create(context.Background(), req); err != nil {
		t.Fatalf("create once back: %v", err)
	}
	r.waitIdle(t)
	_, os := stateOf(r.sim.State(), ccb.Code)
	if len(os) != 1 || os[0].CreateCalls != 1 {
		t.Fatalf("CCB orders %+v, want the one made once it was back", os)
	}
	if r.sim.State().Faults["ccb"][FaultDown] != 1 {
		t.Fatalf("faults %v, want one request refused while down", r.sim.State().Faults)
	}
}

// A mall down but for its reads refuses creates and still answers queries, for both malls
// (what the failover of an `auto` order asks of its first mall).
func TestFaults_down_but_reads_answers_queries_only(t *testing.T) {
	t.Parallel()
	r := newRig(t, Options{}, nil)
	if !r.sim.DownButReads(ccb.Code, time.Minute) || !r.sim.DownButReads(abc.Code, time.Minute) {
		t.Fatal("DownButReads refused")
	}
	for _, c := range []struct {
		client orders.MallClient
		out    orders.OutOrderNo
		mall   orders.Mall
	}{{r.ccb, "AM20190312100000000501", ccb.Code}, {r.abc, "AM20190312100000000502", abc.Code}} {
		_, err := c.client.Create(context.Background(), r.order(t, c.mall, string(c.out), "2019-HQ-0501"))
		if me := mallError(t, err); !me.Retryable {
			t.Fatalf("%s create while down: %+v, want retryable", c.mall, me)
		}
		_, err = c.client.Query(context.Background(), c.out)
		if me := mallError(t, err); !me.NotFound {
			t.Fatalf("%s query while down but for reads: %+v, want the mall's own not-found", c.mall, me)
		}
	}
	if f := r.sim.State().Faults; f["ccb"][FaultDown] != 1 || f["abc"][FaultDown] != 1 {
		t.Fatalf("faults %v, want the creates alone refused", f)
	}
}

// Reordered notifications still all arrive, once each, and State counts the swaps.
func TestFaults_reorder_swaps_pairs_and_loses_nothing(t *testing.T) {
	t.Parallel()
	r := newRig(t, Options{Faults: Faults{Reorder: true, Seed: 1}}, nil)
	var swapped int
	for i := 0; i < 6; i++ {
		no := fmt.Sprintf("AM201903121000000005%02d", i)
		if _, err := r.ccb.Create(context.Background(), r.order(t, ccb.Code, no, "2019-HQ-05")); err != nil {
			t.Fatal(err)
		}
		r.waitIdle(t)
		got := types(r.hook.acked(ccb.Code, no))
		if got != "accepted shipped#1 shipped#2 delivered#1 delivered#2" {
			swapped++
		}
		if n := len(strings.Fields(got)); n != 5 {
			t.Fatalf("order %s: %d events (%s), want 5", no, n, got)
		}
	}
	if n := r.sim.State().Faults["ccb"][FaultReordered]; n == 0 || swapped == 0 {
		t.Fatalf("%d swaps counted, %d orders out of order; want some", n, swapped)
	}
}

// ReadPEM reads back the keys WritePEM wrote.
func TestReadPEM_round_trip(t *testing.T) {
	t.Parallel()
	k := keys(t)
	dir := t.TempDir()
	if err := k.WritePEM(dir); err != nil {
		t.Fatal(err)
	}
	got, err := ReadPEM(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !got.CCBMall.Equal(k.CCBMall) || !got.CCBPartner.Equal(k.CCBPartner) || !got.ABCMall.Equal(k.ABCMall) || !got.ABCPartner.Equal(k.ABCPartner) {
		t.Fatal("keys read back differ from those written")
	}
	if _, err := ReadPEM(t.TempDir()); err == nil {
		t.Fatal("ReadPEM of an empty directory: no error")
	}
}
