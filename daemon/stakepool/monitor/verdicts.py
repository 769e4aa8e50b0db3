"""The monitor's verdicts, one name per concept: what became of an attestation, a proposal, a sync
signature, and which operations on a pool validator nobody planned.

``AttestationVerdict``/``ProposalVerdict``/``SyncVerdict`` are what the duty tallies count and the
metrics label (``outcome``); ``attestations.AttestationOutcome`` is one evaluated attester duty.
"""

from __future__ import annotations

import enum


class AttestationVerdict(enum.StrEnum):
    INCLUDED = "included"
    MISSED = "missed"


class AttestationFlag(enum.StrEnum):
    """A vote part that was wrong or too late to earn its reward."""

    HEAD = "head"
    TARGET = "target"
    SOURCE = "source"


class ProposalVerdict(enum.StrEnum):
    PENDING = "pending"
    """The slot has not passed yet."""
    PROPOSED = "proposed"
    MISSED = "missed"
    """No block at the slot, canonical or not."""
    ORPHANED = "orphaned"
    """Our block exists but is not canonical (reorged out)."""
    WRONG_PROPOSER = "wrong_proposer"
    """The canonical block's proposer is not our duty's validator: duties changed, reload them."""


COUNTED_PROPOSAL_VERDICTS: tuple[ProposalVerdict, ...] = (
    ProposalVerdict.PROPOSED,
    ProposalVerdict.MISSED,
    ProposalVerdict.ORPHANED,
)
"""The verdicts a proposal duty is counted under once judged (pending and wrong_proposer are not
outcomes: the duty is re-judged)."""


class SyncVerdict(enum.StrEnum):
    SIGNED = "signed"
    MISSED = "missed"


class UnexpectedOperation(enum.StrEnum):
    VOLUNTARY_EXIT = "voluntary_exit"
    BLS_TO_EXECUTION_CHANGE = "bls_to_execution_change"
