-- +goose Up
-- How an order's cancel request is going while the mall cannot be reached: the last
-- attempt's error, its number and when it failed (empty once an attempt reaches the mall).
ALTER TABLE group_orders ADD COLUMN cancel_error TEXT NOT NULL DEFAULT '';
ALTER TABLE group_orders ADD COLUMN cancel_attempt INTEGER NOT NULL DEFAULT 0;
ALTER TABLE group_orders ADD COLUMN cancel_error_at TIMESTAMPTZ;
-- cancel_requested is a status of its own now (orders.StatusCancelRequested).
UPDATE group_orders SET status = 'cancel_requested'
    WHERE cancel_requested AND NOT cancelled AND reject_code = '' AND status IN ('pending', 'submitted', 'accepted');

-- +goose Down
UPDATE group_orders SET status = CASE WHEN accepted THEN 'accepted' WHEN submitted OR mall_order_no <> '' THEN 'submitted' ELSE 'pending' END
    WHERE status = 'cancel_requested';
ALTER TABLE group_orders DROP COLUMN cancel_error_at;
ALTER TABLE group_orders DROP COLUMN cancel_attempt;
ALTER TABLE group_orders DROP COLUMN cancel_error;
