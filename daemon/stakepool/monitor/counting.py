"""Which monitor events move a duty tally: the ones a counter stands for.

Events arrive de-duplicated by the trackers, so each is counted once: the one critical alert of a
slashing counts as ``slashing_evidence``; a proposal verdict counts when first reported (a revised
verdict — ``proposal_changed`` then the new one — counts the new one too: counters cannot move
back, the event log tells the story).
"""

from __future__ import annotations

from collections.abc import Iterable

from stakepool.monitor.eventbase import MonitorEvent
from stakepool.monitor.events import (
    BlockMissed,
    BlockOrphaned,
    BlockProposed,
    DoppelgangerDetected,
    SlashingEvidence,
    UnexpectedBlsChange,
    UnexpectedExit,
    ValidatorSlashed,
)
from stakepool.monitor.tallies import DutyTallies
from stakepool.monitor.verdicts import ProposalVerdict, UnexpectedOperation

_PROPOSAL_VERDICT: dict[type[MonitorEvent], ProposalVerdict] = {
    BlockProposed: ProposalVerdict.PROPOSED,
    BlockMissed: ProposalVerdict.MISSED,
    BlockOrphaned: ProposalVerdict.ORPHANED,
}


def count(tallies: DutyTallies, events: Iterable[MonitorEvent]) -> None:
    for event in events:
        if isinstance(event, BlockProposed | BlockMissed | BlockOrphaned):
            tallies.record_proposal(event.validator_index, _PROPOSAL_VERDICT[type(event)])
        elif isinstance(event, SlashingEvidence | ValidatorSlashed):
            tallies.record_slashing_evidence(event.validator_index)
        elif isinstance(event, DoppelgangerDetected):
            tallies.record_doppelganger(event.validator_index)
        elif isinstance(event, UnexpectedExit):
            tallies.record_unexpected_operation(
                event.validator_index, UnexpectedOperation.VOLUNTARY_EXIT
            )
        elif isinstance(event, UnexpectedBlsChange):
            tallies.record_unexpected_operation(
                event.validator_index, UnexpectedOperation.BLS_TO_EXECUTION_CHANGE
            )
