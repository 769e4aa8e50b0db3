"""Typed failures of the Beacon API boundary.

Callers branch on the type, never on a status code or a message:

* ``NodeUnavailable`` — no node could answer now (connection errors, timeouts, 5xx/429 after
  retries). ``NotReady`` is the special case "every node that answered is syncing / not ready".
* ``Unsupported`` — no node serves this route (404 "route not found", 405, 501). Try a fallback.
* ``NotFound`` — a data answer: no such state, block, or data not available yet.
* ``BadRequest`` — the node refused our input (400, 406, 414, 415); retrying will not help.
* ``MalformedResponse`` — the node answered with something that is not the expected shape.
* ``WrongChain`` — a node is on another chain (``genesis_validators_root`` differs).
* ``GenesisConflict`` — the nodes disagree on the chain and no configured root or majority says
  which is right (a ``NodeUnavailable``: the daemon waits).
"""

# The names are the public contract (short, as callers write them), hence no "Error" suffix.

from __future__ import annotations


class BeaconError(Exception):
    """Any failure of a Beacon API call."""

    def __init__(self, endpoint: str, message: str, *, node: str | None = None) -> None:
        where = f" at {node}" if node else ""
        super().__init__(f"{endpoint}{where}: {message}")
        self.endpoint = endpoint
        self.node = node
        self.message = message


class NodeUnavailable(BeaconError):
    """No node could answer: connection errors, timeouts, 5xx or 429 after retries."""


class NotReady(NodeUnavailable):
    """Every node that answered said it is not ready (503: syncing, not initialised)."""


class Unsupported(BeaconError):
    """The route is missing on every usable node (404 route-not-found, 405, 501)."""

    def __init__(self, endpoint: str, *, node: str | None = None, message: str = "") -> None:
        super().__init__(endpoint, message or "endpoint not supported", node=node)


class NotFound(BeaconError):
    """A data answer: the state, block or data does not exist (yet, or any more) on the node."""


class BadRequest(BeaconError):
    """The node refused the request itself (400, 406, 414, 415, other 4xx); not retried."""

    def __init__(
        self, endpoint: str, message: str, *, node: str | None = None, status: int
    ) -> None:
        super().__init__(endpoint, f"HTTP {status}: {message}", node=node)
        self.status = status
        self.node_message = message


class MalformedResponse(BeaconError):
    """The node answered, but not with the expected shape; ``field`` is a dotted path."""

    def __init__(self, endpoint: str, field: str, reason: str, *, node: str | None = None) -> None:
        super().__init__(endpoint, f"malformed response at {field}: {reason}", node=node)
        self.field = field
        self.reason = reason


class WrongChain(BeaconError):
    """A node reports a different ``genesis_validators_root`` than expected."""

    def __init__(self, node: str, expected: str, actual: str) -> None:
        super().__init__(
            "genesis",
            f"node is on another chain: genesis_validators_root {actual}, expected {expected}",
            node=node,
        )
        self.expected = expected
        self.actual = actual


class GenesisConflict(NodeUnavailable):
    """The nodes disagree on the chain and nothing says which is right: none is used until the
    operator sets ``[beacon] genesis_root`` (not fatal: the daemon waits and says why)."""

    def __init__(self, endpoint: str, message: str) -> None:
        super().__init__(endpoint, message)


class InconsistentAnswer(BeaconError):
    """Parts of one batched request disagree (e.g. the dependent root changed between chunks)."""
