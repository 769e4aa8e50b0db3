"""The pool's keys from every source: ``[pool] validators``/``validators_file`` and the validator
clients' keymanagers (``[[validator_client]]``), merged, resolved to indices, changed at epoch
boundaries.

Every epoch each keymanager is asked for its keys. A change found while the head is in epoch
``h`` takes effect at epoch ``E = h + 1``: the journal entry is written at once (``effective_epoch
= E``), and the pool changes when the daemon handles closed epoch ``E`` (``on_report``) — before
the monitor judges ``E``'s proposals and before the ledger reads window ``E``, so a key imported
into a validator client is monitored and paid from ``E`` on, and a deleted one stops there, its
ledger history intact. A validator client that cannot be reached keeps its last known keys (kept
across restarts) and its ``stakepool_validator_client_up`` gauge drops to 0; it never retires a
key by being silent. An outage is a ``validator_client_unreachable`` event (MQTT, the web page's
warnings), raised once per outage (kept across restarts, in the transaction that keeps it), and its
end a ``validator_client_reachable`` one. A pubkey the chain does not know yet (a deposit not processed) is asked
about again at every poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.errors import BeaconError
from stakepool.beacon.keymanager import KeymanagerClient, KeymanagerError
from stakepool.chain.spec import ChainSpec
from stakepool.chain.types import Epoch
from stakepool.config import Settings
from stakepool.config.validator_clients import ValidatorClientSettings
from stakepool.ledger.membership import MembershipChange, active_after, diff_members
from stakepool.ledger.store import membership_sql
from stakepool.monitor.daemon_events import ValidatorClientReachable, ValidatorClientUnreachable
from stakepool.monitor.facts import EpochReport
from stakepool.monitor.pool import PoolMember, ValidatorRef, resolve_pool
from stakepool.publish.vc_metrics import ValidatorClientMetrics
from stakepool.service.event_sink import EventSink
from stakepool.store.database import STORE_ERRORS, Database
from stakepool.store.unit import UnitOfWork
from stakepool.store.writer import NotWriterError

log = structlog.get_logger("stakepool.keys")

KEPT_KEY = "validator_client_keys"
OUTAGES_KEY = "validator_client_outages"
"""``{vc name: epoch its outage was noticed}`` for the clients not answering now."""
CONFIG_SOURCE = "config"


@dataclass(frozen=True, slots=True)
class _PubkeyRef:
    """A validator client's key, shaped like a configured ``ValidatorRef``."""

    pubkey: str
    label: str | None

    @property
    def index(self) -> int | None:
        return None

    @property
    def key(self) -> str:
        return self.pubkey


class _Source:
    def __init__(self, settings: ValidatorClientSettings) -> None:
        self.name = settings.name
        self.client = KeymanagerClient(
            settings.url, settings.read_token, timeout=settings.timeout_seconds
        )
        self.keys: frozenset[str] | None = None
        """Last known keys; None: never known (not even from a previous run)."""
        self.up: bool | None = None
        self.outage_since: int | None = None
        """The epoch the current outage was noticed at (its event raised); None: no outage."""


