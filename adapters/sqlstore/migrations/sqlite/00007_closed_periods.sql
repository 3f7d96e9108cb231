-- +goose Up
-- Closed periods (ATTRIBUTION.md §5). A closed period is a calendar month or year, Beijing
-- time, recorded with who closed it, when and why; reopening keeps the row (reopened_at).
CREATE TABLE closed_periods (
    id             INTEGER PRIMARY KEY,
    period         TEXT NOT NULL,
    first_day      TEXT NOT NULL,
    last_day       TEXT NOT NULL,
    closed_at      TIMESTAMP NOT NULL,
    closed_by      TEXT NOT NULL,
    reason         TEXT NOT NULL,
    reopened_at    TIMESTAMP,
    reopened_by    TEXT NOT NULL DEFAULT '',
    reopen_reason  TEXT NOT NULL DEFAULT ''
);

-- Member counts (家庭人口数) as registered when a period was closed (§5.3).
CREATE TABLE closed_period_members (
    period_id     BIGINT NOT NULL REFERENCES closed_periods (id),
    household_no  TEXT NOT NULL,
    members       INTEGER NOT NULL,
    PRIMARY KEY (period_id, household_no)
);

-- One row that every ledger writer reads under a shared lock and closing or reopening
-- takes exclusively (PostgreSQL), so that no entry is booked on a day as it is closed.
CREATE TABLE ledger_period_lock (
    id  INTEGER PRIMARY KEY
);
INSERT INTO ledger_period_lock (id) VALUES (1);

-- An adjustment (§5.2) is booked on the adjustment day and concerns the day of its event;
-- concerns_day is '' for every other entry (it concerns its own business_day).
ALTER TABLE ledger_entries ADD COLUMN concerns_day TEXT NOT NULL DEFAULT '';
ALTER TABLE ledger_entries ADD COLUMN adjustment BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX ledger_entries_concerns ON ledger_entries (concerns_day);

-- +goose Down
DROP INDEX ledger_entries_concerns;
ALTER TABLE ledger_entries DROP COLUMN adjustment;
ALTER TABLE ledger_entries DROP COLUMN concerns_day;
DROP TABLE ledger_period_lock;
DROP TABLE closed_period_members;
DROP TABLE closed_periods;
