"""The pool's validator records at ``LAST(c)``, read once per closed epoch for all who need them.

Closing epoch ``c``, the epoch report (balances), the statuses gauge and the monitor (records) want
the pool's records at ``LAST(c)``, and so do the rewards windows: window ``c`` ends there
(balances) and window ``c + 1`` starts there (records). The windows pin their ends to the state
root of the last block of the epoch; so the records are read here by the state root of the
canonical block at ``LAST(c)``, and handed to the money path's ``KnownStates`` under that root,
where the windows find them instead of asking the node twice more.

When ``LAST(c)`` has no block, or the node does not serve that state by root, they are read by
slot, as a stand-alone read: the windows then read their ends themselves. The values are the same
either way (no epoch boundary lies between the last block and ``LAST(c)``), so the report does
not depend on which id was used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.errors import NotFound
from stakepool.beacon.models import Envelope
from stakepool.beacon.models.columns import ValidatorColumns
from stakepool.chain.balance_view import BalanceView
from stakepool.chain.types import Gwei, Slot, ValidatorIndex
from stakepool.rewards.known_states import KnownStates


@dataclass(frozen=True, slots=True)
class EpochEnd:
    """The pool's records at ``LAST(c)`` and the state id they were read by."""

    epoch: int
    state_id: str
    columns: ValidatorColumns

    def balances(self) -> Mapping[ValidatorIndex, Gwei]:
        """Over the answer's own arrays (``BalanceView``); as a dict if an index came twice."""
        c = self.columns
        if np.unique(np.frombuffer(c.index, dtype=np.uint64)).size == len(c.index):
            return BalanceView(c.index, c.balance)
        # cast: NewTypes of int, nothing to convert; a comprehension would cost 100k calls.
        return cast(dict[ValidatorIndex, Gwei], dict(zip(c.index, c.balance, strict=True)))


class EpochEndReader:
    """Reads ``EpochEnd`` for the supervisor and tells ``known`` (the money path's) about it."""

    def __init__(self, client: BeaconClient, known: KnownStates) -> None:
        self.client = client
        self.known = known
        self.last: EpochEnd | None = None
        """The last read, until the epoch's close is over (``done``)."""

    async def read(self, epoch: int, last_slot: Slot, ids: Sequence[int]) -> EpochEnd:
        """Raises ``BeaconError`` when the node can serve the state neither by root nor by slot."""
        root = await self._block_state_root(last_slot)
        answer: Envelope[ValidatorColumns] | None = None
        if root is not None:
            try:
                answer = await self.client.state.validator_columns(root, ids)
            except NotFound:
                answer = None  # a node that serves this state only by slot
        if root is not None and answer is not None:
            self.known.remember(
                root,
                answer.data,
                finalized=answer.finalized,
                optimistic=answer.execution_optimistic,
            )
            end = EpochEnd(epoch, root, answer.data)
        else:
            answer = await self.client.state.validator_columns(last_slot, ids)
            end = EpochEnd(epoch, str(last_slot), answer.data)
        self.last = end
        return end

    def of(self, epoch: int) -> EpochEnd | None:
        """The read of ``epoch`` if it is the last one made."""
        return self.last if self.last is not None and self.last.epoch == epoch else None

    def done(self) -> None:
        self.last = None

    async def _block_state_root(self, slot: Slot) -> str | None:
        header = await self.client.blocks.header(slot)
        if header is None or not header.data.canonical or header.data.slot != slot:
            return None
        return str(header.data.header.message.state_root)
