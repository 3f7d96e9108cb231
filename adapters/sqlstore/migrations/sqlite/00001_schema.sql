-- +goose Up
-- Registry and catalogue (households/). Money is integer fen; business days are TEXT
-- 'YYYY-MM-DD' in Beijing time; instants are timestamps in UTC.
CREATE TABLE branches (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    company     TEXT NOT NULL,
    members     INTEGER NOT NULL CHECK (members >= 0),
    budget_fen  BIGINT NOT NULL CHECK (budget_fen >= 0),
    updated_at  TIMESTAMP NOT NULL
);

CREATE TABLE suppliers (
    code         TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    uscc         TEXT NOT NULL,
    county_code  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);

CREATE TABLE products (
    sku            TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    category       TEXT NOT NULL,
    spec           TEXT NOT NULL,
    unit           TEXT NOT NULL,
    supplier_code  TEXT NOT NULL REFERENCES suppliers (code),
    aid_cert_no    TEXT NOT NULL,
    ccb_item_id    TEXT NOT NULL,
    ccb_price_fen  BIGINT NOT NULL CHECK (ccb_price_fen >= 0),
    abc_item_id    TEXT NOT NULL,
    abc_price_fen  BIGINT NOT NULL CHECK (abc_price_fen >= 0),
    updated_at     TIMESTAMP NOT NULL
);

-- Personal data is sealed (AES-GCM) with a keyed hash for lookups and a masked form for
-- display; fingerprint is a keyed hash of every plain field, to tell an unchanged row.
CREATE TABLE households (
    household_no  TEXT PRIMARY KEY,
    name_sealed   BLOB NOT NULL,
    name_masked   TEXT NOT NULL,
    id_sealed     BLOB NOT NULL,
    id_hash       TEXT NOT NULL,
    id_masked     TEXT NOT NULL,
    phone_sealed  BLOB,
    phone_hash    TEXT NOT NULL,
    phone_masked  TEXT NOT NULL,
    members       INTEGER NOT NULL CHECK (members BETWEEN 1 AND 12),
    county        TEXT NOT NULL,
    township      TEXT NOT NULL,
    village       TEXT NOT NULL,
    attribute     TEXT NOT NULL,
    exit_year     INTEGER NOT NULL,
    fingerprint   TEXT NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
CREATE INDEX households_id_hash ON households (id_hash);

-- weight_e4 is the weight × 10^4 (at most 4 decimal places, ATTRIBUTION.md Terms).
CREATE TABLE linkages (
    id             INTEGER PRIMARY KEY,
    supplier_code  TEXT NOT NULL REFERENCES suppliers (code),
    household_no   TEXT NOT NULL REFERENCES households (household_no),
    type           TEXT NOT NULL,
    weight_e4      BIGINT NOT NULL CHECK (weight_e4 > 0),
    valid_from     TEXT NOT NULL,
    valid_to       TEXT NOT NULL DEFAULT '',
    updated_at     TIMESTAMP NOT NULL,
    UNIQUE (supplier_code, household_no, type, valid_from)
);
CREATE INDEX linkages_supplier ON linkages (supplier_code);

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    branch_code  TEXT REFERENCES branches (code),
    key_hash     TEXT NOT NULL UNIQUE,
    key_prefix   TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    revoked_at   TIMESTAMP
);

-- An Idempotency-Key per API key; status_code 0 while its request is in flight.
CREATE TABLE idempotency_keys (
    api_key_id     BIGINT NOT NULL REFERENCES api_keys (id),
    idem_key       TEXT NOT NULL,
    fingerprint    TEXT NOT NULL,
    token          TEXT NOT NULL,
    status_code    INTEGER NOT NULL DEFAULT 0,
    content_type   TEXT NOT NULL DEFAULT '',
    location       TEXT NOT NULL DEFAULT '',
    response_body  BLOB,
    locked_at      TIMESTAMP NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (api_key_id, idem_key)
);

