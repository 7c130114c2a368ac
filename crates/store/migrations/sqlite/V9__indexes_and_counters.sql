-- Nothing that runs on a timer or per request scans a whole table (checked with EXPLAIN QUERY PLAN in the
-- store's tests): indexes for retention, anti-entropy and health, and queue depths kept by triggers.

-- Retention: delivered events by age, finished full syncs by end.
CREATE INDEX events_by_age ON events (received_ms);
CREATE INDEX full_syncs_by_state ON full_syncs (state, finished_ms);

-- Health: assets by status (counts of waiting and failed ones, the oldest waiting one).
CREATE INDEX assets_by_status ON assets (status, waiting_since_ms);

-- Anti-entropy: the assets read longest ago first.
CREATE INDEX assets_by_processing ON assets (COALESCE(processing_ms, 0), asset_id);

-- Retention of statuses: since when an asset has no link (NULL while it has one).
ALTER TABLE assets ADD COLUMN unlinked_ms INTEGER;
UPDATE assets SET unlinked_ms = COALESCE(dispatched_ms, processing_ms, 0)
 WHERE NOT EXISTS (SELECT 1 FROM claims c WHERE c.asset_id = assets.asset_id);
CREATE INDEX assets_unlinked ON assets (unlinked_ms) WHERE unlinked_ms IS NOT NULL;

-- Progress: the oldest queued gallery.
CREATE INDEX sku_work_first ON sku_work (first_enqueued_ms);

-- Queue depths, kept exact in the transactions that change the queues.
INSERT INTO counters (name, value) VALUES
    ('asset_work', (SELECT COUNT(*) FROM asset_work)),
    ('sku_work', (SELECT COUNT(*) FROM sku_work)),
    ('bulk_sku_work', (SELECT COUNT(*) FROM sku_work WHERE priority > 0)),
    ('dead_letters', (SELECT COUNT(*) FROM dead_letters))
ON CONFLICT (name) DO UPDATE SET value = excluded.value;

CREATE TRIGGER asset_work_added AFTER INSERT ON asset_work BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'asset_work';
END;
CREATE TRIGGER asset_work_removed AFTER DELETE ON asset_work BEGIN
    UPDATE counters SET value = value - 1 WHERE name = 'asset_work';
END;
CREATE TRIGGER sku_work_added AFTER INSERT ON sku_work BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'sku_work';
    UPDATE counters SET value = value + 1 WHERE name = 'bulk_sku_work' AND NEW.priority > 0;
END;
CREATE TRIGGER sku_work_removed AFTER DELETE ON sku_work BEGIN
    UPDATE counters SET value = value - 1 WHERE name = 'sku_work';
    UPDATE counters SET value = value - 1 WHERE name = 'bulk_sku_work' AND OLD.priority > 0;
END;
CREATE TRIGGER sku_work_priority AFTER UPDATE OF priority ON sku_work
WHEN (OLD.priority > 0) != (NEW.priority > 0) BEGIN
    UPDATE counters SET value = value + (CASE WHEN NEW.priority > 0 THEN 1 ELSE -1 END)
     WHERE name = 'bulk_sku_work';
END;
CREATE TRIGGER dead_letter_added AFTER INSERT ON dead_letters BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'dead_letters';
END;
CREATE TRIGGER dead_letter_removed AFTER DELETE ON dead_letters BEGIN
    UPDATE counters SET value = value - 1 WHERE name = 'dead_letters';
END;
