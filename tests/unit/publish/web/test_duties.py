"""The web page's per-day duty outcomes and current alerts, folded from the monitor's bus events."""

from __future__ import annotations

from stakepool.chain.bus import EventBus
from stakepool.chain.types import Epoch, Slot, ValidatorIndex
from stakepool.monitor.digest import AttestationDigest, EpochDuties, SyncDigest
from stakepool.monitor.eventbase import SlashingSource
from stakepool.monitor.events import BlockMissed, BlockProposed, ValidatorSlashed
from stakepool.monitor.summary import AttestationSummary
from stakepool.monitor.verdicts import ProposalVerdict
from stakepool.publish.web.duties import MAX_DAYS, DutyHistory


def _duties(epoch: int, *verdicts: ProposalVerdict, included: int = 3) -> EpochDuties:
    summary = AttestationSummary(
        duties=4, included=included, timely_source=included, timely_target=included, timely_head=2
    )
    return EpochDuties(
        Epoch(epoch),
        attestations=AttestationDigest(Epoch(epoch - 1), summary, (), (), ()),
        proposals=tuple(
            (Slot(epoch * 8 + i), ValidatorIndex(i), v) for i, v in enumerate(verdicts)
        ),
        sync=SyncDigest(Epoch(epoch), 30, 32, (ValidatorIndex(1),), ()),
    )


def test_epochs_fold_into_their_statement_period_newest_day_first() -> None:
    bus = EventBus()
    history = DutyHistory(period_epochs=3)
    history.subscribe(bus)
    bus.publish(_duties(1, ProposalVerdict.PROPOSED))
    bus.publish(_duties(2, ProposalVerdict.MISSED, ProposalVerdict.ORPHANED))
    bus.publish(_duties(3, ProposalVerdict.PROPOSED, included=4))
    days = history.days()
    assert [(d.period, d.first_epoch, d.last_epoch) for d in days] == [(1, 3, 3), (0, 1, 2)]
    first = days[1]
    assert (first.attestation_duties, first.attestations_included, first.timely_head) == (8, 6, 4)
    assert (first.proposed, first.missed, first.orphaned) == (1, 1, 1)
    assert (first.sync_signed, first.sync_expected) == (60, 64)
    assert days[0].attestations_included == 4


def test_only_the_newest_days_are_kept() -> None:
    history = DutyHistory(period_epochs=1)
    for epoch in range(MAX_DAYS + 5):
        history.on_duties(_duties(epoch))
    periods = [d.period for d in history.days()]
    assert len(periods) == MAX_DAYS
    assert periods[0] == MAX_DAYS + 4


def test_alerts_keep_warnings_and_critical_events_newest_first() -> None:
    bus = EventBus()
    history = DutyHistory(period_epochs=3)
    history.subscribe(bus)
    bus.publish(
        BlockProposed(validator_index=ValidatorIndex(1), epoch=Epoch(2), slot=Slot(17), root="0x")
    )
    bus.publish(BlockMissed(validator_index=ValidatorIndex(4), epoch=Epoch(3), slot=Slot(29)))
    bus.publish(
        ValidatorSlashed(
            validator_index=ValidatorIndex(4),
            epoch=Epoch(4),
            source=SlashingSource.SSE,
            offence="attester",
        )
    )
    alerts = list(history.alerts)
    assert [(a.severity, a.kind, a.epoch, a.validator_index) for a in alerts] == [
        ("critical", "validator_slashed", 4, 4),
        ("warning", "block_missed", 3, 4),
    ]
    assert "offence=attester" in alerts[0].text
    assert alerts[1].text == "slot=29"
