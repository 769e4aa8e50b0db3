-- PostgreSQL's 0006 (as ../0006_compact_detail.sql): per-validator detail, one packed blob per
-- epoch. SQLite converts its old rows in a Python step; no PostgreSQL ledger predates this
-- release, so here the old table must be empty, and a non-empty one is refused (nothing lost).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM validator_epochs) THEN
        RAISE EXCEPTION 'validator_epochs holds rows: convert this ledger with a SQLite-era release';
    END IF;
END
$$;
DROP TABLE validator_epochs;

CREATE TABLE validator_epoch_detail (
    epoch bigint PRIMARY KEY REFERENCES ledger_epochs (epoch),
    validators bigint NOT NULL CHECK (validators >= 0),
    packed bytea NOT NULL,
    explanation bytea
);

-- A final row admits a change of `explanation` only, which moves no money.
CREATE FUNCTION stakepool_detail_final_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT status FROM ledger_epochs WHERE epoch = OLD.epoch) = 'final'
        AND NOT (NEW.epoch = OLD.epoch AND NEW.validators = OLD.validators
                 AND NEW.packed = OLD.packed)
    THEN
        RAISE EXCEPTION USING MESSAGE = 'ledger: final validator rows are immutable',
            ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER validator_epoch_detail_final_no_update BEFORE UPDATE ON validator_epoch_detail
FOR EACH ROW EXECUTE FUNCTION stakepool_detail_final_update();
CREATE TRIGGER validator_epoch_detail_final_no_delete BEFORE DELETE ON validator_epoch_detail
FOR EACH ROW EXECUTE FUNCTION stakepool_refuse_if_final('ledger: final validator rows are immutable');
CREATE TRIGGER validator_epoch_detail_final_no_insert BEFORE INSERT ON validator_epoch_detail
FOR EACH ROW EXECUTE FUNCTION stakepool_refuse_if_final('ledger: final validator rows are immutable');
