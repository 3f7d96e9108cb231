package jobs

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/sony/gobreaker/v2"

	"aidmall/orders"
)

var (
	busy     = &orders.MallError{Mall: orders.MallCCB, Code: "20000", SubCode: "SYSTEM_BUSY", Message: "服务繁忙", Retryable: true}
	timedOut = &orders.MallError{Mall: orders.MallCCB, Message: "no answer", Retryable: true, Err: context.DeadlineExceeded}
)

func TestDispatch_createsOnceAcrossRetries(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sql.DB, dialect string) {
		store := newFakeStore(testOrder(1))
		g := newRig(t, db, dialect, store, nil)
		g.ccb.createErr = []error{busy, timedOut, nil}
		g.enqueue(t, func(tx *sql.Tx) error { return g.r.EnqueueDispatch(context.Background(), tx, 1) })
		g.start(t)

		ev := g.waitFor(t, "dispatch of order 1", finished(DispatchArgs{}.Kind(), 1))
		if ev.Job.State != rivertype.JobStateCompleted || ev.Job.Attempt != 3 {
			t.Fatalf("job %s after attempt %d, want completed after 3", ev.Job.State, ev.Job.Attempt)
		}
		creates, _ := g.ccb.recorded()
		if len(creates) != 3 {
			t.Fatalf("create called %d times, want 3", len(creates))
		}
		for i, c := range creates[1:] {
			if !reflect.DeepEqual(c, creates[0]) {
				t.Errorf("retry %d sent other content:\n%+v\nfirst:\n%+v", i+1, c, creates[0])
			}
		}
		if creates[0].OutOrderNo != "AM20190312090000000001" {
			t.Errorf("out_order_no %q", creates[0].OutOrderNo)
		}
		submitted, rejected, _, _ := store.snapshot()
		if !reflect.DeepEqual(submitted, []string{"1:M-AM20190312090000000001"}) || len(rejected) != 0 {
			t.Errorf("submitted %v rejected %v, want exactly one MarkSubmitted", submitted, rejected)
		}
		if got := value(g.r.metrics.calls.WithLabelValues("ccb", "create", "retryable")); got != 2 {
			t.Errorf("retryable calls metric %v, want 2", got)
		}
		if n, err := g.r.Pending(context.Background()); err != nil || n != 0 {
			t.Errorf("Pending = %d, %v; want 0", n, err)
		}
	})
}

func TestDispatch_requestCarriesTheOrder(t *testing.T) {
	t.Parallel()
	o := testOrder(7)
	o.DeliveryMode = orders.DeliveryPerRecipient
	o.Lines[0].Recipients = []orders.Recipient{{Name: "李四", Phone: "13900000000", Address: "延安市宜川县", Quantity: 20}}
	req := createRequest(o, "集团总部机关工会", "https://aid.example/webhooks/ccb")
	want := orders.CreateRequest{
		OutOrderNo: o.OutOrderNo, BuyerRef: "2019-HQ-0007", BuyerName: "集团总部机关工会",
		DeliveryMode: orders.DeliveryPerRecipient, ShipTo: o.ShipTo,
		Lines: []orders.CreateLine{
			{LineNo: 1, ItemID: "CCB-YC-APL-05", Quantity: 20, UnitPrice: 6800, Recipients: o.Lines[0].Recipients},
			{LineNo: 2, ItemID: "CCB-DB-PPC-01", Quantity: 5, UnitPrice: 12050},
		},
		// 20 × 68.00 + 5 × 120.50 = 1360.00 + 602.50 yuan
		Total:     196250,
		NotifyURL: "https://aid.example/webhooks/ccb",
	}
	if !reflect.DeepEqual(req, want) {
		t.Errorf("got  %+v\nwant %+v", req, want)
	}
}

