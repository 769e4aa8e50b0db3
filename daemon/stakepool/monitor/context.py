"""What every part of the monitor shares for one pool on one chain.

The beacon client and the spec, the pool's indices, the block cache (each canonical block is
fetched once and read by every part), the duty tallies, and the events raised but not yet stored.
``emit`` counts an event's tally at once and buffers the event; the service stores the buffer
with the state in one transaction and only then tells it (``MonitorService._commit``). Every part
mutates its tracker synchronously with that counting, so the state, the tallies and the buffer are
consistent at any moment a commit may happen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

import structlog

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.errors import BeaconError
from stakepool.chain.spec import ChainSpec
from stakepool.chain.types import Epoch, ValidatorIndex
from stakepool.monitor.blockcache import BlockCache
from stakepool.monitor.counting import count
from stakepool.monitor.eventbase import MonitorEvent
from stakepool.monitor.tallies import DutyTallies
from stakepool.monitor.thresholds import MonitorThresholds

log = structlog.get_logger("stakepool.monitor")

T = TypeVar("T")
D = TypeVar("D")
# A node's failure, or an answer the pure trackers cannot use (they raise ValueError subclasses:
# AttestationDecodeError, ChainRootUnknown, BitfieldError, a seat outside the committee).
PART_ERRORS = (BeaconError, ValueError)
PART_ATTEMPTS = 3


class MonitorContext:
    def __init__(
        self,
        client: BeaconClient,
        spec: ChainSpec,
        ours: Iterable[int],
        tallies: DutyTallies,
        thresholds: MonitorThresholds,
    ) -> None:
        self.client = client
        self.spec = spec
        self.spe = spec.slots_per_epoch
        self.ours = tuple(sorted({ValidatorIndex(i) for i in ours}))
        self.tallies = tallies
        self.thresholds = thresholds
        self.blocks = BlockCache(client, self.spe)
        self.unsaved: list[MonitorEvent] = []
        """Counted, not yet stored nor told (``MonitorService._commit`` does both)."""

    def start(self, epoch: int) -> int:
        return epoch * self.spe

    def last(self, epoch: int) -> int:
        return (epoch + 1) * self.spe - 1

    def emit(self, events: Iterable[MonitorEvent]) -> None:
        events = list(events)
        if events:
            count(self.tallies, events)
            self.unsaved.extend(events)

    async def part(
        self,
        name: str,
        epoch: int,
        failed: list[str],
        run: Callable[[], Awaitable[T]],
        *,
        idempotent: bool = False,
        warn: bool = True,
        attempts: int | None = None,
    ) -> T | None:
        """Run one part of an epoch's work; a failure is retried within the epoch (a few times,
        with a backoff tied to the slot) while the failed attempt has raised no event yet, so a
        retry can never count one twice; then it is logged once and the part skipped.
        ``idempotent``: the part raises nothing twice for what it has seen (a proposal verdict is
        told once, a cached block is not scanned again), so it is retried even after an attempt
        that raised events before failing — else one bad answer after the first duty's verdict
        would leave the others to the next close, and the last epoch before a halt to none.
        ``attempts``: tries in all (default ``PART_ATTEMPTS``). ``warn=False``: a failure is
        logged at info only (a retry between closes: the close that failed has warned already,
        and the next close warns again if the node is still down)."""
        slot = self.spec.slot_duration_ms / 1000
        tries = PART_ATTEMPTS if attempts is None else max(1, attempts)
        for attempt in range(tries):
            emitted = len(self.unsaved)
            try:
                return await run()
            except PART_ERRORS as exc:
                quiet = idempotent or len(self.unsaved) == emitted
                if attempt + 1 < tries and quiet:
                    log.info("monitor_part_retry", part=name, epoch=epoch, error=str(exc))
                    await asyncio.sleep(slot / 8 * 2**attempt)
                    continue
                if not warn:
                    log.info("monitor_part_still_failing", part=name, epoch=epoch, error=str(exc))
                else:
                    log.warning("monitor_part_failed", part=name, epoch=epoch, error=str(exc))
                failed.append(name)
                return None
        return None  # unreachable: the last attempt returns


def drop_if_dependent_root_changed(
    cache: dict[Epoch, tuple[str | None, D]], epoch: Epoch, root: str | None
) -> None:
    """Duties cached with another dependent root than the head now reports were computed on a
    fork that lost: drop them, so the next use reads them again."""
    cached = cache.get(epoch)
    if root is not None and cached is not None and cached[0] != root:
        log.info("duties_dependent_root_changed", epoch=epoch, old=cached[0], new=root)
        del cache[epoch]
