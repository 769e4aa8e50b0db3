"""What a non-2xx answer means, per route: a pure function, so every case is unit-tested.

The hard case is 404. On a route where 404 is a data answer (a state, a block, rewards not yet
available) it must not be mistaken for "this node lacks the route". A missing route shows itself
by a non-JSON body (a router's plain-text page) or a router-style message such as Lodestar's
fastify ``Route POST:/eth/v1/... not found``; anything else is data. On routes where 404 has no
data meaning (node, config, duties, liveness, pools) every 404 means the route is missing.

A 404 whose ``Content-Type`` says JSON but whose body does not decode is neither: a router page is
not JSON, and a node's own answer was cut or spoiled on the way. It is a malformed answer, asked
again, never "the route is missing": that is remembered for an hour, and on the header route it
held a node's whole settlement (a body cut at ``{"code":404,"message":"Block not fou``).
"""

from __future__ import annotations

import re

from stakepool.beacon.errors import (
    BadRequest,
    BeaconError,
    MalformedResponse,
    NodeUnavailable,
    NotFound,
    NotReady,
    Unsupported,
)
from stakepool.beacon.routes import Route
from stakepool.beacon.transport import HttpAnswer

_MISSING_ROUTE = re.compile(
    r"\broute\b.*\bnot found\b"
    r"|\b(route|endpoint|path|method)\b.*\bnot (supported|implemented|allowed)\b"
    r"|\bnot implemented\b"
    r"|\bunknown (route|endpoint|path|api)\b"
    r"|\bno such (route|endpoint)\b"
    r"|\bpage not found\b",
    re.IGNORECASE,
)


def error_message(answer: HttpAnswer) -> str:
    """The node's message: spec ``{"code","message"}`` or fastify ``{"statusCode","error","message"}``."""
    body = answer.body
    if isinstance(body, dict):
        for key in ("message", "error"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    return answer.text.strip()[:300] or f"HTTP {answer.status}"


def is_spoiled_json(answer: HttpAnswer) -> bool:
    """Declared as JSON, yet not JSON (cut short, garbled, empty)."""
    declared = answer.headers.get("content-type", "").split(";")[0].strip().lower()
    return not answer.is_json and (declared == "application/json" or declared.endswith("+json"))


def is_missing_route(answer: HttpAnswer) -> bool:
    if not answer.is_json or not isinstance(answer.body, dict):
        return True
    message = error_message(answer)
    # Bare "NOT_FOUND" is warp's unmatched-path rejection (Lighthouse); its data 404s say
    # "NOT_FOUND: <what>". Teku's data 404 "Not found" must stay data, hence case-sensitive.
    return message == "NOT_FOUND" or bool(_MISSING_ROUTE.search(message))


def classify(route: Route, answer: HttpAnswer, node: str) -> BeaconError | None:
    """None for success; otherwise the typed error this answer stands for."""
    status = answer.status
    if 200 <= status < 300:
        return None
    message = error_message(answer)
    if status in (405, 501):
        return Unsupported(route.name, node=node, message=message)
    if status == 404:
        if is_spoiled_json(answer):
            return MalformedResponse(
                route.name, "<body>", "a 404 declared as JSON is not JSON", node=node
            )
        if not route.data_404 or is_missing_route(answer):
            return Unsupported(route.name, node=node, message=message)
        return NotFound(route.name, message, node=node)
    if status == 503:
        return NotReady(route.name, message, node=node)
    if status == 429 or status >= 500:
        return NodeUnavailable(route.name, f"HTTP {status}: {message}", node=node)
    if 400 <= status < 500:
        return BadRequest(route.name, message, node=node, status=status)
    return NodeUnavailable(route.name, f"unexpected HTTP {status}", node=node)
