"""Where the chain is: head, justification and finality, and which epochs have closed.

Pure: fed by head/finality observations (from SSE or polling), it says which epochs became
closed (the head moved past their last slot), so per-epoch work runs once per epoch, in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from stakepool.chain.types import Epoch, Root, Slot


@dataclass(frozen=True, slots=True)
class HeadView:
    slot: Slot
    root: Root
    epoch: Epoch
    justified_epoch: Epoch
    finalized_epoch: Epoch


class HeadTracker:
    """Tracks the head and yields each closed epoch exactly once, oldest first.

    An epoch ``k`` is closed once a head in a later epoch is seen: its window ``(LAST(k-1),
    LAST(k)]`` can no longer gain blocks on this fork. At start-up only the epoch before the
    head's is reported, not the whole history — unless ``resume_from`` (the first epoch not yet
    processed before a restart) is given: then every epoch from it on is reported, if at most
    ``max_catch_up`` epochs closed meanwhile; a longer gap is skipped (``skipped`` tells which
    epochs) and the tracker starts as if fresh.
    """

    def __init__(
        self, slots_per_epoch: int, *, resume_from: int | None = None, max_catch_up: int = 16
    ) -> None:
        self._spe = slots_per_epoch
        self._head: HeadView | None = None
        self._next_to_close: Epoch | None = None
        self._resume_from = None if resume_from is None else Epoch(resume_from)
        self._max_catch_up = max_catch_up
        self.skipped: tuple[Epoch, Epoch] | None = None
        """Closed epochs left unprocessed at start-up (first, last), when the gap was too long."""

    @property
    def head(self) -> HeadView | None:
        return self._head

    def on_head(self, slot: int, root: str) -> list[Epoch]:
        epoch = Epoch(slot // self._spe)
        previous = self._head
        if previous is not None and slot < previous.slot:
            # A reorg to a shorter chain (or a stale poll): keep the view, close nothing.
            self._head = HeadView(
                Slot(slot), Root(root), epoch, previous.justified_epoch, previous.finalized_epoch
            )
            return []
        justified = previous.justified_epoch if previous else Epoch(0)
        finalized = previous.finalized_epoch if previous else Epoch(0)
        self._head = HeadView(Slot(slot), Root(root), epoch, justified, finalized)
        if self._next_to_close is None:
            fresh = Epoch(max(epoch - 1, 0))
            resume = self._resume_from
            if resume is None:
                self._next_to_close = fresh
                if epoch == 0:
                    return []
            elif epoch - resume <= self._max_catch_up:
                self._next_to_close = resume
            else:
                self._next_to_close = fresh
                self.skipped = (resume, Epoch(fresh - 1))
        closed = [Epoch(k) for k in range(self._next_to_close, epoch)]
        if closed:
            self._next_to_close = Epoch(epoch)
        return closed

    def on_checkpoints(self, justified_epoch: int, finalized_epoch: int) -> bool:
        """Record finality; True when the finalized epoch advanced. It never goes back."""
        head = self._head
        if head is None:
            return False
        advanced = finalized_epoch > head.finalized_epoch
        self._head = HeadView(
            head.slot,
            head.root,
            head.epoch,
            Epoch(max(justified_epoch, head.justified_epoch)),
            Epoch(max(finalized_epoch, head.finalized_epoch)),
        )
        return advanced
