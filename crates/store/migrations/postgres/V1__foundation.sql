-- The PostgreSQL dialect of migrations/sqlite/V1__foundation.sql (same tables, same versions).
-- Every time is Unix milliseconds (BIGINT); every structured value is JSON text. Keys (SKUs, asset and event ids)
-- compare byte by byte (COLLATE "C"), as in SQLite, whatever the database's collation.

-- Verified deliveries, one row per event id (deduplication).
CREATE TABLE events (
    event_id    TEXT COLLATE "C" PRIMARY KEY,
    event_type  TEXT NOT NULL,
    asset_id    TEXT COLLATE "C",
    received_ms BIGINT NOT NULL
);

-- Assets to re-read from the DAM: one row per asset, coalescing every hint that arrives before it is read.
CREATE TABLE asset_work (
    asset_id       TEXT COLLATE "C" PRIMARY KEY,
    generation     BIGINT NOT NULL,
    deleted        BOOLEAN NOT NULL DEFAULT FALSE,
    run_at_ms      BIGINT NOT NULL,
    attempt        BIGINT NOT NULL DEFAULT 0,
    lease_until_ms BIGINT,
    missing_once   BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX asset_work_due ON asset_work (run_at_ms);

-- Per-asset sync status (reference §9.2).
CREATE TABLE assets (
    asset_id         TEXT COLLATE "C" PRIMARY KEY,
    status           TEXT NOT NULL,
    waiting_since_ms BIGINT,
    processing_ms    BIGINT,
    dispatched_ms    BIGINT,
    eligible         BOOLEAN NOT NULL DEFAULT FALSE,
    warnings         TEXT NOT NULL DEFAULT '[]',
    last_error       TEXT,
    failure_kind     TEXT,
    last_latency_ms  BIGINT
);

-- Desired links of eligible assets; doubles as the inverted index SKU -> assets.
CREATE TABLE claims (
    sku      TEXT COLLATE "C" NOT NULL,
    asset_id TEXT COLLATE "C" NOT NULL,
    link     TEXT NOT NULL,
    PRIMARY KEY (sku, asset_id)
);
CREATE INDEX claims_by_asset ON claims (asset_id);

-- The built-in catalog's products.
CREATE TABLE products (
    sku        TEXT COLLATE "C" PRIMARY KEY,
    created_ms BIGINT NOT NULL
);

-- What is applied on the commerce side, per (SKU, asset).
CREATE TABLE gallery (
    sku      TEXT COLLATE "C" NOT NULL,
    asset_id TEXT COLLATE "C" NOT NULL,
    entry    TEXT NOT NULL,
    PRIMARY KEY (sku, asset_id)
);
CREATE INDEX gallery_by_asset ON gallery (asset_id);

-- SKUs whose gallery must be brought to the desired state: one row per SKU, so one write at a time per SKU.
CREATE TABLE sku_work (
    sku               TEXT COLLATE "C" PRIMARY KEY,
    generation        BIGINT NOT NULL,
    run_at_ms         BIGINT NOT NULL,
    attempt           BIGINT NOT NULL DEFAULT 0,
    lease_until_ms    BIGINT,
    first_enqueued_ms BIGINT NOT NULL,
    last_error        TEXT
);
CREATE INDEX sku_work_due ON sku_work (run_at_ms);

-- Which asset waits on which SKU's work (the asset is Success once none remain).
CREATE TABLE asset_pending (
    asset_id   TEXT COLLATE "C" NOT NULL,
    sku        TEXT COLLATE "C" NOT NULL,
    generation BIGINT NOT NULL,
    PRIMARY KEY (asset_id, sku)
);
CREATE INDEX asset_pending_by_sku ON asset_pending (sku);

-- SKUs referenced by assets but absent from the catalog: filled when the product appears.
CREATE TABLE missing_products (
    sku      TEXT COLLATE "C" PRIMARY KEY,
    since_ms BIGINT NOT NULL
);

-- Named counters (events of unused types, ...).
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
