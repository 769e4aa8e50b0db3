"""The ledger's writer role on a PostgreSQL ledger shared by several instances: the lease held.

Every quarter lease the instance takes the writer's lock if it is free, or keeps it alive if it
holds it (``store/writer.py``); the gauge ``stakepool_ledger_writer{instance}`` follows. A standby
keeps following and monitoring; the epoch worker leaves settlement to the writer, the publisher
sends nothing, and writes are refused with the writer's name. Taking over, the instance resumes
from what the database holds: the next unsettled epoch, the outbox's oldest row.
"""

from __future__ import annotations

import asyncio

import structlog
from prometheus_client import CollectorRegistry

from stakepool.publish.mqtt import EventPublisher
from stakepool.publish.writer_metrics import WriterMetrics
from stakepool.store.writer import WriterLease

log = structlog.get_logger("stakepool")


async def hold_lease(
    lease: WriterLease, registry: CollectorRegistry, publisher: EventPublisher | None
) -> None:
    """Runs until cancelled (the supervisor's group)."""
    gauge = WriterMetrics(registry, lease.instance)
    role = lease.role
    gauge.set(lease.is_writer())
    while True:
        now = await asyncio.to_thread(lease.step)
        gauge.set(now == "writer")
        if now != role:
            log.warning(
                "ledger_role_changed",
                role=now,
                term=lease.seen.term,
                writer=lease.seen.holder,
                instance=lease.instance,
                error=lease.last_error,
            )
            role = now
            if publisher is not None:
                # A new writer sends what the last one left in the outbox now; either way the
                # publisher's session changes whether it speaks for the pool (``mqtt_claim``).
                publisher.notify()
        await asyncio.sleep(lease.lease_seconds / 4)
