"""Who speaks for the pool on the retained ``<prefix>/<pool>/status`` topic.

A single instance (SQLite) always does. Several instances on one PostgreSQL ledger
(``store/writer.py``): only the ledger's writer does, since only it drains the outbox. A standby's
session sets no will and publishes no status, so a standby that stops or dies leaves the pool
``online`` while the writer runs. A session claims the topic or not for its whole life: the will is
fixed at CONNECT, so when the role changes the publisher ends the session (``RoleChanged``) and
opens one that fits, without saying ``offline`` first: a writer that lost its role stops claiming
the topic, and must not overwrite the ``online`` its successor may already have published.

The claiming session also listens to the topic. A writer that was paused past keepalive (then
lost its role) has its will fired by the broker late, possibly after its successor said
``online``; the successor hears that ``offline`` and says ``online`` again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import aiomqtt

from stakepool.publish.mqtt_topics import OFFLINE, ONLINE, Topics


class RoleChanged(Exception):
    """The ledger role changed under an open session: reconnect at once with the right will."""


class StatusClaim:
    def __init__(self, topics: Topics, writer: Callable[[], bool] | None) -> None:
        self._topics = topics
        self._writer = writer
        self.claiming = False
        """Whether the open session speaks for the pool (fixed at its CONNECT)."""

    def wanted(self) -> bool:
        return self._writer is None or self._writer()

    def will(self) -> aiomqtt.Will | None:
        """For the next CONNECT; fixes ``claiming`` for that session."""
        self.claiming = self.wanted()
        return (
            aiomqtt.Will(self._topics.status, OFFLINE, qos=1, retain=True)
            if self.claiming
            else None
        )

    def check(self) -> None:
        """Between drain rounds: end the session if it no longer fits the role."""
        if self.claiming != self.wanted():
            raise RoleChanged("writer" if self.wanted() else "standby")

    async def announce(self, client: aiomqtt.Client) -> None:
        if not self.claiming:
            return
        await client.publish(self._topics.status, ONLINE, qos=1, retain=True)
        if self._writer is not None:  # several instances: a predecessor's late will may come
            await client.subscribe(self._topics.status, qos=1)

    async def watch(self, client: aiomqtt.Client) -> None:
        """Raises ``MqttError`` when the connection drops (the only way the iterator ends);
        answers a late ``offline`` on the pool's status while this session claims it."""
        async for message in client.messages:
            if (
                self.claiming
                and self.wanted()
                and message.topic.matches(self._topics.status)
                and message.payload in (OFFLINE, OFFLINE.encode())
            ):
                await client.publish(self._topics.status, ONLINE, qos=1, retain=True)

    async def say_offline(self, client: aiomqtt.Client) -> None:
        """Before a clean DISCONNECT (which discards the will): only a session that claims the
        topic and still holds the role says ``offline``."""
        if not (self.claiming and self.wanted()):
            return
        # Shielded so the supervisor's cancellation cannot cut it short; bounded so a dead broker
        # cannot hold the shutdown (then the broker fires the will when it notices).
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError, asyncio.CancelledError):
            await asyncio.shield(
                client.publish(self._topics.status, OFFLINE, qos=1, retain=True, timeout=2.0)
            )
