-- PostgreSQL's 0007 (the same table and columns as ../0007_windows.sql).
CREATE TABLE ledger_windows (
    epoch bigint PRIMARY KEY CHECK (epoch >= 1),
    block_roots text COLLATE "C" NOT NULL,
    body_json text COLLATE "C" NOT NULL,
    kept_at text COLLATE "C" NOT NULL
        DEFAULT (to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
);

ALTER TABLE ledger_epochs ADD COLUMN merged_from bigint;
ALTER TABLE ledger_epochs ADD COLUMN merged_to bigint;
