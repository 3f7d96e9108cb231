-- +goose Up
-- The seal key each household's sealed values and hashes are under (seal.Sealer.KeyName):
-- '' for rows sealed before values were bound to their row (associated data: the key id
-- alone), which `aidmall keys rotate` seals again, bound, under the new key. The rotation
-- finds the rows still to do by this column, so it can be killed and run again.
ALTER TABLE households ADD COLUMN seal_key TEXT NOT NULL DEFAULT '';
CREATE INDEX households_seal_key ON households (seal_key);

-- +goose Down
DROP INDEX households_seal_key;
ALTER TABLE households DROP COLUMN seal_key;
