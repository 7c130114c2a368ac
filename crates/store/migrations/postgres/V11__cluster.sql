-- The PostgreSQL dialect of migrations/sqlite/V10__cluster.sql: what one process changes and another must see.

-- The gallery change feed: one row per product whose served gallery changed. `served` FALSE: the read API
-- answers 404 for it (removed, or found missing); TRUE: it serves the product's applied gallery. `xid` is
-- the 64-bit id of the transaction that changed it last (`pg_current_xact_id()`), not a sequence: sequence
-- values are handed out in start order, not commit order, so a poll of `seq > last` could pass a row that
-- commits later. A poll reads every row whose xid is at least the xmin of the previous poll's snapshot (see
-- `postgres/cluster.rs`).
CREATE TABLE gallery_feed (
    sku    TEXT COLLATE "C" PRIMARY KEY,
    served BOOLEAN NOT NULL,
    xid    BIGINT NOT NULL
);
CREATE INDEX gallery_feed_by_xid ON gallery_feed (xid);

-- What each running process last reported of itself (latency histograms, work in flight), upserted every
-- second or two; the reports merge the rows of processes seen lately.
CREATE TABLE process_reports (
    process_id TEXT COLLATE "C" PRIMARY KEY,
    updated_ms BIGINT NOT NULL,
    report     TEXT NOT NULL
);
CREATE INDEX process_reports_by_update ON process_reports (updated_ms);
