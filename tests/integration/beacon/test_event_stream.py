"""EventStream against fake nodes: typed events, topic refusal, drop → polling → resume, failover."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from stakepool.beacon.backoff import Backoff
from stakepool.beacon.client import BeaconClient
from stakepool.beacon.models import BeaconEvent, HeadEvent, Topic
from stakepool.beacon.stream import EventStream
from tests.integration.beacon.fakenode import FakeNode, Reply, error, sse
from tests.unit.beacon.fixtures import events, load

Nodes = Callable[[], Awaitable[FakeNode]]
MakeClient = Callable[..., BeaconClient]
EVENTS = "/eth/v1/events"
FAST = Backoff(base=0.05, maximum=0.1)


def head(slot: int, root_byte: str = "aa") -> dict[str, Any]:
    return {**events()["head"], "slot": str(slot), "block": "0x" + root_byte * 32}


def header_body(slot: int, root_byte: str) -> dict[str, Any]:
    body: dict[str, Any] = load("header").body
    data = {**body["data"], "root": "0x" + root_byte * 32}
    message = {**data["header"]["message"], "slot": str(slot)}
    return {**body, "data": {**data, "header": {**data["header"], "message": message}}}


def stream(client: BeaconClient, topics: list[Topic], **kwargs: Any) -> EventStream:
    kwargs.setdefault("slot_seconds", 0.3)
    kwargs.setdefault("first_byte_timeout", 0.5)
    kwargs.setdefault("reconnect_backoff", FAST)
    return EventStream(client, topics, **kwargs)


async def take(s: EventStream, n: int, within: float = 5.0) -> list[BeaconEvent]:
    out: list[BeaconEvent] = []
    async with asyncio.timeout(within):
        while len(out) < n:
            out.append(await anext(s))
    return out


async def test_typed_events_from_the_stream(nodes: Nodes, make_client: MakeClient) -> None:
    node = await nodes()
    payloads = events()

    async def handler(request: web.Request) -> web.StreamResponse:
        return await sse(
            request,
            node,
            [
                ("head", payloads["head"]),
                ("weather", {"x": 1}),  # not subscribed: ignored
                ("block", {"slot": "oops"}),  # malformed: skipped, no crash
                ("chain_reorg", payloads["chain_reorg"]),
                ("attester_slashing", payloads["attester_slashing"]),
            ],
        )

    node.on("GET", EVENTS, handler)
    client = make_client(node.url)
    topics = [Topic.HEAD, Topic.BLOCK, Topic.CHAIN_REORG, Topic.ATTESTER_SLASHING]
    async with stream(client, topics, slot_seconds=10) as s:
        got = await take(s, 3)
    assert [e.topic for e in got] == [Topic.HEAD, Topic.CHAIN_REORG, Topic.ATTESTER_SLASHING]
    assert all(not e.polled and e.node == node.url for e in got)
    assert isinstance(got[0].data, HeadEvent)
    assert got[0].data.slot == 12345678
    request = node.calls("GET", EVENTS)[0]
    assert [v for k, v in request.query if k == "topics"] == [t.value for t in topics]
    assert request.headers["Accept"] == "text/event-stream"


async def test_a_topic_refused_with_400_is_dropped(nodes: Nodes, make_client: MakeClient) -> None:
    node = await nodes()

    async def handler(request: web.Request) -> web.StreamResponse:
        if "proposer_slashing" in request.query.getall("topics"):
            return web.json_response(
                {"code": 400, "message": "Invalid topic: proposer_slashing"}, status=400
            )
        return await sse(request, node, [("head", head(5))])

    node.on("GET", EVENTS, handler)
    client = make_client(node.url)
    async with stream(client, [Topic.HEAD, Topic.PROPOSER_SLASHING], slot_seconds=10) as s:
        (event,) = await take(s, 1)
        assert event.topic is Topic.HEAD
        assert s.unavailable_topics == {Topic.PROPOSER_SLASHING}


async def test_a_topic_the_node_never_answers_is_probed_out(
    nodes: Nodes, make_client: MakeClient
) -> None:
    node = await nodes()

    async def handler(request: web.Request) -> web.StreamResponse:
        if "attester_slashing" in request.query.getall("topics"):
            await node.stopping.wait()  # Lodestar: no status line, no headers, ever
        return await sse(request, node, [("head", head(6))])

    node.on("GET", EVENTS, handler)
    client = make_client(node.url)
    async with stream(
        client, [Topic.HEAD, Topic.ATTESTER_SLASHING], slot_seconds=10, first_byte_timeout=0.3
    ) as s:
        (event,) = await take(s, 1)
        assert event.data == HeadEvent.model_validate(head(6))
        assert s.unavailable_topics == {Topic.ATTESTER_SLASHING}
    subscriptions = [[v for k, v in c.query if k == "topics"] for c in node.calls("GET", EVENTS)]
    assert subscriptions[0] == ["head", "attester_slashing"]
    assert ["attester_slashing", "head"] in subscriptions  # probed first, head riding along
    assert subscriptions[-1] == ["head"]


async def test_drop_then_polling_then_resume(nodes: Nodes, make_client: MakeClient) -> None:
    node = await nodes()
    phase = {"n": 0}
    stream_up = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        phase["n"] += 1
        if phase["n"] == 1:  # first subscription: one event, then the connection drops
            return await sse(request, node, [("head", head(1, "01"))], hold=False)
        if not stream_up.is_set():
            return web.json_response({"code": 500, "message": "overloaded"}, status=500)
        # Back: repeats the head polling already delivered, then a new one.
        return await sse(request, node, [("head", head(2, "02")), ("head", head(3, "03"))])

    node.on("GET", EVENTS, handler)
    node.ok("GET", "/eth/v1/beacon/headers/head", header_body(2, "02"))
    finality: dict[str, Any] = load("finality_checkpoints").body
    node.ok("GET", "/eth/v1/beacon/states/head/finality_checkpoints", finality)
    client = make_client(node.url)
    topics = [Topic.HEAD, Topic.BLOCK, Topic.FINALIZED_CHECKPOINT]
    async with stream(client, topics, slot_seconds=0.2) as s:
        first = await take(s, 1)
        assert (first[0].topic, first[0].polled) == (Topic.HEAD, False)
        polled = await take(s, 3)
        assert {e.topic for e in polled} == set(topics)
        assert all(e.polled for e in polled)
        assert s.polling
        stream_up.set()
        (resumed,) = await take(s, 1)
        assert (resumed.topic, resumed.polled) == (Topic.HEAD, False)
        assert isinstance(resumed.data, HeadEvent)
        assert resumed.data.slot == 3  # slot 2 came from polling and was not repeated
        for _ in range(60):
            if not s.polling:
                break
            await asyncio.sleep(0.05)
        assert not s.polling
        assert s.node == node.url


async def test_the_stream_follows_failover(nodes: Nodes, make_client: MakeClient) -> None:
    a, b = await nodes(), await nodes()
    a.on("GET", EVENTS, error(500, "event stream broken"))

    async def handler(request: web.Request) -> web.StreamResponse:
        return await sse(request, b, [("head", head(9))])

    b.on("GET", EVENTS, handler)
    client = make_client(a.url, b.url)
    async with stream(client, [Topic.HEAD], slot_seconds=10) as s:
        (event,) = await take(s, 1)
    assert event.node == b.url
    assert len(a.calls("GET", EVENTS)) >= 2


async def test_a_node_down_for_rest_is_skipped_by_the_stream(
    nodes: Nodes, make_client: MakeClient
) -> None:
    a, b = await nodes(), await nodes()
    a_url = a.url
    await a.stop()

    async def handler(request: web.Request) -> web.StreamResponse:
        return await sse(request, b, [("head", head(10))])

    b.on("GET", EVENTS, handler)
    b.on("GET", "/eth/v1/beacon/genesis", Reply(200, load("genesis").body))
    client = make_client(a_url, b.url)
    await client.node.genesis()  # marks A offline
    async with stream(client, [Topic.HEAD], slot_seconds=10) as s:
        (event,) = await take(s, 1)
    assert event.node == b.url


async def test_polling_only_when_the_stream_is_disabled(
    nodes: Nodes, make_client: MakeClient
) -> None:
    node = await nodes()
    node.ok("GET", "/eth/v1/beacon/headers/head", header_body(4, "04"))
    client = make_client(node.url)
    async with stream(client, [Topic.HEAD], slot_seconds=0.2, use_stream=False) as s:
        (event,) = await take(s, 1)
        assert event.polled
        await asyncio.sleep(0.3)
        assert s._queue.empty()
    assert node.calls("GET", EVENTS) == []


async def test_the_stream_returns_to_the_preferred_node(
    nodes: Nodes, make_client: MakeClient
) -> None:
    a, b = await nodes(), await nodes()
    a_fixed = asyncio.Event()

    def ticking(
        node: FakeNode, first_slot: int
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            if node is a and not a_fixed.is_set():
                return web.json_response({"code": 500, "message": "broken"}, status=500)
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            slot = first_slot
            while not node.stopping.is_set():
                payload = head(slot, f"{slot % 256:02x}")
                await resp.write(f"event: head\ndata: {json.dumps(payload)}\n\n".encode())
                slot += 1
                await asyncio.sleep(0.05)
            return resp

        return handler

    a.on("GET", EVENTS, ticking(a, 1000))
    b.on("GET", EVENTS, ticking(b, 100))
    client = make_client(a.url, b.url)
    async with stream(client, [Topic.HEAD], slot_seconds=10, prefer_check_interval=0.2) as s:
        (first,) = await take(s, 1)
        assert first.node == b.url
        a_fixed.set()
        async with asyncio.timeout(5):
            while (await anext(s)).node != a.url:
                pass
        assert s.node == a.url


async def test_a_silent_stream_is_backed_by_polling(nodes: Nodes, make_client: MakeClient) -> None:
    node = await nodes()

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(f"event: head\ndata: {json.dumps(head(20, '14'))}\n\n".encode())
        while not node.stopping.is_set():  # connected, keep-alives only
            await resp.write(b":\n\n")
            await asyncio.sleep(0.05)
        return resp

    node.on("GET", EVENTS, handler)
    node.ok("GET", "/eth/v1/beacon/headers/head", header_body(21, "15"))
    client = make_client(node.url)
    async with stream(client, [Topic.HEAD], slot_seconds=0.2) as s:
        streamed, polled = await take(s, 2)
        assert (streamed.polled, polled.polled) == (False, True)
        assert isinstance(polled.data, HeadEvent)
        assert polled.data.slot == 21
        assert s.node == node.url  # still connected: the stream was not dropped


async def test_a_topic_silently_dropped_after_valid_ones_is_found(
    nodes: Nodes, make_client: MakeClient
) -> None:
    node = await nodes()

    async def lodestar(request: web.Request) -> web.StreamResponse:
        topics = request.query.getall("topics")
        if topics[0] == "attester_slashing":
            await node.stopping.wait()  # unknown first: never answers
        # unknown after valid ones: 200, and the valid ones stream
        return await sse(request, node, [("head", head(30))] if "head" in topics else [])

    node.on("GET", EVENTS, lodestar)
    client = make_client(node.url)
    async with stream(
        client, [Topic.HEAD, Topic.ATTESTER_SLASHING], slot_seconds=10, first_byte_timeout=0.3
    ) as s:
        (event,) = await take(s, 1)
        assert event.topic is Topic.HEAD
        for _ in range(40):
            if s.unavailable_topics:
                break
            await asyncio.sleep(0.05)
        assert s.unavailable_topics == {Topic.ATTESTER_SLASHING}
        assert s.node == node.url  # the live stream was left alone
