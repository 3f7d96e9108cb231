-- +goose Up
-- Rollups of the attribution ledger (issue 10): every report reads these instead of the
-- ledger, so that a report's time grows with the households and slices in its answer,
-- not with ledger entries. They are kept in the transaction that books the entries
-- (sqlstore insertLedger, the one writer of ledger_entries) and hold exactly the ledger's
-- sums per household ('' = unattributed), business month or day, and slice (the columns
-- the entries carry). Never deleted: a row with a zero sum says that entries exist.
-- delivered_fen / refunded_fen are the sums of the entries whose source is delivered /
-- refunded (refunds are negative). `aidmall rollups verify` recomputes them from the ledger.
CREATE TABLE ledger_month_rollups (
    month          TEXT NOT NULL,
    household_no   TEXT NOT NULL,
    funding        TEXT NOT NULL,
    county_code    TEXT NOT NULL,
    category       TEXT NOT NULL,
    sku            TEXT NOT NULL,
    supplier_code  TEXT NOT NULL,
    branch_code    TEXT NOT NULL,
    mall           TEXT NOT NULL,
    amount_fen     BIGINT NOT NULL,
    delivered_fen  BIGINT NOT NULL,
    refunded_fen   BIGINT NOT NULL,
    PRIMARY KEY (month, household_no, funding, county_code, category, sku, supplier_code, branch_code, mall)
);
CREATE TABLE ledger_day_rollups (
    business_day   TEXT NOT NULL,
    household_no   TEXT NOT NULL,
    funding        TEXT NOT NULL,
    county_code    TEXT NOT NULL,
    category       TEXT NOT NULL,
    sku            TEXT NOT NULL,
    supplier_code  TEXT NOT NULL,
    branch_code    TEXT NOT NULL,
    mall           TEXT NOT NULL,
    amount_fen     BIGINT NOT NULL,
    delivered_fen  BIGINT NOT NULL,
    refunded_fen   BIGINT NOT NULL,
    PRIMARY KEY (business_day, household_no, funding, county_code, category, sku, supplier_code, branch_code, mall)
);

-- Net units (reports.Figures.NetUnits) of the events that moved money: applied deliveries
-- (+quantity) and refunds (-quantity) on a line the order has, per business month or day
-- of the event, SKU and order slice; events counts them (a row whose events fell back to
-- 0, every one of them held again, is no row of a report). The SKU's category, supplier
-- and county are joined from the catalogue at report time, as they always were.
CREATE TABLE unit_month_rollups (
    month        TEXT NOT NULL,
    sku          TEXT NOT NULL,
    funding      TEXT NOT NULL,
    branch_code  TEXT NOT NULL,
    mall         TEXT NOT NULL,
    units        BIGINT NOT NULL,
    events       BIGINT NOT NULL,
    PRIMARY KEY (month, sku, funding, branch_code, mall)
);
CREATE TABLE unit_day_rollups (
    business_day TEXT NOT NULL,
    sku          TEXT NOT NULL,
    funding      TEXT NOT NULL,
    branch_code  TEXT NOT NULL,
    mall         TEXT NOT NULL,
    units        BIGINT NOT NULL,
    events       BIGINT NOT NULL,
    PRIMARY KEY (business_day, sku, funding, branch_code, mall)
);

-- Backfill from what is stored.
INSERT INTO ledger_month_rollups SELECT substr(business_day, 1, 7), COALESCE(household_no, ''), funding, county_code, category,
    sku, supplier_code, branch_code, mall, SUM(amount_fen),
    SUM(CASE WHEN source = 'delivered' THEN amount_fen ELSE 0 END), SUM(CASE WHEN source = 'refunded' THEN amount_fen ELSE 0 END)
    FROM ledger_entries GROUP BY substr(business_day, 1, 7), COALESCE(household_no, ''), funding, county_code, category, sku,
    supplier_code, branch_code, mall;
INSERT INTO ledger_day_rollups SELECT business_day, COALESCE(household_no, ''), funding, county_code, category,
    sku, supplier_code, branch_code, mall, SUM(amount_fen),
    SUM(CASE WHEN source = 'delivered' THEN amount_fen ELSE 0 END), SUM(CASE WHEN source = 'refunded' THEN amount_fen ELSE 0 END)
    FROM ledger_entries GROUP BY business_day, COALESCE(household_no, ''), funding, county_code, category, sku,
    supplier_code, branch_code, mall;
INSERT INTO unit_month_rollups SELECT substr(e.business_day, 1, 7), l.sku, o.funding, o.branch_code, o.mall,
    SUM(CASE WHEN e.type = 'delivered' THEN e.quantity ELSE -e.quantity END), COUNT(*)
    FROM fulfilment_events e JOIN order_lines l ON l.order_id = e.order_id AND l.line_no = e.line_no
    JOIN group_orders o ON o.id = e.order_id
    WHERE e.state = 'applied' AND e.type IN ('delivered', 'refunded')
    GROUP BY substr(e.business_day, 1, 7), l.sku, o.funding, o.branch_code, o.mall;
INSERT INTO unit_day_rollups SELECT e.business_day, l.sku, o.funding, o.branch_code, o.mall,
    SUM(CASE WHEN e.type = 'delivered' THEN e.quantity ELSE -e.quantity END), COUNT(*)
    FROM fulfilment_events e JOIN order_lines l ON l.order_id = e.order_id AND l.line_no = e.line_no
    JOIN group_orders o ON o.id = e.order_id
    WHERE e.state = 'applied' AND e.type IN ('delivered', 'refunded')
    GROUP BY e.business_day, l.sku, o.funding, o.branch_code, o.mall;

-- +goose Down
DROP TABLE unit_day_rollups;
DROP TABLE unit_month_rollups;
DROP TABLE ledger_day_rollups;
DROP TABLE ledger_month_rollups;
