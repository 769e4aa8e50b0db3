"""Watch the delegations file and apply a changed file at the next epoch boundary (an I/O edge).

Polls the file's mtime and size, and only when they move reads it and compares a SHA-256 of its
bytes (an editor that rewrites the same content changes nothing). A change waits until the file
has been stable for a while and is held when it removes much of the pool's weight
(``delegations_gate``: a half-written file must not zero delegators). A changed file is parsed and
validated whole; a bad file is logged with the parser's message (file:line) and ignored, the
ledger keeps the last good set, and the same bad content is not reported twice. A good file is
applied with ``effective_epoch`` = the next epoch boundary, which the caller provides (the chain
clock's current epoch + 1); the ledger refuses nothing earlier than its next unsettled epoch.

Who owns a delegator: the file owns the delegators it names and those it (or another file) set
last; a delegator whose latest change came through ``POST /api/v1/delegations`` is left as the API
set it unless the file names it (then the file's entries replace it). So a file edit or a restart
never wipes what an operator added through the API, and removing a line from the file still ends
that delegation.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from stakepool.ledger.delegations import DelegationError, DelegationSet, load_file
from stakepool.ledger.delegations_gate import DelegationsGate, DelegationsGuard, HeldChange
from stakepool.ledger.queries import DelegationApplyResult
from stakepool.ledger.store.interface import LedgerError, LedgerWriter
from stakepool.store.database import STORE_ERRORS
from stakepool.store.writer import NotWriterError

log = structlog.get_logger(__name__)

API_SOURCE = "api"
"""The journal's source of ``POST /api/v1/delegations`` changes (``parse_json``'s default)."""


_REFUSALS: tuple[type[Exception], ...] = (LedgerError, *STORE_ERRORS)
"""The ledger said no for now, or the database failed: retried at the next poll."""


@dataclass(frozen=True, slots=True)
class _Seen:
    mtime_ns: int
    size: int
    digest: str


class DelegationsWatcher:
    def __init__(
        self,
        path: Path,
        store: LedgerWriter,
        next_boundary: Callable[[], int | None],
        *,
        poll_seconds: float = 5.0,
        guard: DelegationsGuard | None = None,
        gate: DelegationsGate | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        quiet: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext,
    ) -> None:
        self.path = path
        self.quiet = quiet
        """Around each poll (the daemon: no full garbage collection while a million delegations
        are parsed and applied, ``service.collector``)."""
        self.store = store
        self.next_boundary = next_boundary
        """The next epoch boundary (the clock's current epoch + 1); ``None``: the ledger's own."""
        self.poll_seconds = poll_seconds
        # Without a guard (tests of the parsing and ownership rules): apply at once, hold nothing.
        self.guard = guard or DelegationsGuard(stable_seconds=0.0, allow_large_changes=True)
        self.gate = gate or DelegationsGate()
        self.clock = clock
        self.wall = wall
        self._stat: tuple[int, int] | None = None
        self._candidate: tuple[tuple[int, int], str, float] | None = None
        """The content last seen: (mtime and size, digest, when it was first seen so)."""
        self._applied_digest: str | None = None
        self._rejected_digest: str | None = None
        self.last_error: str | None = None

    async def check_once(self) -> DelegationApplyResult | None:
        """One poll: apply the file if it changed, is stable, valid and not held; ``None`` when
        nothing was applied."""
        try:
            st = self.path.stat()
        except OSError as exc:
            self._report(f"{self.path}: cannot stat: {exc}", None)
            return None
        stat_key = (st.st_mtime_ns, st.st_size)
        held = self.gate.held
        if stat_key == self._stat and not (held and self.gate.is_confirmed(held.digest)):
            return None
        try:
            raw = await asyncio.to_thread(self.path.read_bytes)
        except OSError as exc:
            self._report(f"{self.path}: cannot read: {exc}", None)
            return None
        digest = hashlib.sha256(raw).hexdigest()
        if not self._stable(stat_key, digest, st.st_mtime):
            return None
        held = self.gate.held
        if held is not None and held.digest != digest:
            # The file moved on (fixed, or replaced whole): the held content is no longer the
            # question; what is there now is judged afresh below.
            log.info("delegations_hold_dropped", file=str(self.path), digest=held.digest)
            self.gate.clear()
        if digest in (self._applied_digest, self._rejected_digest):
            self._stat = stat_key
            return None
        try:
            delegations = await asyncio.to_thread(load_file, self.path)
        except DelegationError as exc:
            # A bad file stays bad until it changes: report it once, keep the last good set.
            self._report(str(exc), digest)
            self._stat = stat_key
            return None
        boundary = self.next_boundary()
        try:
            if not self.gate.is_confirmed(digest) and await self._hold(
                delegations, digest, boundary
            ):
                self._stat = stat_key  # held: looked at again when it changes or is confirmed
                return None
            result = await self.store.apply_delegations(
                delegations, effective_epoch=boundary, replace_all=True, spare_source=API_SOURCE
            )
        except NotWriterError:
            # A standby (several instances on one PostgreSQL ledger): the writer applies the
            # file; this one tries again at each poll, so it applies it once it takes over.
            return None
        except _REFUSALS as exc:
            # The ledger refused for now (e.g. a boundary it has already settled): retry next poll.
            self._report(str(exc), None)
            return None
        self.gate.release(digest)
        self._stat = stat_key
        self._applied_digest = digest
        self._rejected_digest = None
        self.last_error = None
        log.info(
            "delegations_applied",
            file=str(self.path),
            digest=digest,
            effective_epoch=result.effective_epoch,
            changes=len(result.changes),
            delegators=result.delegators,
            weight_removed_gwei=str(result.weight_removed_gwei),
        )
        return result

    def _stable(self, stat_key: tuple[int, int], digest: str, mtime: float) -> bool:
        """Whether this content has stood unchanged for ``stable_seconds`` (a file still being
        written keeps changing; it is read again at the next poll). Its mtime says so too: a
        file last modified that long ago (the file found at start-up) needs no wait."""
        now = self.clock()
        if self._candidate is None or self._candidate[:2] != (stat_key, digest):
            self._candidate = (stat_key, digest, now)
            if self.wall() - mtime >= self.guard.stable_seconds:
                return True
            if self.guard.stable_seconds > 0:
                log.info(
                    "delegations_file_changed",
                    file=str(self.path),
                    digest=digest,
                    applies_if_unchanged_for_seconds=self.guard.stable_seconds,
                )
                return False
        return now - self._candidate[2] >= self.guard.stable_seconds

    async def _hold(self, delegations: DelegationSet, digest: str, boundary: int | None) -> bool:
        preview = await self.store.preview_delegations(
            delegations, effective_epoch=boundary, replace_all=True, spare_source=API_SOURCE
        )
        reason = self.guard.hold_reason(preview, len(delegations))
        if reason is None:
            return False
        change = HeldChange(
            file=str(self.path),
            digest=digest,
            reason=reason,
            effective_epoch=preview.effective_epoch,
            weight_before_gwei=preview.weight_before_gwei,
            weight_removed_gwei=preview.weight_removed_gwei,
        )
        if self.gate.hold(change):
            log.warning(
                "delegations_held",
                file=change.file,
                digest=digest,
                reason=reason,
                effective_epoch=change.effective_epoch,
                weight_before_gwei=str(change.weight_before_gwei),
                weight_removed_gwei=str(change.weight_removed_gwei),
                hint=(
                    "not applied: the ledger keeps the last good set. If the file is right,"
                    ' POST /api/v1/delegations/confirm {"digest": "<digest>"} (bearer token) or'
                    " set [pool] delegations_allow_large_changes = true; if it is half-written,"
                    " replace it atomically (write a temporary file, then mv)"
                ),
            )
        return True

    def _report(self, message: str, digest: str | None) -> None:
        if message == self.last_error:
            return  # said once is enough; the next different outcome is logged again
        if digest is not None:
            self._rejected_digest = digest
        self.last_error = message
        log.error("delegations_rejected", file=str(self.path), error=message)

    async def run(self) -> None:
        """Poll until cancelled; a confirmation wakes it at once. Nothing here ends the daemon:
        an unexpected error is logged (one line) and the next poll tries again, the ledger
        keeping the last good set meanwhile."""
        while True:
            try:
                with self.quiet():
                    await self.check_once()
            except Exception as exc:
                self._report(f"{self.path}: {type(exc).__name__}: {exc}", None)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.gate.wake.wait(), self.poll_seconds)
            self.gate.wake.clear()
