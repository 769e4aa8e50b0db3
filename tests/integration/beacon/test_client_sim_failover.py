"""Failover between two simulated nodes serving one live chain: B takes over within a slot, and
the client returns to A once A is back and its offline window has passed."""

from __future__ import annotations

import asyncio
import time

from stakepool.beacon.backoff import Backoff
from stakepool.beacon.client import BeaconClient
from stakepool.sim import ids
from stakepool.sim.chain import SimChain
from tests.integration.conftest import MakeSimClient, ServeSim
from tests.integration.simkit import CountingSimServer, live_chain, wait_until

SLOT_MS = 200
SLOT = SLOT_MS / 1000
OFFLINE_WINDOW = 1.0
"""How long the client skips a node that refused a connection (jitter off: exact)."""
HEADER = "getBlockHeader"
BALANCES = "postStateValidatorBalances"


async def head_from(
    client: BeaconClient, chain: SimChain, answering: CountingSimServer, idle: CountingSimServer
) -> float:
    """``blocks.header("head")``: answered by ``answering`` (not ``idle``), and true to the chain.

    Returns the call's duration in seconds.
    """
    asked, not_asked = answering.requests[HEADER], idle.requests[HEADER]
    before = chain.head_slot
    started = time.monotonic()
    header = await client.blocks.header("head")
    elapsed = time.monotonic() - started
    assert header is not None
    assert before <= header.data.slot <= chain.head_slot  # the head at the time of the call
    canonical = chain.block(str(header.data.slot))
    assert canonical is not None
    assert header.data.root == canonical.root
    assert header.data.canonical
    assert answering.requests[HEADER] == asked + 1
    assert idle.requests[HEADER] == not_asked
    return elapsed


async def test_b_answers_within_a_slot_when_a_dies_then_a_is_preferred_again(
    serve_sim: ServeSim, sim_client: MakeSimClient
) -> None:
    chain = live_chain(SLOT_MS)
    a = await serve_sim(chain)
    b = await serve_sim(chain, auto_advance=True)  # B's clock moves the shared chain
    client = sim_client(
        a.url,
        b.url,
        retries=2,
        connect_timeout=SLOT / 2,
        offline_backoff=Backoff(base=OFFLINE_WINDOW, maximum=OFFLINE_WINDOW, jitter=0),
    )
    genesis = await client.check_genesis()
    assert genesis.genesis_validators_root == chain.genesis_validators_root
    start = chain.head_slot
    await wait_until(lambda: chain.head_slot >= start + 2, "the chain advances", 20 * SLOT)

    await head_from(client, chain, a, b)  # both up: A, the preferred node, answers

    await a.stop()
    first_call = await head_from(client, chain, b, a)
    # The first call after the kill pays for A's refused connections and still lands in the slot.
    assert first_call < SLOT, f"failover took {first_call:.3f} s, a slot is {SLOT} s"
    down = client.health()[0]
    assert not down.up
    assert down.offline_until is not None
    assert client.health()[1].up

    # Balances from B too, at a fixed state so the comparison cannot race the clock.
    slot = chain.head_slot
    wanted: list[int | str] = [0, 17, ids.pubkey(33)]
    started = time.monotonic()
    balances = await client.state.balances(slot, wanted)
    assert time.monotonic() - started < SLOT  # A is skipped outright inside its window
    state = chain.state_at_slot(slot)
    assert state is not None
    assert {x.index: x.balance for x in balances.data} == {
        v: int(state.balance[v]) for v in (0, 17, 33)
    }
    assert (b.requests[BALANCES], a.requests[BALANCES]) == (1, 0)

    # A comes back on its port, but the client keeps to B until A's offline window is over.
    await a.start()
    offline_until = client.health()[0].offline_until
    assert offline_until is not None
    assert time.monotonic() < offline_until, "the test machine is too slow for this window"
    await head_from(client, chain, b, a)
    assert a.requests[HEADER] == 1  # the one answer before the kill

    await asyncio.sleep(max(0.0, offline_until - time.monotonic()) + 0.01)
    await head_from(client, chain, a, b)  # window over: A is tried first again, and answers
    back = client.health()[0]
    assert back.up
    assert back.offline_until is None
    await head_from(client, chain, a, b)  # and stays preferred
    # Every call answered and every state id resolved: the failover never surfaced an error.
    assert all(h.up for h in client.health())
