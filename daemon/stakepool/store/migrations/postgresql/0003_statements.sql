-- PostgreSQL's 0003 (the same tables as ../0003_statements.sql).
CREATE TABLE ledger_clock (
    id bigint PRIMARY KEY CHECK (id = 1),
    genesis_time bigint NOT NULL CHECK (genesis_time >= 0),
    slot_duration_ms bigint NOT NULL CHECK (slot_duration_ms > 0),
    slots_per_epoch bigint NOT NULL CHECK (slots_per_epoch > 0)
);

CREATE TABLE period_commitments (
    period_epochs bigint NOT NULL CHECK (period_epochs > 0),
    period bigint NOT NULL CHECK (period >= 0),
    first_epoch bigint NOT NULL,
    last_epoch bigint NOT NULL,
    root text COLLATE "C" NOT NULL,
    leaves bigint NOT NULL CHECK (leaves >= 0),
    committed_at text COLLATE "C" NOT NULL
        DEFAULT (to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
    PRIMARY KEY (period_epochs, period)
);

CREATE TABLE period_leaves (
    period_epochs bigint NOT NULL,
    period bigint NOT NULL,
    position bigint NOT NULL,
    delegator text COLLATE "C" NOT NULL,
    leaf_hash text COLLATE "C" NOT NULL,
    PRIMARY KEY (period_epochs, period, position),
    FOREIGN KEY (period_epochs, period) REFERENCES period_commitments (period_epochs, period)
);
CREATE INDEX period_leaves_by_delegator ON period_leaves (delegator, period_epochs, period);

CREATE TRIGGER period_commitments_no_update BEFORE UPDATE ON period_commitments
FOR EACH ROW EXECUTE FUNCTION stakepool_refuse('ledger: period commitments are immutable');
CREATE TRIGGER period_commitments_no_delete BEFORE DELETE ON period_commitments
FOR EACH ROW EXECUTE FUNCTION stakepool_refuse('ledger: period commitments are immutable');
CREATE TRIGGER period_leaves_no_update BEFORE UPDATE ON period_leaves
FOR EACH ROW EXECUTE FUNCTION stakepool_refuse('ledger: period commitments are immutable');
CREATE TRIGGER period_leaves_no_delete BEFORE DELETE ON period_leaves
FOR EACH ROW EXECUTE FUNCTION stakepool_refuse('ledger: period commitments are immutable');
