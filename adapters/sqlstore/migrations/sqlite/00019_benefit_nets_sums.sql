-- +goose Up
-- The households' nets carry the ledger rollups' four sums and the unattributed part
-- (household_no '') too (issue 10; sqlstore benefit.go): they are then the rollups of
-- every single dimension by year and month, and the rollups keep the slice set alone
-- (migration 00020 fills these and empties the other sets). Keyed by dimension first, so
-- that a report over a range of months reads its dimension's rows only; WITHOUT ROWID:
-- the key is the table, one b-tree less to write per net.
CREATE TABLE benefit_nets_new (
    period         TEXT NOT NULL,
    dim            TEXT NOT NULL,
    slice          TEXT NOT NULL,
    household_no   TEXT NOT NULL,
    net_fen        BIGINT NOT NULL,
    union_fen      BIGINT NOT NULL,
    delivered_fen  BIGINT NOT NULL,
    refunded_fen   BIGINT NOT NULL,
    PRIMARY KEY (dim, period, slice, household_no)
) WITHOUT ROWID;
DROP TABLE benefit_nets;
ALTER TABLE benefit_nets_new RENAME TO benefit_nets;
CREATE INDEX benefit_nets_household ON benefit_nets (household_no);

-- +goose Down
CREATE TABLE benefit_nets_old (
    period         TEXT NOT NULL,
    dim            TEXT NOT NULL,
    slice          TEXT NOT NULL,
    household_no   TEXT NOT NULL,
    net_fen        BIGINT NOT NULL,
    PRIMARY KEY (period, dim, slice, household_no)
);
INSERT INTO benefit_nets_old SELECT period, dim, slice, household_no, net_fen FROM benefit_nets WHERE household_no <> '';
DROP TABLE benefit_nets;
ALTER TABLE benefit_nets_old RENAME TO benefit_nets;
CREATE INDEX benefit_nets_household ON benefit_nets (household_no);