func TestDispatch_outcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		order         func(o *orders.GroupOrder)
		createErr     []error
		wantCreates   int
		wantSubmitted []string
		wantRejected  []string
		wantCancelled []int64
	}{
		{
			name:         "final_error_marks_rejected_with_the_malls_code",
			createErr:    []error{&orders.MallError{Mall: orders.MallCCB, Code: "40005", SubCode: "PRICE_MISMATCH", Message: "单价与挂牌价不符"}},
			wantCreates:  1,
			wantRejected: []string{"1:40005:PRICE_MISMATCH: 单价与挂牌价不符"},
		},
		{
			name:         "conflict_after_a_retry_is_final",
			createErr:    []error{busy, &orders.MallError{Mall: orders.MallCCB, HTTPStatus: 409, Code: "ORDER_CONFLICT", Message: "partnerOrderNo reused"}},
			wantCreates:  2,
			wantRejected: []string{"1:ORDER_CONFLICT:partnerOrderNo reused"},
		},
		{
			name:  "submitted_order_is_not_sent_again",
			order: func(o *orders.GroupOrder) { o.Submitted, o.MallOrderNo = true, "CCB1" },
		},
		{
			name:  "rejected_order_is_not_sent_again",
			order: func(o *orders.GroupOrder) { o.RejectCode = "40005" },
		},
		{
			name:          "cancel_requested_before_dispatch_cancels_locally",
			order:         func(o *orders.GroupOrder) { o.CancelReq = true },
			wantCancelled: []int64{1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			forEachDB(t, func(t *testing.T, db *sql.DB, dialect string) {
				o := testOrder(1)
				if tt.order != nil {
					tt.order(o)
				}
				store := newFakeStore(o)
				g := newRig(t, db, dialect, store, nil)
				g.ccb.createErr = tt.createErr
				g.enqueue(t, func(tx *sql.Tx) error { return g.r.EnqueueDispatch(context.Background(), tx, 1) })
				g.start(t)
				ev := g.waitFor(t, "dispatch", finished(DispatchArgs{}.Kind(), 1))
				if ev.Job.State != rivertype.JobStateCompleted {
					t.Errorf("job %s, want completed", ev.Job.State)
				}
				creates, cancels := g.ccb.recorded()
				submitted, rejected, cancelled, _ := store.snapshot()
				if len(creates) != tt.wantCreates || len(cancels) != 0 {
					t.Errorf("create called %d times, cancel %d; want %d, 0", len(creates), len(cancels), tt.wantCreates)
				}
				if !reflect.DeepEqual(submitted, tt.wantSubmitted) || !reflect.DeepEqual(rejected, tt.wantRejected) || !reflect.DeepEqual(cancelled, tt.wantCancelled) {
					t.Errorf("submitted %v rejected %v cancelled %v; want %v %v %v",
						submitted, rejected, cancelled, tt.wantSubmitted, tt.wantRejected, tt.wantCancelled)
				}
			})
		})
	}
}

func TestDispatch_cancelDuringCreateAsksTheMallToCancel(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sql.DB, dialect string) {
		store := newFakeStore(testOrder(1))
		g := newRig(t, db, dialect, store, nil)
		// The branch cancels while the create is on its way; the mall had not got it when
		// an earlier cancel job asked, so only a second ask can reach it.
		g.ccb.onCreate = func(orders.CreateRequest) { store.update(1, func(o *orders.GroupOrder) { o.CancelReq = true }) }
		g.enqueue(t, func(tx *sql.Tx) error { return g.r.EnqueueDispatch(context.Background(), tx, 1) })
		g.start(t)
		g.waitFor(t, "cancel job", finished(CancelArgs{}.Kind(), 1))
		_, cancels := g.ccb.recorded()
		submitted, _, cancelled, _ := store.snapshot()
		if len(submitted) != 1 || len(cancels) != 1 || !strings.HasPrefix(cancels[0], "AM20190312090000000001|") {
			t.Errorf("submitted %v, mall cancels %v; want the placed order cancelled at the mall", submitted, cancels)
		}
		if len(cancelled) != 0 {
			t.Errorf("cancelled locally %v: the mall has the order, its event must say so", cancelled)
		}
	})
}

