"""Execution-layer rewards of the pool's proposals over standard JSON-RPC (optional)."""

from stakepool.execution.client import ExecutionClient, execution_client
from stakepool.execution.maths import el_reward, priority_fees
from stakepool.execution.rpc import ExecutionError, MethodNotFound
from stakepool.execution.types import ElReward, ExecBlock, ExecTransaction, Receipt

__all__ = [
    "ElReward",
    "ExecBlock",
    "ExecTransaction",
    "ExecutionClient",
    "ExecutionError",
    "MethodNotFound",
    "Receipt",
    "el_reward",
    "execution_client",
    "priority_fees",
]
