-- The admin console's accounts (issue 15): local users with argon2id password hashes, their sessions (only a
-- SHA-256 hash of each session id is stored), and failed sign-ins by throttling key (user name, client
-- address), so every process sharing the database agrees on who is throttled.
CREATE TABLE users (
    username      TEXT PRIMARY KEY,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_ms    INTEGER NOT NULL
);

CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY,
    username     TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    created_ms   INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    expires_ms   INTEGER NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (username);

CREATE TABLE failed_sign_ins (
    throttle_key TEXT NOT NULL,
    at_ms        INTEGER NOT NULL
);
CREATE INDEX failed_sign_ins_by_key ON failed_sign_ins (throttle_key, at_ms);