func TestDispatch_breakerOpensAndStopsCallingTheMall(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sql.DB, dialect string) {
		store := newFakeStore(testOrder(1))
		g := newRig(t, db, dialect, store, func(c *Config) {
			c.Breaker = BreakerConfig{Failures: 2, Cooldown: time.Hour}
			c.MaxAttempts = 4
		})
		g.ccb.createErr = []error{busy}
		g.enqueue(t, func(tx *sql.Tx) error { return g.r.EnqueueDispatch(context.Background(), tx, 1) })
		g.start(t)
		ev := g.waitFor(t, "dispatch discarded", finished(DispatchArgs{}.Kind(), 1))
		if ev.Job.State != rivertype.JobStateDiscarded || ev.Job.Attempt != 4 {
			t.Fatalf("job %s after %d attempts, want discarded after 4", ev.Job.State, ev.Job.Attempt)
		}
		if creates, _ := g.ccb.recorded(); len(creates) != 2 {
			t.Errorf("mall called %d times, want 2: the breaker should refuse attempts 3 and 4", len(creates))
		}
		if got := g.r.gate.state(orders.MallCCB); got != gobreaker.StateOpen {
			t.Errorf("breaker %s, want open", got)
		}
		if got := value(g.r.metrics.calls.WithLabelValues("ccb", "create", "breaker_open")); got != 2 {
			t.Errorf("breaker_open metric %v, want 2", got)
		}
		if got := value(g.r.metrics.breakerState.WithLabelValues("ccb")); got != 2 {
			t.Errorf("breaker state gauge %v, want 2 (open)", got)
		}
		if got := value(g.r.metrics.givenUp.WithLabelValues("ccb")); got != 1 {
			t.Errorf("given up metric %v, want 1", got)
		}
		if s, r, c, _ := store.snapshot(); len(s)+len(r)+len(c) != 0 {
			t.Errorf("order changed although the mall never took it: %v %v %v", s, r, c)
		}
		// The other mall's breaker is its own.
		if got := g.r.gate.state(orders.MallABC); got != gobreaker.StateClosed {
			t.Errorf("abc breaker %s, want closed", got)
		}
	})
}

func TestGate_finalRefusalsDoNotOpenTheBreaker(t *testing.T) {
	t.Parallel()
	m, _ := newMetrics(nil)
	mall := newFakeMall(orders.MallCCB)
	g := newGate(Malls{orders.MallCCB: mall}, BreakerConfig{Failures: 2, Cooldown: time.Hour}, discardLog(), m)
	refused := &orders.MallError{Mall: orders.MallCCB, Code: "40006", SubCode: "AMOUNT_MISMATCH"}
	calls := 0
	for range 5 {
		_, err := g.call(orders.MallCCB, "create", func() (orders.CreateResult, error) { calls++; return orders.CreateResult{}, refused })
		if !errors.Is(err, refused) {
			t.Fatalf("err %v, want the mall's refusal", err)
		}
	}
	if calls != 5 || g.state(orders.MallCCB) != gobreaker.StateClosed {
		t.Errorf("%d calls, breaker %s; want 5 calls through a closed breaker", calls, g.state(orders.MallCCB))
	}
	// Interruptions of our own (shutdown) say nothing about the mall either.
	for range 5 {
		_, _ = g.call(orders.MallCCB, "create", func() (orders.CreateResult, error) { return orders.CreateResult{}, context.Canceled })
	}
	if g.state(orders.MallCCB) != gobreaker.StateClosed {
		t.Error("breaker opened on cancelled calls")
	}
	_, err := g.call(orders.MallABC, "create", func() (orders.CreateResult, error) { return orders.CreateResult{}, nil })
	if err == nil {
		t.Error("call to a mall without a client succeeded")
	}
}

