-- +goose Up
-- The audit log (package audit): append-only, each entry carrying the hash of the one
-- before. at is text in audit.TimeLayout (UTC, microseconds, fixed width) so that every
-- database keeps exactly what was hashed; before/after are JSON text, never re-encoded.
CREATE TABLE audit_log (
    seq          BIGINT PRIMARY KEY,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    role         TEXT NOT NULL,
    action       TEXT NOT NULL,
    object       TEXT NOT NULL,
    before_json  TEXT NOT NULL,
    after_json   TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_object ON audit_log (object, seq);
-- The head of the chain, one row: appends lock it (FOR UPDATE on PostgreSQL) so that
-- concurrent writers take turns and never fork the chain.
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   BIGINT NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');

-- Review decisions (package review): an item resolved (dismissed or re-read) with a note.
CREATE TABLE review_resolutions (
    item         TEXT PRIMARY KEY,
    outcome      TEXT NOT NULL,
    note         TEXT NOT NULL,
    actor        TEXT NOT NULL,
    resolved_at  TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE review_resolutions;
DROP TABLE audit_head;
DROP TABLE audit_log;
