-- The SKUs "." and ".." are refused from now on: no URL path can address them (a dot segment is resolved
-- away, so `/products/../media` is `/media`). Rows stored under them by an earlier release are dropped, so
-- that every stored SKU parses; no product could ever be written or read under them.
DELETE FROM asset_pending WHERE sku IN ('.', '..');
DELETE FROM claims WHERE sku IN ('.', '..');
DELETE FROM gallery WHERE sku IN ('.', '..');
DELETE FROM sku_work WHERE sku IN ('.', '..');
DELETE FROM missing_products WHERE sku IN ('.', '..');
DELETE FROM products WHERE sku IN ('.', '..');
DELETE FROM handmade_entries WHERE sku IN ('.', '..');
DELETE FROM dead_letters WHERE sku IN ('.', '..');
