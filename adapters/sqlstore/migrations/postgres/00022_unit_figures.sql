-- +goose Up
-- The unit figures (issue 10): the net units (delivered − refunded) and the count of the
-- events that moved money, per business year (YYYY) or month (YYYY-MM) and slice: dim is
-- the column the slice keys by ('' for all: the totals; county_code, category and
-- supplier_code from the catalogue as it stands, as the unit rollups are read) and slice
-- its value. A breakdown of whole years or months by one dimension, or by one and the
-- month, reads its units here: one row per slice of its answer, where the unit rollups
-- have one per SKU, funding, branch and mall. Kept with the unit rollups (addUnits),
-- made again from them when the catalogue changes (sqlstore unitfigures.go); migration
-- 00023 fills them.
CREATE TABLE unit_figures (
    dim     TEXT NOT NULL,
    period  TEXT NOT NULL,
    slice   TEXT NOT NULL,
    units   BIGINT NOT NULL,
    events  BIGINT NOT NULL,
    PRIMARY KEY (dim, period, slice)
);

-- +goose Down
DROP TABLE unit_figures;
