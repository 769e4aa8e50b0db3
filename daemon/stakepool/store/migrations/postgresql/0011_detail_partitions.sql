-- PostgreSQL's 0011 (as ../0011_detail_partitions.sql): `validator_epoch_detail` partitioned by
-- epoch range. Retention (`ledger/retention.py`) rolls old final epochs up and deletes their
-- detail; on PostgreSQL a DELETE leaves dead tuples and TOAST that VACUUM makes reusable but never
-- returns to the filesystem. A partition whose every row is final and rolled up (checked) is
-- detached and dropped instead: its files go at once, dead tuples included.
--
-- Span: 1024 epochs (~4.6 mainnet days, ~290 MB at 100,000 validators). With the default
-- `validator_detail_epochs` (3150) about four partitions live; the table holds at most one span
-- more than the window before a drop, and the write path creates one partition per 4.6 days.
-- Partitions are created on demand (`stakepool_detail_partitions`) by the write path before an
-- insert, never by a DEFAULT partition: a row in DEFAULT would block creating its range later.

-- The old table keeps its rows until they are copied; its name and index step aside.
ALTER TABLE validator_epoch_detail RENAME TO validator_epoch_detail_0006;
ALTER INDEX validator_epoch_detail_pkey RENAME TO validator_epoch_detail_0006_pkey;

CREATE TABLE validator_epoch_detail (
    epoch bigint NOT NULL REFERENCES ledger_epochs (epoch),
    validators bigint NOT NULL CHECK (validators >= 0),
    packed bytea NOT NULL,
    explanation bytea,
    CONSTRAINT validator_epoch_detail_pkey PRIMARY KEY (epoch)
) PARTITION BY RANGE (epoch);

CREATE FUNCTION stakepool_detail_partition_span() RETURNS bigint
LANGUAGE sql IMMUTABLE AS 'SELECT 1024::bigint';

-- Every partition covering epochs first..last, created if missing; the number created.
CREATE FUNCTION stakepool_detail_partitions(first_epoch bigint, last_epoch bigint)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    span constant bigint := stakepool_detail_partition_span();
    low bigint;
    made integer := 0;
BEGIN
    IF first_epoch IS NULL OR last_epoch IS NULL OR first_epoch < 0 OR last_epoch < first_epoch
    THEN
        RETURN 0;
    END IF;
    low := first_epoch - first_epoch % span;
    WHILE low <= last_epoch LOOP
        IF to_regclass('validator_epoch_detail_from_' || low) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF validator_epoch_detail FOR VALUES FROM (%s) TO (%s)',
                'validator_epoch_detail_from_' || low, low, low + span);
            made := made + 1;
        END IF;
        low := low + span;
    END LOOP;
    RETURN made;
END
$$;

-- Partitions ending at or before `through` whose every row is final and inside a checked
-- roll-up (what the delete trigger asks of each row: DROP fires no row trigger, so the check is
-- here), detached and dropped; the first epoch of each dropped. One with any other row stays.
-- DETACH takes an exclusive lock on the table, queued behind any read of it still running and
-- ahead of every later one (a settle's insert too): waited for `lock_timeout` at most, here
-- 100 ms; a partition not dropped then stays, its rows are deleted as rows, and a later pass
-- drops it empty.
CREATE FUNCTION stakepool_detail_drop_partitions(through bigint)
RETURNS SETOF bigint LANGUAGE plpgsql AS $$
DECLARE
    span constant bigint := stakepool_detail_partition_span();
    part record;
    low bigint;
    blocked boolean;
BEGIN
    PERFORM set_config('lock_timeout', '100ms', true);
    FOR part IN
        SELECT c.relname::text AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'validator_epoch_detail'::regclass
        ORDER BY c.relname
    LOOP
        low := substring(part.name FROM '^validator_epoch_detail_from_([0-9]+)$')::bigint;
        CONTINUE WHEN low IS NULL OR low + span - 1 > through;
        IF EXISTS (
            SELECT 1 FROM ledger_epochs
            WHERE epoch BETWEEN low AND low + span - 1 AND status <> 'final'
        ) THEN
            CONTINUE;
        END IF;
        EXECUTE format(
            'SELECT EXISTS (SELECT 1 FROM %I d WHERE NOT EXISTS ('
            ' SELECT 1 FROM validator_rollups r WHERE d.epoch BETWEEN r.first_epoch AND r.last_epoch))',
            part.name) INTO blocked;
        CONTINUE WHEN blocked;
        BEGIN
            EXECUTE format('ALTER TABLE validator_epoch_detail DETACH PARTITION %I', part.name);
            EXECUTE format('DROP TABLE %I', part.name);
        EXCEPTION WHEN lock_not_available THEN
            RAISE NOTICE 'validator_epoch_detail: % busy, not dropped this time', part.name;
            CONTINUE;
        END;
        RETURN NEXT low;
    END LOOP;
END
$$;

-- The rows moved unchanged (bytes for bytes), checked before the old table goes. One span past
-- the newest row is created too: an instance of the previous release still writing while the
-- others upgrade (docs/several-hosts.md) inserts without creating partitions, for 1024 epochs.
SELECT stakepool_detail_partitions(MIN(epoch), MAX(epoch) + stakepool_detail_partition_span())
FROM validator_epoch_detail_0006;
INSERT INTO validator_epoch_detail (epoch, validators, packed, explanation)
SELECT epoch, validators, packed, explanation FROM validator_epoch_detail_0006;
DO $$
BEGIN
    IF (SELECT COUNT(*) FROM validator_epoch_detail)
            <> (SELECT COUNT(*) FROM validator_epoch_detail_0006)
        OR EXISTS (
            SELECT 1 FROM validator_epoch_detail_0006 o
            LEFT JOIN validator_epoch_detail n ON n.epoch = o.epoch
            WHERE n.epoch IS NULL OR n.validators <> o.validators OR n.packed <> o.packed
                OR n.explanation IS DISTINCT FROM o.explanation
        )
    THEN
        RAISE EXCEPTION 'validator_epoch_detail: the partitioned copy differs from the rows';
    END IF;
END
$$;
DROP TABLE validator_epoch_detail_0006;

-- The guards of 0006 and 0008, on the partitioned table: PostgreSQL clones a row trigger of a
-- partitioned table onto every partition, present and future.
CREATE TRIGGER validator_epoch_detail_final_no_update BEFORE UPDATE ON validator_epoch_detail
FOR EACH ROW EXECUTE FUNCTION stakepool_detail_final_update();
CREATE TRIGGER validator_epoch_detail_final_no_delete BEFORE DELETE ON validator_epoch_detail
FOR EACH ROW EXECUTE FUNCTION stakepool_detail_final_delete();
CREATE TRIGGER validator_epoch_detail_final_no_insert BEFORE INSERT ON validator_epoch_detail
FOR EACH ROW EXECUTE FUNCTION stakepool_refuse_if_final('ledger: final validator rows are immutable');