-- A group order (团购订单) and the one mall order it becomes.
CREATE TABLE group_orders (
    id                INTEGER PRIMARY KEY,
    order_ref         TEXT NOT NULL,
    branch_code       TEXT NOT NULL REFERENCES branches (code),
    funding           TEXT NOT NULL,
    delivery_mode     TEXT NOT NULL,
    ship_to_name      TEXT NOT NULL,
    ship_to_phone     TEXT NOT NULL,
    ship_to_address   TEXT NOT NULL,
    placed_at         TIMESTAMP NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    mall              TEXT NOT NULL,
    out_order_no      TEXT UNIQUE,
    mall_order_no     TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL,
    reject_code       TEXT NOT NULL DEFAULT '',
    reject_message    TEXT NOT NULL DEFAULT '',
    submitted         BOOLEAN NOT NULL DEFAULT FALSE,
    accepted          BOOLEAN NOT NULL DEFAULT FALSE,
    cancelled         BOOLEAN NOT NULL DEFAULT FALSE,
    cancel_requested  BOOLEAN NOT NULL DEFAULT FALSE,
    total_fen         BIGINT NOT NULL,
    UNIQUE (branch_code, order_ref)
);
CREATE INDEX group_orders_placed ON group_orders (placed_at, id);
CREATE INDEX group_orders_branch ON group_orders (branch_code, placed_at, id);

CREATE TABLE order_lines (
    id              INTEGER PRIMARY KEY,
    order_id        BIGINT NOT NULL REFERENCES group_orders (id),
    line_no         INTEGER NOT NULL,
    sku             TEXT NOT NULL REFERENCES products (sku),
    item_id         TEXT NOT NULL,
    quantity        BIGINT NOT NULL CHECK (quantity > 0),
    unit_price_fen  BIGINT NOT NULL CHECK (unit_price_fen > 0),
    recipients      TEXT NOT NULL DEFAULT '',
    shipped_qty     BIGINT NOT NULL DEFAULT 0,
    delivered_qty   BIGINT NOT NULL DEFAULT 0,
    refunded_fen    BIGINT NOT NULL DEFAULT 0,
    held_events     INTEGER NOT NULL DEFAULT 0,
    UNIQUE (order_id, line_no)
);

-- Every fulfilment event as received, once (unique per mall, order and event id).
-- state: parked (no order yet), applied, held (kept for review, ATTRIBUTION.md §1.6).
CREATE TABLE fulfilment_events (
    id             INTEGER PRIMARY KEY,
    mall           TEXT NOT NULL,
    event_id       TEXT NOT NULL,
    out_order_no   TEXT NOT NULL,
    mall_order_no  TEXT NOT NULL,
    type           TEXT NOT NULL,
    line_no        INTEGER NOT NULL,
    quantity       BIGINT NOT NULL,
    refund_fen     BIGINT NOT NULL,
    occurred_at    TIMESTAMP NOT NULL,
    business_day   TEXT NOT NULL,
    logistics_no   TEXT NOT NULL DEFAULT '',
    source         TEXT NOT NULL,
    received_at    TIMESTAMP NOT NULL,
    order_id       BIGINT REFERENCES group_orders (id),
    state          TEXT NOT NULL,
    held_reason    TEXT NOT NULL DEFAULT '',
    UNIQUE (mall, out_order_no, event_id)
);
CREATE INDEX fulfilment_events_order ON fulfilment_events (order_id);
CREATE INDEX fulfilment_events_parked ON fulfilment_events (out_order_no, state);

-- The attribution ledger: money per household (NULL = unattributed) per business day of
-- the event it comes from. Corrections are further rows for the same event. The slice
-- attributes of the sale line are copied in, so reports read this table alone.
CREATE TABLE ledger_entries (
    id             INTEGER PRIMARY KEY,
    line_id        BIGINT NOT NULL REFERENCES order_lines (id),
    event_row_id   BIGINT NOT NULL REFERENCES fulfilment_events (id),
    household_no   TEXT REFERENCES households (household_no),
    business_day   TEXT NOT NULL,
    amount_fen     BIGINT NOT NULL,
    source         TEXT NOT NULL,
    correction     BOOLEAN NOT NULL,
    booked_at      TIMESTAMP NOT NULL,
    funding        TEXT NOT NULL,
    county_code    TEXT NOT NULL,
    category       TEXT NOT NULL,
    sku            TEXT NOT NULL,
    supplier_code  TEXT NOT NULL,
    branch_code    TEXT NOT NULL,
    mall           TEXT NOT NULL
);
CREATE INDEX ledger_entries_day ON ledger_entries (business_day);
CREATE INDEX ledger_entries_line ON ledger_entries (line_id);
CREATE INDEX ledger_entries_household ON ledger_entries (household_no, business_day);

-- +goose Down
DROP TABLE ledger_entries;
DROP TABLE fulfilment_events;
DROP TABLE order_lines;
DROP TABLE group_orders;
DROP TABLE idempotency_keys;
DROP TABLE api_keys;
DROP TABLE linkages;
DROP TABLE households;
DROP TABLE products;
DROP TABLE suppliers;
DROP TABLE branches;
