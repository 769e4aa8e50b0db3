-- The outbox: events written in the same transaction as the state that caused them, deleted only
-- after the broker acknowledged them (publish/mqtt). `event_id` is deterministic per event, so a
-- replayed epoch cannot enqueue the same event twice.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    severity TEXT,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

-- Counters that must survive a restart (e.g. outbox rows dropped at the bound).
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT;

-- Small documents of state kept across restarts (e.g. the monitor's trackers), one JSON text a key.
CREATE TABLE kept_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
