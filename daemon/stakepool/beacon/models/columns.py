"""The big answers (validators, balances) decoded once, straight into columns.

A 100,000-validator pool's validators answer is ~45 MB of JSON. Decoding it into generic Python
objects, then validating one pydantic model per validator field by field, cost about a second and a
half of CPU per read and blocked the event loop as long. Here the bytes are decoded by msgspec
into small structs whose numbers stay strings, and each column is then checked *once*: every
character ASCII digits, every value fitting uint64 (``array('Q')`` refuses anything else), every
status known, every pubkey 48 bytes of hex. The result is arrays of machine integers, not one
object per validator.

The fast path only accepts; it never explains. Whenever it refuses an answer, the answer is
validated again by the pydantic models (``models/state.py``), which raise the same
``MalformedResponse`` naming the first bad field as they always did, so every hostile-input rule of
the boundary holds here unchanged. msgspec keeps the GIL while it decodes, so a thread would not
free the loop: the answers stay small instead (``batch_size`` ids per request).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import msgspec

from stakepool.beacon.errors import MalformedResponse
from stakepool.beacon.models.hex_columns import (
    HexColumn,
    Refused,
    hex_column,
    packed_hex_column,
)
from stakepool.beacon.models.state import (
    ValidatorBalance,
    ValidatorInfo,
    ValidatorRecord,
    ValidatorStatus,
)
from stakepool.beacon.models.wire import Envelope, parse_as
from stakepool.chain.types import BLSPubkey, Epoch, Gwei, Root, ValidatorIndex

_STATUSES = {s.value: s for s in ValidatorStatus}
_MAX_DIGITS = 20
"""2**64 − 1 has 20 digits; longer strings go to the slow path (which allows leading zeros)."""


class _RecordWire(msgspec.Struct, gc=False):
    pubkey: str
    withdrawal_credentials: str
    effective_balance: str
    slashed: bool
    activation_eligibility_epoch: str
    activation_epoch: str
    exit_epoch: str
    withdrawable_epoch: str


class _InfoWire(msgspec.Struct, gc=False):
    index: str
    balance: str
    status: str
    validator: _RecordWire


class _BalanceWire(msgspec.Struct, gc=False):
    index: str
    balance: str


W = TypeVar("W")


class _EnvelopeWire(msgspec.Struct):
    data: list[Any]
    execution_optimistic: bool = False
    finalized: bool | None = None
    version: str | None = None
    dependent_root: str | None = None


class _ValidatorsWire(_EnvelopeWire):
    data: list[_InfoWire]


class _BalancesWire(_EnvelopeWire):
    data: list[_BalanceWire]


_VALIDATORS = msgspec.json.Decoder(_ValidatorsWire)
_BALANCES = msgspec.json.Decoder(_BalancesWire)
_ANY: msgspec.json.Decoder[Any] = msgspec.json.Decoder()


def uint64_column(values: Sequence[str]) -> array[int]:
    """Decimal strings → ``array('Q')``: one check of the whole column (ASCII digits only, 1 to
    20 of them), then the array's own range check of each value; ``Refused`` for anything else."""
    if values:
        joined = "".join(values)
        if not (joined.isascii() and joined.isdigit()):
            raise Refused
        lengths = list(map(len, values))
        if min(lengths) < 1 or max(lengths) > _MAX_DIGITS:
            raise Refused
    try:
        return array("Q", map(int, values))
    except OverflowError:
        raise Refused from None


def _root(value: str | None) -> Root | None:
    if value is None:
        return None
    return Root(hex_column([value], 32)[0])


