"""Fault injection for tests: make named routes fail in the ways real beacon nodes fail.

A route is named by its Beacon API operationId (``getStateValidatorBalances``, ``getBlockV2``,
``getAttestationsRewards``, ``getEvents``, …; ``ROUTE_NAMES`` in ``server`` lists them) or by its
path template (``/eth/v1/beacon/states/{state_id}/validator_balances``: GET and POST alike).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

STATUS_FAULTS: dict[str, tuple[int, str]] = {
    "not_found": (404, "Route not found"),
    "method_not_allowed": (405, "Method not allowed"),
    "not_implemented": (501, "Endpoint not implemented"),
    "server_error": (500, "Internal server error"),
    "unavailable": (503, "Beacon node is currently syncing"),
}
# bad_integer: "12x" where a decimal string belongs (passes a lax schema, breaks int());
# number_not_string: a bare JSON number where the API mandates a string (a schema violation).
BODY_FAULTS = ("malformed_json", "bad_integer", "number_not_string", "missing_field")
FAULT_KINDS = (*STATUS_FAULTS, *BODY_FAULTS)

_INT_STRING = re.compile(r"^-?[0-9]+$")


@dataclass
class Faults:
    routes: dict[str, str] = field(default_factory=dict)
    sse_unavailable: bool = False
    """``/eth/v1/events`` answers 503."""
    sse_silent: bool = False
    """Streams stay open but carry nothing, not even keep-alives."""

    def set(self, route: str, fault: str) -> None:
        if fault not in FAULT_KINDS:
            raise ValueError(f"unknown fault {fault!r}; choose one of {', '.join(FAULT_KINDS)}")
        self.routes[route] = fault

    def clear(self, route: str | None = None) -> None:
        if route is None:
            self.routes.clear()
            self.sse_unavailable = False
            self.sse_silent = False
        else:
            self.routes.pop(route, None)

    def get(self, route: str | None) -> str | None:
        return None if route is None else self.routes.get(route)


def _break_integer(node: Any, replacement: Any) -> bool:
    """Replace the first integer-string found (depth first)."""
    if isinstance(node, dict):
        items: list[tuple[Any, Any]] = list(node.items())
    elif isinstance(node, list):
        items = list(enumerate(node))
    else:
        return False
    for key, value in items:
        if isinstance(value, str) and _INT_STRING.match(value):
            node[key] = replacement if replacement is not None else int(value)
            return True
        if _break_integer(value, replacement):
            return True
    return False


def _drop_field(node: Any) -> bool:
    """Remove the first key of the first object found inside ``data``."""
    if isinstance(node, dict) and node:
        if "data" in node and _drop_field(node["data"]):
            return True
        first = next(iter(node))
        del node[first]
        return True
    if isinstance(node, list):
        return any(_drop_field(v) for v in node[:1])
    return False


def corrupt(body: bytes, fault: str) -> bytes:
    if fault == "malformed_json":
        return body[: max(1, len(body) // 2)] + b"\x00{oops"
    try:
        doc = json.loads(body)
    except ValueError:
        return body
    if fault == "bad_integer":
        _break_integer(doc, "12x")
    elif fault == "number_not_string":
        _break_integer(doc, None)
    elif fault == "missing_field":
        _drop_field(doc)
    return json.dumps(doc).encode()
