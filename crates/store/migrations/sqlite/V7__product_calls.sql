-- Product-to-asset calls of a custom matcher, as durable work: one row per new product waiting for its call.
-- `state` is `queued` (due at run_at_ms, leased while it runs) or `failed` (given up; kept with its error for
-- the product's status until the product is created again or removed).
CREATE TABLE product_calls (
    sku            TEXT PRIMARY KEY,
    event_data     TEXT NOT NULL,
    run_at_ms      INTEGER NOT NULL,
    attempt        INTEGER NOT NULL DEFAULT 0,
    lease_until_ms INTEGER,
    state          TEXT NOT NULL DEFAULT 'queued',
    last_error     TEXT,
    created_ms     INTEGER NOT NULL
);
CREATE INDEX product_calls_due ON product_calls (state, run_at_ms);
