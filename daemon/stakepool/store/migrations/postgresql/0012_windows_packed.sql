-- PostgreSQL's 0012 (the same columns as ../0012_windows_packed.sql): kept windows as bytes with
-- their encoding; rows already kept stay plain JSON.
ALTER TABLE ledger_windows ALTER COLUMN body_json TYPE bytea USING convert_to(body_json, 'UTF8');
ALTER TABLE ledger_windows RENAME COLUMN body_json TO body;
ALTER TABLE ledger_windows ADD COLUMN encoding text COLLATE "C" NOT NULL DEFAULT 'json'
    CHECK (encoding IN ('json', 'json+zlib'));
ALTER TABLE ledger_windows ALTER COLUMN encoding DROP DEFAULT;