@dataclass(frozen=True, slots=True)
class ValidatorColumns:
    """The validators answer as columns; row ``i`` of each is one validator, in answer order."""

    index: array[int]
    balance: array[int]
    status: list[ValidatorStatus]
    effective_balance: array[int]
    slashed: bytes
    """One byte per validator, 1 if slashed."""
    activation_eligibility_epoch: array[int]
    activation_epoch: array[int]
    exit_epoch: array[int]
    withdrawable_epoch: array[int]
    pubkey: HexColumn
    """Read as lower-case ``0x`` hex; kept as bytes."""
    withdrawal_credentials: HexColumn

    def __len__(self) -> int:
        return len(self.index)

    def info(self, i: int) -> ValidatorInfo:
        """Row ``i`` as the API model, for the callers that want one object (small lists)."""
        # model_construct: every value was checked as its column was built.
        record = ValidatorRecord.model_construct(
            pubkey=BLSPubkey(self.pubkey[i]),
            withdrawal_credentials=self.withdrawal_credentials[i],
            effective_balance=Gwei(self.effective_balance[i]),
            slashed=bool(self.slashed[i]),
            activation_eligibility_epoch=Epoch(self.activation_eligibility_epoch[i]),
            activation_epoch=Epoch(self.activation_epoch[i]),
            exit_epoch=Epoch(self.exit_epoch[i]),
            withdrawable_epoch=Epoch(self.withdrawable_epoch[i]),
        )
        return ValidatorInfo.model_construct(
            index=ValidatorIndex(self.index[i]),
            balance=Gwei(self.balance[i]),
            status=self.status[i],
            validator=record,
        )

    def infos(self) -> Iterator[ValidatorInfo]:
        return (self.info(i) for i in range(len(self)))

    def balances(self) -> BalanceColumns:
        return BalanceColumns(self.index, self.balance)

    @staticmethod
    def empty() -> ValidatorColumns:
        q = [array("Q") for _ in range(7)]
        return ValidatorColumns(
            q[0],
            q[1],
            [],
            q[2],
            b"",
            q[3],
            q[4],
            q[5],
            q[6],
            HexColumn(b"", 48),
            HexColumn(b"", 32),
        )

    @staticmethod
    def concat(parts: Sequence[ValidatorColumns]) -> ValidatorColumns:
        """The chunks' columns end to end, in chunk order."""
        if len(parts) == 1:
            return parts[0]
        out = ValidatorColumns.empty()
        for part in parts:
            for name in ValidatorColumns.__slots__:
                column = getattr(out, name)
                if isinstance(column, (bytes, HexColumn)):
                    object.__setattr__(out, name, column + getattr(part, name))
                else:
                    column += getattr(part, name)
        return out

    @staticmethod
    def of(infos: Sequence[ValidatorInfo]) -> ValidatorColumns:
        """Columns from validated models (the slow path's answer)."""
        records = [i.validator for i in infos]
        return ValidatorColumns(
            index=array("Q", (i.index for i in infos)),
            balance=array("Q", (i.balance for i in infos)),
            status=[i.status for i in infos],
            effective_balance=array("Q", (r.effective_balance for r in records)),
            slashed=bytes(r.slashed for r in records),
            activation_eligibility_epoch=array(
                "Q", (r.activation_eligibility_epoch for r in records)
            ),
            activation_epoch=array("Q", (r.activation_epoch for r in records)),
            exit_epoch=array("Q", (r.exit_epoch for r in records)),
            withdrawable_epoch=array("Q", (r.withdrawable_epoch for r in records)),
            pubkey=HexColumn.of([r.pubkey for r in records], 48),
            withdrawal_credentials=HexColumn.of([r.withdrawal_credentials for r in records], 32),
        )


@dataclass(frozen=True, slots=True)
class BalanceColumns:
    """The balances answer as two columns, in answer order."""

    index: array[int]
    balance: array[int]

    def __len__(self) -> int:
        return len(self.index)

    def rows(self) -> Iterator[ValidatorBalance]:
        return (
            ValidatorBalance.model_construct(index=ValidatorIndex(i), balance=Gwei(b))
            for i, b in zip(self.index, self.balance, strict=True)
        )

    def as_dict(self) -> dict[ValidatorIndex, Gwei]:
        # cast: NewTypes of int, nothing to convert; a dict comprehension would cost 100k calls.
        return cast(dict[ValidatorIndex, Gwei], dict(zip(self.index, self.balance, strict=True)))

    @staticmethod
    def concat(parts: Sequence[BalanceColumns]) -> BalanceColumns:
        index, balance = array("Q"), array("Q")
        for p in parts:
            index += p.index
            balance += p.balance
        return BalanceColumns(index, balance)


