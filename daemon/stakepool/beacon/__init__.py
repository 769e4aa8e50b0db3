"""The Beacon API boundary: the only package that knows URLs and JSON shapes.

``BeaconClient`` (typed methods, retries, multi-node failover, fallbacks), ``EventStream`` (SSE
with a polling fallback), the typed errors, and the wire models in ``stakepool.beacon.models``.
"""

from stakepool.beacon.backoff import Backoff
from stakepool.beacon.client import BeaconClient
from stakepool.beacon.errors import (
    BadRequest,
    BeaconError,
    InconsistentAnswer,
    MalformedResponse,
    NodeUnavailable,
    NotFound,
    NotReady,
    Unsupported,
    WrongChain,
)
from stakepool.beacon.health import NodeHealth, RouteStats
from stakepool.beacon.models import BeaconEvent, Envelope, Topic
from stakepool.beacon.stream import EventStream

__all__ = [
    "Backoff",
    "BadRequest",
    "BeaconClient",
    "BeaconError",
    "BeaconEvent",
    "Envelope",
    "EventStream",
    "InconsistentAnswer",
    "MalformedResponse",
    "NodeHealth",
    "NodeUnavailable",
    "NotFound",
    "NotReady",
    "RouteStats",
    "Topic",
    "Unsupported",
    "WrongChain",
]
