-- Nothing that runs on a timer or per request scans a whole table: indexes for retention, anti-entropy and
-- health. Unlike SQLite, queue depths are not counters kept by triggers (one row every writer would update:
-- a hot row when many processes share the database); `backlog` counts the queues through their indexes.

-- Retention: delivered events by age, finished full syncs by end.
CREATE INDEX events_by_age ON events (received_ms);
CREATE INDEX full_syncs_by_state ON full_syncs (state, finished_ms);

-- Health: assets by status (counts of waiting and failed ones, the oldest waiting one).
CREATE INDEX assets_by_status ON assets (status, waiting_since_ms);

-- Anti-entropy: the assets read longest ago first.
CREATE INDEX assets_by_processing ON assets ((COALESCE(processing_ms, 0)), asset_id);

-- Retention of statuses: since when an asset has no link (NULL while it has one).
ALTER TABLE assets ADD COLUMN unlinked_ms BIGINT;
UPDATE assets SET unlinked_ms = COALESCE(dispatched_ms, processing_ms, 0)
 WHERE NOT EXISTS (SELECT 1 FROM claims c WHERE c.asset_id = assets.asset_id);
CREATE INDEX assets_unlinked ON assets (unlinked_ms) WHERE unlinked_ms IS NOT NULL;

-- Progress: the oldest queued gallery.
CREATE INDEX sku_work_first ON sku_work (first_enqueued_ms);

-- Health: how much SKU work a full sync queued (the live work is most of the queue).
CREATE INDEX sku_work_bulk ON sku_work (priority) WHERE priority > 0;
