-- +goose Up
-- A product's listing at each mall (item id and price), keyed by mall code, instead of a
-- pair of columns per mall: a new mall adds rows, not columns. Which codes are malls is
-- the service's registry of drivers, checked on import (no CHECK on mall here).
CREATE TABLE product_listings (
    sku        TEXT NOT NULL REFERENCES products (sku),
    mall       TEXT NOT NULL,
    item_id    TEXT NOT NULL CHECK (item_id <> ''),
    price_fen  BIGINT NOT NULL CHECK (price_fen > 0),
    PRIMARY KEY (sku, mall)
);

-- A mall listed the SKU when both its item id and price were set (households.Product.Listing).
INSERT INTO product_listings (sku, mall, item_id, price_fen)
    SELECT sku, 'ccb', ccb_item_id, ccb_price_fen FROM products WHERE ccb_item_id <> '' AND ccb_price_fen > 0;
INSERT INTO product_listings (sku, mall, item_id, price_fen)
    SELECT sku, 'abc', abc_item_id, abc_price_fen FROM products WHERE abc_item_id <> '' AND abc_price_fen > 0;

ALTER TABLE products DROP COLUMN ccb_item_id;
ALTER TABLE products DROP COLUMN ccb_price_fen;
ALTER TABLE products DROP COLUMN abc_item_id;
ALTER TABLE products DROP COLUMN abc_price_fen;

-- +goose Down
ALTER TABLE products ADD COLUMN ccb_item_id TEXT NOT NULL DEFAULT '';
ALTER TABLE products ADD COLUMN ccb_price_fen BIGINT NOT NULL DEFAULT 0 CHECK (ccb_price_fen >= 0);
ALTER TABLE products ADD COLUMN abc_item_id TEXT NOT NULL DEFAULT '';
ALTER TABLE products ADD COLUMN abc_price_fen BIGINT NOT NULL DEFAULT 0 CHECK (abc_price_fen >= 0);
UPDATE products SET
    ccb_item_id = COALESCE((SELECT item_id FROM product_listings l WHERE l.sku = products.sku AND l.mall = 'ccb'), ''),
    ccb_price_fen = COALESCE((SELECT price_fen FROM product_listings l WHERE l.sku = products.sku AND l.mall = 'ccb'), 0),
    abc_item_id = COALESCE((SELECT item_id FROM product_listings l WHERE l.sku = products.sku AND l.mall = 'abc'), ''),
    abc_price_fen = COALESCE((SELECT price_fen FROM product_listings l WHERE l.sku = products.sku AND l.mall = 'abc'), 0);
DROP TABLE product_listings;
