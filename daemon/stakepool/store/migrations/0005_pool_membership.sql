-- The pool's membership journal: every validator that joins or leaves the pool, from which epoch
-- and on whose word (the configuration, a validator client's keymanager). Rows are never updated
-- or deleted: a retired key's ledger rows stay, and so does the record of why it left.
CREATE TABLE pool_membership_journal (
    id INTEGER PRIMARY KEY,
    validator_index INTEGER NOT NULL CHECK (validator_index >= 0),
    pubkey TEXT NOT NULL,
    change TEXT NOT NULL CHECK (change IN ('added', 'retired')),
    effective_epoch INTEGER NOT NULL CHECK (effective_epoch >= 0),
    sources TEXT NOT NULL,
    recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

CREATE INDEX pool_membership_by_validator ON pool_membership_journal (validator_index, id);

CREATE TRIGGER pool_membership_journal_no_update BEFORE UPDATE ON pool_membership_journal
BEGIN
    SELECT RAISE(ABORT, 'the membership journal is append-only');
END;

CREATE TRIGGER pool_membership_journal_no_delete BEFORE DELETE ON pool_membership_journal
BEGIN
    SELECT RAISE(ABORT, 'the membership journal is append-only');
END;
