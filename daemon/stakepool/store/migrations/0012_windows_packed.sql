-- Kept rewards windows as bytes with their encoding (issue 17): a 100,000-validator window is
-- about 50 MB of JSON and compresses to about 2 MB, which the daemon then writes (and holds while
-- writing) once per epoch instead. Rows already kept stay plain JSON ('json'); new ones are
-- 'json+zlib'. The table holds only windows not final yet, so the rebuild copies a few rows.
CREATE TABLE ledger_windows_packed (
    epoch INTEGER PRIMARY KEY CHECK (epoch >= 1),
    block_roots TEXT NOT NULL,
    body BLOB NOT NULL,
    encoding TEXT NOT NULL CHECK (encoding IN ('json', 'json+zlib')),
    kept_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
INSERT INTO ledger_windows_packed (epoch, block_roots, body, encoding, kept_at)
    SELECT epoch, block_roots, CAST(body_json AS BLOB), 'json', kept_at FROM ledger_windows;
DROP TABLE ledger_windows;
ALTER TABLE ledger_windows_packed RENAME TO ledger_windows;
