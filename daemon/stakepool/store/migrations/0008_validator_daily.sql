-- Retention of the per-validator detail (`ledger/retention.py`): final epochs older than
-- `[ledger] validator_detail_epochs` are rolled up into one row per validator and statement
-- period (`[ledger] statement_period_epochs`: 225 epochs, one mainnet UTC day), then their detail
-- is deleted. The pool's and the delegators' ledger is never pruned.
-- `validator_daily` holds the sums (integers only, exact); `validator_rollups` one row per period
-- whose roll-up was checked equal to the detail it replaces, written in the transaction of that
-- check: only then may the period's final detail be deleted (the trigger below).
CREATE TABLE validator_daily (
    period INTEGER NOT NULL CHECK (period >= 0),
    validator_index INTEGER NOT NULL CHECK (validator_index >= 0),
    first_epoch INTEGER NOT NULL,
    last_epoch INTEGER NOT NULL,
    epochs INTEGER NOT NULL CHECK (epochs > 0),
    reward_gwei INTEGER NOT NULL,
    attestations_included INTEGER NOT NULL,
    attestations_missed INTEGER NOT NULL,
    proposals INTEGER NOT NULL,
    proposals_missed INTEGER NOT NULL,
    residual_gwei INTEGER,
    components_json TEXT,
    PRIMARY KEY (period, validator_index)
) STRICT, WITHOUT ROWID;

CREATE TABLE validator_rollups (
    period INTEGER PRIMARY KEY CHECK (period >= 0),
    first_epoch INTEGER NOT NULL,
    last_epoch INTEGER NOT NULL,
    epochs INTEGER NOT NULL,
    validators INTEGER NOT NULL,
    reward_gwei TEXT NOT NULL,
    checked_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

-- A checked period's sums are immutable (only `[ledger] validator_daily_days` deletes them).
CREATE TRIGGER validator_daily_checked_no_update BEFORE UPDATE ON validator_daily
WHEN EXISTS (SELECT 1 FROM validator_rollups WHERE period = OLD.period)
BEGIN
    SELECT RAISE(ABORT, 'ledger: a checked roll-up is immutable');
END;

-- Final detail is deleted only once its period's roll-up was checked.
DROP TRIGGER validator_epoch_detail_final_no_delete;
CREATE TRIGGER validator_epoch_detail_final_no_delete BEFORE DELETE ON validator_epoch_detail
WHEN (SELECT status FROM ledger_epochs WHERE epoch = OLD.epoch) = 'final'
    AND NOT EXISTS (
        SELECT 1 FROM validator_rollups
        WHERE OLD.epoch BETWEEN first_epoch AND last_epoch
    )
BEGIN
    SELECT RAISE(ABORT, 'ledger: final validator rows are immutable');
END;
