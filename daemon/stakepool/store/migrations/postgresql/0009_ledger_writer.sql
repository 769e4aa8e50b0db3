-- PostgreSQL's 0008 (as ../0008_ledger_writer.sql): the fencing term of the ledger's one writer.
CREATE TABLE ledger_writer (
    id bigint PRIMARY KEY CHECK (id = 1),
    term bigint NOT NULL CHECK (term >= 0),
    holder text COLLATE "C" NOT NULL,
    since text COLLATE "C" NOT NULL
        DEFAULT (to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
);
INSERT INTO ledger_writer (id, term, holder) VALUES (1, 0, '');
