-- +goose Up
-- The households' nets carry the ledger rollups' four sums and the unattributed part
-- (household_no '') too (issue 10; sqlstore benefit.go): they are then the rollups of
-- every single dimension by year and month, and the rollups keep the slice set alone
-- (migration 00020 fills these and empties the other sets). Keyed by dimension first, so
-- that a report over a range of months reads its dimension's rows only.
ALTER TABLE benefit_nets ADD COLUMN union_fen BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN delivered_fen BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN refunded_fen BIGINT NOT NULL DEFAULT 0;
ALTER TABLE benefit_nets DROP CONSTRAINT benefit_nets_pkey;
ALTER TABLE benefit_nets ADD PRIMARY KEY (dim, period, slice, household_no);

-- +goose Down
DELETE FROM benefit_nets WHERE household_no = '';
ALTER TABLE benefit_nets DROP CONSTRAINT benefit_nets_pkey;
ALTER TABLE benefit_nets ADD PRIMARY KEY (period, dim, slice, household_no);
ALTER TABLE benefit_nets DROP COLUMN union_fen, DROP COLUMN delivered_fen, DROP COLUMN refunded_fen;
