-- +goose Up
-- The ledger rollups' year grain (issue 10): the sums of ledger_rollups (00013) per
-- business year, same sets and keys, so that a report over whole calendar years reads one
-- row per household and slice instead of one per month. Kept in the same transaction as
-- the month and day rollups (sqlstore addRollups); a report's range is cut into whole
-- years (this table), whole months (ledger_rollups) and days (ledger_day_rollups).
CREATE TABLE ledger_year_rollups (
    grp            TEXT NOT NULL,
    year           TEXT NOT NULL,
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
    PRIMARY KEY (grp, year, k1, k2, k3, k4, k5, k6, k7, household_no)
);

-- Backfill from the month rollups, which hold exactly the ledger's sums.
INSERT INTO ledger_year_rollups SELECT grp, substr(month, 1, 4), k1, k2, k3, k4, k5, k6, k7, household_no,
    SUM(amount_fen), SUM(union_fen), SUM(delivered_fen), SUM(refunded_fen)
    FROM ledger_rollups GROUP BY grp, substr(month, 1, 4), k1, k2, k3, k4, k5, k6, k7, household_no;

-- +goose Down
DROP TABLE ledger_year_rollups;
