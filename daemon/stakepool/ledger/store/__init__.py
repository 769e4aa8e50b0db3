"""The only place that knows SQL: the SQLite database, its migrations, the outbox and kept state."""