def _validator_columns(data: list[_InfoWire]) -> ValidatorColumns:
    status_text = [d.status for d in data]
    if not set(status_text) <= _STATUSES.keys():
        raise Refused
    records = [d.validator for d in data]
    return ValidatorColumns(
        index=uint64_column([d.index for d in data]),
        balance=uint64_column([d.balance for d in data]),
        status=[_STATUSES[s] for s in status_text],
        effective_balance=uint64_column([r.effective_balance for r in records]),
        slashed=bytes(r.slashed for r in records),
        activation_eligibility_epoch=uint64_column(
            [r.activation_eligibility_epoch for r in records]
        ),
        activation_epoch=uint64_column([r.activation_epoch for r in records]),
        exit_epoch=uint64_column([r.exit_epoch for r in records]),
        withdrawable_epoch=uint64_column([r.withdrawable_epoch for r in records]),
        pubkey=packed_hex_column([r.pubkey for r in records], 48),
        withdrawal_credentials=packed_hex_column([r.withdrawal_credentials for r in records], 32),
    )


def _balance_columns(data: list[_BalanceWire]) -> BalanceColumns:
    return BalanceColumns(
        index=uint64_column([d.index for d in data]),
        balance=uint64_column([d.balance for d in data]),
    )


def envelope_of(wire: _EnvelopeWire | Any, data: W, header_version: str | None) -> Envelope[W]:
    version = wire.version if wire.version is not None else header_version
    return Envelope[W].model_construct(
        data=data,
        execution_optimistic=wire.execution_optimistic,
        finalized=wire.finalized,
        version=version,
        dependent_root=_root(wire.dependent_root),
    )


M = TypeVar("M", bound=Envelope[Any])


def slow(
    raw: bytes, model: type[M], endpoint: str, node: str | None, header_version: str | None
) -> M:
    """The pydantic models' verdict on an answer the fast path refused: their
    ``MalformedResponse`` naming the first bad field, or the validated answer (a number the fast
    path does not take, such as 25 digits of leading zeros, is still a valid uint64)."""
    try:
        body = _ANY.decode(raw)
    except msgspec.DecodeError:
        raise MalformedResponse(endpoint, "<body>", "not JSON", node=node) from None
    env = parse_as(model, body, endpoint, node=node)
    if env.version is None and header_version:
        return env.model_copy(update={"version": header_version})
    return env


def replace_data(env: Envelope[Any], data: W) -> Envelope[W]:
    """``env``'s metadata around other ``data``."""
    return Envelope[W].model_construct(
        data=data,
        execution_optimistic=env.execution_optimistic,
        finalized=env.finalized,
        version=env.version,
        dependent_root=env.dependent_root,
    )


def decode_validators(
    raw: bytes, endpoint: str, *, node: str | None = None, header_version: str | None = None
) -> Envelope[ValidatorColumns]:
    """The validators answer as columns, or ``MalformedResponse`` naming the bad field."""
    try:
        wire = _VALIDATORS.decode(raw)
        return envelope_of(wire, _validator_columns(wire.data), header_version)
    except (msgspec.ValidationError, msgspec.DecodeError, Refused):
        pass
    env = slow(raw, Envelope[tuple[ValidatorInfo, ...]], endpoint, node, header_version)
    return replace_data(env, ValidatorColumns.of(env.data))


def decode_balances(
    raw: bytes, endpoint: str, *, node: str | None = None, header_version: str | None = None
) -> Envelope[BalanceColumns]:
    """The balances answer as columns, or ``MalformedResponse`` naming the bad field."""
    try:
        wire = _BALANCES.decode(raw)
        return envelope_of(wire, _balance_columns(wire.data), header_version)
    except (msgspec.ValidationError, msgspec.DecodeError, Refused):
        pass
    env = slow(raw, Envelope[tuple[ValidatorBalance, ...]], endpoint, node, header_version)
    columns = BalanceColumns(
        array("Q", (b.index for b in env.data)), array("Q", (b.balance for b in env.data))
    )
    return replace_data(env, columns)


__all__ = [
    "BalanceColumns",
    "Refused",
    "ValidatorColumns",
    "decode_balances",
    "decode_validators",
    "envelope_of",
    "hex_column",
    "replace_data",
    "slow",
    "uint64_column",
]
