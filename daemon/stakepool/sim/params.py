"""The simulator's view of a spec dictionary: every number its maths uses, parsed once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


def integer_squareroot(n: int) -> int:
    """Largest ``x`` with ``x * x <= n`` (consensus-specs ``integer_squareroot``)."""
    if n < 0:
        raise ValueError("integer_squareroot of a negative number")
    x = n
    y = (x + 1) // 2
    while y < x:
        x = y
        y = (x + n // x) // 2
    return x


@dataclass(frozen=True, slots=True)
class SimParams:
    slots_per_epoch: int
    slot_duration_ms: int
    effective_balance_increment: int
    min_activation_balance: int
    max_effective_balance_electra: int
    base_reward_factor: int
    hysteresis_quotient: int
    hysteresis_downward_multiplier: int
    hysteresis_upward_multiplier: int
    timely_source_weight: int
    timely_target_weight: int
    timely_head_weight: int
    sync_reward_weight: int
    proposer_weight: int
    weight_denominator: int
    min_attestation_inclusion_delay: int
    sync_committee_size: int
    epochs_per_sync_committee_period: int
    max_committees_per_slot: int
    target_committee_size: int
    max_seed_lookahead: int
    min_epochs_to_inactivity_penalty: int
    inactivity_score_bias: int
    inactivity_score_recovery_rate: int
    inactivity_penalty_quotient: int
    min_slashing_penalty_quotient: int
    whistleblower_reward_quotient: int
    proportional_slashing_multiplier: int
    epochs_per_slashings_vector: int
    min_validator_withdrawability_delay: int
    max_withdrawals_per_payload: int
    max_validators_per_withdrawals_sweep: int
    max_pending_deposits_per_epoch: int
    min_per_epoch_churn_limit: int
    max_per_epoch_activation_exit_churn_limit: int
    churn_limit_quotient: int
    max_attestations: int
    max_attester_slashings: int
    max_proposer_slashings: int
    max_voluntary_exits: int
    far_future_epoch: int

    @classmethod
    def from_spec(cls, spec: Mapping[str, str]) -> SimParams:
        def u(key: str) -> int:
            try:
                return int(spec[key])
            except KeyError:
                raise ValueError(f"spec lacks {key}") from None

        if "SLOT_DURATION_MS" in spec:
            slot_ms = u("SLOT_DURATION_MS")
        else:
            slot_ms = u("SECONDS_PER_SLOT") * 1000
        return cls(
            slots_per_epoch=u("SLOTS_PER_EPOCH"),
            slot_duration_ms=slot_ms,
            effective_balance_increment=u("EFFECTIVE_BALANCE_INCREMENT"),
            min_activation_balance=u("MIN_ACTIVATION_BALANCE"),
            max_effective_balance_electra=u("MAX_EFFECTIVE_BALANCE_ELECTRA"),
            base_reward_factor=u("BASE_REWARD_FACTOR"),
            hysteresis_quotient=u("HYSTERESIS_QUOTIENT"),
            hysteresis_downward_multiplier=u("HYSTERESIS_DOWNWARD_MULTIPLIER"),
            hysteresis_upward_multiplier=u("HYSTERESIS_UPWARD_MULTIPLIER"),
            timely_source_weight=u("TIMELY_SOURCE_WEIGHT"),
            timely_target_weight=u("TIMELY_TARGET_WEIGHT"),
            timely_head_weight=u("TIMELY_HEAD_WEIGHT"),
            sync_reward_weight=u("SYNC_REWARD_WEIGHT"),
            proposer_weight=u("PROPOSER_WEIGHT"),
            weight_denominator=u("WEIGHT_DENOMINATOR"),
            min_attestation_inclusion_delay=u("MIN_ATTESTATION_INCLUSION_DELAY"),
            sync_committee_size=u("SYNC_COMMITTEE_SIZE"),
            epochs_per_sync_committee_period=u("EPOCHS_PER_SYNC_COMMITTEE_PERIOD"),
            max_committees_per_slot=u("MAX_COMMITTEES_PER_SLOT"),
            target_committee_size=u("TARGET_COMMITTEE_SIZE"),
            max_seed_lookahead=u("MAX_SEED_LOOKAHEAD"),
            min_epochs_to_inactivity_penalty=u("MIN_EPOCHS_TO_INACTIVITY_PENALTY"),
            inactivity_score_bias=u("INACTIVITY_SCORE_BIAS"),
            inactivity_score_recovery_rate=u("INACTIVITY_SCORE_RECOVERY_RATE"),
            inactivity_penalty_quotient=u("INACTIVITY_PENALTY_QUOTIENT_BELLATRIX"),
            min_slashing_penalty_quotient=u("MIN_SLASHING_PENALTY_QUOTIENT_ELECTRA"),
            whistleblower_reward_quotient=u("WHISTLEBLOWER_REWARD_QUOTIENT_ELECTRA"),
            proportional_slashing_multiplier=u("PROPORTIONAL_SLASHING_MULTIPLIER_BELLATRIX"),
            epochs_per_slashings_vector=u("EPOCHS_PER_SLASHINGS_VECTOR"),
            min_validator_withdrawability_delay=u("MIN_VALIDATOR_WITHDRAWABILITY_DELAY"),
            max_withdrawals_per_payload=u("MAX_WITHDRAWALS_PER_PAYLOAD"),
            max_validators_per_withdrawals_sweep=u("MAX_VALIDATORS_PER_WITHDRAWALS_SWEEP"),
            max_pending_deposits_per_epoch=u("MAX_PENDING_DEPOSITS_PER_EPOCH"),
            min_per_epoch_churn_limit=u("MIN_PER_EPOCH_CHURN_LIMIT_ELECTRA"),
            max_per_epoch_activation_exit_churn_limit=u(
                "MAX_PER_EPOCH_ACTIVATION_EXIT_CHURN_LIMIT"
            ),
            churn_limit_quotient=u("CHURN_LIMIT_QUOTIENT"),
            max_attestations=u("MAX_ATTESTATIONS_ELECTRA"),
            max_attester_slashings=u("MAX_ATTESTER_SLASHINGS_ELECTRA"),
            max_proposer_slashings=u("MAX_PROPOSER_SLASHINGS"),
            max_voluntary_exits=u("MAX_VOLUNTARY_EXITS"),
            far_future_epoch=u("FAR_FUTURE_EPOCH"),
        )

    @property
    def flag_weights(self) -> tuple[int, int, int]:
        """Weights of the source, target and head flags (flag indices 0, 1, 2)."""
        return (self.timely_source_weight, self.timely_target_weight, self.timely_head_weight)

    @property
    def source_max_delay(self) -> int:
        return integer_squareroot(self.slots_per_epoch)

    def epoch_of(self, slot: int) -> int:
        return slot // self.slots_per_epoch

    def start_slot(self, epoch: int) -> int:
        return epoch * self.slots_per_epoch

    def last_slot(self, epoch: int) -> int:
        return (epoch + 1) * self.slots_per_epoch - 1

    def period_of(self, epoch: int) -> int:
        return epoch // self.epochs_per_sync_committee_period

    def compute_activation_exit_epoch(self, epoch: int) -> int:
        return epoch + 1 + self.max_seed_lookahead
