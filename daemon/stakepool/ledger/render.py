"""Query results as JSON-ready values: amounts (``*_gwei``) as decimal strings, like the Beacon API.

``render(PoolTotals(...))`` → ``{"pool_id": "alpha", "rewards_gwei": {"final": "10", "total":
"12"}, "last_final_epoch": 1002, ...}``. Counts and epochs stay numbers; ``None`` stays ``null``.
For the HTTP API and the export, so every consumer sees the same shapes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from stakepool.ledger.queries import FinalTotal, Page


def _amount(value: Any) -> Any:
    if isinstance(value, FinalTotal):
        return {"final": str(value.final), "total": str(value.total)}
    if isinstance(value, dict):
        return {str(k): _amount(v) for k, v in value.items()}
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return str(value)
    return value


def render(obj: Any) -> Any:
    """A query result (dataclass, list of them, ``Page``) as JSON-ready data."""
    if isinstance(obj, Page):
        return {"data": [render(i) for i in obj.items], "next_cursor": obj.next_cursor}
    if isinstance(obj, list | tuple):
        return [render(i) for i in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {}
        for field in dataclasses.fields(obj):
            value = getattr(obj, field.name)
            if field.name.endswith("_gwei"):
                out[field.name] = _amount(value)
            elif dataclasses.is_dataclass(value) or isinstance(value, list):
                out[field.name] = render(value)
            else:
                out[field.name] = value
        return out
    return obj
