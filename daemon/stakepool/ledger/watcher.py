"""Watch the delegations file and apply a changed file at the next epoch boundary (an I/O edge).

Polls the file's mtime and size, and only when they move reads it and compares a SHA-256 of its
bytes (an editor that rewrites the same content changes nothing). A changed file is parsed and
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
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from stakepool.ledger.delegations import DelegationError, load_file
from stakepool.ledger.queries import DelegationApplyResult
from stakepool.ledger.store.interface import LedgerError, LedgerWriter
from stakepool.store.database import STORE_ERRORS

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
    ) -> None:
        self.path = path
        self.store = store
        self.next_boundary = next_boundary
        """The next epoch boundary (the clock's current epoch + 1); ``None``: the ledger's own."""
        self.poll_seconds = poll_seconds
        self._stat: tuple[int, int] | None = None
        self._applied_digest: str | None = None
        self._rejected_digest: str | None = None
        self.last_error: str | None = None

    async def check_once(self) -> DelegationApplyResult | None:
        """One poll: apply the file if it changed and is valid; ``None`` when nothing was applied."""
        try:
            st = self.path.stat()
        except OSError as exc:
            self._report(f"{self.path}: cannot stat: {exc}", None)
            return None
        stat_key = (st.st_mtime_ns, st.st_size)
        if stat_key == self._stat:
            return None
        try:
            raw = await asyncio.to_thread(self.path.read_bytes)
        except OSError as exc:
            self._report(f"{self.path}: cannot read: {exc}", None)
            return None
        digest = hashlib.sha256(raw).hexdigest()
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
        try:
            result = await self.store.apply_delegations(
                delegations,
                effective_epoch=self.next_boundary(),
                replace_all=True,
                spare_source=API_SOURCE,
            )
        except _REFUSALS as exc:
            # The ledger refused for now (e.g. a boundary it has already settled): retry next poll.
            self._report(str(exc), None)
            return None
        self._stat = stat_key
        self._applied_digest = digest
        self._rejected_digest = None
        self.last_error = None
        log.info(
            "delegations_applied",
            file=str(self.path),
            effective_epoch=result.effective_epoch,
            changes=len(result.changes),
            delegators=result.delegators,
        )
        return result

    def _report(self, message: str, digest: str | None) -> None:
        if message == self.last_error:
            return  # said once is enough; the next different outcome is logged again
        if digest is not None:
            self._rejected_digest = digest
        self.last_error = message
        log.error("delegations_rejected", file=str(self.path), error=message)

    async def run(self) -> None:
        """Poll until cancelled."""
        while True:
            await self.check_once()
            await asyncio.sleep(self.poll_seconds)
