package faultharness

import (
	"context"
	"strings"
	"time"

	"aidmall/adapters/mallsim"
	"aidmall/orders"
)

// SandboxMalls are the reference mall sandbox (shared/mallsandbox, started by
// internal/sandboxtest) as a run's malls: its URLs, its partners.json app ids and key
// files, and its /sandbox/state read in mallsim's terms. Its faults are its own flags;
// it cannot be taken down on command.
type SandboxMalls struct {
	CCBURL, ABCURL                         string
	CCBAppID, ABCAppID                     string
	CCBPartnerPrivateKey, CCBMallPublicKey string
	ABCPartnerPrivateKey, ABCMallPublicKey string
}

func (s SandboxMalls) Env() []string {
	return []string{
		"AIDMALL_CCB_URL=" + s.CCBURL, "AIDMALL_CCB_APP_ID=" + s.CCBAppID,
		"AIDMALL_CCB_PRIVATE_KEY_FILE=" + s.CCBPartnerPrivateKey, "AIDMALL_CCB_MALL_PUBLIC_KEY_FILE=" + s.CCBMallPublicKey,
		"AIDMALL_ABC_URL=" + s.ABCURL, "AIDMALL_ABC_APP_ID=" + s.ABCAppID,
		"AIDMALL_ABC_PRIVATE_KEY_FILE=" + s.ABCPartnerPrivateKey, "AIDMALL_ABC_MALL_PUBLIC_KEY_FILE=" + s.ABCMallPublicKey,
	}
}

func (s SandboxMalls) Down(context.Context, string, time.Duration) error { return errNoDown }

// sandboxState is the part of /sandbox/state read here.
type sandboxState struct {
	Orders []struct {
		OutOrderNo  string `json:"out_order_no"`
		MallOrderNo string `json:"mall_order_no"`
		BuyerRef    string `json:"buyer_ref"`
		Status      string `json:"status"`
		CreateCalls int    `json:"create_calls"`
		Conflicting int    `json:"conflicting_creates"`
	} `json:"orders"`
	Notifications []struct {
		ID           string `json:"id"`
		Type         string `json:"type"`
		OutOrderNo   string `json:"out_order_no"`
		Attempts     int    `json:"attempts"`
		Acked        bool   `json:"acked"`
		GaveUp       bool   `json:"gave_up"`
		Held         bool   `json:"held"`
		Duplicated   bool   `json:"duplicated"`
		BadSignSent  int    `json:"bad_sign_sent"`
		BadSignAcked int    `json:"bad_sign_acked"`
	} `json:"notifications"`
	Counters struct {
		Faults map[string]int `json:"faults"`
	} `json:"counters"`
}

// State reads both malls' /sandbox/state. Idle: every notification listed is
// acknowledged or given up and none is held back (--reorder holds an order's until its
// script ends).
func (s SandboxMalls) State(ctx context.Context) (mallsim.State, error) {
	st := mallsim.State{Idle: true, Faults: map[string]map[string]int{}}
	for _, m := range []struct {
		code orders.Mall
		url  string
		ms   *mallsim.MallStats
	}{{"ccb", s.CCBURL, &st.Stats.CCB}, {"abc", s.ABCURL, &st.Stats.ABC}} {
		var ss sandboxState
		if err := getJSON(ctx, m.url+"/sandbox/state", &ss); err != nil {
			return st, err
		}
		st.Faults[string(m.code)] = ss.Counters.Faults
		for _, o := range ss.Orders {
			st.Orders = append(st.Orders, mallsim.OrderState{Mall: m.code, OutOrderNo: o.OutOrderNo, BuyerRef: o.BuyerRef,
				MallOrderNo: o.MallOrderNo, CreateCalls: o.CreateCalls, Cancelled: strings.Contains(strings.ToUpper(o.Status), "CANCEL")})
			m.ms.Creates++
			m.ms.DuplicateCreates += max(o.CreateCalls-1, 0)
			m.ms.Conflicts += o.Conflicting
		}
		for _, n := range ss.Notifications {
			dup := 0
			if n.Duplicated {
				dup = 1
			}
			st.Notifications = append(st.Notifications, mallsim.NotificationState{Mall: m.code, OutOrderNo: n.OutOrderNo,
				EventID: n.ID, Type: n.Type, Attempts: n.Attempts, Acked: n.Acked, GaveUp: n.GaveUp,
				Duplicates: dup, Forged: n.BadSignSent, ForgedAcked: n.BadSignAcked})
			m.ms.Sent++
			m.ms.Retried += max(n.Attempts-1, 0)
			if !n.Acked && !n.GaveUp || n.Held {
				st.Idle = false
				m.ms.Pending++
			}
		}
	}
	return st, nil
}
