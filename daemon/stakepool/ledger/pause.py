"""Settlement paused while the database cannot write (its disk is full), and resumed after.

A settle, a finality flip or a kept window that the database refuses for lack of space
(``store.database.OutOfSpace``) rolled back whole: nothing half written, nothing to repair. The
ledger then pauses rather than ends the daemon: one critical ``ledger_paused`` line says why (not
one per retry), ``stakepool_ledger_paused`` is 1, ``/readyz`` names the reason; the epoch worker
tries again when the filesystem has room or an epoch closes, and the first write that commits
says ``ledger_resumed``. Settlement always continues from the ledger's last settled epoch, so the
rows written after the pause are those an undisturbed run wrote.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from stakepool.ledger.facts import LedgerPaused

log = structlog.get_logger("stakepool.ledger")

ROOM_TO_RESUME = 1 << 20
"""Free bytes on the database's filesystem before a retry between epoch closes (an epoch close
always retries): less would most likely fail again."""


class SettlementPause:
    def __init__(
        self, tell: Callable[[object], None], *, clock: Callable[[], float] = time.monotonic
    ):
        self._tell = tell
        self._clock = clock
        self.reason: str | None = None
        self._since: float | None = None
        self._epoch: int | None = None

    @property
    def paused(self) -> bool:
        return self.reason is not None

    def refused(self, epoch: int, error: str) -> None:
        """A write for closed epoch ``epoch`` failed for lack of space."""
        if self.reason is None:
            self._since = self._clock()
            self._epoch = epoch
            log.critical(
                "ledger_paused",
                epoch=epoch,
                reason="disk_full",
                error=error,
                hint=(
                    "the ledger's disk is full: settlement waits (nothing is lost, monitoring and"
                    " the API go on) and resumes by itself once there is room; free space or grow"
                    " the volume (docs/runbook.md#stakepoolledgerpaused)"
                ),
            )
            self._tell(LedgerPaused("disk_full"))
        self.reason = f"ledger paused: the database's disk is full ({error})"

    def committed(self, epoch: int) -> None:
        """The ledger wrote again for closed epoch ``epoch``."""
        if self.reason is None:
            return
        since = self._since if self._since is not None else self._clock()
        log.warning(
            "ledger_resumed",
            epoch=epoch,
            paused_since_epoch=self._epoch,
            paused_seconds=round(self._clock() - since, 1),
        )
        self.reason = None
        self._since = None
        self._epoch = None
        self._tell(LedgerPaused(None))
