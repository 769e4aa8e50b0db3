"""Where each outbox row goes on the broker: pure topic naming, no I/O.

Layout (conventions.md §2e): ``<prefix>/<pool_id>/status`` (retained ``online``/``offline``),
``<prefix>/<pool_id>/events/<kind>`` for every event, and also ``<prefix>/<pool_id>/alerts/<severity>``
for the events an operator must act on. A kind that cannot be a topic level (a producer bug: a
``+``, ``#`` or ``/`` in it) goes to ``events/unknown`` instead of blocking the outbox: the payload
still names the kind, so nothing is lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ONLINE = "online"
OFFLINE = "offline"
ALERT_SEVERITIES = frozenset({"warning", "critical"})
UNKNOWN_KIND = "unknown"

_LEVEL = re.compile(r"^[a-z0-9_-]{1,64}$")


def is_topic_level(text: str) -> bool:
    """Lowercase letters, digits, ``_`` and ``-``: safe as one topic level everywhere."""
    return bool(_LEVEL.match(text))


@dataclass(frozen=True, slots=True)
class Topics:
    prefix: str
    pool_id: str

    @property
    def root(self) -> str:
        return f"{self.prefix}/{self.pool_id}"

    @property
    def status(self) -> str:
        return f"{self.root}/status"

    def event(self, kind: str) -> str:
        return f"{self.root}/events/{kind if is_topic_level(kind) else UNKNOWN_KIND}"

    def alert(self, severity: str) -> str:
        return f"{self.root}/alerts/{severity}"

    def for_event(self, kind: str, severity: str | None) -> tuple[str, ...]:
        """Every topic one event is published to (QoS 1, never retained)."""
        if severity in ALERT_SEVERITIES:
            return (self.event(kind), self.alert(severity))
        return (self.event(kind),)
