-- PostgreSQL's 0010 (as ../0010_final_digest_explained.sql): a final epoch row accepts a change
-- of its input digest alone (an explanation that arrived after finality); every other column,
-- present or added later, is still immutable.
CREATE FUNCTION stakepool_ledger_epochs_final_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'final'
        AND (to_jsonb(NEW) - 'input_digest') IS DISTINCT FROM (to_jsonb(OLD) - 'input_digest')
    THEN
        RAISE EXCEPTION USING MESSAGE = 'ledger: final epoch rows are immutable',
            ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;
DROP TRIGGER ledger_epochs_final_no_update ON ledger_epochs;
CREATE TRIGGER ledger_epochs_final_no_update BEFORE UPDATE ON ledger_epochs
FOR EACH ROW EXECUTE FUNCTION stakepool_ledger_epochs_final_update();
