-- Delegator statements and their commitments (docs/commitments.md).

-- The chain's clock, told by the daemon once the beacon node is known, so the ledger can give a
-- statement its UTC times and roll epochs up by UTC month without a beacon node (the CLI).
CREATE TABLE ledger_clock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    genesis_time INTEGER NOT NULL CHECK (genesis_time >= 0),
    slot_duration_ms INTEGER NOT NULL CHECK (slot_duration_ms > 0),
    slots_per_epoch INTEGER NOT NULL CHECK (slots_per_epoch > 0)
) STRICT;

-- One row per final period: the Merkle root of its statements' leaves, written in the
-- transaction that made the period's last epoch final (with its outbox event). Never changes.
CREATE TABLE period_commitments (
    period_epochs INTEGER NOT NULL CHECK (period_epochs > 0),
    period INTEGER NOT NULL CHECK (period >= 0),
    first_epoch INTEGER NOT NULL,
    last_epoch INTEGER NOT NULL,
    root TEXT NOT NULL,
    leaves INTEGER NOT NULL CHECK (leaves >= 0),
    committed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (period_epochs, period)
) STRICT;

-- The leaves of each committed period in tree order (hash as hex), so a proof is read, not
-- recomputed from every delegator's history.
CREATE TABLE period_leaves (
    period_epochs INTEGER NOT NULL,
    period INTEGER NOT NULL,
    position INTEGER NOT NULL,
    delegator TEXT NOT NULL,
    leaf_hash TEXT NOT NULL,
    PRIMARY KEY (period_epochs, period, position),
    FOREIGN KEY (period_epochs, period) REFERENCES period_commitments (period_epochs, period)
) STRICT, WITHOUT ROWID;
CREATE INDEX period_leaves_by_delegator ON period_leaves (delegator, period_epochs, period);

CREATE TRIGGER period_commitments_no_update BEFORE UPDATE ON period_commitments
BEGIN
    SELECT RAISE(ABORT, 'ledger: period commitments are immutable');
END;
CREATE TRIGGER period_commitments_no_delete BEFORE DELETE ON period_commitments
BEGIN
    SELECT RAISE(ABORT, 'ledger: period commitments are immutable');
END;
CREATE TRIGGER period_leaves_no_update BEFORE UPDATE ON period_leaves
BEGIN
    SELECT RAISE(ABORT, 'ledger: period commitments are immutable');
END;
CREATE TRIGGER period_leaves_no_delete BEFORE DELETE ON period_leaves
BEGIN
    SELECT RAISE(ABORT, 'ledger: period commitments are immutable');
END;
