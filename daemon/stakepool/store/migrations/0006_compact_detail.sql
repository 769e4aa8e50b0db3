-- Per-validator detail, compact: one row per settled epoch holding its validators' figures as
-- packed, zlib-compressed integer columns over the pool's sorted indices (`store/detail_pack.py`;
-- ~166 bytes per validator-epoch as rows with JSON, a few bytes packed). Exact: integers only,
-- any size. The rows of `validator_epochs` are converted by this migration's Python step
-- (`store/detail_migration.py`), which checks every sum per epoch and per validator before the
-- old table is dropped, all in this migration's transaction.
-- `packed` holds the money and the duties (index, reward, attestation, proposals): immutable once
-- final. `explanation` holds the components and residuals, which may arrive after the epoch is
-- final (migration 0004): a final row admits a change of `explanation` only, which moves no
-- money (`late_explanation.py` only fills validators that had none).
CREATE TABLE validator_epoch_detail (
    epoch INTEGER PRIMARY KEY REFERENCES ledger_epochs (epoch),
    validators INTEGER NOT NULL CHECK (validators >= 0),
    packed BLOB NOT NULL,
    explanation BLOB
) STRICT;

CREATE TRIGGER validator_epoch_detail_final_no_update BEFORE UPDATE ON validator_epoch_detail
WHEN (SELECT status FROM ledger_epochs WHERE epoch = OLD.epoch) = 'final'
    AND NOT (NEW.epoch = OLD.epoch AND NEW.validators = OLD.validators
             AND NEW.packed = OLD.packed)
BEGIN
    SELECT RAISE(ABORT, 'ledger: final validator rows are immutable');
END;
CREATE TRIGGER validator_epoch_detail_final_no_delete BEFORE DELETE ON validator_epoch_detail
WHEN (SELECT status FROM ledger_epochs WHERE epoch = OLD.epoch) = 'final'
BEGIN
    SELECT RAISE(ABORT, 'ledger: final validator rows are immutable');
END;
CREATE TRIGGER validator_epoch_detail_final_no_insert BEFORE INSERT ON validator_epoch_detail
WHEN (SELECT status FROM ledger_epochs WHERE epoch = NEW.epoch) = 'final'
BEGIN
    SELECT RAISE(ABORT, 'ledger: final validator rows are immutable');
END;
