-- +goose Up
-- Giving up visibly (docs/MALLS.md, "Giving up and failover"): when an order's dispatch job
-- runs out of attempts, the order records why (the last failure: the mall's code and
-- message) and after how many attempts; its status is then dispatch_failed until a person
-- retries it (POST /v1/orders/{id}/retry-dispatch). dispatch_give_ups counts the give-ups,
-- so that each one is its own review item.
ALTER TABLE group_orders ADD COLUMN dispatch_failed_at TIMESTAMP;
ALTER TABLE group_orders ADD COLUMN dispatch_failure_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE group_orders ADD COLUMN dispatch_failure_mall_code TEXT NOT NULL DEFAULT '';
ALTER TABLE group_orders ADD COLUMN dispatch_failure_mall_message TEXT NOT NULL DEFAULT '';
ALTER TABLE group_orders ADD COLUMN dispatch_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE group_orders ADD COLUMN dispatch_give_ups INTEGER NOT NULL DEFAULT 0;
-- Placed with mall "auto": only such an order may fail over to another mall. Orders
-- stored before this column say false: they are never moved.
ALTER TABLE group_orders ADD COLUMN auto_routed BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX group_orders_status ON group_orders (status, mall);

-- What was done to an order's mall order besides the mall's own events, for its timeline:
-- a dispatch given up, a retry by hand, and the two steps of a failover (the first mall
-- asked / confirmed absent, the order moved to the second mall under a new out_order_no).
-- out_order_no is the number the step concerns (the first mall's for the first step).
CREATE TABLE order_steps (
    id            INTEGER PRIMARY KEY,
    order_id      BIGINT NOT NULL REFERENCES group_orders (id),
    at            TIMESTAMP NOT NULL,
    step          TEXT NOT NULL,
    mall          TEXT NOT NULL,
    out_order_no  TEXT NOT NULL,
    detail        TEXT NOT NULL,
    actor         TEXT NOT NULL
);
CREATE INDEX order_steps_order ON order_steps (order_id, id);

-- +goose Down
DROP TABLE order_steps;
DROP INDEX group_orders_status;
ALTER TABLE group_orders DROP COLUMN auto_routed;
ALTER TABLE group_orders DROP COLUMN dispatch_give_ups;
ALTER TABLE group_orders DROP COLUMN dispatch_attempts;
ALTER TABLE group_orders DROP COLUMN dispatch_failure_mall_message;
ALTER TABLE group_orders DROP COLUMN dispatch_failure_mall_code;
ALTER TABLE group_orders DROP COLUMN dispatch_failure_reason;
ALTER TABLE group_orders DROP COLUMN dispatch_failed_at;
