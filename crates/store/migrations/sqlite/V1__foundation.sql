-- Every time is Unix milliseconds (INTEGER); every structured value is JSON text.

-- Verified deliveries, one row per event id (deduplication).
CREATE TABLE events (
    event_id    TEXT PRIMARY KEY,
    event_type  TEXT NOT NULL,
    asset_id    TEXT,
    received_ms INTEGER NOT NULL
);

-- Assets to re-read from the DAM: one row per asset, coalescing every hint that arrives before it is read.
CREATE TABLE asset_work (
    asset_id       TEXT PRIMARY KEY,
    generation     INTEGER NOT NULL,
    deleted        INTEGER NOT NULL DEFAULT 0,
    run_at_ms      INTEGER NOT NULL,
    attempt        INTEGER NOT NULL DEFAULT 0,
    lease_until_ms INTEGER,
    missing_once   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX asset_work_due ON asset_work (run_at_ms);

-- Per-asset sync status (reference §9.2).
CREATE TABLE assets (
    asset_id         TEXT PRIMARY KEY,
    status           TEXT NOT NULL,
    waiting_since_ms INTEGER,
    processing_ms    INTEGER,
    dispatched_ms    INTEGER,
    eligible         INTEGER NOT NULL DEFAULT 0,
    warnings         TEXT NOT NULL DEFAULT '[]',
    last_error       TEXT,
    failure_kind     TEXT,
    last_latency_ms  INTEGER
);

-- Desired links of eligible assets; doubles as the inverted index SKU -> assets.
CREATE TABLE claims (
    sku      TEXT NOT NULL,
    asset_id TEXT NOT NULL,
    link     TEXT NOT NULL,
    PRIMARY KEY (sku, asset_id)
);
CREATE INDEX claims_by_asset ON claims (asset_id);

-- The built-in catalog's products.
CREATE TABLE products (
    sku        TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL
);

-- What is applied on the commerce side, per (SKU, asset).
CREATE TABLE gallery (
    sku      TEXT NOT NULL,
    asset_id TEXT NOT NULL,
    entry    TEXT NOT NULL,
    PRIMARY KEY (sku, asset_id)
);
CREATE INDEX gallery_by_asset ON gallery (asset_id);

-- SKUs whose gallery must be brought to the desired state: one row per SKU, so one write at a time per SKU.
CREATE TABLE sku_work (
    sku               TEXT PRIMARY KEY,
    generation        INTEGER NOT NULL,
    run_at_ms         INTEGER NOT NULL,
    attempt           INTEGER NOT NULL DEFAULT 0,
    lease_until_ms    INTEGER,
    first_enqueued_ms INTEGER NOT NULL,
    last_error        TEXT
);
CREATE INDEX sku_work_due ON sku_work (run_at_ms);

-- Which asset waits on which SKU's work (the asset is Success once none remain).
CREATE TABLE asset_pending (
    asset_id   TEXT NOT NULL,
    sku        TEXT NOT NULL,
    generation INTEGER NOT NULL,
    PRIMARY KEY (asset_id, sku)
);
CREATE INDEX asset_pending_by_sku ON asset_pending (sku);

-- SKUs referenced by assets but absent from the catalog: filled when the product appears.
CREATE TABLE missing_products (
    sku      TEXT PRIMARY KEY,
    since_ms INTEGER NOT NULL
);

-- Named counters (events of unused types, ...).
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
