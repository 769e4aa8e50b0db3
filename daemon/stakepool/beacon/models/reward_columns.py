"""The attestation rewards answer decoded once, into columns (``columns.py`` for the rules).

One row per pool validator (``total_rewards``: 100,000 of them for a big pool) becomes five
arrays; the few ``ideal_rewards`` rows (one per effective-balance bucket) stay models. Signed
figures are checked as int64 (``array('q')``): a penalty is negative. ``inclusion_delay`` exists
only before Altair: an answer that carries one takes the models' path, which keeps it.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from stakepool.beacon.models.columns import Refused, envelope_of, replace_data, slow, uint64_column
from stakepool.beacon.models.duties import (
    AttestationReward,
    AttestationRewards,
    IdealAttestationReward,
)
from stakepool.beacon.models.wire import Envelope, WireModel, parse_as
from stakepool.chain.types import Gwei, ValidatorIndex

_MAX_DIGITS = 19
"""2**63 has 19 digits; longer magnitudes go to the slow path."""


class _TotalWire(msgspec.Struct, gc=False):
    validator_index: str
    head: str
    target: str
    source: str
    inclusion_delay: str | None = None
    inactivity: str = "0"


class _RewardsWire(msgspec.Struct):
    ideal_rewards: list[Any]
    total_rewards: list[_TotalWire]


class _EnvelopeWire(msgspec.Struct):
    data: _RewardsWire
    execution_optimistic: bool = False
    finalized: bool | None = None
    version: str | None = None
    dependent_root: str | None = None


class _Ideal(WireModel):
    ideal_rewards: tuple[IdealAttestationReward, ...]


_DECODER = msgspec.json.Decoder(_EnvelopeWire)


def int64_column(values: Sequence[str]) -> array[int]:
    """Signed decimal strings → ``array('q')``, one check per column, the array's range check
    per value."""
    if values:
        magnitudes = [v[1:] if v[:1] == "-" else v for v in values]
        joined = "".join(magnitudes)
        if not (joined.isascii() and joined.isdigit()):
            raise Refused
        lengths = list(map(len, magnitudes))
        if min(lengths) < 1 or max(lengths) > _MAX_DIGITS:
            raise Refused
    try:
        return array("q", map(int, values))
    except OverflowError:
        raise Refused from None


@dataclass(frozen=True, slots=True)
class AttestationRewardColumns:
    """``rewards/attestations``: the ideal rows as models, the per-validator rows as columns."""

    ideal_rewards: tuple[IdealAttestationReward, ...]
    validator_index: array[int]
    head: array[int]
    target: array[int]
    source: array[int]
    inactivity: array[int]
    inclusion_delay: tuple[int | None, ...] | None = None
    """Phase0 only (None: no row had one)."""

    def __len__(self) -> int:
        return len(self.validator_index)

    def rows(self) -> Iterator[AttestationReward]:
        delays = self.inclusion_delay or (None,) * len(self)
        for v, h, t, s, i, d in zip(
            self.validator_index,
            self.head,
            self.target,
            self.source,
            self.inactivity,
            delays,
            strict=True,
        ):
            yield AttestationReward.model_construct(
                validator_index=ValidatorIndex(v),
                head=Gwei(h),
                target=Gwei(t),
                source=Gwei(s),
                inclusion_delay=None if d is None else Gwei(d),
                inactivity=Gwei(i),
            )

    def model(self) -> AttestationRewards:
        return AttestationRewards.model_construct(
            ideal_rewards=self.ideal_rewards, total_rewards=tuple(self.rows())
        )

    @staticmethod
    def of(rewards: AttestationRewards) -> AttestationRewardColumns:
        """Columns from validated models (the slow path's answer)."""
        totals = rewards.total_rewards
        delays = tuple(t.inclusion_delay for t in totals)
        return AttestationRewardColumns(
            ideal_rewards=rewards.ideal_rewards,
            validator_index=array("Q", (t.validator_index for t in totals)),
            head=array("q", (t.head for t in totals)),
            target=array("q", (t.target for t in totals)),
            source=array("q", (t.source for t in totals)),
            inactivity=array("q", (t.inactivity for t in totals)),
            inclusion_delay=delays if any(d is not None for d in delays) else None,
        )

    @staticmethod
    def concat(parts: Sequence[AttestationRewardColumns]) -> AttestationRewardColumns:
        """The chunks end to end; ideal rows merged by effective balance (each chunk lists the
        buckets its validators need)."""
        if len(parts) == 1:
            return parts[0]
        ideal = {r.effective_balance: r for p in parts for r in p.ideal_rewards}
        out = AttestationRewardColumns(
            tuple(ideal[k] for k in sorted(ideal)),
            array("Q"),
            array("q"),
            array("q"),
            array("q"),
            array("q"),
        )
        for p in parts:
            out.validator_index.extend(p.validator_index)
            out.head.extend(p.head)
            out.target.extend(p.target)
            out.source.extend(p.source)
            out.inactivity.extend(p.inactivity)
        if any(p.inclusion_delay is not None for p in parts):
            delays = tuple(d for p in parts for d in (p.inclusion_delay or (None,) * len(p)))
            out = AttestationRewardColumns(
                out.ideal_rewards,
                out.validator_index,
                out.head,
                out.target,
                out.source,
                out.inactivity,
                delays,
            )
        return out


def _columns(wire: _RewardsWire) -> AttestationRewardColumns:
    totals = wire.total_rewards
    if any(t.inclusion_delay not in (None, "") for t in totals):
        raise Refused
    try:
        ideal = parse_as(_Ideal, {"ideal_rewards": wire.ideal_rewards}, "attestation_rewards")
    except Exception:
        raise Refused from None
    return AttestationRewardColumns(
        ideal_rewards=ideal.ideal_rewards,
        validator_index=uint64_column([t.validator_index for t in totals]),
        head=int64_column([t.head for t in totals]),
        target=int64_column([t.target for t in totals]),
        source=int64_column([t.source for t in totals]),
        inactivity=int64_column([t.inactivity for t in totals]),
    )


def decode_attestation_rewards(
    raw: bytes, endpoint: str, *, node: str | None = None, header_version: str | None = None
) -> Envelope[AttestationRewardColumns]:
    """The attestation rewards answer as columns, or ``MalformedResponse`` naming the bad field."""
    try:
        wire = _DECODER.decode(raw)
        return envelope_of(wire, _columns(wire.data), header_version)
    except (msgspec.ValidationError, msgspec.DecodeError, Refused):
        pass
    env = slow(raw, Envelope[AttestationRewards], endpoint, node, header_version)
    return replace_data(env, AttestationRewardColumns.of(env.data))


__all__ = ["AttestationRewardColumns", "decode_attestation_rewards", "int64_column"]
