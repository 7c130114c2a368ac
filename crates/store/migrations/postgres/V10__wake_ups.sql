-- Wake-ups between processes: when work becomes claimable (queued, requeued, released), the commit notifies
-- channel `assetsync` with `<schema>.<table>`; listeners wake their workers instead of waiting for their poll.
-- Claims and lease renewals set a lease and notify nobody. PostgreSQL sends one notification per distinct
-- payload per transaction, at commit.
CREATE FUNCTION assetsync_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('assetsync', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER asset_work_wake AFTER INSERT OR UPDATE ON asset_work
    FOR EACH ROW WHEN (NEW.lease_until_ms IS NULL) EXECUTE FUNCTION assetsync_wake();
CREATE TRIGGER sku_work_wake AFTER INSERT OR UPDATE ON sku_work
    FOR EACH ROW WHEN (NEW.lease_until_ms IS NULL) EXECUTE FUNCTION assetsync_wake();
CREATE TRIGGER product_calls_wake AFTER INSERT OR UPDATE ON product_calls
    FOR EACH ROW WHEN (NEW.lease_until_ms IS NULL) EXECUTE FUNCTION assetsync_wake();
CREATE TRIGGER full_syncs_wake AFTER INSERT ON full_syncs
    FOR EACH ROW EXECUTE FUNCTION assetsync_wake();
