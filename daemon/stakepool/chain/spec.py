"""Chain parameters as the beacon node states them (``/eth/v1/config/spec`` + ``/genesis``).

Nothing here is a network's constant: every value comes from the node. The only defaults are
protocol constants that are not configuration (the reward weights) and that some nodes omit from
their spec answer; a node that states them wins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stakepool.chain.clock import ChainClock
from stakepool.chain.types import Epoch, Root

# consensus-specs altair/beacon-chain.md "Incentivization weights": constants, not config.
_PROTOCOL_CONSTANTS: dict[str, int] = {
    "TIMELY_SOURCE_WEIGHT": 14,
    "TIMELY_TARGET_WEIGHT": 26,
    "TIMELY_HEAD_WEIGHT": 14,
    "SYNC_REWARD_WEIGHT": 2,
    "PROPOSER_WEIGHT": 8,
    "WEIGHT_DENOMINATOR": 64,
}

# consensus-specs: the initial slashing penalty is ``EB // quotient``, the quotient set by the fork in
# force (newest first; mainnet preset values, a node that states them wins). An Altair devnet slashes
# 1/64 of the balance at once, Electra 1/4096.
_SLASHING_QUOTIENTS = (
    ("electra", "MIN_SLASHING_PENALTY_QUOTIENT_ELECTRA", 4096),
    ("bellatrix", "MIN_SLASHING_PENALTY_QUOTIENT_BELLATRIX", 32),
    ("altair", "MIN_SLASHING_PENALTY_QUOTIENT_ALTAIR", 64),
    ("phase0", "MIN_SLASHING_PENALTY_QUOTIENT", 128),
)

# Fork order for ties (several forks at epoch 0 on devnets); unknown future forks sort after.
_FORK_ORDER = ("PHASE0", "ALTAIR", "BELLATRIX", "CAPELLA", "DENEB", "ELECTRA", "FULU", "GLOAS")
_FORK_EPOCH_KEY = re.compile(r"^([A-Z][A-Z0-9]*)_FORK_EPOCH$")
_UINT = re.compile(r"^[0-9]+$")


class SpecError(ValueError):
    """The node's spec lacks, or garbles, a parameter we need."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"config/spec {key}: {reason}")
        self.key = key


def _uint(spec: Mapping[str, Any], key: str) -> int:
    if key not in spec:
        raise SpecError(key, "missing")
    return _parse_uint(key, spec[key])


