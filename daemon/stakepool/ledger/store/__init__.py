"""The ledger's tables and SQL on the shared database (``stakepool.store``): settlement writes,
reads for the API and the export, delegation schedules."""
