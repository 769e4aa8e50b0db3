"""When a changed delegations file may reach the ledger: stable first, and large removals confirmed.

A file that is being written (an editor saving in place, a copy in progress, ``>`` redirection)
is read half-way through, and every well-formed half is a valid file: the first three rows of a
thousand parse fine and would zero the other delegators' weights. Two guards, together:

* **stable**: a change applies only once the file's mtime, size and content have not moved for
  ``stable_seconds``; a writer that is still writing keeps moving them;
* **held**: a change that takes away more than ``max_weight_removed_share`` of the pool's weight
  at its boundary, or that lists no delegations at all while the ledger has some, is held with a
  ``delegations_held`` warning until an operator confirms that exact content
  (``POST /api/v1/delegations/confirm`` with its SHA-256, authenticated) or sets
  ``allow_large_changes``. A writer that crashed half-way leaves a stable but truncated file: this
  is what catches it.

The gate is the one object the watcher and the HTTP API share: the watcher holds a change in it,
the API confirms it, and the watcher (woken at once) applies it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from stakepool.ledger.queries import DelegationApplyResult


@dataclass(frozen=True, slots=True)
class DelegationsGuard:
    """The settings: ``[pool] delegations_stable_seconds``, ``delegations_max_weight_removed_share``
    and ``delegations_allow_large_changes``."""

    stable_seconds: float = 5.0
    max_weight_removed_share: float = 0.25
    allow_large_changes: bool = False

    def hold_reason(self, preview: DelegationApplyResult, entries: int) -> str | None:
        """Why the previewed change must wait for a confirmation; ``None``: apply it."""
        removed, before = preview.weight_removed_gwei, preview.weight_before_gwei
        if self.allow_large_changes or removed <= 0 or before <= 0:
            return None
        if entries == 0:
            return f"the file lists no delegations: it would remove all {before} Gwei of weight"
        # Compared in integers (a share of money is no float): removed / before > limit.
        limit = Fraction(self.max_weight_removed_share).limit_denominator(1_000_000)
        if removed * limit.denominator > before * limit.numerator:
            permille = removed * 1000 // before
            return (
                f"it removes {permille // 10}.{permille % 10}% of the pool's weight"
                f" ({removed} of {before} Gwei), more than delegations_max_weight_removed_share"
                f" ({self.max_weight_removed_share})"
            )
        return None


@dataclass(frozen=True, slots=True)
class HeldChange:
    file: str
    digest: str
    """SHA-256 (hex) of the file's bytes: what a confirmation must name."""
    reason: str
    effective_epoch: int
    weight_before_gwei: int
    weight_removed_gwei: int


class GateError(Exception):
    """A confirmation that does not match what is held; the message says what is."""


class DelegationsGate:
    """``listener`` is told the held change each time it changes (``None``: nothing held)."""

    def __init__(self, listener: Callable[[HeldChange | None], None] | None = None) -> None:
        self.held: HeldChange | None = None
        self._confirmed: str | None = None
        self._listener = listener
        self.wake = asyncio.Event()
        """Set by a confirmation so the watcher applies it now, not at its next poll."""

    def hold(self, change: HeldChange) -> bool:
        """Hold ``change`` (replacing an older held one); ``True`` if it is new."""
        new = self.held is None or self.held.digest != change.digest
        if new:
            self._confirmed = None
        self.held = change
        if new:
            self._tell()
        return new

    def _tell(self) -> None:
        if self._listener is not None:
            self._listener(self.held)

    def confirm(self, digest: str) -> HeldChange:
        held = self.held
        if held is None:
            raise GateError("no delegations file change is held")
        if digest.strip().lower() != held.digest:
            raise GateError(
                f"the held change of {held.file} has digest {held.digest}, not {digest[:80]!r}"
                " (the file changed since? confirm what is held now)"
            )
        self._confirmed = held.digest
        self.wake.set()
        return held

    def is_confirmed(self, digest: str) -> bool:
        return self._confirmed == digest

    def release(self, digest: str) -> None:
        """The change with ``digest`` was applied or replaced: nothing of it is held any more."""
        if self.held is not None and self.held.digest == digest:
            self.held = None
            self._tell()
        if self._confirmed == digest:
            self._confirmed = None

    def clear(self) -> None:
        was = self.held
        self.held = None
        self._confirmed = None
        if was is not None:
            self._tell()