def _parse_uint(key: str, raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise SpecError(key, f"expected a decimal integer string, got {raw!r}")
    if isinstance(raw, str) and not _UINT.match(raw):
        raise SpecError(key, f"expected a decimal integer string, got {raw!r}")
    return int(raw)


def _optional_uint(spec: Mapping[str, Any], key: str, default: int) -> int:
    return _parse_uint(key, spec[key]) if key in spec else default


@dataclass(frozen=True, slots=True)
class ChainSpec:
    genesis_time: int
    genesis_validators_root: Root
    slots_per_epoch: int
    slot_duration_ms: int
    preset_base: str
    config_name: str
    fork_epochs: Mapping[str, Epoch]
    """Lower-case fork name → activation epoch, for the forks the node knows (far future included)."""
    far_future_epoch: Epoch
    effective_balance_increment: int
    min_activation_balance: int
    max_effective_balance: int
    """The largest effective balance any validator may have (Electra's, when the node states it)."""
    base_reward_factor: int
    sync_committee_size: int
    epochs_per_sync_committee_period: int
    max_committees_per_slot: int
    target_committee_size: int
    min_seed_lookahead: int
    max_seed_lookahead: int
    min_epochs_to_inactivity_penalty: int
    weights: Mapping[str, int]
    raw: Mapping[str, Any] = field(repr=False)

    @classmethod
    def from_api(
        cls, spec: Mapping[str, Any], genesis_time: int, genesis_validators_root: str
    ) -> ChainSpec:
        if "SLOT_DURATION_MS" in spec:  # newer configs replaced SECONDS_PER_SLOT with it
            slot_ms = _uint(spec, "SLOT_DURATION_MS")
        elif "SECONDS_PER_SLOT" in spec:
            slot_ms = _uint(spec, "SECONDS_PER_SLOT") * 1000
        else:
            raise SpecError("SLOT_DURATION_MS", "missing, and so is SECONDS_PER_SLOT")
        if slot_ms <= 0:
            raise SpecError("SLOT_DURATION_MS", f"must be positive, got {slot_ms}")
        slots_per_epoch = _uint(spec, "SLOTS_PER_EPOCH")
        if slots_per_epoch <= 0:
            raise SpecError("SLOTS_PER_EPOCH", "must be positive")

        far_future = _optional_uint(spec, "FAR_FUTURE_EPOCH", 2**64 - 1)
        forks: dict[str, Epoch] = {"phase0": Epoch(0)}
        for key, value in spec.items():
            match = _FORK_EPOCH_KEY.match(key)
            if match:
                forks[match.group(1).lower()] = Epoch(_parse_uint(key, value))

        max_eb = _optional_uint(
            spec, "MAX_EFFECTIVE_BALANCE_ELECTRA", _uint(spec, "MAX_EFFECTIVE_BALANCE")
        )
        weights = {k: _optional_uint(spec, k, v) for k, v in _PROTOCOL_CONSTANTS.items()}
        built = cls(
            genesis_time=genesis_time,
            genesis_validators_root=Root(genesis_validators_root.lower()),
            slots_per_epoch=slots_per_epoch,
            slot_duration_ms=slot_ms,
            preset_base=str(spec.get("PRESET_BASE", "")),
            config_name=str(spec.get("CONFIG_NAME", "")),
            fork_epochs=forks,
            far_future_epoch=Epoch(far_future),
            effective_balance_increment=_uint(spec, "EFFECTIVE_BALANCE_INCREMENT"),
            min_activation_balance=_optional_uint(
                spec, "MIN_ACTIVATION_BALANCE", _uint(spec, "MAX_EFFECTIVE_BALANCE")
            ),
            max_effective_balance=max_eb,
            base_reward_factor=_uint(spec, "BASE_REWARD_FACTOR"),
            sync_committee_size=_uint(spec, "SYNC_COMMITTEE_SIZE"),
            epochs_per_sync_committee_period=_uint(spec, "EPOCHS_PER_SYNC_COMMITTEE_PERIOD"),
            max_committees_per_slot=_uint(spec, "MAX_COMMITTEES_PER_SLOT"),
            target_committee_size=_uint(spec, "TARGET_COMMITTEE_SIZE"),
            min_seed_lookahead=_optional_uint(spec, "MIN_SEED_LOOKAHEAD", 1),
            max_seed_lookahead=_optional_uint(spec, "MAX_SEED_LOOKAHEAD", 4),
            min_epochs_to_inactivity_penalty=_optional_uint(
                spec, "MIN_EPOCHS_TO_INACTIVITY_PENALTY", 4
            ),
            weights=weights,
            raw=dict(spec),
        )
        for epoch in forks.values():  # a garbled quotient is refused at start, not mid-epoch
            built.min_slashing_penalty_quotient(epoch)
        return built

    def clock(self) -> ChainClock:
        return ChainClock(self.genesis_time, self.slot_duration_ms, self.slots_per_epoch)

    def uint(self, key: str) -> int:
        """Any other integer parameter, by its spec name (raises ``SpecError`` if absent)."""
        return _uint(self.raw, key)

    def fork_at(self, epoch: int) -> str:
        """The fork in force at ``epoch`` (lower-case name, e.g. ``"electra"``)."""
        active = [
            (e, _fork_rank(name), name)
            for name, e in self.fork_epochs.items()
            if e <= epoch and e != self.far_future_epoch
        ]
        return max(active)[2]

    def is_active(self, fork: str, epoch: int) -> bool:
        start = self.fork_epochs.get(fork.lower())
        return start is not None and start != self.far_future_epoch and start <= epoch

    def min_slashing_penalty_quotient(self, epoch: int) -> int:
        """The quotient of the initial slashing penalty for a slashing included in ``epoch``."""
        for fork, key, default in _SLASHING_QUOTIENTS:
            if fork == "phase0" or self.is_active(fork, epoch):
                quotient = _optional_uint(self.raw, key, default)
                if quotient <= 0:
                    raise SpecError(key, "must be positive")
                return quotient
        raise AssertionError("phase0 is always in force")  # pragma: no cover

    def sync_period(self, epoch: int) -> int:
        return epoch // self.epochs_per_sync_committee_period


def _fork_rank(name: str) -> int:
    upper = name.upper()
    return _FORK_ORDER.index(upper) if upper in _FORK_ORDER else len(_FORK_ORDER)
