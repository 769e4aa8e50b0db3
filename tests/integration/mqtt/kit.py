"""Test kit for MQTT delivery: a subscriber that records, the retained status, a TCP gate, events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiomqtt

from stakepool.store.envelope import outbox_event
from stakepool.store.outbox_event import OutboxEvent

WAIT_SECONDS = 60.0  # generous: the machine is shared; only a hang reaches it


@dataclass(frozen=True)
class Received:
    topic: str
    payload: str
    retain: bool
    qos: int


class Subscriber:
    """Subscribes (QoS 1) to a filter and records every message, in arrival order."""

    def __init__(self, port: int, topic_filter: str) -> None:
        self.port = port
        self.topic_filter = topic_filter
        self.messages: list[Received] = []
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Subscriber:
        self._client = aiomqtt.Client(
            "127.0.0.1", self.port, identifier=f"test-sub-{uuid.uuid4().hex[:8]}"
        )
        await self._client.__aenter__()
        await self._client.subscribe(self.topic_filter, qos=1)
        self._task = asyncio.create_task(self._record(self._client))
        return self

    async def _record(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload
            text = payload.decode() if isinstance(payload, bytes | bytearray) else str(payload)
            self.messages.append(Received(str(message.topic), text, message.retain, message.qos))

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await self._task
        if self._client is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await self._client.__aexit__(None, None, None)

    def on(self, suffix: str) -> list[Received]:
        return [m for m in self.messages if m.topic.endswith(suffix)]

    def event_ids(self, suffix: str = "") -> list[str]:
        return [
            json.loads(m.payload)["event_id"]
            for m in self.messages
            if "/events/" in m.topic and m.topic.endswith(suffix)
        ]


async def eventually(check: Callable[[], bool], what: str, seconds: float = WAIT_SECONDS) -> None:
    """Wait (bounded) until ``check()`` holds; fail naming ``what`` otherwise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"still not true after {seconds:.0f} s: {what}")
        await asyncio.sleep(0.05)


async def retained_status(port: int, topic: str) -> str | None:
    """What a consumer that connects now reads as the retained status (None: nothing retained)."""
    async with aiomqtt.Client(
        "127.0.0.1", port, identifier=f"test-status-{uuid.uuid4().hex[:8]}"
    ) as client:
        await client.subscribe(topic, qos=1)
        # The broker sends the retained message right after the SUBACK; a quiet topic has none.
        # An empty retained topic gives no message at all, so give up after a while.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(3.0):
                async for message in client.messages:
                    payload = message.payload
                    assert message.retain, f"{topic} carried a message that is not retained"
                    return (
                        payload.decode() if isinstance(payload, bytes | bytearray) else str(payload)
                    )
    return None


class Gate:
    """A loopback TCP forwarder in front of the broker that the test can shut and open.

    It lets a test decide *when* the publisher gets through, e.g. only after a subscriber is
    back on a restarted broker (events are not retained: one published before anybody listens
    is gone for that listener). While shut, connections are accepted and closed at once."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.open = True
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.open:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(_pipe(src, dst))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    def cut(self) -> None:
        """Shut, and drop the connections already through: the publisher is disconnected now."""
        self.open = False
        for writer in self._writers:
            writer.close()
        self._writers.clear()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        dst.close()


KINDS: tuple[tuple[str, str | None], ...] = (
    ("duty_missed", "warning"),
    ("block_proposed", "info"),
    ("epoch_finalized", "info"),
    ("validator_slashed", "critical"),
    ("status_changed", None),
)


def sample_events(pool_id: str, count: int, *, first_epoch: int = 100) -> list[OutboxEvent]:
    """A realistic mix of monitor events, one per (epoch, kind) pair, deterministic ids."""
    events: list[OutboxEvent] = []
    for n in range(count):
        kind, severity = KINDS[n % len(KINDS)]
        epoch = first_epoch + n // len(KINDS)
        validator = 1000 + n % 7
        data: dict[str, Any] = {"validator_index": str(validator)}
        if kind == "duty_missed":
            data |= {"duty": "attestation", "missed_reward_gwei": "14250"}
        elif kind == "block_proposed":
            data |= {"slot": str(epoch * 32 + 5), "consensus_reward_gwei": "31000512"}
        elif kind == "validator_slashed":
            data |= {"penalty_gwei": "1000000000"}
        events.append(
            outbox_event(
                kind=kind,
                event_id=f"{kind}:{epoch}:{validator}:{n}",
                severity=severity,
                pool_id=pool_id,
                epoch=epoch,
                slot=epoch * 32,
                validator_index=validator,
                data=data,
                timestamp=1_700_000_000.0 + n,
            )
        )
    return events
