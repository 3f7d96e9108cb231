package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"aidmall/audit"
	"aidmall/money"
	"aidmall/orders"
	"aidmall/review"
)

var _ review.Store = (*Store)(nil)

type reviewEventRow struct {
	ID          int64     `db:"id"`
	Mall        string    `db:"mall"`
	EventID     string    `db:"event_id"`
	OutOrderNo  string    `db:"out_order_no"`
	Type        string    `db:"type"`
	LineNo      int       `db:"line_no"`
	Quantity    int64     `db:"quantity"`
	RefundFen   int64     `db:"refund_fen"`
	BusinessDay string    `db:"business_day"`
	ReceivedAt  time.Time `db:"received_at"`
	OrderID     *int64    `db:"order_id"`
	State       string    `db:"state"`
	HeldReason  string    `db:"held_reason"`
}

func (r reviewEventRow) item() review.Item {
	it := review.Item{ID: "event:" + strconv.FormatInt(r.ID, 10), Kind: review.KindHeldEvent, Since: r.ReceivedAt.UTC(),
		Reason: r.HeldReason, Mall: r.Mall, OutOrderNo: r.OutOrderNo, EventID: r.EventID, EventType: r.Type, LineNo: r.LineNo,
		Quantity: r.Quantity, Refund: money.Fen(r.RefundFen), BusinessDay: r.BusinessDay}
	if r.OrderID != nil {
		it.OrderID = *r.OrderID
	}
	if r.State == string(orders.EventParked) {
		it.Kind, it.Reason = review.KindParkedEvent, "no order has this out_order_no"
	}
	return it
}

type reviewUnreadableRow struct {
	ID         int64     `db:"id"`
	Mall       string    `db:"mall"`
	Reason     string    `db:"reason"`
	Body       []byte    `db:"body"`
	ReceivedAt time.Time `db:"received_at"`
}

func (r reviewUnreadableRow) item() review.Item {
	return review.Item{ID: "unreadable:" + strconv.FormatInt(r.ID, 10), Kind: review.KindUnreadable, Since: r.ReceivedAt.UTC(),
		Reason: r.Reason, Mall: r.Mall, Body: string(r.Body)}
}

type reviewOrderRow struct {
	ID            int64     `db:"id"`
	Mall          string    `db:"mall"`
	OutOrderNo    *string   `db:"out_order_no"`
	Status        string    `db:"status"`
	RejectCode    string    `db:"reject_code"`
	RejectMessage string    `db:"reject_message"`
	CreatedAt     time.Time `db:"created_at"`
	UpdatedAt     time.Time `db:"updated_at"`

	// The dispatch failure (migration 00011).
	GiveUps     int        `db:"dispatch_give_ups"`
	FailedAt    *time.Time `db:"dispatch_failed_at"`
	FailReason  string     `db:"dispatch_failure_reason"`
	FailMessage string     `db:"dispatch_failure_mall_message"`
	Attempts    int        `db:"dispatch_attempts"`
}

func (r reviewOrderRow) item() review.Item {
	it := review.Item{ID: "order:" + strconv.FormatInt(r.ID, 10), Kind: review.KindRejectedOrder, Since: r.UpdatedAt.UTC(),
		Reason: strings.TrimSpace(r.RejectCode + " " + r.RejectMessage), Mall: r.Mall, OrderID: r.ID}
	if r.OutOrderNo != nil {
		it.OutOrderNo = *r.OutOrderNo
	}
	switch r.Status {
	case string(orders.StatusRejected):
	case string(orders.StatusDispatchFailed):
		it.ID = dispatchFailedItem(r.ID, r.GiveUps)
		it.Kind, it.Reason, it.Attempts = review.KindDispatchFailed, strings.TrimSpace(r.FailReason+": "+r.FailMessage), r.Attempts
		if r.FailedAt != nil {
			it.Since = r.FailedAt.UTC()
		}
	default:
		it.Kind, it.Since, it.Reason = review.KindStrandedOrder, r.CreatedAt.UTC(), "has not reached its mall: its dispatch is still trying, or its job was lost"
	}
	return it
}

