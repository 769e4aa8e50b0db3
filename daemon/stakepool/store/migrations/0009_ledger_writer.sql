-- The fencing term of the ledger's one writer (PostgreSQL, several instances: store/writer.py).
-- The instance that takes the writer's advisory lock increments `term` and names itself; every
-- write transaction of a writer checks, inside the transaction, that the term is still its own,
-- so a writer that was paused and lost the lock writes nothing. A SQLite ledger has one instance
-- and never uses the row; the table exists so both engines share one schema version.
CREATE TABLE ledger_writer (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    term INTEGER NOT NULL CHECK (term >= 0),
    holder TEXT NOT NULL,
    since TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
INSERT INTO ledger_writer (id, term, holder) VALUES (1, 0, '');
