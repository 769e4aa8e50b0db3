"""What the monitor tells the faces about one epoch's duties, in one value (pure data).

The service fills an ``EpochDuties`` per evaluated epoch; the console prints it as a few lines
and tests read it directly. Parts the service could not fetch are ``None`` (not "zero duties").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from stakepool.chain.types import Epoch, Slot, ValidatorIndex
from stakepool.monitor.attestations import AttestationOutcome
from stakepool.monitor.summary import AttestationSummary, summarize_attestations
from stakepool.monitor.verdicts import ProposalVerdict


@dataclass(frozen=True, slots=True)
class AttestationDigest:
    epoch: Epoch
    summary: AttestationSummary
    missed: tuple[ValidatorIndex, ...]
    """Validators with no inclusion, ascending."""
    head_misses: tuple[ValidatorIndex, ...]
    """Included, but the head vote earned nothing (wrong or late)."""
    late: tuple[ValidatorIndex, ...]
    """Included with a delay above one slot."""
    included: tuple[ValidatorIndex, ...] = ()
    """Validators whose attestation is on chain, ascending (with ``missed``: every duty)."""


@dataclass(frozen=True, slots=True)
class SyncDigest:
    epoch: Epoch
    signed: int
    expected: int
    members: tuple[ValidatorIndex, ...]
    low: tuple[ValidatorIndex, ...]
    """Members under the participation threshold."""


@dataclass(frozen=True, slots=True)
class EpochDuties:
    """One closed epoch ``epoch``: proposals and sync of ``epoch``, attestations of ``epoch − 1``
    (their inclusion window has just ended)."""

    epoch: Epoch
    attestations: AttestationDigest | None = None
    proposals: tuple[tuple[Slot, ValidatorIndex, ProposalVerdict], ...] = ()
    sync: SyncDigest | None = None
    failed: tuple[str, ...] = field(default=())
    """Parts skipped this epoch because the beacon node failed them."""
    earlier_attestations: tuple[AttestationDigest, ...] = ()
    """Attestations of epochs before ``epoch − 1`` whose evaluation had failed and succeeded at
    this close (retries, oldest first): their verdicts reach the ledger too."""
    earlier_proposals: tuple[
        tuple[Epoch, tuple[tuple[Slot, ValidatorIndex, ProposalVerdict], ...]], ...
    ] = ()
    """Proposals of earlier epochs whose judgement had failed and succeeded at this close."""
    proposals_judged: bool = True
    """False when the proposals of ``epoch`` could not be judged (``proposals`` is then empty,
    which does not mean "none missed")."""
    pending: tuple[Epoch, ...] = ()
    """Epochs whose attestations or proposals failed and are tried again at the next close: their
    verdicts are still to come (the ledger waits for them rather than settle without them)."""


def attestation_digest(epoch: Epoch, outcomes: Sequence[AttestationOutcome]) -> AttestationDigest:
    """The console's view of one epoch's outcomes."""
    return AttestationDigest(
        epoch,
        summarize_attestations(outcomes),
        tuple(sorted(o.validator_index for o in outcomes if not o.included)),
        tuple(sorted(o.validator_index for o in outcomes if o.included and not o.timely_head)),
        tuple(
            sorted(
                o.validator_index
                for o in outcomes
                if o.inclusion_delay is not None and o.inclusion_delay > 1
            )
        ),
        tuple(sorted(o.validator_index for o in outcomes if o.included)),
    )