// dispatchFailedItem is the review id of give-up n of order id.
func dispatchFailedItem(id int64, n int) string {
	return "dispatch_failed:" + strconv.FormatInt(id, 10) + ":" + strconv.Itoa(n)
}

const (
	reviewEventCols = `id, mall, event_id, out_order_no, type, line_no, quantity, refund_fen, business_day, received_at, order_id, state, held_reason`
	reviewOrderCols = `id, mall, out_order_no, status, reject_code, reject_message, created_at, updated_at,
		dispatch_give_ups, dispatch_failed_at, dispatch_failure_reason, dispatch_failure_mall_message, dispatch_attempts`
	// strandedWhere is StrandedOrders' condition: an order that never reached its mall
	// (pending, or cancel_requested with no mall order: its cancel waits on its dispatch).
	// An order whose dispatch gave up (dispatch_failed) waits for a person instead.
	strandedWhere = `status IN ('pending', 'cancel_requested') AND mall_order_no = '' AND NOT submitted AND reject_code = '' AND NOT cancelled`
)

// unresolved is the condition that the item of a row (prefix || id) has no resolution.
func unresolved(prefix string) string {
	return `NOT EXISTS (SELECT 1 FROM review_resolutions r WHERE r.item = '` + prefix + `:' || CAST(x.id AS TEXT))`
}

// ReviewItems returns the open items of the review queue, oldest first (review.Store).
func (s *Store) ReviewItems(ctx context.Context, waitedBefore time.Time) ([]review.Item, error) {
	var evs []reviewEventRow
	if err := s.db.SelectContext(ctx, &evs, s.db.Rebind(`SELECT `+reviewEventCols+` FROM fulfilment_events x
		WHERE (state = 'held' OR (state = 'parked' AND received_at < ?)) AND `+unresolved("event")+` ORDER BY id`), waitedBefore.UTC()); err != nil {
		return nil, fmt.Errorf("review events: %w", err)
	}
	var uns []reviewUnreadableRow
	if err := s.db.SelectContext(ctx, &uns, `SELECT id, mall, reason, received_at FROM unreadable_notifications x
		WHERE state = 'open' AND `+unresolved("unreadable")+` ORDER BY id`); err != nil {
		return nil, fmt.Errorf("review unreadable: %w", err)
	}
	var ors []reviewOrderRow
	if err := s.db.SelectContext(ctx, &ors, s.db.Rebind(`SELECT `+reviewOrderCols+` FROM group_orders x
		WHERE (status = 'rejected' OR (`+strandedWhere+` AND created_at < ?)) AND `+unresolved("order")+` ORDER BY id`), waitedBefore.UTC()); err != nil {
		return nil, fmt.Errorf("review orders: %w", err)
	}
	var failed []reviewOrderRow
	if err := s.db.SelectContext(ctx, &failed, `SELECT `+reviewOrderCols+` FROM group_orders x
		WHERE status = 'dispatch_failed' AND NOT EXISTS (SELECT 1 FROM review_resolutions r
			WHERE r.item = 'dispatch_failed:' || CAST(x.id AS TEXT) || ':' || CAST(x.dispatch_give_ups AS TEXT)) ORDER BY id`); err != nil {
		return nil, fmt.Errorf("review dispatch failures: %w", err)
	}
	ors = append(ors, failed...)
	items := make([]review.Item, 0, len(evs)+len(uns)+len(ors))
	for _, r := range evs {
		items = append(items, r.item())
	}
	for _, r := range uns {
		items = append(items, r.item())
	}
	for _, r := range ors {
		items = append(items, r.item())
	}
	sortItems(items)
	return items, nil
}