class PoolKeys:
    """Build with the settings; ``start`` resolves the first pool, ``watch`` polls every epoch."""

    def __init__(
        self,
        settings: Settings,
        client: BeaconClient,
        db: Database,
        metrics: ValidatorClientMetrics,
        apply: Callable[[tuple[PoolMember, ...], int], None],
        *,
        events: EventSink,
    ) -> None:
        self.settings = settings
        self.client = client
        self.db = db
        self.metrics = metrics
        self._apply = apply
        self.events = events
        self.sources = [_Source(vc) for vc in settings.validator_client]
        self.members: tuple[PoolMember, ...] = ()
        self.pending: tuple[int, tuple[PoolMember, ...]] | None = None
        """(effective epoch, the pool from then on), journaled, not applied yet."""

    async def close(self) -> None:
        for source in self.sources:
            await source.client.close()

    # --- polling ---------------------------------------------------------------------------------

    async def _restore(self) -> None:
        text = await self.db.view(lambda unit: unit.kept(KEPT_KEY))
        kept = json.loads(text) if text else {}
        outages_text = await self.db.view(lambda unit: unit.kept(OUTAGES_KEY))
        outages = json.loads(outages_text) if outages_text else {}
        for source in self.sources:
            if isinstance(kept.get(source.name), list):
                source.keys = frozenset(str(k).lower() for k in kept[source.name])
            since = outages.get(source.name)
            if isinstance(since, int) and not isinstance(since, bool):
                source.outage_since = since

    def _keep_outages(self, unit: UnitOfWork) -> None:
        outages = {s.name: s.outage_since for s in self.sources if s.outage_since is not None}
        unit.keep(OUTAGES_KEY, json.dumps(outages, sort_keys=True))

    async def _outage(self, source: _Source, epoch: int, error: str) -> None:
        """The first failure of an outage: kept, and its event raised, in one transaction."""
        source.outage_since = epoch
        event = ValidatorClientUnreachable(
            vc=source.name,
            epoch=Epoch(epoch),
            error=error,
            keys_kept=None if source.keys is None else len(source.keys),
        )
        await self.events.emit([event], self._keep_outages)

    async def _recovered(self, source: _Source, epoch: int, keys: int) -> None:
        since, source.outage_since = source.outage_since, None
        assert since is not None
        log.info("validator_client_reachable", vc=source.name, keys=keys)
        event = ValidatorClientReachable(
            vc=source.name,
            epoch=Epoch(epoch),
            unreachable_since_epoch=Epoch(since),
            keys=keys,
        )
        await self.events.emit([event], self._keep_outages)

    async def poll(self, epoch: int) -> None:
        """Ask every keymanager (the head in ``epoch``); one that fails keeps its last known keys."""
        changed = False
        for source in self.sources:
            try:
                keys = await source.client.keys()
            except KeymanagerError as exc:
                if source.outage_since is None:
                    await self._outage(source, epoch, str(exc))
                source.up = False
                self.metrics.polled(
                    source.name,
                    up=False,
                    keys=None if source.keys is None else len(source.keys),
                    at=None,
                )
                continue
            if source.outage_since is not None:
                await self._recovered(source, epoch, len(keys))
            source.up = True
            changed |= keys != source.keys
            source.keys = keys
            self.metrics.polled(source.name, up=True, keys=len(keys), at=time.time())
        if changed:
            document = json.dumps(
                {s.name: sorted(s.keys) for s in self.sources if s.keys is not None}
            )
            with contextlib.suppress(NotWriterError):  # a standby: the writer keeps them
                await self.db.transaction(lambda unit: unit.keep(KEPT_KEY, document))

    async def _resolve(self) -> tuple[tuple[PoolMember, ...], dict[int, tuple[str, ...]]]:
        """The union of every source, as the chain knows it now; who vouches for whom."""
        config_refs = self.settings.pool.all_validators()
        vc_refs = [
            _PubkeyRef(key, source.name)
            for source in self.sources
            for key in sorted(source.keys or ())
        ]
        refs: list[ValidatorRef] = [*config_refs, *vc_refs]
        if not refs:
            return (), {}
        answer = await self.client.state.validators("head", [r.key for r in refs])
        known = [(v.index, v.validator.pubkey) for v in answer.data]
        resolution = resolve_pool(refs, known)
        if resolution.unknown:
            log.info("pool_keys_not_on_chain", ids=list(resolution.unknown)[:16])
        by_pubkey = {m.pubkey.lower(): m.index for m in resolution.members}
        sources: dict[int, list[str]] = {}
        config = resolve_pool(config_refs, known).members
        for m in config:
            sources.setdefault(m.index, []).append(CONFIG_SOURCE)
        for source in self.sources:
            for key in source.keys or ():
                index = by_pubkey.get(key)
                if index is not None:
                    sources.setdefault(index, []).append(f"vc:{source.name}")
        return resolution.members, {i: tuple(s) for i, s in sources.items()}

    # --- the pool over time ---------------------------------------------------------------------

    async def start(self, epoch: int) -> tuple[PoolMember, ...]:
        """The pool at start-up (effective ``epoch``), journaled against the last run's."""
        await self._restore()
        await self.poll(epoch)
        members, sources = await self._resolve()
        await self._journal(members, sources, epoch)
        self.members = members
        self.metrics.members.set(len(members))
        return members

    async def _journal(
        self, members: Sequence[PoolMember], sources: dict[int, tuple[str, ...]], epoch: int
    ) -> tuple[MembershipChange, ...]:
        def write(unit: UnitOfWork) -> tuple[MembershipChange, ...]:
            conn = unit.connection
            before = active_after(membership_sql.journal(conn))
            after = {int(m.index): m.pubkey.lower() for m in members}
            changes = diff_members(before, after, effective_epoch=epoch, sources=sources)
            membership_sql.record(conn, changes)
            return changes

        try:
            changes = await self.db.transaction(write)
        except NotWriterError:
            # A standby follows the same sources to the same pool; the writer journals it.
            log.info("pool_members_not_journaled", role="standby", members=len(members))
            return ()
        for c in changes:
            log.info(
                "pool_member_added" if c.change == "added" else "pool_member_retired",
                validator=c.validator_index,
                effective_epoch=c.effective_epoch,
                sources=list(c.sources),
            )
        return changes

    async def refresh(self, next_epoch: int) -> None:
        """Poll, and schedule any change of the pool for ``next_epoch`` (journaled now)."""
        await self.poll(max(0, next_epoch - 1))
        try:
            members, sources = await self._resolve()
        except BeaconError as exc:
            log.warning("pool_keys_unresolved", error=str(exc))
            return
        planned = self.pending[1] if self.pending is not None else self.members
        if [m.index for m in members] == [m.index for m in planned]:
            return
        effective = max(next_epoch, self.pending[0] if self.pending is not None else 0)
        await self._journal(members, sources, effective)
        self.pending = (effective, members)

    def on_report(self, report: EpochReport) -> None:
        """Bus handler: closed epoch ``report.epoch`` is about to be judged and settled."""
        if self.pending is not None and report.epoch >= self.pending[0]:
            _, members = self.pending
            self.pending = None
            self.members = members
            self.metrics.members.set(len(members))
            self._apply(members, report.epoch)

    async def watch(self, spec: ChainSpec, head_epoch: Callable[[], int | None]) -> None:
        """A task: once an epoch (a third into it), refresh the keys."""
        clock = spec.clock()
        while True:
            now_ms = time.time_ns() // 1_000_000
            wake = clock.next_epoch_start_ms(now_ms) + clock.epoch_duration_ms // 3
            await asyncio.sleep(max(0.0, (wake - now_ms) / 1000))
            head = head_epoch()
            if head is None:
                continue
            try:
                await self.refresh(head + 1)
            except STORE_ERRORS as exc:  # the journal could not be written: try next epoch
                log.error("pool_keys_not_journaled", error=str(exc))
