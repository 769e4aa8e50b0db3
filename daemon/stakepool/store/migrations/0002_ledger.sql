-- The pool ledger. Amounts are INTEGER Gwei; accumulator values (scaled by 10^36, beyond 64 bits)
-- are decimal TEXT. One row per settled epoch, written with its validators' rows in one
-- transaction keyed by epoch; a replay with the same input digest writes nothing.

-- The canonical settled epochs. `state_json` is the ledger state after the epoch (accumulator,
-- fee state, EL carry, bond), so a reorg restarts from the common ancestor's snapshot.
CREATE TABLE ledger_epochs (
    epoch INTEGER PRIMARY KEY CHECK (epoch >= 0),
    status TEXT NOT NULL CHECK (status IN ('provisional', 'final')),
    reward_cl_gwei INTEGER NOT NULL,
    reward_el_gwei INTEGER,
    reward_gwei INTEGER NOT NULL,
    fee_gwei INTEGER NOT NULL CHECK (fee_gwei >= 0),
    bond_delta_gwei INTEGER NOT NULL,
    unassigned_gwei INTEGER NOT NULL,
    distributed_gwei INTEGER NOT NULL,
    total_weight_gwei INTEGER NOT NULL CHECK (total_weight_gwei >= 0),
    delegators INTEGER NOT NULL,
    acc_scaled TEXT NOT NULL,
    dust_delta_scaled TEXT NOT NULL,
    state_json TEXT NOT NULL,
    input_digest TEXT NOT NULL,
    settled_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    finalized_at TEXT,
    CHECK (reward_gwei = fee_gwei + bond_delta_gwei + unassigned_gwei + distributed_gwei)
) STRICT;

-- Per pool validator and epoch: the settlement, its explanation and the duty outcome.
CREATE TABLE validator_epochs (
    epoch INTEGER NOT NULL REFERENCES ledger_epochs (epoch),
    validator_index INTEGER NOT NULL,
    reward_gwei INTEGER NOT NULL,
    components_json TEXT,
    residual_gwei INTEGER,
    attestation_included INTEGER CHECK (attestation_included IN (0, 1)),
    proposals INTEGER NOT NULL DEFAULT 0,
    proposals_missed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (validator_index, epoch)
) STRICT, WITHOUT ROWID;
CREATE INDEX validator_epochs_by_epoch ON validator_epochs (epoch);

-- Per validator totals, maintained with its epoch rows (settle adds, reversal subtracts,
-- finalization moves to final), so listing the pool's validators never scans every epoch.
CREATE TABLE validator_totals (
    validator_index INTEGER PRIMARY KEY,
    first_epoch INTEGER NOT NULL,
    last_epoch INTEGER NOT NULL,
    reward_total_gwei INTEGER NOT NULL,
    reward_final_gwei INTEGER NOT NULL
) STRICT;

-- Audit trail of reorgs: every provisional row that was reversed, as it was, with why and when.
CREATE TABLE ledger_epoch_reversals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    epoch INTEGER NOT NULL,
    reason TEXT NOT NULL,
    reversed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    row_json TEXT NOT NULL,
    validators_json TEXT NOT NULL
) STRICT;
CREATE INDEX ledger_epoch_reversals_by_epoch ON ledger_epoch_reversals (epoch);

-- Final rows are immutable: the only change a final row accepts is none.
CREATE TRIGGER ledger_epochs_final_no_update BEFORE UPDATE ON ledger_epochs
WHEN OLD.status = 'final'
BEGIN
    SELECT RAISE(ABORT, 'ledger: final epoch rows are immutable');
END;
CREATE TRIGGER ledger_epochs_final_no_delete BEFORE DELETE ON ledger_epochs
WHEN OLD.status = 'final'
BEGIN
    SELECT RAISE(ABORT, 'ledger: final epoch rows are immutable');
END;
CREATE TRIGGER validator_epochs_final_no_update BEFORE UPDATE ON validator_epochs
WHEN (SELECT status FROM ledger_epochs WHERE epoch = OLD.epoch) = 'final'
BEGIN
    SELECT RAISE(ABORT, 'ledger: final validator rows are immutable');
END;
CREATE TRIGGER validator_epochs_final_no_delete BEFORE DELETE ON validator_epochs
WHEN (SELECT status FROM ledger_epochs WHERE epoch = OLD.epoch) = 'final'
BEGIN
    SELECT RAISE(ABORT, 'ledger: final validator rows are immutable');
END;
CREATE TRIGGER validator_epochs_final_no_insert BEFORE INSERT ON validator_epochs
WHEN (SELECT status FROM ledger_epochs WHERE epoch = NEW.epoch) = 'final'
BEGIN
    SELECT RAISE(ABORT, 'ledger: final validator rows are immutable');
END;

-- Delegators ever known (paging order: id).
CREATE TABLE delegators (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT, WITHOUT ROWID;

-- Each delegator's weight schedule: from `epoch` on, its weight is `weight_gwei`.
CREATE TABLE delegator_weights (
    delegator TEXT NOT NULL REFERENCES delegators (id),
    epoch INTEGER NOT NULL,
    weight_gwei INTEGER NOT NULL CHECK (weight_gwei >= 0),
    PRIMARY KEY (delegator, epoch)
) STRICT, WITHOUT ROWID;

-- Σ over delegators of the schedule changes per epoch: total weight and active-delegator count
-- at epoch k are the running sums up to k (O(changes), never O(delegators), per epoch).
CREATE TABLE weight_changes (
    epoch INTEGER PRIMARY KEY,
    weight_delta INTEGER NOT NULL,
    count_delta INTEGER NOT NULL
) STRICT;

-- Append-only journal of every schedule change, with the epoch it takes effect.
CREATE TABLE delegation_journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delegator TEXT NOT NULL,
    effective_epoch INTEGER NOT NULL,
    weight_gwei INTEGER NOT NULL,
    previous_weight_gwei INTEGER NOT NULL,
    source TEXT NOT NULL,
    recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE INDEX delegation_journal_by_delegator ON delegation_journal (delegator, id);
CREATE TRIGGER delegation_journal_append_only BEFORE UPDATE ON delegation_journal
BEGIN
    SELECT RAISE(ABORT, 'ledger: the delegation journal is append-only');
END;
CREATE TRIGGER delegation_journal_no_delete BEFORE DELETE ON delegation_journal
BEGIN
    SELECT RAISE(ABORT, 'ledger: the delegation journal is append-only');
END;

-- Payouts recorded by the operator; claimable = accrued final − Σ paid.
CREATE TABLE payouts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delegator TEXT NOT NULL REFERENCES delegators (id),
    amount_gwei INTEGER NOT NULL CHECK (amount_gwei > 0),
    reference TEXT,
    recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE INDEX payouts_by_delegator ON payouts (delegator);
CREATE TRIGGER payouts_append_only BEFORE UPDATE ON payouts
BEGIN
    SELECT RAISE(ABORT, 'ledger: payouts are append-only');
END;
CREATE TRIGGER payouts_no_delete BEFORE DELETE ON payouts
BEGIN
    SELECT RAISE(ABORT, 'ledger: payouts are append-only');
END;

-- Single values: the highest finalized epoch seen (monotonic).
CREATE TABLE ledger_meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT;
