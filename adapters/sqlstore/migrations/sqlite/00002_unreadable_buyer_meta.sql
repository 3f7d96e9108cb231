-- +goose Up
-- Notifications whose signature verified but whose fields could not be read: kept, with
-- the raw body, and acknowledged, so that the mall's book of record loses nothing; an
-- operator reads them (state open) and resolves them.
CREATE TABLE unreadable_notifications (
    id           INTEGER PRIMARY KEY,
    mall         TEXT NOT NULL,
    reason       TEXT NOT NULL,
    body         BLOB NOT NULL,
    received_at  TIMESTAMP NOT NULL,
    state        TEXT NOT NULL DEFAULT 'open'
);

-- The buyer's name as sent to the mall, fixed when the order is placed: a branch renamed
-- later must not change the content of a create that is being retried.
ALTER TABLE group_orders ADD COLUMN buyer_name TEXT NOT NULL DEFAULT '';

-- Facts about the database itself, e.g. which seal key its personal data is sealed with.
CREATE TABLE meta (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
CREATE INDEX group_orders_undispatched ON group_orders (status, created_at);

-- +goose Down
DROP INDEX group_orders_undispatched;
DROP INDEX idempotency_keys_created;
DROP TABLE meta;
ALTER TABLE group_orders DROP COLUMN buyer_name;
DROP TABLE unreadable_notifications;
