-- +goose Up
-- People who sign in to the pages (package people), made and reset by the aid office.
-- password_hash is argon2id in PHC form; it never reaches the audit log.
CREATE TABLE people (
    id             INTEGER PRIMARY KEY,
    login          TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    role           TEXT NOT NULL,
    branch_code    TEXT REFERENCES branches (code),
    password_hash  TEXT NOT NULL,
    password_at    TIMESTAMP NOT NULL,
    disabled       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     TIMESTAMP NOT NULL,
    created_by     TEXT NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    updated_by     TEXT NOT NULL
);

-- Server-side sessions of the pages (api/web): the cookie carries a signed random id,
-- stored here only as its SHA-256; data is the session's values. Shared by every replica.
CREATE TABLE web_sessions (
    id          TEXT PRIMARY KEY,
    person_id   BIGINT REFERENCES people (id),
    data        BLOB NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    seen_at     TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL
);
CREATE INDEX web_sessions_expires_at ON web_sessions (expires_at);
CREATE INDEX web_sessions_person_id ON web_sessions (person_id);

-- +goose Down
DROP TABLE web_sessions;
DROP TABLE people;
