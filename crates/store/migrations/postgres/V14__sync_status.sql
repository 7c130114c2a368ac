-- The Sync Status listing (issue 15): every filter and order of the admin console's table is one index range,
-- so a page costs the same at a million assets as at ten (keyset paging, never OFFSET; checked with EXPLAIN
-- QUERY PLAN in the store's tests). Without a status: `assets_by_processing` (migration 9) and the primary key;
-- by SKU: the claims' primary key (sku, asset_id).
CREATE INDEX assets_by_status_processing ON assets (status, (COALESCE(processing_ms, 0)), asset_id);
CREATE INDEX assets_by_status_id ON assets (status, asset_id);

-- An asset's history: the events received for it, newest first.
CREATE INDEX events_by_asset ON events (asset_id, received_ms) WHERE asset_id IS NOT NULL;
