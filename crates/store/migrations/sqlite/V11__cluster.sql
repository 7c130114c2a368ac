-- What one process changes and another must see (issue 11: every process current).

-- The gallery change feed: one row per product whose served gallery changed, with the position of its last
-- change. `served` = 0: the read API answers 404 for it (removed, or found missing); 1: it serves the
-- product's applied gallery. SQLite has one writer, so `seq` (MAX + 1) is in commit order: a poll of
-- `seq > last` is exact.
CREATE TABLE gallery_feed (
    sku    TEXT PRIMARY KEY,
    served INTEGER NOT NULL,
    seq    INTEGER NOT NULL
);
CREATE INDEX gallery_feed_by_seq ON gallery_feed (seq);

-- What each running process last reported of itself (latency histograms, work in flight), upserted every
-- second or two; the reports merge the rows of processes seen lately.
CREATE TABLE process_reports (
    process_id TEXT PRIMARY KEY,
    updated_ms INTEGER NOT NULL,
    report     TEXT NOT NULL
);
CREATE INDEX process_reports_by_update ON process_reports (updated_ms);
