"""Validator status transitions from successive ``ValidatorInfo`` snapshots (pure).

``StatusTracker.observe(epoch, infos)`` compares each validator's record with the last one seen
and returns, per validator, in this order:

* ``status_changed`` (pending → active → exiting → exited → withdrawal, and the slashed
  variants ``active_slashed``/``exited_slashed``);
* ``effective_balance_changed`` (Gwei, ints);
* ``credentials_changed`` when the withdrawal-credential prefix changes (``0x00`` BLS → ``0x01``
  execution after a BLS change, ``0x01`` → ``0x02`` compounding after a consolidation request).

The first snapshot of a validator is the baseline: no events (a restart must not re-announce the
pool). Snapshots older than the last one observed are ignored, so out-of-order or repeated polls
are harmless. ``snapshot(v)`` gives the last ``ValidatorSnapshot`` for metrics (status, credential
type, slashed flag). The slashing *alert* is ``monitor.slashing.SlashingWatch``'s job; it reads the
same ``slashed`` flag.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping

import msgspec

from stakepool.beacon.models.columns import ValidatorColumns
from stakepool.beacon.models.state import ValidatorInfo, ValidatorStatus
from stakepool.chain.types import Epoch, Gwei, ValidatorIndex
from stakepool.monitor.events import (
    CredentialsChanged,
    EffectiveBalanceChanged,
    MonitorEvent,
    StatusChanged,
)


class CredentialType(enum.StrEnum):
    BLS = "0x00"
    EXECUTION = "0x01"
    COMPOUNDING = "0x02"
    UNKNOWN = "unknown"
    """A prefix no fork defines (yet)."""


def credential_type(withdrawal_credentials: str) -> CredentialType:
    """The type named by the first byte of the 32-byte withdrawal credentials."""
    prefix = withdrawal_credentials[:4].lower()
    try:
        return CredentialType(prefix)
    except ValueError:
        return CredentialType.UNKNOWN


class ValidatorSnapshot(msgspec.Struct, frozen=True, gc=False):
    """A validator's record as last seen. A ``Struct`` without garbage-collector tracking (it holds
    no container, so no cycle): the tracker keeps one per pool member between epochs, and 100,000
    tracked objects made every full collection walk them (each collection held the loop).
    """

    index: ValidatorIndex
    epoch: Epoch
    """The epoch of the state the record was read from."""
    status: ValidatorStatus
    effective_balance: Gwei
    slashed: bool
    credentials: CredentialType
    exit_epoch: Epoch
    withdrawable_epoch: Epoch


def snapshot(info: ValidatorInfo, epoch: int) -> ValidatorSnapshot:
    record = info.validator
    return ValidatorSnapshot(
        info.index,
        Epoch(epoch),
        info.status,
        record.effective_balance,
        record.slashed,
        credential_type(record.withdrawal_credentials),
        record.exit_epoch,
        record.withdrawable_epoch,
    )


def column_snapshots(columns: ValidatorColumns, epoch: int) -> Iterator[ValidatorSnapshot]:
    """``snapshot`` of every row of a validators answer read as columns, by index."""
    at = Epoch(epoch)
    order = sorted(range(len(columns)), key=columns.index.__getitem__)
    index, status, slashed = columns.index, columns.status, columns.slashed
    effective, credentials = columns.effective_balance, columns.withdrawal_credentials
    exit_epoch, withdrawable = columns.exit_epoch, columns.withdrawable_epoch
    # The tracker keeps a snapshot per member between epochs; most share their effective
    # balance and their (far future) exit epochs, and each array read makes a new int object
    # (32 bytes): one object per distinct value instead (~10 MB fewer at 100,000 members).
    shared: dict[int, int] = {}
    one = shared.setdefault
    for i in order:
        e, x, w = effective[i], exit_epoch[i], withdrawable[i]
        yield ValidatorSnapshot(
            ValidatorIndex(index[i]),
            at,
            status[i],
            Gwei(one(e, e)),
            bool(slashed[i]),
            credential_type(credentials[i]),
            Epoch(one(x, x)),
            Epoch(one(w, w)),
        )


class StatusTracker:
    def __init__(self, state: Mapping[ValidatorIndex, ValidatorSnapshot] | None = None) -> None:
        self._last: dict[ValidatorIndex, ValidatorSnapshot] = dict(state or {})

    @property
    def state(self) -> Mapping[ValidatorIndex, ValidatorSnapshot]:
        return dict(self._last)

    def snapshot(self, validator: int) -> ValidatorSnapshot | None:
        return self._last.get(ValidatorIndex(validator))

    def observe(self, epoch: int, infos: Iterable[ValidatorInfo]) -> list[MonitorEvent]:
        ordered = sorted(infos, key=lambda i: i.index)
        return self.observe_snapshots(snapshot(info, epoch) for info in ordered)

    def observe_columns(self, epoch: int, columns: ValidatorColumns) -> list[MonitorEvent]:
        """``observe`` of a validators answer read as columns (no model per validator)."""
        return self.observe_snapshots(column_snapshots(columns, epoch))

    def observe_snapshots(self, snapshots: Iterable[ValidatorSnapshot]) -> list[MonitorEvent]:
        """Snapshots in index order."""
        events: list[MonitorEvent] = []
        for new in snapshots:
            old = self._last.get(new.index)
            if old is not None and new.epoch < old.epoch:
                continue  # a lagging node's older state: it must not undo what we saw
            self._last[new.index] = new
            if old is not None:
                events.extend(_diff(old, new))
        return events


def _diff(old: ValidatorSnapshot, new: ValidatorSnapshot) -> list[MonitorEvent]:
    out: list[MonitorEvent] = []
    v, e = new.index, new.epoch
    if new.status != old.status:
        out.append(StatusChanged(validator_index=v, epoch=e, old=old.status, new=new.status))
    if new.effective_balance != old.effective_balance:
        out.append(
            EffectiveBalanceChanged(
                validator_index=v, epoch=e, old=old.effective_balance, new=new.effective_balance
            )
        )
    if new.credentials != old.credentials:
        out.append(
            CredentialsChanged(
                validator_index=v, epoch=e, old=old.credentials.value, new=new.credentials.value
            )
        )
    return out
