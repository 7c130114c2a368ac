-- Full syncs: at most one running and one waiting; the running one resumes from its cursor after a crash.
CREATE TABLE full_syncs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    state       TEXT NOT NULL,            -- waiting | running | done | failed
    reason      TEXT NOT NULL,
    phase       TEXT NOT NULL,            -- assets | products | applying | done
    cursor      TEXT,
    done        INTEGER NOT NULL DEFAULT 0,
    total       INTEGER NOT NULL DEFAULT 0,
    errors      INTEGER NOT NULL DEFAULT 0,
    created_ms  INTEGER NOT NULL,
    started_ms  INTEGER,
    finished_ms INTEGER,
    last_error  TEXT
);

-- Bulk work (a full sync) yields to live work: claims order by priority (0 live, 1 bulk), then due time.
ALTER TABLE sku_work ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
CREATE INDEX sku_work_priority_due ON sku_work (priority, run_at_ms);

-- The last full sync that saw the asset in the DAM.
ALTER TABLE assets ADD COLUMN seen_sync INTEGER;
