-- Each failure of a SKU's work, kept on the work item (newest last, at most 20).
ALTER TABLE sku_work ADD COLUMN errors TEXT NOT NULL DEFAULT '[]';

-- Work that exhausted its attempts, or that the platform refused for good, with its error history.
CREATE TABLE dead_letters (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    sku        TEXT NOT NULL,
    attempts   INTEGER NOT NULL,
    errors     TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
