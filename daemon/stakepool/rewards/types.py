"""What the rewards package hands to the ledger and the API: frozen, integer-Gwei records.

Two views of one epoch (accounting.md §4.5):

* the **settlement** ``r_v(k)``: balance-based, exact, final once window ``k`` is final — money;
* the **explanation**: the same amount rebuilt from the rewards endpoints (attestations of duty
  epoch ``k − 2``, block and sync rewards of the blocks of ``k``, initial slashing penalties), and
  the **residual** between the two (0 on a spec-faithful node).

Every amount is a signed ``int`` of Gwei (EL amounts: wei). ``None`` always means *unknown*, never 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from stakepool.execution.types import ElReward


@dataclass(frozen=True, slots=True)
class BalanceMoves:
    """What moved ``v``'s balance in window ``k`` without being a reward (accounting.md §2.8, §4)."""

    withdrawals_gwei: int = 0
    """Σ ``execution_payload.withdrawals[].amount`` for ``v`` in the blocks of ``k``."""
    deposit_requests_gwei: int = 0
    """Σ deposits for ``v``'s pubkey included in the blocks of ``k`` (EIP-6110 requests, or the
    legacy ``body.deposits`` that credit the balance at once before Electra)."""
    pending_deposits_start_gwei: int = 0
    """Σ ``pending_deposits`` for ``v``'s pubkey in the state at ``LAST(k − 1)``."""
    pending_deposits_end_gwei: int = 0
    """… and at ``LAST(k)``."""
    consolidation_in_gwei: int = 0
    """Moved into ``v`` by ``process_pending_consolidations`` (``v`` is the target)."""
    consolidation_out_gwei: int = 0
    """Moved out of ``v`` (``v`` is the source)."""

    @property
    def deposits_gwei(self) -> int:
        """Deposits that reached the balance in the window (queue identity, accounting.md §4.3):
        what was queued before plus what arrived, minus what is still queued."""
        return (
            self.pending_deposits_start_gwei
            + self.deposit_requests_gwei
            - self.pending_deposits_end_gwei
        )


@dataclass(frozen=True, slots=True)
class RewardExplanation:
    """``v``'s window-``k`` income as the rewards endpoints tell it (accounting.md §4.5)."""

    duty_epoch: int
    """The attestation duty epoch whose flags were paid in this window: ``k − 2``."""
    source: int
    target: int
    head: int
    inactivity: int
    proposer: int
    """Σ ``rewards/blocks`` ``total`` of ``v``'s blocks in ``k`` (attestations, sync aggregate,
    whistleblower)."""
    sync: int
    """Σ over the blocks of ``k`` of ``v``'s sync-committee reward, once per seat (never twice)."""
    slashing_penalty: int
    """The initial penalty ``EB // MIN_SLASHING_PENALTY_QUOTIENT`` if ``v`` was slashed in ``k``
    (positive number: it is subtracted)."""
    correlation_penalty: int | None = 0
    """``None``: the transition into ``k`` was ``v``'s correlation-penalty epoch and the standard
    API cannot tell the amount (it needs the state's ``slashings`` vector)."""

    @property
    def attestations(self) -> int:
        return self.source + self.target + self.head + self.inactivity

    @property
    def total(self) -> int | None:
        if self.correlation_penalty is None:
            return None
        return (
            self.attestations
            + self.proposer
            + self.sync
            - self.slashing_penalty
            - self.correlation_penalty
        )