func TestEnqueue_rolledBackTransactionLeavesNoJob(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sql.DB, dialect string) {
		store := newFakeStore(testOrder(1), testOrder(2))
		g := newRig(t, db, dialect, store, nil)
		ctx := context.Background()
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.r.EnqueueDispatch(ctx, tx, 1); err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		g.enqueue(t, func(tx *sql.Tx) error { return g.r.EnqueueDispatch(ctx, tx, 2) })
		g.start(t)
		g.waitFor(t, "dispatch of order 2", finished(DispatchArgs{}.Kind(), 2))
		creates, _ := g.ccb.recorded()
		if len(creates) != 1 || creates[0].OutOrderNo != "AM20190312090000000002" {
			t.Errorf("mall saw %d creates (%+v); want only order 2's", len(creates), creates)
		}
		if n, err := g.r.Pending(ctx); err != nil || n != 0 {
			t.Errorf("Pending = %d, %v; want 0: the rolled-back job must not exist", n, err)
		}
	})
}

func TestEnqueueDispatch_oneJobPerOrder(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sql.DB, dialect string) {
		g := newRig(t, db, dialect, newFakeStore(testOrder(1), testOrder(2)), nil)
		ctx := context.Background()
		g.enqueue(t, func(tx *sql.Tx) error { return g.r.EnqueueDispatch(ctx, tx, 1) })
		g.enqueue(t, func(tx *sql.Tx) error {
			return errors.Join(g.r.EnqueueDispatch(ctx, tx, 1), g.r.EnqueueDispatch(ctx, tx, 2))
		})
		if n, err := g.r.Pending(ctx); err != nil || n != 2 {
			t.Errorf("Pending = %d, %v; want 2 (one per order)", n, err)
		}
		if err := g.r.EnqueueDispatch(ctx, nil, 1); err == nil {
			t.Error("EnqueueDispatch without a transaction accepted")
		}
	})
}

func TestNextRetry_honoursRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2019, 3, 12, 9, 0, 0, 0, time.UTC)
	r := &Runner{now: func() time.Time { return now }, backoff: Backoff{Base: time.Second, Cap: 5 * time.Minute}.withDefaults()}
	w := &dispatchWorker{r: r}
	job := &river.Job[DispatchArgs]{JobRow: &rivertype.JobRow{ID: 42, Attempt: 1}}
	w.hints.note(42, &orders.MallError{Mall: orders.MallABC, HTTPStatus: 429, Retryable: true, RetryAfter: 30 * time.Second})
	if got := w.NextRetry(job).Sub(now); got != 30*time.Second {
		t.Errorf("first retry after %s, want the mall's 30s (backoff ceiling is 1s)", got)
	}
	if got := w.NextRetry(job).Sub(now); got < 0 || got > time.Second {
		t.Errorf("hint reused: next retry after %s, want within the 1s backoff", got)
	}
}

func TestRejection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		err       *orders.MallError
		code, msg string
	}{
		{"ccb_code_with_sub_code", &orders.MallError{Code: "40005", SubCode: "ITEM_NOT_LISTED", Message: "商品未上架"}, "40005", "ITEM_NOT_LISTED: 商品未上架"},
		{"abc_code_as_given", &orders.MallError{HTTPStatus: 422, Code: "PRICE_MISMATCH", Message: "unitPriceFen differs"}, "PRICE_MISMATCH", "unitPriceFen differs"},
		{"sub_code_alone_becomes_the_message", &orders.MallError{Code: "40006", SubCode: "AMOUNT_MISMATCH"}, "40006", "AMOUNT_MISMATCH"},
		{"bare_http_refusal_still_rejects", &orders.MallError{HTTPStatus: 400}, "HTTP 400", ""},
		{"no_code_at_all_still_rejects", &orders.MallError{Err: errors.New("bad signature")}, "REFUSED", "bad signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, msg := rejection(tt.err)
			if code != tt.code || msg != tt.msg {
				t.Errorf("rejection = %q, %q; want %q, %q", code, msg, tt.code, tt.msg)
			}
		})
	}
}
