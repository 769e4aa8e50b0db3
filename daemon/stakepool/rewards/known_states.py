"""``KnownStates``: the pool's validator records at a state already read, by state root.

Closing epoch ``c``, the daemon reads the pool's records at ``LAST(c)`` for the epoch report, the
statuses and the monitor. Window ``c`` ends at that state (its balances) and window ``c + 1``
starts there (its records), and the windows read their states by the root of the block that pins
them. When the report read the same root, the windows take the records from here instead of
asking the node again: at 100,000 validators that is a validators read and a balances read
fewer per epoch, the biggest answers the daemon decodes.

Keyed by state root only, never by slot: a root names one state, so a record served from here is
the node's answer for exactly the state the window pinned, whatever was reorged in between. A
slot id or ``head`` is never kept. Bounded to the last ``keep`` states (two: a window's start and
end). An answer that was refused as implausible is dropped (``forget``) so the window is read
again from the node. Pure bookkeeping: no I/O.
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from stakepool.beacon.models.columns import ValidatorColumns
from stakepool.beacon.models.hex_columns import HexColumn
from stakepool.rewards.explaining import Record


def is_state_root(state_id: str) -> bool:
    return len(state_id) == 66 and state_id.startswith("0x")


@dataclass(frozen=True, slots=True)
class KnownState:
    """One answer of the node about a state: the columns of the pool's records the rewards read
    (the same arrays as the answer's, not copies; the credentials and statuses are not kept),
    and what it said of the state."""

    index: array[int]
    balance: array[int]
    effective_balance: array[int]
    slashed: bytes
    activation_epoch: array[int]
    exit_epoch: array[int]
    withdrawable_epoch: array[int]
    pubkey: Sequence[str]
    finalized: bool | None
    optimistic: bool

    @classmethod
    def of(
        cls,
        c: ValidatorColumns,
        finalized: bool | None,
        optimistic: bool,
        pubkey: Sequence[str] | None = None,
    ) -> KnownState:
        """``pubkey``: the answer's pubkeys as text, when already made (``KnownStates``)."""
        return cls(
            c.index,
            c.balance,
            c.effective_balance,
            c.slashed,
            c.activation_epoch,
            c.exit_epoch,
            c.withdrawable_epoch,
            c.pubkey if pubkey is None else pubkey,
            finalized,
            optimistic,
        )

    def rows(self, indices: Sequence[int]) -> tuple[list[int], list[int]]:
        """Rows of ``indices`` that this answer holds, and the indices it does not hold."""
        index = self.index
        if len(index) == len(indices) and index.tolist() == list(indices):
            return list(range(len(index))), []  # the usual case: the same pool, the same order
        where = {v: row for row, v in enumerate(index)}
        found = [where[i] for i in indices if i in where]
        return found, [i for i in indices if i not in where]

    def records(self, rows: Sequence[int]) -> dict[int, Record]:
        return {
            self.index[r]: Record(
                self.balance[r],
                self.effective_balance[r],
                bool(self.slashed[r]),
                self.activation_epoch[r],
                self.exit_epoch[r],
                self.withdrawable_epoch[r],
                self.pubkey[r],
            )
            for r in rows
        }

    def balances(self, rows: Sequence[int]) -> dict[int, int]:
        index, balance = self.index, self.balance
        return {index[r]: balance[r] for r in rows}


class KnownStates:
    """``keep``: how many states are kept (0: none)."""

    def __init__(self, keep: int = 2) -> None:
        self.keep = max(0, keep)
        self._states: OrderedDict[str, KnownState] = OrderedDict()
        self._pubkeys: tuple[HexColumn, list[str]] | None = None
        """The last answer's pubkeys, packed and as text: the records the windows build take
        their pubkey from the text (``records``), and the pool's pubkeys hardly change between
        epochs, so one list of strings (~15 MB at 100,000 validators) serves every kept state."""

    def remember(
        self,
        state_root: str,
        columns: ValidatorColumns,
        *,
        finalized: bool | None,
        optimistic: bool,
    ) -> None:
        if not self.keep or not is_state_root(state_root):
            return
        if self._pubkeys is None or self._pubkeys[0] != columns.pubkey:
            self._pubkeys = (columns.pubkey, list(columns.pubkey))
        state = KnownState.of(columns, finalized, optimistic, self._pubkeys[1])
        key = state_root.lower()
        self._states[key] = state
        self._states.move_to_end(key)
        while len(self._states) > self.keep:
            self._states.popitem(last=False)

    def get(self, state_id: str) -> KnownState | None:
        if not is_state_root(state_id):
            return None
        return self._states.get(state_id.lower())

    def forget(self, *state_ids: str) -> None:
        for state_id in state_ids:
            self._states.pop(state_id.lower(), None)

    def __len__(self) -> int:
        return len(self._states)
