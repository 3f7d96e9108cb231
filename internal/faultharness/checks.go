package faultharness

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"aidmall/adapters/mallsim"
	"aidmall/adapters/sqlstore"
)

func openDB(ctx context.Context, dbURL string) (*sqlstore.DB, error) {
	return sqlstore.Open(ctx, dbURL)
}

// extraPrefix marks the harness's own orders (not the bundle's).
const extraPrefix = "FAULTS-"

// readEvents checks the database against the malls — every event a mall notified is
// recorded once, every recorded event was notified, every order the service submitted
// is at its mall — and returns the bundle orders' event states and ledger.
func (r *run) readEvents(ctx context.Context, st mallsim.State) (map[string]string, map[string]int64, error) {
	db, err := openDB(ctx, r.dbURL)
	if err != nil {
		return nil, nil, err
	}
	defer db.Close()

	rows, err := db.QueryContext(ctx, `SELECT e.mall, e.out_order_no, e.event_id, e.state, e.source, COALESCE(o.order_ref, '')
		FROM fulfilment_events e LEFT JOIN group_orders o ON o.id = e.order_id`)
	if err != nil {
		return nil, nil, err
	}
	recorded := map[string]int{}
	states := map[string]string{}
	for rows.Next() {
		var mall, no, id, state, source, ref string
		if err := rows.Scan(&mall, &no, &id, &state, &source, &ref); err != nil {
			rows.Close()
			return nil, nil, err
		}
		recorded[mall+" "+no+" "+id]++
		if source != "notify" {
			r.fail("event %s of %s at %s came from %q, not a notification (reconciliation is off)", id, no, mall, source)
		}
		if ref != "" && !strings.HasPrefix(ref, extraPrefix) {
			states[ref+" "+id] = state
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	sent := map[string]bool{}
	for _, n := range st.Notifications {
		k := string(n.Mall) + " " + n.OutOrderNo + " " + n.EventID
		sent[k] = true
		if c := recorded[k]; c != 1 {
			r.fail("event %s of %s at %s, notified (acked %v), is recorded %d times", n.EventID, n.OutOrderNo, n.Mall, n.Acked, c)
		}
	}
	for k, c := range recorded {
		if !sent[k] {
			r.fail("event %q is recorded (%d times) but no mall notified it", k, c)
		}
	}

	// Every order the service says is at a mall is there.
	atMall := map[string]bool{}
	for _, o := range st.Orders {
		atMall[string(o.Mall)+" "+o.OutOrderNo] = true
	}
	orows, err := db.QueryContext(ctx, `SELECT order_ref, mall, COALESCE(out_order_no, '') FROM group_orders WHERE submitted`)
	if err != nil {
		return nil, nil, err
	}
	for orows.Next() {
		var ref, mall, no string
		if err := orows.Scan(&ref, &mall, &no); err != nil {
			orows.Close()
			return nil, nil, err
		}
		if !atMall[mall+" "+no] {
			r.fail("order %s is submitted to %s as %s, which that mall does not have", ref, mall, no)
		}
	}
	orows.Close()

	ledger := map[string]int64{}
	lrows, err := db.QueryContext(ctx, `SELECT o.order_ref, COALESCE(l.household_no, ''), l.business_day, SUM(l.amount_fen)
		FROM ledger_entries l JOIN order_lines ol ON ol.id = l.line_id JOIN group_orders o ON o.id = ol.order_id
		GROUP BY o.order_ref, l.household_no, l.business_day`)
	if err != nil {
		return nil, nil, err
	}
	defer lrows.Close()
	for lrows.Next() {
		var ref, hh, day string
		var fen int64
		if err := lrows.Scan(&ref, &hh, &day, &fen); err != nil {
			return nil, nil, err
		}
		if fen != 0 && !strings.HasPrefix(ref, extraPrefix) {
			ledger[ref+" "+hh+" "+day] = fen
		}
	}
	return states, ledger, lrows.Err()
}

// checkMalls: every out_order_no created once across both malls, no buyer reference with
// a second live order, every notification acknowledged, no forged one acknowledged.
func (r *run) checkMalls(st mallsim.State) {
	byNo := map[string][]string{}
	live := map[string][]string{}
	for _, o := range st.Orders {
		byNo[o.OutOrderNo] = append(byNo[o.OutOrderNo], string(o.Mall))
		if !o.Cancelled {
			live[o.BuyerRef] = append(live[o.BuyerRef], string(o.Mall)+" "+o.OutOrderNo)
		}
	}
	for no, ms := range byNo {
		if len(ms) > 1 {
			r.fail("out_order_no %s created at %v", no, ms)
		}
	}
	for ref, os := range live {
		if len(os) > 1 {
			r.fail("buyer_ref %s has %d live orders at the malls: %v", ref, len(os), os)
		}
	}
	for _, n := range st.Notifications {
		switch {
		case n.ForgedAcked > 0:
			r.fail("a forged copy of event %s (%s at %s) was acknowledged", n.EventID, n.OutOrderNo, n.Mall)
		case n.GaveUp:
			r.fail("%s gave up notifying event %s of %s", n.Mall, n.EventID, n.OutOrderNo)
		case !n.Acked:
			r.fail("event %s of %s at %s never acknowledged", n.EventID, n.OutOrderNo, n.Mall)
		}
	}
}

// checkExchanges: no 5xx through the proxy except while a replica was down.
func (r *run) checkExchanges() {
	var bad, gone []string
	for _, x := range r.proxy.exchanges() {
		if x.Status == statusClientGone {
			r.counts.ClientGone++
			if len(gone) < 5 {
				gone = append(gone, fmt.Sprintf("%s %s (replica %d) after %s", x.Method, x.Path, x.Replica, x.End.Sub(x.Start).Round(time.Millisecond)))
			}
		}
		if x.Status < 500 {
			continue
		}
		if r.proxy.excused(x) {
			r.counts.Excused5xx++
			continue
		}
		bad = append(bad, fmt.Sprintf("%s %s → %d (replica %d, %s, %s) %s", x.Method, x.Path, x.Status, x.Replica,
			x.Start.Format("15:04:05.000"), x.End.Sub(x.Start).Round(time.Millisecond), x.Err))
	}
	if len(gone) > 0 {
		r.logf("   %d requests whose client went away before the answer, e.g. %s", r.counts.ClientGone, strings.Join(gone, "; "))
	}
	if len(bad) > 0 {
		if len(bad) > 10 {
			bad = append(bad[:10], fmt.Sprintf("… %d more", len(bad)-10))
		}
		r.fail("%d answers 5xx while every replica was up:\n      %s", len(bad), strings.Join(bad, "\n      "))
	}
}

// Compare holds a fault run against the quiet run: the same report, the same final state
// of every bundle event, the same ledger per order, household and business day.
func Compare(quiet, faulty Result) []string {
	var out []string
	for _, by := range []string{"county", "category"} {
		if !bytes.Equal(quiet.Report[by], faulty.Report[by]) {
			out = append(out, fmt.Sprintf("the %d report by %s differs from the quiet run's:\nquiet:\n%s\nfaults:\n%s", Year, by, quiet.Report[by], faulty.Report[by]))
		}
	}
	out = append(out, diffMaps("event state", quiet.Events, faulty.Events)...)
	out = append(out, diffMaps("ledger fen", quiet.Ledger, faulty.Ledger)...)
	return out
}

func diffMaps[V comparable](what string, quiet, faulty map[string]V) []string {
	var diffs []string
	for k, q := range quiet {
		if f, ok := faulty[k]; !ok || f != q {
			diffs = append(diffs, fmt.Sprintf("%s %s: quiet %v, faults %v (present %v)", what, k, q, f, ok))
		}
	}
	for k, f := range faulty {
		if _, ok := quiet[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s %s: only in the fault run (%v)", what, k, f))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 10 {
		diffs = append(diffs[:10], fmt.Sprintf("… %d more %s differences", len(diffs)-10, what))
	}
	return diffs
}
