package mallsim

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
	"time"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/orders"
)

// Bundle file names read by LoadScript (shared/data/README.md).
const (
	FileOrders       = "orders.csv"          // UTF-8
	FileStatementCCB = "statement-ccb.csv"   // GB18030 (ccb-mall.md "Daily statement")
	FileStatementABC = "statement-abc.jsonl" // UTF-8 JSON Lines (abc-mall.md "Daily statement")
)

// Script is the fulfilment a bundle fixes: per mall, each bundle order's order_ref mapped
// to the ordered list of its statement events (the bundle's own ids, times, lines,
// quantities and refund amounts). A simulated order whose buyer_ref is such an order_ref
// replays that list; Mall, OutOrderNo and MallOrderNo are replaced by the live order's.
// A Script is immutable once loaded and safe for concurrent use.
type Script struct {
	byMall map[orders.Mall]map[string][]orders.FulfilmentEvent
}

// LoadScript reads a bundle: orders.csv (UTF-8; columns order_ref, mall, out_order_no
// matched by name), statement-ccb.csv (GB18030) and statement-abc.jsonl, the statements
// through ccb.ParseStatement and abc.ParseStatement. A missing statement file means that
// mall's orders have no events. Each order's events are its statement rows matched on
// (mall, out_order_no), a repeated row (same event id, same content) kept once, sorted by
// (occurred_at, id). Every order of orders.csv is scripted, with no events if its
// statement has none.
//
// It fails — naming the file and row — on a missing or unreadable orders.csv, a bad mall
// or a duplicate out_order_no or order_ref in it, any statement row that does not parse,
// an event whose out_order_no is not an order of that mall in orders.csv, or one event id
// given with two different contents.
func LoadScript(bundle fs.FS) (*Script, error) {
	if bundle == nil {
		return nil, errors.New("mallsim: script: nil bundle")
	}
	refOf, err := readBundleOrders(bundle)
	if err != nil {
		return nil, err
	}
	s := &Script{byMall: map[orders.Mall]map[string][]orders.FulfilmentEvent{}}
	for _, m := range []orders.Mall{ccb.Code, abc.Code} {
		s.byMall[m] = map[string][]orders.FulfilmentEvent{}
		for key, ref := range refOf {
			if key.mall == m {
				s.byMall[m][ref] = nil
			}
		}
	}
	for _, src := range []struct {
		mall  orders.Mall
		file  string
		parse func(io.Reader) ([]orders.FulfilmentEvent, []error, error)
	}{
		{ccb.Code, FileStatementCCB, parseCCBStatement},
		{abc.Code, FileStatementABC, parseABCStatement},
	} {
		f, err := bundle.Open(src.file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("mallsim: script: %w", err)
		}
		evs, bad, err := src.parse(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("mallsim: script: %s: %w", src.file, err)
		}
		if len(bad) > 0 {
			return nil, fmt.Errorf("mallsim: script: %s: %d bad rows, the first: %w", src.file, len(bad), bad[0])
		}
		seen := map[orders.MallEventID]orders.FulfilmentEvent{}
		for _, e := range evs {
			ref, ok := refOf[orderKey{src.mall, string(e.OutOrderNo)}]
			if !ok {
				return nil, fmt.Errorf("mallsim: script: %s: event %s: out_order_no %s is not in %s for mall %s",
					src.file, e.EventID, e.OutOrderNo, FileOrders, src.mall)
			}
			if prev, dup := seen[e.EventID]; dup {
				if !sameEvent(prev, e) {
					return nil, fmt.Errorf("mallsim: script: %s: event %s appears with two contents", src.file, e.EventID)
				}
				continue
			}
			seen[e.EventID] = e
			s.byMall[src.mall][ref] = append(s.byMall[src.mall][ref], e)
		}
	}
	for _, refs := range s.byMall {
		for _, evs := range refs {
			sort.SliceStable(evs, func(i, j int) bool { return eventLess(evs[i], evs[j]) })
		}
	}
	return s, nil
}

