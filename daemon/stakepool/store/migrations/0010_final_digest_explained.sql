-- A final epoch row accepts one change: its input digest, when the epoch's explanation arrived
-- after finality (`ledger/store/late_explanation.py`). The digest then becomes the explained
-- input's, as if the explanation had come at once: two instances, one explained before finality
-- and one after, hold the same row. The digest is the replay key of the settlement, not money;
-- every other column of a final row is still immutable.
DROP TRIGGER ledger_epochs_final_no_update;
CREATE TRIGGER ledger_epochs_final_no_update BEFORE UPDATE ON ledger_epochs
WHEN OLD.status = 'final'
    AND NOT (
        NEW.epoch IS OLD.epoch AND NEW.status IS OLD.status
        AND NEW.reward_cl_gwei IS OLD.reward_cl_gwei AND NEW.reward_el_gwei IS OLD.reward_el_gwei
        AND NEW.reward_gwei IS OLD.reward_gwei AND NEW.fee_gwei IS OLD.fee_gwei
        AND NEW.bond_delta_gwei IS OLD.bond_delta_gwei
        AND NEW.unassigned_gwei IS OLD.unassigned_gwei
        AND NEW.distributed_gwei IS OLD.distributed_gwei
        AND NEW.total_weight_gwei IS OLD.total_weight_gwei AND NEW.delegators IS OLD.delegators
        AND NEW.acc_scaled IS OLD.acc_scaled AND NEW.dust_delta_scaled IS OLD.dust_delta_scaled
        AND NEW.state_json IS OLD.state_json
        AND NEW.settled_at IS OLD.settled_at AND NEW.finalized_at IS OLD.finalized_at
        AND NEW.merged_from IS OLD.merged_from AND NEW.merged_to IS OLD.merged_to
    )
BEGIN
    SELECT RAISE(ABORT, 'ledger: final epoch rows are immutable');
END;
