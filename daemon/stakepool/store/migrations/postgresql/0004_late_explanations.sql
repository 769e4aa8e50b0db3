-- PostgreSQL's 0004 (as ../0004_late_explanations.sql): a final validator row accepts one change,
-- its explanation arriving late; the money is checked unchanged. Anything else still aborts.
CREATE FUNCTION stakepool_validator_epochs_final_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT status FROM ledger_epochs WHERE epoch = OLD.epoch) = 'final'
        AND NOT (
            OLD.components_json IS NULL AND OLD.residual_gwei IS NULL
            AND NEW.components_json IS NOT NULL
            AND NEW.epoch = OLD.epoch AND NEW.validator_index = OLD.validator_index
            AND NEW.reward_gwei = OLD.reward_gwei
            AND NEW.attestation_included IS NOT DISTINCT FROM OLD.attestation_included
            AND NEW.proposals = OLD.proposals AND NEW.proposals_missed = OLD.proposals_missed
        )
    THEN
        RAISE EXCEPTION USING MESSAGE = 'ledger: final validator rows are immutable',
            ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;
DROP TRIGGER validator_epochs_final_no_update ON validator_epochs;
CREATE TRIGGER validator_epochs_final_no_update BEFORE UPDATE ON validator_epochs
FOR EACH ROW EXECUTE FUNCTION stakepool_validator_epochs_final_update();
