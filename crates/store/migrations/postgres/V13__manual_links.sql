-- Assets a person linked to a product by hand (gallery entries with source "manual"): no automatic sync, full
-- sync, repair or owner switch changes or removes them; only their removal by hand does.
CREATE TABLE manual_links (
    sku       TEXT COLLATE "C" NOT NULL,
    asset_id  TEXT COLLATE "C" NOT NULL,
    -- The link (a DesiredLink, JSON): the person's roles and position, the asset's facts read when linked.
    link      TEXT NOT NULL,
    linked_ms BIGINT NOT NULL,
    PRIMARY KEY (sku, asset_id)
);
CREATE INDEX manual_links_by_asset ON manual_links (asset_id);
