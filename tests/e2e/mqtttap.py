"""The test's own MQTT subscriber for the e2e run: a real mosquitto, read from a thread.

The e2e test is synchronous (it drives processes and polls the node), so the subscriber from
``tests/integration/mqtt/kit.py`` runs on its own event loop in a background thread and records
every message on ``<prefix>/<pool>/#`` (QoS 1), retained status included.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from typing import Any

from tests.integration.mqtt.kit import Received, Subscriber


class MqttTap:
    def __init__(self, port: int, root: str) -> None:
        self.port = port
        self.root = root
        self.messages: list[Received] = []
        self.errors: list[str] = []
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="mqtt-tap", daemon=True)

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(30), f"the MQTT tap did not subscribe: {self.errors}"

    def stop(self) -> None:
        if self._loop is not None and self._done is not None:
            self._loop.call_soon_threadsafe(self._done.set)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:  # shown by the assertions that find nothing
            self.errors.append(f"{type(exc).__name__}: {exc}")
            self._ready.set()

    async def _main(self) -> None:
        self._loop, self._done = asyncio.get_running_loop(), asyncio.Event()
        async with Subscriber(self.port, f"{self.root}/#") as sub:
            self.messages = sub.messages  # the same list, appended to as messages arrive
            self._ready.set()
            await self._done.wait()

    def payloads(self, suffix: str) -> list[str]:
        return [m.payload for m in list(self.messages) if m.topic == f"{self.root}/{suffix}"]

    def alerts(self, severity: str) -> list[dict[str, Any]]:
        return [json.loads(p) for p in self.payloads(f"alerts/{severity}")]

    def distinct_alerts(self, severity: str) -> Counter[tuple[int | None, str]]:
        """(validator, kind) → distinct ``event_id`` (QoS 1 may deliver one twice)."""
        seen = {
            (a["chain"]["validator_index"], a["kind"], a["event_id"]) for a in self.alerts(severity)
        }
        return Counter((v, kind) for v, kind, _ in seen)
