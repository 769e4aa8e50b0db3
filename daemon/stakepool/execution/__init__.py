"""Execution-layer rewards of the pool's proposals over standard JSON-RPC (optional).

No re-exports: the pure ``maths`` and ``types`` must import without the network client.
"""