func sortItems(items []review.Item) {
	// Oldest first; ties by id for a stable listing.
	slices.SortStableFunc(items, func(a, b review.Item) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// ReviewItem returns one item by id, whatever its state, with its resolution (review.Store).
func (s *Store) ReviewItem(ctx context.Context, id string) (review.Item, error) {
	kind, n, ok := strings.Cut(id, ":")
	giveUp := -1
	if kind == "dispatch_failed" {
		var g string
		n, g, _ = strings.Cut(n, ":")
		if v, err := strconv.Atoi(g); err == nil && v > 0 {
			giveUp = v
		}
	}
	num, err := strconv.ParseInt(n, 10, 64)
	if !ok || err != nil || num <= 0 {
		return review.Item{}, fmt.Errorf("review item %q: %w", id, orders.ErrNotFound)
	}
	var it review.Item
	switch kind {
	case "event":
		var r reviewEventRow
		if err := s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT `+reviewEventCols+` FROM fulfilment_events WHERE id = ?`), num); err != nil {
			return review.Item{}, fmt.Errorf("review item %q: %w", id, translate(err))
		}
		if r.State == string(orders.EventApplied) {
			// Applied events are not for review (a held event that became applicable).
			it = r.item()
			it.Kind, it.Reason = "applied_event", ""
		} else {
			it = r.item()
		}
	case "unreadable":
		var r reviewUnreadableRow
		if err := s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT id, mall, reason, body, received_at FROM unreadable_notifications WHERE id = ?`), num); err != nil {
			return review.Item{}, fmt.Errorf("review item %q: %w", id, translate(err))
		}
		it = r.item()
	case "order":
		var r reviewOrderRow
		if err := s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT `+reviewOrderCols+` FROM group_orders WHERE id = ?`), num); err != nil {
			return review.Item{}, fmt.Errorf("review item %q: %w", id, translate(err))
		}
		if r.Status == string(orders.StatusDispatchFailed) {
			r.Status = string(orders.StatusPending) // "order:<id>" names a rejected or stranded order
		}
		it = r.item()
	case "dispatch_failed":
		var r reviewOrderRow
		if err := s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT `+reviewOrderCols+` FROM group_orders WHERE id = ?`), num); err != nil {
			return review.Item{}, fmt.Errorf("review item %q: %w", id, translate(err))
		}
		if giveUp < 1 || giveUp > r.GiveUps {
			return review.Item{}, fmt.Errorf("review item %q: %w", id, orders.ErrNotFound)
		}
		// An earlier give-up, or one retried since, keeps its id; what it said is on the
		// order's timeline, the item shows the order's present failure if any.
		r.Status, r.GiveUps = string(orders.StatusDispatchFailed), giveUp
		it = r.item()
	default:
		return review.Item{}, fmt.Errorf("review item %q: %w", id, orders.ErrNotFound)
	}
	var res struct {
		Outcome string    `db:"outcome"`
		Note    string    `db:"note"`
		Actor   string    `db:"actor"`
		At      time.Time `db:"resolved_at"`
	}
	err = s.db.GetContext(ctx, &res, s.db.Rebind(`SELECT outcome, note, actor, resolved_at FROM review_resolutions WHERE item = ?`), id)
	switch {
	case err == nil:
		it.Resolved = &review.Resolved{Outcome: review.Outcome(res.Outcome), Note: res.Note, Actor: res.Actor, At: res.At.UTC()}
	case !isNoRows(err):
		return review.Item{}, fmt.Errorf("review resolution %q: %w", id, err)
	}
	return it, nil
}

// ResolveReview records the resolution of item id and appends e to the audit log, in one
// transaction; an unreadable record takes the outcome as its state (review.Store).
func (s *Store) ResolveReview(ctx context.Context, id string, outcome review.Outcome, note string, e audit.Entry) error {
	return s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO review_resolutions (item, outcome, note, actor, resolved_at) VALUES (?, ?, ?, ?, ?)`),
			id, string(outcome), note, e.Actor.Name, s.utcNow()); err != nil {
			err = translate(err)
			if violatedKey(err) != "" {
				return &orders.Error{Kind: orders.ErrConflict, Message: fmt.Sprintf("review item %s is already resolved", id), Err: err}
			}
			return fmt.Errorf("resolve %s: %w", id, err)
		}
		if kind, n, _ := strings.Cut(id, ":"); kind == "unreadable" {
			num, _ := strconv.ParseInt(n, 10, 64)
			if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE unreadable_notifications SET state = ? WHERE id = ?`), string(outcome), num); err != nil {
				return fmt.Errorf("resolve %s: %w", id, err)
			}
		}
		return s.appendAudit(ctx, tx, e)
	})
}
