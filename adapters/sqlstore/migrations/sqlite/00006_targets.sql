-- +goose Up
-- The group's yearly targets of the responsibility letter (定点帮扶责任书): purchased (购买)
-- and helped-to-sell (帮助销售) amounts in fen, set by the aid office.
CREATE TABLE targets (
    year             INTEGER PRIMARY KEY,
    purchased_fen    BIGINT NOT NULL CHECK (purchased_fen >= 0),
    helped_sell_fen  BIGINT NOT NULL CHECK (helped_sell_fen >= 0),
    set_by           TEXT NOT NULL,
    set_at           TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE targets;
