-- PostgreSQL's 0008 (as ../0008_validator_daily.sql): retention of the per-validator detail.
-- Final epochs older than `[ledger] validator_detail_epochs` are rolled up into one row per
-- validator and statement period, then their detail is deleted; the pool's and the delegators'
-- ledger is never pruned. `validator_rollups` holds one row per period whose roll-up was checked
-- equal to the detail it replaces: only then may the period's final detail be deleted.
CREATE TABLE validator_daily (
    period bigint NOT NULL CHECK (period >= 0),
    validator_index bigint NOT NULL CHECK (validator_index >= 0),
    first_epoch bigint NOT NULL,
    last_epoch bigint NOT NULL,
    epochs bigint NOT NULL CHECK (epochs > 0),
    reward_gwei bigint NOT NULL,
    attestations_included bigint NOT NULL,
    attestations_missed bigint NOT NULL,
    proposals bigint NOT NULL,
    proposals_missed bigint NOT NULL,
    residual_gwei bigint,
    components_json text COLLATE "C",
    PRIMARY KEY (period, validator_index)
);

CREATE TABLE validator_rollups (
    period bigint PRIMARY KEY CHECK (period >= 0),
    first_epoch bigint NOT NULL,
    last_epoch bigint NOT NULL,
    epochs bigint NOT NULL,
    validators bigint NOT NULL,
    reward_gwei text COLLATE "C" NOT NULL,
    checked_at text COLLATE "C" NOT NULL
        DEFAULT (to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
);

-- A checked period's sums are immutable (only `[ledger] validator_daily_days` deletes them).
CREATE FUNCTION stakepool_daily_checked_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM validator_rollups WHERE period = OLD.period) THEN
        RAISE EXCEPTION USING MESSAGE = 'ledger: a checked roll-up is immutable',
            ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER validator_daily_checked_no_update BEFORE UPDATE ON validator_daily
FOR EACH ROW EXECUTE FUNCTION stakepool_daily_checked_update();

-- Final detail is deleted only once its period's roll-up was checked.
CREATE FUNCTION stakepool_detail_final_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT status FROM ledger_epochs WHERE epoch = OLD.epoch) = 'final'
        AND NOT EXISTS (
            SELECT 1 FROM validator_rollups
            WHERE OLD.epoch BETWEEN first_epoch AND last_epoch
        )
    THEN
        RAISE EXCEPTION USING MESSAGE = 'ledger: final validator rows are immutable',
            ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN OLD;
END
$$;
DROP TRIGGER validator_epoch_detail_final_no_delete ON validator_epoch_detail;
CREATE TRIGGER validator_epoch_detail_final_no_delete BEFORE DELETE ON validator_epoch_detail
FOR EACH ROW EXECUTE FUNCTION stakepool_detail_final_delete();
