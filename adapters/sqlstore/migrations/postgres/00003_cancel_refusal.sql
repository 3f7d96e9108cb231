-- +goose Up
-- Why the mall refused a cancel (its code and message), shown on the order.
ALTER TABLE group_orders ADD COLUMN cancel_refusal TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE group_orders DROP COLUMN cancel_refusal;
