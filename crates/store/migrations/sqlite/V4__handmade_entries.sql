-- Entries made by hand in the commerce platform that assetsync hid for the visualization owner: their state
-- before the first change, so that switching the owner back restores them exactly.
CREATE TABLE handmade_entries (
    sku            TEXT NOT NULL,
    entry_id       TEXT NOT NULL,
    prior_disabled INTEGER NOT NULL,
    prior_roles    TEXT NOT NULL,
    PRIMARY KEY (sku, entry_id)
);
