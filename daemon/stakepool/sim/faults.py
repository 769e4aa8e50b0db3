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
# number_not_string: a bare JSON number where the API mandates a string (a schema violation);
# empty_data: a list ``data`` answered as ``[]`` (stock Lodestar v1.5.1's balances by index).
BODY_FAULTS = ("malformed_json", "bad_integer", "number_not_string", "missing_field", "empty_data")
FAULT_KINDS = (*STATUS_FAULTS, *BODY_FAULTS)

_INT_STRING = re.compile(r"^-?[0-9]+$")


@dataclass
class Faults:
    routes: dict[str, str] = field(default_factory=dict)
    sse_unavailable: bool = False
    """``/eth/v1/events`` answers 503."""
    sse_silent: bool = False
    """Streams stay open but carry nothing, not even keep-alives."""
    # Quirks of stock Lodestar v1.5.1, one knob each (tests/e2e/devnet/README.md):
    no_state_at_empty_slot: bool = False
    """``states/{slot}/…`` answers 404 "No state found" when no canonical block is at ``slot``."""
    omit_finalized: bool = False
    """No answer carries the ``finalized`` flag."""
    sse_lazy_headers: bool = False
    """The event stream sends its status line and headers only with the first event."""
    sse_lax_topics: bool = False
    """An unknown topic is not refused: first in the list, the request is never answered; after
    a known topic, it is ignored and the known ones stream."""
    sse_unknown_topics: set[str] = field(default_factory=set)
    """Topics this node does not know (refused, or hanging with ``sse_lax_topics``)."""
    state_history_slots: int | None = None
    """A pruning node: ``states/{id}/…`` of a state more than this many slots behind the head
    answers 404 "No state found", while its blocks stay served (stock Lodestar keeps blocks and
    prunes states behind finality). ``None``: every state the sim holds is served."""

    def set(self, route: str, fault: str) -> None:
        if fault not in FAULT_KINDS:
            raise ValueError(f"unknown fault {fault!r}; choose one of {', '.join(FAULT_KINDS)}")
        self.routes[route] = fault

    def clear(self, route: str | None = None) -> None:
        if route is None:
            self.routes.clear()
            self.sse_unavailable = False
            self.sse_silent = False
            self.no_state_at_empty_slot = False
            self.omit_finalized = False
            self.sse_lazy_headers = False
            self.sse_lax_topics = False
            self.sse_unknown_topics.clear()
            self.state_history_slots = None
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
    elif fault == "empty_data" and isinstance(doc, dict) and isinstance(doc.get("data"), list):
        doc["data"] = []
    return json.dumps(doc).encode()


def drop_finalized(body: bytes) -> bytes:
    """The body without its top-level ``finalized`` flag (non-JSON bodies untouched)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body
    if not isinstance(doc, dict) or "finalized" not in doc:
        return body
    del doc["finalized"]
    return json.dumps(doc).encode()
