-- +goose Up
-- Branch budgets per year (Beijing), issue 6 item 1. The budget column of a branches file
-- is stored as the budget of the year the import names (--budget-year). The branches'
-- old budget_fen named no year and is dropped: import the branches file again with
-- --budget-year (or set budgets with aidmall budget set).
CREATE TABLE branch_budgets (
    branch_code  TEXT NOT NULL REFERENCES branches (code),
    year         INTEGER NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    budget_fen   BIGINT NOT NULL CHECK (budget_fen >= 0),
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (branch_code, year)
);
ALTER TABLE branches DROP COLUMN budget_fen;

-- When each API key was last used (written at most once a minute per key), and when its
-- secret was last rotated.
ALTER TABLE api_keys ADD COLUMN last_used_at TIMESTAMPTZ;
ALTER TABLE api_keys ADD COLUMN rotated_at TIMESTAMPTZ;

-- +goose Down
ALTER TABLE api_keys DROP COLUMN rotated_at;
ALTER TABLE api_keys DROP COLUMN last_used_at;
ALTER TABLE branches ADD COLUMN budget_fen BIGINT NOT NULL DEFAULT 0 CHECK (budget_fen >= 0);
DROP TABLE branch_budgets;
