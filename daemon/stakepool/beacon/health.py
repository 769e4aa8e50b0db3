"""Per-node health: up/down, a score, timestamps, and request statistics by route template.

The tracker is mutable and owned by one node; ``snapshot()`` hands out plain frozen data, so a
metrics exporter can read it without knowing anything about HTTP.

Score: +1 per success, −5 per failure, clamped to 0–100 (Vero's scheme). ``up`` flips only on
transport-level outcomes (a connection or timeout failure sets it down; any HTTP answer sets it up),
and each flip is logged once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import structlog

from stakepool.beacon.backoff import Backoff

log = structlog.get_logger(__name__)

SCORE_MAX = 100
SCORE_SUCCESS = 1
SCORE_FAILURE = -5
DURATION_BUCKETS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


@dataclass(frozen=True, slots=True)
class RouteStats:
    """Requests to one route template on one node (each HTTP attempt counts)."""

    count: int
    errors: int
    seconds_total: float
    seconds_max: float
    bucket_counts: tuple[int, ...]
    """Cumulative counts per ``DURATION_BUCKETS`` upper bound (Prometheus histogram style)."""


@dataclass(frozen=True, slots=True)
class NodeHealth:
    url: str
    up: bool
    score: int
    last_success: float | None
    """Unix time of the last successful answer."""
    last_failure: float | None
    offline_until: float | None
    """Monotonic time until which the node is skipped (sticky offline window); None if usable."""
    excluded: str | None
    """Why the node is never used (e.g. another chain), or None."""
    routes: Mapping[str, RouteStats]
    """By method and route template (``GET /eth/v1/beacon/headers/{block_id}``)."""
    unsupported: frozenset[str] = frozenset()
    """Route names this node said it lacks (remembered until re-probed)."""
    down_reason: str | None = None
    """Why the node is down (the last transport failure), None while it is up."""


@dataclass(slots=True)
class _RouteAcc:
    count: int = 0
    errors: int = 0
    seconds_total: float = 0.0
    seconds_max: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))

    def add(self, seconds: float, *, error: bool) -> None:
        self.count += 1
        self.errors += int(error)
        self.seconds_total += seconds
        self.seconds_max = max(self.seconds_max, seconds)
        for i, bound in enumerate(DURATION_BUCKETS):
            if seconds <= bound:
                self.buckets[i] += 1


class HealthTracker:
    def __init__(
        self,
        url: str,
        *,
        offline_backoff: Backoff,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.up = True
        self.score = SCORE_MAX
        self.last_success: float | None = None
        self.last_failure: float | None = None
        self.offline_until: float | None = None
        self.excluded: str | None = None
        self.down_reason: str | None = None
        self._consecutive_down = 0
        self._offline_backoff = offline_backoff
        self._monotonic = monotonic
        self._wall = wall
        self._routes: dict[str, _RouteAcc] = {}

    def observe(self, template: str, seconds: float, *, error: bool) -> None:
        self._routes.setdefault(template, _RouteAcc()).add(seconds, error=error)

    def success(self) -> None:
        self.score = min(SCORE_MAX, self.score + SCORE_SUCCESS)
        self.last_success = self._wall()
        self._mark_up()

    def answered_badly(self, reason: str) -> None:
        """The node is reachable but its answer was useless (5xx, 503, malformed)."""
        self.score = max(0, self.score + SCORE_FAILURE)
        self.last_failure = self._wall()
        self._mark_up()
        log.debug("beacon_node_answered_badly", node=self.url, reason=reason, score=self.score)

    def unreachable(self, reason: str) -> None:
        """Connection error or timeout: skip the node for a growing, jittered window."""
        self.score = max(0, self.score + SCORE_FAILURE)
        self.last_failure = self._wall()
        window = self._offline_backoff.delay(self._consecutive_down)
        self._consecutive_down += 1
        self.offline_until = self._monotonic() + window
        self.down_reason = reason
        if self.up:
            self.up = False
            log.warning(
                "beacon_node_down", node=self.url, reason=reason, retry_in_s=round(window, 2)
            )

    def alive(self) -> None:
        """The node answered a health probe: usable again, its score left to real answers."""
        self._mark_up()

    def hold_off(self, seconds: float) -> None:
        """The node asked us to wait (429 Retry-After)."""
        self.offline_until = max(self.offline_until or 0.0, self._monotonic() + seconds)

    def _mark_up(self) -> None:
        self._consecutive_down = 0
        self.offline_until = None
        self.down_reason = None
        if not self.up:
            self.up = True
            log.info("beacon_node_recovered", node=self.url)

    def usable_now(self) -> bool:
        if self.excluded is not None:
            return False
        return self.offline_until is None or self._monotonic() >= self.offline_until

    def snapshot(self) -> NodeHealth:
        routes = {
            t: RouteStats(a.count, a.errors, a.seconds_total, a.seconds_max, tuple(a.buckets))
            for t, a in self._routes.items()
        }
        return NodeHealth(
            url=self.url,
            up=self.up,
            score=self.score,
            last_success=self.last_success,
            last_failure=self.last_failure,
            offline_until=self.offline_until,
            excluded=self.excluded,
            routes=MappingProxyType(routes),
            down_reason=self.down_reason,
        )
