-- Entries made by hand in the commerce platform that assetsync hid for the visualization owner: their state
-- before the first change, so that switching the owner back restores them exactly.
CREATE TABLE handmade_entries (
    sku            TEXT COLLATE "C" NOT NULL,
    entry_id       TEXT COLLATE "C" NOT NULL,
    prior_disabled BOOLEAN NOT NULL,
    prior_roles    TEXT NOT NULL,
    PRIMARY KEY (sku, entry_id)
);
