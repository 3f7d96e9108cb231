-- +goose Up
-- Rollups of the attribution ledger (issue 10): every report reads these instead of the
-- ledger, so that a report's time grows with the households and slices in its answer,
-- not with ledger entries. They are kept in the transaction that books the entries
-- (sqlstore insertLedger, the one writer of ledger_entries) and hold exactly the ledger's
-- sums per household ('' = unattributed), business month (ledger_rollups) or day
-- (ledger_day_rollups, for the days of a report's range that cut a month) and grouping
-- set grp, whose keys k1..k7 are ledger columns ('' past the set's own):
--   all      no key: totals, the month breakdown, the households report
--   product  sku, category, supplier_code, county_code (a SKU has one of each)
--   branch   branch_code;  funding  funding;  mall  mall
--   slice    funding, county_code, category, sku, supplier_code, branch_code, mall: the
--            pairs of dimensions no smaller set covers (e.g. county × branch)
-- Sums: amount_fen (net), union_fen (of union_funds orders), delivered_fen / refunded_fen
-- (entries whose source is delivered / refunded; refunds are negative). Never deleted: a
-- row with a zero sum says that entries exist. `aidmall rollups verify` recomputes them.
CREATE TABLE ledger_rollups (
    grp            TEXT NOT NULL,
    month          TEXT NOT NULL,
    k1             TEXT NOT NULL,
    k2             TEXT NOT NULL,
    k3             TEXT NOT NULL,
    k4             TEXT NOT NULL,
    k5             TEXT NOT NULL,
    k6             TEXT NOT NULL,
    k7             TEXT NOT NULL,
    household_no   TEXT NOT NULL,
    amount_fen     BIGINT NOT NULL,
    union_fen      BIGINT NOT NULL,
    delivered_fen  BIGINT NOT NULL,
    refunded_fen   BIGINT NOT NULL,
    PRIMARY KEY (grp, month, k1, k2, k3, k4, k5, k6, k7, household_no)
);
CREATE TABLE ledger_day_rollups (
    grp            TEXT NOT NULL,
    business_day   TEXT NOT NULL,
    k1             TEXT NOT NULL,
    k2             TEXT NOT NULL,
    k3             TEXT NOT NULL,
    k4             TEXT NOT NULL,
    k5             TEXT NOT NULL,
    k6             TEXT NOT NULL,
    k7             TEXT NOT NULL,
    household_no   TEXT NOT NULL,
    amount_fen     BIGINT NOT NULL,
    union_fen      BIGINT NOT NULL,
    delivered_fen  BIGINT NOT NULL,
    refunded_fen   BIGINT NOT NULL,
    PRIMARY KEY (grp, business_day, k1, k2, k3, k4, k5, k6, k7, household_no)
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
INSERT INTO ledger_rollups SELECT 'all', substr(business_day, 1, 7), '', '', '', '', '', '', '', COALESCE(household_no, ''),
    SUM(amount_fen), SUM(CASE WHEN funding = 'union_funds' THEN amount_fen ELSE 0 END),
    SUM(CASE WHEN source = 'delivered' THEN amount_fen ELSE 0 END), SUM(CASE WHEN source = 'refunded' THEN amount_fen ELSE 0 END)
    FROM ledger_entries GROUP BY substr(business_day, 1, 7), COALESCE(household_no, '');
INSERT INTO ledger_rollups SELECT 'product', substr(business_day, 1, 7), sku, category, supplier_code, county_code, '', '', '', COALESCE(household_no, ''),
    SUM(amount_fen), SUM(CASE WHEN funding = 'union_funds' THEN amount_fen ELSE 0 END),
    SUM(CASE WHEN source = 'delivered' THEN amount_fen ELSE 0 END), SUM(CASE WHEN source = 'refunded' THEN amount_fen ELSE 0 END)
    FROM ledger_entries GROUP BY substr(business_day, 1, 7), sku, category, supplier_code, county_code, COALESCE(household_no, '');
INSERT INTO ledger_rollups SELECT 'branch', substr(business_day, 1, 7), branch_code, '', '', '', '', '', '', COALESCE(household_no, ''),
    SUM(amount_fen), SUM(CASE WHEN funding = 'union_funds' THEN amount_fen ELSE 0 END),
    SUM(CASE WHEN source = 'delivered' THEN amount_fen ELSE 0 END), SUM(CASE WHEN source = 'refunded' THEN amount_fen ELSE 0 END)
    FROM ledger_entries GROUP BY substr(business_day, 1, 7), branch_code, COALESCE(household_no, '');
INSERT INTO ledger_rollups SELECT 'funding', substr(business_day, 1, 7), funding, '', '', '', '', '', '', COALESCE(household_no, ''),
    SUM(amount_fen), SUM(CASE WHEN funding = 'union_funds' THEN amount_fen ELSE 0 END),
    SUM(CASE WHEN source = 'delivered' THEN amount_fen ELSE 0 END), SUM(CASE WHEN source = 'refunded' THEN amount_fen ELSE 0 END)
    FROM ledger_entries GROUP BY substr(business_day, 1, 7), funding, COALESCE(household_no, '');
INSERT INTO ledger_rollups SELECT 'mall', substr(business_day, 1, 7), mall, '', '', '', '', '', '', COALESCE(household_no, ''),
    SUM(amount_fen), SUM(CASE WHEN funding = 'union_funds' THEN amount_fen ELSE 0 END),
    SUM(CASE WHEN source = 'delivered' THEN amount_fen ELSE 0 END), SUM(CASE WHEN source = 'refunded' THEN amount_fen ELSE 0 END)
    FROM ledger_entries GROUP BY substr(business_day, 1, 7), mall, COALESCE(household_no, '');
INSERT INTO ledger_rollups SELECT 'slice', substr(business_day, 1, 7), funding, county_code, category, sku, supplier_code, branch_code, mall, COALESCE(household_no, ''),
    SUM(amount_fen), SUM(CASE WHEN funding = 'union_funds' THEN amount_fen ELSE 0 END),
    SUM(CASE WHEN source = 'delivered' THEN amount_fen ELSE 0 END), SUM(CASE WHEN source = 'refunded' THEN amount_fen ELSE 0 END)
    FROM ledger_entries GROUP BY substr(business_day, 1, 7), funding, county_code, category, sku, supplier_code, branch_code, mall, COALESCE(household_no, '');
INSERT INTO ledger_day_rollups SELECT 'all', business_day, '', '', '', '', '', '', '', COALESCE(household_no, ''),
    SUM(amount_fen), SUM(CASE WHEN funding = 'union_funds' THEN amount_fen ELSE 0 END),
    SUM(CASE WHEN source = 'delivered' THEN amount_fen ELSE 0 END), SUM(CASE WHEN source = 'refunded' THEN amount_fen ELSE 0 END)
    FROM ledger_entries GROUP BY business_day, COALESCE(household_no, '');
INSERT INTO ledger_day_rollups SELECT 'product', business_day, sku, category, supplier_code, county_code, '', '', '', COALESCE(household_no, ''),
    SUM(amount_fen), SUM(CASE WHEN funding = 'union_funds' THEN amount_fen ELSE 0 END),
    SUM(CASE WHEN source = 'delivered' THEN amount_fen ELSE 0 END), SUM(CASE WHEN source = 'refunded' THEN amount_fen ELSE 0 END)
    FROM ledger_entries GROUP BY business_day, sku, category, supplier_code, county_code, COALESCE(household_no, '');
INSERT INTO ledger_day_rollups SELECT 'branch', business_day, branch_code, '', '', '', '', '', '', COALESCE(household_no, ''),
    SUM(amount_fen), SUM(CASE WHEN funding = 'union_funds' THEN amount_fen ELSE 0 END),
    SUM(CASE WHEN source = 'delivered' THEN amount_fen ELSE 0 END), SUM(CASE WHEN source = 'refunded' THEN amount_fen ELSE 0 END)
    FROM ledger_entries GROUP BY business_day, branch_code, COALESCE(household_no, '');
INSERT INTO ledger_day_rollups SELECT 'funding', business_day, funding, '', '', '', '', '', '', COALESCE(household_no, ''),
    SUM(amount_fen), SUM(CASE WHEN funding = 'union_funds' THEN amount_fen ELSE 0 END),
    SUM(CASE WHEN source = 'delivered' THEN amount_fen ELSE 0 END), SUM(CASE WHEN source = 'refunded' THEN amount_fen ELSE 0 END)
    FROM ledger_entries GROUP BY business_day, funding, COALESCE(household_no, '');
INSERT INTO ledger_day_rollups SELECT 'mall', business_day, mall, '', '', '', '', '', '', COALESCE(household_no, ''),
    SUM(amount_fen), SUM(CASE WHEN funding = 'union_funds' THEN amount_fen ELSE 0 END),
    SUM(CASE WHEN source = 'delivered' THEN amount_fen ELSE 0 END), SUM(CASE WHEN source = 'refunded' THEN amount_fen ELSE 0 END)
    FROM ledger_entries GROUP BY business_day, mall, COALESCE(household_no, '');
INSERT INTO ledger_day_rollups SELECT 'slice', business_day, funding, county_code, category, sku, supplier_code, branch_code, mall, COALESCE(household_no, ''),
    SUM(amount_fen), SUM(CASE WHEN funding = 'union_funds' THEN amount_fen ELSE 0 END),
    SUM(CASE WHEN source = 'delivered' THEN amount_fen ELSE 0 END), SUM(CASE WHEN source = 'refunded' THEN amount_fen ELSE 0 END)
    FROM ledger_entries GROUP BY business_day, funding, county_code, category, sku, supplier_code, branch_code, mall, COALESCE(household_no, '');
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
DROP TABLE ledger_rollups;
