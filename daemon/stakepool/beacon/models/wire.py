"""Wire primitives: how the Beacon API encodes numbers, hex and envelopes, and how we parse them.

Every integer arrives as a decimal JSON string. We parse it with ``int()`` after a regex check, so a
float (``1.5``), a bool, ``"abc"`` or ``"1e3"`` is rejected instead of coerced. Hex values are
checked for length and normalised to lower case so they compare equal across nodes.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, PlainValidator, StrictBool, ValidationError

from stakepool.beacon.errors import MalformedResponse
from stakepool.chain.types import (
    BLSPubkey,
    CommitteeIndex,
    Epoch,
    Gwei,
    Root,
    Slot,
    ValidatorIndex,
    Wei,
)

_UINT = re.compile(r"[0-9]{1,80}")
_INT = re.compile(r"-?[0-9]{1,80}")
_HEX = re.compile(r"0x(?:[0-9a-fA-F]{2})*")


def _uint(limit_bits: int) -> Any:
    limit = 2**limit_bits

    def parse(value: object) -> int:
        if isinstance(value, str) and _UINT.fullmatch(value):
            number = int(value)
            if number < limit:
                return number
            raise ValueError(f"{value} does not fit in uint{limit_bits}")
        raise ValueError(f"expected a decimal integer string, got {value!r}")

    return PlainValidator(parse)


def _parse_int64(value: object) -> int:
    if isinstance(value, str) and _INT.fullmatch(value):
        number = int(value)
        if -(2**63) <= number < 2**63:
            return number
        raise ValueError(f"{value} does not fit in int64")
    raise ValueError(f"expected a signed decimal integer string, got {value!r}")


def _parse_lenient_uint(value: object) -> int:
    # Legacy endpoints (Lodestar's GET liveness) send JSON numbers; still never a float or bool.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**64:
        return value
    if isinstance(value, str) and _UINT.fullmatch(value) and int(value) < 2**64:
        return int(value)
    raise ValueError(f"expected a non-negative integer, got {value!r}")


def _hex(nbytes: int | None) -> Any:
    def parse(value: object) -> str:
        if not isinstance(value, str) or not _HEX.fullmatch(value):
            raise ValueError(f"expected 0x-prefixed hex, got {_short(value)}")
        if nbytes is not None and len(value) != 2 + 2 * nbytes:
            raise ValueError(f"expected {nbytes} bytes of hex, got {(len(value) - 2) // 2}")
        return value.lower()

    return PlainValidator(parse)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


UInt64 = Annotated[int, _uint(64)]
UInt256 = Annotated[int, _uint(256)]
Int64 = Annotated[int, PlainValidator(_parse_int64)]
LenientUInt64 = Annotated[int, PlainValidator(_parse_lenient_uint)]
SlotStr = Annotated[Slot, _uint(64)]
EpochStr = Annotated[Epoch, _uint(64)]
ValidatorIndexStr = Annotated[ValidatorIndex, _uint(64)]
CommitteeIndexStr = Annotated[CommitteeIndex, _uint(64)]
GweiStr = Annotated[Gwei, _uint(64)]
SignedGweiStr = Annotated[Gwei, PlainValidator(_parse_int64)]
"""Rewards: signed, so a penalty is a negative number of Gwei."""
WeiStr = Annotated[Wei, _uint(256)]
RootHex = Annotated[Root, _hex(32)]
Bytes32Hex = Annotated[str, _hex(32)]
PubkeyHex = Annotated[BLSPubkey, _hex(48)]
SignatureHex = Annotated[str, _hex(96)]
AddressHex = Annotated[str, _hex(20)]
"""An execution address, lower-cased (the API may send it checksummed)."""
VersionHex = Annotated[str, _hex(4)]
BitsHex = Annotated[str, _hex(None)]
HexBytes = Annotated[str, _hex(None)]


class WireModel(BaseModel):
    """Frozen; unknown fields are ignored because nodes add fields in every release."""

    model_config = ConfigDict(frozen=True, extra="ignore")


T = TypeVar("T")


class Envelope(WireModel, Generic[T]):
    """``{"data": ...}`` plus the metadata the API may attach.

    ``finalized`` is ``None`` when the node did not say (some clients never send it): the caller
    compares against ``finality_checkpoints`` instead. ``execution_optimistic`` absent means False.
    """

    data: T
    execution_optimistic: StrictBool = False
    finalized: StrictBool | None = None
    version: str | None = None
    dependent_root: RootHex | None = None


def field_path(loc: tuple[int | str, ...]) -> str:
    """``('data', 3, 'balance')`` → ``data[3].balance``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "<body>"


M = TypeVar("M", bound=BaseModel)


def parse_as(model: type[M], body: object, endpoint: str, *, node: str | None = None) -> M:
    """Validate ``body`` (decoded JSON) as ``model``; raise ``MalformedResponse`` naming the field."""
    try:
        parsed = model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        reason = first["msg"].removeprefix("Value error, ")
        if first["type"] == "missing":
            reason = "missing"
        elif first["type"] not in ("value_error",):
            reason = f"{reason} (got {_short(first.get('input'))})"
        raise MalformedResponse(
            endpoint, field_path(tuple(first["loc"])), reason, node=node
        ) from None
    return parsed


__all__ = [
    "AddressHex",
    "BitsHex",
    "Bytes32Hex",
    "CommitteeIndexStr",
    "Envelope",
    "EpochStr",
    "GweiStr",
    "HexBytes",
    "Int64",
    "LenientUInt64",
    "PubkeyHex",
    "RootHex",
    "SignatureHex",
    "SignedGweiStr",
    "SlotStr",
    "UInt64",
    "UInt256",
    "ValidatorIndexStr",
    "VersionHex",
    "WeiStr",
    "WireModel",
    "field_path",
    "parse_as",
]
