"""The event bus: one typed handler list per event kind.

Domain code (the monitor, the ledger, the supervisor's epoch loop) ``publish``es typed facts — a
``MonitorEvent``, an epoch's duty digest, a head, the ledger's totals — and never knows who
listens. The faces (``publish/``: metrics, log lines, the console, sd_notify) ``subscribe`` a
handler to the kinds they show, at start-up, in the composition root (``service/``).

A handler subscribed to a class receives its subclasses too (``subscribe(MonitorEvent, …)`` gets
every monitor event). Handlers run synchronously, in subscription order, when the fact is
published: whoever publishes has already stored what must survive a crash. A handler that raises
is a bug in that face and propagates to the publisher, like any other bug.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

E = TypeVar("E")

Handler = Callable[[Any], None]


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[type, list[Handler]] = {}
        self._resolved: dict[type, tuple[Handler, ...]] = {}

    def subscribe(self, kind: type[E], handler: Callable[[E], None]) -> None:
        self._handlers.setdefault(kind, []).append(handler)
        self._resolved.clear()

    def wants(self, kind: type) -> bool:
        """Whether anybody listens to ``kind``: a publisher may skip building a costly fact."""
        return bool(self._for(kind))

    def publish(self, event: object) -> None:
        for handler in self._for(type(event)):
            handler(event)

    def _for(self, kind: type) -> tuple[Handler, ...]:
        found = self._resolved.get(kind)
        if found is None:
            found = tuple(h for base in kind.__mro__ for h in self._handlers.get(base, ()))
            self._resolved[kind] = found
        return found
