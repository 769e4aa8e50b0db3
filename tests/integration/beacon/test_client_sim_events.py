"""``EventStream`` on a live simulated chain: a refused or silent stream hands over to polling,
and the stream takes over again when it is back; a dead node's stream moves to the next node and
back; no head is delivered twice or out of order, and each names the chain's block."""

from __future__ import annotations

import time
from collections.abc import Callable

from stakepool.beacon.backoff import Backoff
from stakepool.beacon.client import BeaconClient
from stakepool.beacon.models import BeaconEvent, HeadEvent, Topic
from stakepool.beacon.stream import EventStream
from stakepool.sim.chain import SimChain
from tests.integration.conftest import MakeSimClient, ServeSim
from tests.integration.simkit import SPE, collect_until, live_chain, wait_until

SLOT_MS = 250
SLOT = SLOT_MS / 1000
DEADLINE = 16 * SLOT
"""Generous bound for anything that should take a few slots (a loaded 2-core machine)."""


def head_stream(client: BeaconClient, prefer_check_interval: float = 60.0) -> EventStream:
    return EventStream(
        client,
        [Topic.HEAD],
        slot_seconds=SLOT,
        slots_per_epoch=SPE,
        first_byte_timeout=1.0,
        reconnect_backoff=Backoff(base=0.05, maximum=0.2),
        prefer_check_interval=prefer_check_interval,
    )


def streamed(events: list[BeaconEvent]) -> int:
    return sum(not e.polled for e in events)


def polled(events: list[BeaconEvent]) -> int:
    return sum(e.polled for e in events)


def ends_with_streamed(n: int) -> Callable[[list[BeaconEvent]], bool]:
    return lambda events: len(events) >= n and not any(e.polled for e in events[-n:])


def streamed_from(url: str, since: int) -> Callable[[list[BeaconEvent]], bool]:
    return lambda events: any(not e.polled and e.node == url for e in events[since:])


def assert_true_to_the_chain(chain: SimChain, events: list[BeaconEvent], *nodes: str) -> None:
    """Each head once, in slot order, naming the chain's canonical block; all from ``nodes``."""
    heads = [e.data for e in events]
    assert all(isinstance(h, HeadEvent) for h in heads)
    slots = [h.slot for h in heads if isinstance(h, HeadEvent)]
    assert slots == sorted(set(slots)), f"repeated or backwards slots: {slots}"
    for head in heads:
        assert isinstance(head, HeadEvent)
        record = chain.block(str(head.slot))
        assert record is not None
        assert head.block == record.root
    assert {e.node for e in events} == set(nodes)


async def test_a_dropped_stream_falls_back_to_polling_and_resumes(
    serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    chain = live_chain(SLOT_MS)
    node = await serve_sim(chain, auto_advance=True)
    client = sim_client(node.url)
    events: list[BeaconEvent] = []
    async with head_stream(client) as stream:
        # Polling may cover the moment before the subscription is up; then the stream alone.
        await collect_until(
            stream, events, ends_with_streamed(3), "heads from the stream", DEADLINE
        )
        assert stream.node == node.url
        assert not stream.polling

        node.faults.sse_unavailable = True  # refuse new subscriptions (503) …
        await node.drop_streams()  # … and end the open one
        cut = len(events)
        await collect_until(
            stream, events, lambda ev: polled(ev[cut:]) >= 3, "polled heads", DEADLINE
        )
        outage = events[cut:]
        first_polled = next(i for i, e in enumerate(outage) if e.polled)
        assert streamed(outage[first_polled:]) == 0  # nothing from a stream that is down
        assert stream.polling
        assert stream.node is None
        assert node.requests["getEvents"] >= 2  # it kept trying to subscribe again

        node.faults.sse_unavailable = False
        cut = len(events)
        await collect_until(
            stream, events, lambda ev: streamed(ev[cut:]) >= 1, "the stream back", DEADLINE
        )
        back = cut + next(i for i, e in enumerate(events[cut:]) if not e.polled)
        await wait_until(lambda: not stream.polling, "polling to stop", DEADLINE)
        assert stream.node == node.url
        await collect_until(
            stream, events, lambda ev: streamed(ev[back:]) >= 3, "a steady stream", DEADLINE
        )
    # Once the stream is back, at most a poll already under way adds a head.
    assert polled(events[back:]) <= 1
    assert_true_to_the_chain(chain, events, node.url)


async def test_a_silent_stream_hands_over_to_polling_within_two_slots(
    serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    chain = live_chain(SLOT_MS)
    node = await serve_sim(chain, auto_advance=True)
    client = sim_client(node.url)
    events: list[BeaconEvent] = []
    async with head_stream(client) as stream:
        await collect_until(
            stream, events, ends_with_streamed(2), "heads from the stream", DEADLINE
        )

        node.faults.sse_silent = True  # the connection stays open; nothing comes, no keep-alive
        silenced_at = time.monotonic()
        cut = len(events)
        await collect_until(stream, events, lambda ev: polled(ev[cut:]) >= 1, "a poll", DEADLINE)
        took = time.monotonic() - silenced_at
        # The silence timeout is two slots from the last streamed head (received just before).
        assert 1.5 * SLOT <= took < 3 * SLOT, f"polling took over after {took:.3f} s"
        assert stream.polling
        assert stream.node == node.url  # still subscribed: silent, not dropped
        await collect_until(
            stream, events, lambda ev: polled(ev[cut:]) >= 3, "more polled heads", DEADLINE
        )
        assert streamed(events[cut:]) == 0

        node.faults.sse_silent = False
        cut = len(events)
        await collect_until(
            stream, events, lambda ev: streamed(ev[cut:]) >= 1, "the stream back", DEADLINE
        )
        await wait_until(lambda: not stream.polling, "polling to stop", DEADLINE)
    assert node.requests["getEvents"] == 1  # the same subscription carried on
    assert_true_to_the_chain(chain, events, node.url)


async def test_the_stream_follows_failover_and_returns_to_the_preferred_node(
    serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    chain = live_chain(SLOT_MS)
    a = await serve_sim(chain)
    b = await serve_sim(chain, auto_advance=True)
    client = sim_client(a.url, b.url)
    events: list[BeaconEvent] = []
    async with head_stream(client, prefer_check_interval=2 * SLOT) as stream:
        await collect_until(stream, events, streamed_from(a.url, 0), "a head from A", DEADLINE)
        await a.stop()
        cut = len(events)
        await collect_until(stream, events, streamed_from(b.url, cut), "the stream on B", DEADLINE)
        assert stream.node == b.url
        await a.start()  # once A is usable again, the stream moves back at its next check
        cut = len(events)
        await collect_until(stream, events, streamed_from(a.url, cut), "back on A", DEADLINE)
        assert stream.node == a.url
    assert_true_to_the_chain(chain, events, a.url, b.url)