@dataclass(frozen=True, slots=True)
class ValidatorEpochReward:
    validator: int
    epoch: int
    settlement_gwei: int
    """``r_v(k)``: the money figure."""
    balance_start_gwei: int
    """Balance at ``LAST(k − 1)`` (0 if ``v`` did not exist yet)."""
    balance_end_gwei: int
    """Balance at ``LAST(k)``."""
    moves: BalanceMoves
    effective_balance_gwei: int
    """At ``LAST(k − 1)``: the EB the attestation rewards of ``k − 2`` were computed with."""
    explanation: RewardExplanation | None = None
    """``None``: not available; ``EpochRewards.explanation_reason`` says why."""
    residual_gwei: int | None = None
    """``settlement − explanation.total``; 0 on a spec-faithful node."""
    missed_gwei: int | None = None
    """Attestation duty epoch ``k − 2``: ideal reward at ``v``'s EB minus what it got."""

    @property
    def withdrawals_gwei(self) -> int:
        return self.moves.withdrawals_gwei

    @property
    def deposits_gwei(self) -> int:
        return self.moves.deposits_gwei

    @property
    def consolidation_in_gwei(self) -> int:
        return self.moves.consolidation_in_gwei

    @property
    def consolidation_out_gwei(self) -> int:
        return self.moves.consolidation_out_gwei


@dataclass(frozen=True, slots=True)
class ProposalEl:
    """One canonical block of the pool in the window, and its EL reward when known."""

    slot: int
    proposer: int
    block_hash: str | None
    """``None``: no execution payload (pre-merge)."""
    reward: ElReward | None = None
    reason: str | None = None
    """Why ``reward`` is unknown (no ``execution.url``, the EL failed, …); ``None`` if known."""


@dataclass(frozen=True, slots=True)
class EpochRewards:
    """One settled (and perhaps explained) window ``k`` of the pool."""

    epoch: int
    validators: tuple[ValidatorEpochReward, ...]
    proposals: tuple[ProposalEl, ...]
    start_slot_state: int
    """``LAST(k − 1)``: the state the window starts from."""
    end_slot_state: int
    """``LAST(k)``."""
    start_state_id: str
    """The state read for ``LAST(k − 1)``: a state root (the post-state of the last block at or
    before it, when that block is in ``k − 1``) or the slot as a decimal string."""
    end_state_id: str
    """The state read for ``LAST(k)``: the post-state root of the window's last block, or the
    slot (a window without blocks)."""
    block_roots: tuple[str, ...]
    """Canonical block roots of ``k`` in slot order: with the state slots, the input digest a ledger
    compares after a reorg."""
    finalized: bool | None
    """Whether the window's states are finalized (``None``: the node did not say; then compare
    ``end_slot_state`` with the finalized checkpoint). Final windows never change."""
    optimistic: bool = False
    """A state was answered ``execution_optimistic``: not even safe at the head (§7)."""
    explanation_available: bool = False
    explanation_reason: str | None = "not explained yet"
    """Why there is no explanation (endpoint missing on the node, not available yet, …)."""
    explanation_never: bool = False
    """The node will never explain it (it lacks a rewards endpoint): not worth asking again."""
    notes: tuple[str, ...] = field(default=())
    pending_consolidations: tuple[tuple[int, int], ...] = ()
    """``(source, target)`` of the pending consolidations touching the pool at ``LAST(k)``: a
    window merged from this one's end can tell whether one was processed inside its span."""

    @property
    def settlement_gwei(self) -> int:
        """``R_CL(k)``: Σ ``r_v(k)`` over the pool."""
        return sum(v.settlement_gwei for v in self.validators)

    @property
    def el_wei(self) -> int | None:
        """Σ EL rewards of the pool's proposals; ``None`` if any of them is unknown."""
        total = 0
        for p in self.proposals:
            if p.reward is None:
                if p.block_hash is None:
                    continue
                return None
            total += p.reward.amount_wei
        return total

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (integers stay integers; amounts above 2^53 are safe in Python)."""
        out = asdict(self)
        out["settlement_gwei"] = self.settlement_gwei
        out["el_wei"] = self.el_wei
        for row, v in zip(out["validators"], self.validators, strict=True):
            row["deposits_gwei"] = v.deposits_gwei
            if v.explanation is not None:
                row["explanation"]["total"] = v.explanation.total
        return out
