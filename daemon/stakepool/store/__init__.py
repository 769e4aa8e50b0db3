"""The one database: connection, migrations, the unit of work, the outbox and kept state.

Every part of the daemon that persists something writes here, in one transaction per epoch: the
monitor's kept state, the ledger (its tables and SQL live in ``ledger/store``) and the MQTT outbox.
Besides ``ledger/store``, this is the only package that knows SQL.
"""
