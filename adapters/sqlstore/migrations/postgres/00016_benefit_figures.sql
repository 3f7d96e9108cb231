-- +goose Up
-- The benefit figures (issue 10): what a report of one whole business year or month needs,
-- kept per slice so that such a report reads one row per slice in its answer, not one per
-- household. ATTRIBUTION.md §3 counts a household in a slice when its net there is > 0,
-- so the figures are kept with the households' nets (sqlstore benefit.go):
--   benefit_nets     a household's net per period and slice (attributed entries only)
--   benefit_figures  per period and slice: the money sums (unattributed included), the
--                    households whose net there is > 0 and their members (people, as
--                    currently registered)
-- period is a business year (YYYY) or month (YYYY-MM); dim the ledger column the slice
-- keys by ('' for the whole ledger: the totals) and slice its value; dim
-- 'branch_code,funding' keys by the pair, its slice 'branch/funding'. Kept in the ledger's
-- transaction (addBenefit); migration 00017 fills them from the ledger.
CREATE TABLE benefit_nets (
    period         TEXT NOT NULL,
    dim            TEXT NOT NULL,
    slice          TEXT NOT NULL,
    household_no   TEXT NOT NULL,
    net_fen        BIGINT NOT NULL,
    PRIMARY KEY (period, dim, slice, household_no)
);
-- A household's member count changing moves the people of every slice where it counts.
CREATE INDEX benefit_nets_household ON benefit_nets (household_no);

CREATE TABLE benefit_figures (
    period            TEXT NOT NULL,
    dim               TEXT NOT NULL,
    slice             TEXT NOT NULL,
    amount_fen        BIGINT NOT NULL,
    union_fen         BIGINT NOT NULL,
    delivered_fen     BIGINT NOT NULL,
    refunded_fen      BIGINT NOT NULL,
    unattributed_fen  BIGINT NOT NULL,
    households        BIGINT NOT NULL,
    people            BIGINT NOT NULL,
    PRIMARY KEY (dim, period, slice) -- a year's months of one dimension are one range
);

-- Member counts changed and not yet carried into benefit_figures.people: written by the
-- trigger below whatever updates a household, folded (and emptied) by the registry
-- import's transaction before it commits. While a row is here reports do not read the
-- figures' people.
CREATE TABLE household_member_changes (
    id             BIGSERIAL PRIMARY KEY,
    household_no   TEXT NOT NULL,
    members_delta  BIGINT NOT NULL
);
-- +goose StatementBegin
CREATE FUNCTION household_members_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO household_member_changes (household_no, members_delta) VALUES (NEW.household_no, NEW.members - OLD.members);
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER household_members_changed AFTER UPDATE OF members ON households
FOR EACH ROW WHEN (OLD.members <> NEW.members) EXECUTE FUNCTION household_members_changed();

-- +goose Down
DROP TRIGGER household_members_changed ON households;
DROP FUNCTION household_members_changed();
DROP TABLE household_member_changes;
DROP TABLE benefit_figures;
DROP TABLE benefit_nets;
