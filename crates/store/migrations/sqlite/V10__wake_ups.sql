-- PostgreSQL's version 10 adds the triggers that wake other processes (LISTEN/NOTIFY). A SQLite database has
-- one process, which wakes its workers in memory: nothing to change here; the version keeps the lists equal.
CREATE TABLE IF NOT EXISTS refinery_version_10_placeholder (x INTEGER);
DROP TABLE refinery_version_10_placeholder;
