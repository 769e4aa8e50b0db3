"""``EventStream``: typed beacon events from SSE, with a polling fallback, across node failover.

* Subscribes with repeated ``topics=`` on the first usable node (the client's order and health).
* A subscription refused with 400 naming a topic drops that topic; a refusal that names none, or
  no first byte within ``first_byte_timeout`` (Lodestar never answers an unknown topic), starts a
  probe of every topic on its own, concurrently; the node's rejected topics are remembered for
  ``topic_retry_interval`` and reported in ``unavailable_topics``.
* An accepted subscription is not proof that every topic streams: Lodestar answers 200 when an
  unknown topic follows a known one, then never sends it. With ``verify_topics``, each topic is
  also probed in the background once per node and ``topic_retry_interval``; if some are refused,
  the stream is resubscribed without them (the node may otherwise keep a broken subscription).
* A dropped, refused or silent stream is retried with backoff and jitter, on the next node if the
  current one keeps failing; a stream on a less preferred node gives way when a better one is back.
* While the stream is down, silent for ``silence_timeout`` (default 2 slots), or lacks a topic,
  ``headers/head`` and ``finality_checkpoints/head`` are polled every ``poll_interval`` and
  ``head``/``block``/``finalized_checkpoint`` events synthesised (``polled=True``); an event is
  never delivered twice (same topic, slot or epoch, and root).
* A head that does not come from the stream node that delivered the previous one (polled, or after
  a failover) is preceded by the reorgs that node held back, found again (``reorg_scan``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Coroutine, Iterable
from types import TracebackType
from typing import Any, Literal

import aiohttp
import structlog

from stakepool.beacon import routes
from stakepool.beacon.backoff import Backoff
from stakepool.beacon.client import BeaconClient
from stakepool.beacon.errors import BeaconError, MalformedResponse
from stakepool.beacon.failover import Node
from stakepool.beacon.models import EVENT_MODELS, BeaconEvent, HeadEvent, Topic, parse_as
from stakepool.beacon.polling import POLLABLE, PollState
from stakepool.beacon.reorg_scan import ReorgScan
from stakepool.beacon.sse import SseError, SseMessage, SseParser
from stakepool.beacon.topics import ProbeResult, Refused, TopicBook, probe_topic, refusal, refused

log = structlog.get_logger(__name__)

Outcome = Literal["delivered", "failed", "resubscribe"]
_STREAM_ERRORS = (aiohttp.ClientError, TimeoutError, SseError, ConnectionError)


class EventStream:
    def __init__(
        self,
        client: BeaconClient,
        topics: Iterable[Topic | str],
        *,
        slot_seconds: float,
        slots_per_epoch: int | None = None,
        use_stream: bool = True,
        first_byte_timeout: float | None = None,
        read_timeout: float | None = None,
        silence_timeout: float | None = None,
        poll_interval: float | None = None,
        reconnect_backoff: Backoff | None = None,
        topic_retry_interval: float = 3600.0,
        prefer_check_interval: float = 60.0,
        verify_topics: bool = True,
        queue_size: int = 1024,
    ) -> None:
        if slot_seconds <= 0:
            raise ValueError("slot_seconds must be positive")
        self.client = client
        self.topics: tuple[Topic, ...] = tuple(dict.fromkeys(Topic(t) for t in topics))
        if not self.topics:
            raise ValueError("at least one topic is required")
        self.use_stream = use_stream
        # A node may send nothing, not even its status line, until the first event: wait for
        # at least two slots' worth of ``head`` before calling a subscription unanswered.
        self.first_byte_timeout = first_byte_timeout or max(10.0, 2 * slot_seconds)
        # Never shorter than a few slots: quiet chains and keep-alive-less servers are normal.
        self.read_timeout = read_timeout or max(30.0, 5 * slot_seconds)
        self.silence_timeout = silence_timeout or 2 * slot_seconds
        self.poll_interval = poll_interval or max(0.05, slot_seconds / 3)
        self.reconnect_backoff = reconnect_backoff or Backoff(
            base=0.5, maximum=max(5.0, 2 * slot_seconds)
        )
        self.prefer_check_interval = prefer_check_interval
        self.verify_topics = verify_topics
        self._side_tasks: set[asyncio.Task[None]] = set()
        self._state = PollState(slots_per_epoch=slots_per_epoch)
        self._reorgs = ReorgScan(client, slots_per_epoch=slots_per_epoch or 32)
        self._head_lock = asyncio.Lock()  # the stream and the poller queue heads in turn
        self._queue: asyncio.Queue[BeaconEvent | BaseException] = asyncio.Queue(queue_size)
        self._tasks: list[asyncio.Task[None]] = []
        self._topics = TopicBook(topic_retry_interval)
        self._stream_down_until: dict[str, float] = {}
        self._stream_failures: dict[str, int] = {}
        self._last_node: str | None = None
        self._connected_at: float | None = None
        self._last_event_at = 0.0
        self._resubscribe = False  # a topic check found refused topics in the subscription
        self.node: str | None = None
        """The node the stream is connected to, or None."""
        self.polling = False
        """True while the polling fallback is producing events."""

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        if self._tasks:
            return
        if self.use_stream:
            self._tasks.append(asyncio.create_task(self._guard(self._stream_loop())))
        self._tasks.append(asyncio.create_task(self._guard(self._poll_loop())))

    async def aclose(self) -> None:
        tasks = [*self._tasks, *self._side_tasks]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._side_tasks.clear()

    async def __aenter__(self) -> EventStream:
        await self.start()
        return self

    async def __aexit__(
        self,
        _exc_type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> BeaconEvent:
        if not self._tasks:
            await self.start()
        item = await self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    async def _guard(self, loop: Coroutine[Any, Any, None]) -> None:
        try:
            await loop
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug, not a node problem: hand it to the consumer
            await self._queue.put(exc)

    @property
    def unavailable_topics(self) -> frozenset[Topic]:
        """Topics the current (or last) node refused: poll for them, or do without."""
        return self._topics.rejected(self.node or self._last_node)

    # --- stream --------------------------------------------------------------------------------

    def _pick_node(self) -> Node:
        candidates = [n for n, _ in self.client.pool.candidates(routes.EVENTS)]
        now = time.monotonic()
        ready = [n for n in candidates if self._stream_down_until.get(n.url, 0.0) <= now]
        return (ready or candidates)[0]

    async def _stream_loop(self) -> None:
        attempt = 0
        while True:
            try:
                node = self._pick_node()
            except BeaconError as exc:
                log.debug("event_stream_no_node", reason=str(exc))
                await asyncio.sleep(self.reconnect_backoff.delay(attempt))
                attempt += 1
                continue
            outcome = await self._run_once(node)
            if outcome == "resubscribe":  # the topic set changed: not the node's fault
                continue
            if outcome == "delivered":
                attempt = 0
                self._stream_failures.pop(node.url, None)
            else:
                failures = self._stream_failures.get(node.url, 0) + 1
                self._stream_failures[node.url] = failures
                if failures >= 2:  # let the next node have a go for a while
                    self._stream_down_until[node.url] = time.monotonic() + (
                        self.reconnect_backoff.ceiling(failures) * 4
                    )
            await asyncio.sleep(self.reconnect_backoff.delay(attempt))
            attempt += 1

    async def _run_once(self, node: Node) -> Outcome:
        """Subscribe and read until the stream ends."""
        topics = self._topics.usable(node.url, self.topics)
        if not topics:  # the node refuses every topic we want: polling covers, try elsewhere
            self._stream_down_until[node.url] = time.monotonic() + self._topics.retry_interval
            return "failed"
        self._resubscribe = False
        try:
            delivered = await self._subscribe_and_read(node, topics)
            if self._resubscribe:
                return "resubscribe"
        except Refused as refusal:
            if refusal.missing_route:
                self._stream_down_until[node.url] = time.monotonic() + self._topics.retry_interval
                log.warning("event_stream_unsupported", node=node.url, reason=refusal.message)
                return "failed"
            named = [t for t in topics if t.value in refusal.message]
            if refusal.status == 400 and named:
                self._topics.reject(node.url, named)
                return "resubscribe"
            if refusal.status == 400:
                return await self._probe(node, topics)
            return "failed"
        except TimeoutError:
            if self._connected_at is None:  # no first byte: maybe a topic it never answers
                return await self._probe(node, topics)
            return "failed"
        except _STREAM_ERRORS as exc:
            log.info("event_stream_dropped", node=node.url, reason=type(exc).__name__)
            return "failed"
        finally:
            self._disconnected()
        return "delivered" if delivered else "failed"

    async def _subscribe_and_read(self, node: Node, topics: tuple[Topic, ...]) -> bool:
        query = [("topics", t.value) for t in topics]
        parser = SseParser()
        delivered = False
        async with node.transport.open_stream(
            routes.EVENTS.path(),
            query,
            first_byte_timeout=self.first_byte_timeout,
            read_timeout=self.read_timeout,
        ) as resp:
            if resp.status != 200:
                reason, missing_route = refusal(resp.status, await resp.read())
                raise Refused(resp.status, reason, missing_route)
            self._connected(node)
            self._maybe_verify(node, topics)
            preferred_check = time.monotonic()
            async for chunk in resp.content.iter_any():
                for message in parser.feed(chunk):
                    if await self._deliver(message, node):
                        delivered = True
                if self._resubscribe:
                    log.info("event_stream_resubscribing", node=node.url)
                    break
                if time.monotonic() - preferred_check >= self.prefer_check_interval:
                    preferred_check = time.monotonic()
                    if self._better_node_than(node):
                        log.info("event_stream_moving_to_preferred_node", node=node.url)
                        break
        return delivered

    def _better_node_than(self, node: Node) -> bool:
        """A node earlier in the preference order is usable again."""
        try:
            picked = self._pick_node()
        except BeaconError:
            return False
        order = self.client.pool.nodes
        return order.index(picked) < order.index(node)

    def _connected(self, node: Node) -> None:
        self.node = self._last_node = node.url
        self._connected_at = time.monotonic()
        log.info("event_stream_connected", node=node.url)

    def _disconnected(self) -> None:
        self.node = None
        self._connected_at = None

    async def _deliver(self, message: SseMessage, node: Node) -> bool:
        try:
            topic = Topic(message.event)
        except ValueError:
            return False
        if topic not in self.topics:
            return False
        try:
            data = parse_as(
                EVENT_MODELS[topic], json.loads(message.data), f"event {topic}", node=node.url
            )
        except (ValueError, MalformedResponse) as exc:
            log.warning("beacon_event_malformed", node=node.url, topic=topic.value, reason=str(exc))
            return False
        self._last_event_at = time.monotonic()
        if isinstance(data, HeadEvent):
            await self._deliver_head(BeaconEvent(topic, data, node.url), node.url)
        elif self._state.admit(topic, data):
            await self._queue.put(BeaconEvent(topic, data, node.url))
        return True

    async def _deliver_head(self, event: BeaconEvent, stream_node: str | None) -> None:
        """A head (``stream_node`` None: polled), after the reorgs found since the previous head
        when that came from elsewhere (``reorg_scan``: a hung stream node tells none)."""
        assert isinstance(event.data, HeadEvent)
        async with self._head_lock:
            if stream_node is not None and not self._state.admit(event.topic, event.data):
                return
            reorgs = await self._reorgs.before_head(int(event.data.slot), stream_node)
            for reorg in reorgs if Topic.CHAIN_REORG in self.topics else []:
                if self._state.admit(Topic.CHAIN_REORG, reorg):
                    await self._queue.put(BeaconEvent(Topic.CHAIN_REORG, reorg, event.node, True))
            await self._queue.put(event)

    async def _probe(self, node: Node, topics: tuple[Topic, ...]) -> Outcome:
        """Subscribe to each topic alone; those refused or unanswered are unavailable."""
        log.info("event_topics_probing", node=node.url)
        results = await self._probe_all(node, topics)
        bad = refused(topics, results)
        if ("ok" in results or all(r == "refused" for r in results)) and bad:
            self._topics.reject(node.url, bad)
            return "resubscribe"
        # Nothing answered at all (the node is the problem, not the topics), or every topic
        # was accepted alone (a transient refusal): back off as after any failure.
        return "failed"

    def _maybe_verify(self, node: Node, topics: tuple[Topic, ...]) -> None:
        if not self.verify_topics or len(topics) < 2 or not self._topics.verification_due(node.url):
            return
        task = asyncio.create_task(self._guard(self._verify(node, topics)))
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def _verify(self, node: Node, topics: tuple[Topic, ...]) -> None:
        results = await self._probe_all(node, topics)
        bad = refused(topics, results)
        if "ok" in results and bad:
            self._topics.reject(node.url, bad)
            self._resubscribe = self.node == node.url

    async def _probe_all(self, node: Node, topics: tuple[Topic, ...]) -> list[ProbeResult]:
        return list(
            await asyncio.gather(
                *(
                    probe_topic(
                        node.transport,
                        t,
                        first_byte_timeout=self.first_byte_timeout,
                        read_timeout=self.read_timeout,
                    )
                    for t in topics
                )
            )
        )

    # --- polling -------------------------------------------------------------------------------

    def _topics_to_poll(self) -> tuple[frozenset[Topic], str]:
        """What to poll now, and why."""
        wanted = POLLABLE & frozenset(self.topics)
        if self._connected_at is None:
            return wanted, "stream down"
        last = max(self._last_event_at, self._connected_at)
        if time.monotonic() - last > self.silence_timeout:
            return wanted, "stream silent"
        return wanted & self.unavailable_topics, "topics unavailable on the stream"

    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            topics, reason = self._topics_to_poll()
            if not topics:
                if self.polling:
                    self.polling = False
                    log.info("event_polling_stopped", node=self.node)
                continue
            if not self.polling:
                self.polling = True
                log.info("event_polling_started", reason=reason, topics=sorted(topics))
            await self._poll(topics)

    async def _poll(self, topics: frozenset[Topic]) -> None:
        events: list[BeaconEvent] = []
        try:
            if topics & {Topic.HEAD, Topic.BLOCK}:
                header = await self.client.blocks.header("head")
                if header is not None:
                    events += self._state.from_head(header, topics, self._poll_node())
            if Topic.FINALIZED_CHECKPOINT in topics:
                finality = await self.client.state.finality_checkpoints("head")
                events += self._state.from_finality(finality, topics, self._poll_node())
        except BeaconError as exc:
            log.debug("head_polling_failed", reason=str(exc))
        for event in events:
            if isinstance(event.data, HeadEvent):
                await self._deliver_head(event, None)  # admitted already (``from_head``)
            else:
                await self._queue.put(event)

    def _poll_node(self) -> str:
        healthy = [h for h in self.client.health() if h.up and h.excluded is None]
        return (healthy or self.client.health())[0].url
