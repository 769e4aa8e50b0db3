"""The supervisor of a pool whose keys also come from validator clients (``[[validator_client]]``).

The same start-up and loops as ``Supervisor``, plus: the first pool comes from ``PoolKeys``
(configuration and keymanagers merged, journaled), a task refreshes the keys every epoch, and a
change is applied when the epoch worker reports the epoch it takes effect at (``PoolKeys.on_report``
runs on the bus before the monitor and the ledger handle that epoch).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from stakepool.monitor.facts import EpochReport
from stakepool.monitor.pool import PoolMember
from stakepool.publish.vc_metrics import ValidatorClientMetrics
from stakepool.service.event_sink import EventSink
from stakepool.service.keys import PoolKeys
from stakepool.service.supervisor import Supervisor


class KeyedSupervisor(Supervisor):
    def __init__(self, *args: Any, events: EventSink, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.keys = PoolKeys(
            self.settings,
            self.client,
            self.db,
            ValidatorClientMetrics(self.metrics.registry),
            self.set_members,
            events=events,
        )
        self.bus.subscribe(EpochReport, self.keys.on_report)

    async def resolve_members(self) -> tuple[PoolMember, ...]:
        assert self.spec is not None
        return await self.keys.start(self.spec.clock().epoch_at(time.time_ns() // 1_000_000))

    async def start_and_follow(self, group: asyncio.TaskGroup) -> None:
        group.create_task(self._watch_keys(), name="validator_clients")
        await super().start_and_follow(group)

    async def _watch_keys(self) -> None:
        await self.ready.wait()
        assert self.spec is not None
        await self.keys.watch(self.spec, self._head_epoch)

    def _head_epoch(self) -> int | None:
        head = None if self.tracker is None else self.tracker.head
        return None if head is None else int(head.epoch)

    def set_members(self, members: tuple[PoolMember, ...], epoch: int) -> None:
        """The pool changed at the boundary of ``epoch``: the epoch worker, the monitor, the
        ledger's reads and the metrics use the new set from that epoch (the one now being
        handled); the duty counters of validators still in the pool go on."""
        self.members = members
        counts = self.metrics.duties.snapshot()
        self.metrics.set_pool((m.index, m.label) for m in members)
        self.metrics.duties.restore(counts)
        if self.monitor is not None:
            self.monitor.set_pool((m.index for m in members), from_epoch=epoch)
