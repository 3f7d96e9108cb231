-- +goose Up
-- PostgreSQL partitions the ledger by business month here (its 00014); SQLite has no
-- partitioning, and its one-file database needs none: nothing to do.
SELECT 1;

-- +goose Down
SELECT 1;
