-- Entries the commerce platform refused (HTTP 400), per product and asset, with the platform's message. The
-- operation is not tried again while the desired entry stays the same; a change of the asset's link clears it.
CREATE TABLE refused_entries (
    sku      TEXT COLLATE "C" NOT NULL,
    asset_id TEXT COLLATE "C" NOT NULL,
    entry    TEXT NOT NULL,
    message  TEXT NOT NULL,
    at_ms    BIGINT NOT NULL,
    PRIMARY KEY (sku, asset_id)
);
CREATE INDEX refused_entries_asset ON refused_entries (asset_id);