// Events returns a copy of the scripted events of the bundle order orderRef at mall, in
// replay order, and whether the bundle has that order.
func (s *Script) Events(mall orders.Mall, orderRef string) ([]orders.FulfilmentEvent, bool) {
	if s == nil {
		return nil, false
	}
	evs, ok := s.byMall[mall][orderRef]
	return append([]orders.FulfilmentEvent(nil), evs...), ok
}

// OrderRefs returns the bundle's order_refs at mall, sorted.
func (s *Script) OrderRefs(mall orders.Mall) []string {
	if s == nil {
		return nil
	}
	refs := make([]string, 0, len(s.byMall[mall]))
	for ref := range s.byMall[mall] {
		refs = append(refs, ref)
	}
	sort.Strings(refs)
	return refs
}

// Len returns the number of distinct scripted events at mall.
func (s *Script) Len(mall orders.Mall) int {
	if s == nil {
		return 0
	}
	n := 0
	for _, evs := range s.byMall[mall] {
		n += len(evs)
	}
	return n
}

// events returns the replay steps for buyerRef at mall: the scripted events stripped of
// the bundle's order numbers and source (filled from the live order when produced).
func (s *Script) events(mall orders.Mall, buyerRef string) ([]orders.FulfilmentEvent, bool) {
	evs, ok := s.Events(mall, buyerRef)
	if !ok {
		return nil, false
	}
	for i := range evs {
		evs[i].OutOrderNo, evs[i].MallOrderNo, evs[i].Source = "", "", ""
	}
	return evs, true
}

// sameEvent compares two events, times as instants (== on time.Time also compares zones).
func sameEvent(a, b orders.FulfilmentEvent) bool {
	at, bt := a.OccurredAt, b.OccurredAt
	a.OccurredAt, b.OccurredAt = time.Time{}, time.Time{}
	return a == b && at.Equal(bt)
}

type orderKey struct {
	mall       orders.Mall
	outOrderNo string
}

// readBundleOrders maps (mall, out_order_no) to order_ref from orders.csv.
func readBundleOrders(bundle fs.FS) (map[orderKey]string, error) {
	f, err := bundle.Open(FileOrders)
	if err != nil {
		return nil, fmt.Errorf("mallsim: script: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("mallsim: script: %s: header: %w", FileOrders, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	for _, h := range []string{"order_ref", "mall", "out_order_no"} {
		if _, ok := col[h]; !ok {
			return nil, fmt.Errorf("mallsim: script: %s: no column %s", FileOrders, h)
		}
	}
	out := map[orderKey]string{}
	refs := map[orderKey]bool{}
	for row := 2; ; row++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("mallsim: script: %s: %w", FileOrders, err)
		}
		get := func(h string) string {
			if i := col[h]; i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		ref, mall, no := get("order_ref"), orders.Mall(get("mall")), get("out_order_no")
		switch {
		case ref == "" || no == "":
			return nil, fmt.Errorf("mallsim: script: %s row %d: empty order_ref or out_order_no", FileOrders, row)
		case mall != ccb.Code && mall != abc.Code:
			return nil, fmt.Errorf("mallsim: script: %s row %d: unknown mall %q", FileOrders, row, mall)
		}
		k := orderKey{mall, no}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("mallsim: script: %s row %d: out_order_no %s repeated", FileOrders, row, no)
		}
		if refs[orderKey{mall, ref}] {
			return nil, fmt.Errorf("mallsim: script: %s row %d: order_ref %s repeated", FileOrders, row, ref)
		}
		out[k], refs[orderKey{mall, ref}] = ref, true
	}
}

func parseCCBStatement(r io.Reader) ([]orders.FulfilmentEvent, []error, error) {
	return ccb.Driver.ParseStatement(r)
}

func parseABCStatement(r io.Reader) ([]orders.FulfilmentEvent, []error, error) {
	return abc.Driver.ParseStatement(r)
}
