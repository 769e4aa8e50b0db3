"""A node found dead ends the requests waiting on it, including one whose own time ran out in the
same instant: that one is left to end by itself, and the daemon does not crash (a race seen in
the reliability suite: "Cannot change state of expiring Timeout", exit 1)."""

from __future__ import annotations

import asyncio

from stakepool.beacon.backoff import Backoff
from stakepool.beacon.health import HealthTracker
from stakepool.beacon.transport import NodeTransport

URL = "http://127.0.0.1:1"


def _transport() -> NodeTransport:
    return NodeTransport(URL, HealthTracker(URL, offline_backoff=Backoff(base=1.0)))


async def test_abandon_ends_waiting_requests_and_skips_one_already_expiring() -> None:
    transport = _transport()
    loop = asyncio.get_running_loop()
    expiring_entered = asyncio.Event()
    seen: list[object] = []

    async def waiting(budget: float, entered: asyncio.Event | None = None) -> str:
        try:
            async with asyncio.timeout(budget) as scope:
                transport._budgets.add(scope)
                if entered is not None:
                    entered.set()
                await asyncio.sleep(30)
        except TimeoutError:
            return "timed out"
        finally:
            transport._budgets.discard(scope)
        return "answered"

    long = asyncio.create_task(waiting(30))
    soon = asyncio.create_task(waiting(0.05, expiring_entered))
    await expiring_entered.wait()
    await asyncio.sleep(0)  # both inside their timeouts
    expiring = next(
        b for b in transport._budgets if b.when() is not None and b.when() < loop.time() + 1
    )

    def at_expiry() -> None:
        # Runs right after the short timeout's own handle fired: it is expiring, its task not
        # yet resumed.
        seen.append(expiring.expired())
        seen.append(transport.abandon())

    when = expiring.when()
    assert when is not None
    loop.call_at(when, at_expiry)
    results = await asyncio.wait_for(asyncio.gather(long, soon), 5)
    assert seen == [True, 2]  # both counted, the expiring one not touched
    assert results == ["timed out", "timed out"]  # the long one ended at once, not after 30 s


async def test_abandon_with_nothing_waiting_is_zero() -> None:
    assert _transport().abandon() == 0
