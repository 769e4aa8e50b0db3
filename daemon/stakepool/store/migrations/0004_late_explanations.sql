-- A final validator row accepts one change: its explanation arriving late (the rewards endpoints
-- answered after the balances). Components and residual go from NULL to a value; the money
-- (reward, duty outcomes) is checked unchanged here too. Anything else still aborts.
DROP TRIGGER validator_epochs_final_no_update;
CREATE TRIGGER validator_epochs_final_no_update BEFORE UPDATE ON validator_epochs
WHEN (SELECT status FROM ledger_epochs WHERE epoch = OLD.epoch) = 'final'
    AND NOT (
        OLD.components_json IS NULL AND OLD.residual_gwei IS NULL
        AND NEW.components_json IS NOT NULL
        AND NEW.epoch = OLD.epoch AND NEW.validator_index = OLD.validator_index
        AND NEW.reward_gwei = OLD.reward_gwei
        AND NEW.attestation_included IS OLD.attestation_included
        AND NEW.proposals = OLD.proposals AND NEW.proposals_missed = OLD.proposals_missed
    )
BEGIN
    SELECT RAISE(ABORT, 'ledger: final validator rows are immutable');
END;
