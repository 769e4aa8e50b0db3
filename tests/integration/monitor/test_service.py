"""The monitor service inside the real daemon, against a scripted simulated chain.

The scenario (minimal preset, 8 slots of 100 ms, 128 validators, pool = 0..31):
validator 1 offline; 2 votes late (delay 2: head flag lost); 3 votes for a wrong head; 11 sits in
the sync committee but does not sign; slot 17's proposer (28, ours) does not publish; slot 25's
block (by 21, ours) is reorged out; validator 4 is attester-slashed: evidence at slot 20 (SSE and
the op pool), included at slot 36. The expected events are derived from the scenario and the
simulated chain's own truth (proposers, sync committee), for exactly the epochs the daemon closed.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import aiohttp
import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families

from stakepool.chain.spec import ChainSpec
from stakepool.config import Settings, parse_validator_ref
from stakepool.monitor.digest import EpochDuties
from stakepool.monitor.eventbase import MonitorEvent, Severity, SlashingStage
from stakepool.monitor.events import (
    AttestationMissed,
    AttestationStreak,
    BlockMissed,
    BlockOrphaned,
    BlockProposed,
    SlashingEvidence,
    SlashingStageReached,
    StatusChanged,
    SyncParticipationLow,
)
from stakepool.monitor.facts import EpochReport
from stakepool.monitor.head import HeadView
from stakepool.monitor.part_proposals import PROPOSAL_ATTEMPTS
from stakepool.monitor.pool import PoolMember
from stakepool.monitor.verdicts import ProposalVerdict
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.scenario import (
    LateVotes,
    Offline,
    ScheduledSlashing,
    SimScenario,
    WrongVotes,
)
from stakepool.sim.server import SimServer
from tests.integration.listening import listen

SPE = 8
POOL = range(32)
OFFLINE, LATE, WRONG_HEAD, SLASHED, SYNC_OFF = 1, 2, 3, 4, 11
MISSED_SLOT, ORPHANED_SLOT = 17, 25
EPOCHS = 7  # closes epochs 0..6: the slashing's inclusion (epoch 4) and finality re-checks fit


def _scenario(**extra: Any) -> SimScenario:
    return SimScenario(
        offline=(Offline((OFFLINE, OFFLINE)),),
        late_votes=(LateVotes((LATE, LATE), delay=2),),
        wrong_votes=(WrongVotes((WRONG_HEAD, WRONG_HEAD), "head"),),
        sync_offline=(Offline((SYNC_OFF, SYNC_OFF)),),
        slashings=(ScheduledSlashing("attester", (SLASHED,), 20, 36),),
        **extra,
    )


def _config(**extra: Any) -> SimConfig:
    return SimConfig(
        validators=128, preset="minimal", slot_duration_ms=100, seed=3, scenario=_scenario(**extra)
    )


class Recorder:
    def __init__(self) -> None:
        self.events: list[MonitorEvent] = []
        self.digests: list[EpochDuties] = []

    def started(self, spec: ChainSpec, members: tuple[PoolMember, ...], nodes: list[str]) -> None:
        pass

    def head(self, view: HeadView) -> None:
        pass

    def epoch(self, report: EpochReport) -> None:
        pass

    def monitor_event(self, event: MonitorEvent) -> None:
        self.events.append(event)

    def duties(self, report: EpochDuties) -> None:
        self.digests.append(report)


def test_the_scenario_puts_our_validators_where_the_test_needs_them() -> None:
    # Proposers of epochs 2 and 3 are fixed before the scripted faults happen (the lookahead is
    # computed at the end of epochs 0 and 1), so a chain without them tells the real chain's.
    probe = SimChain(_config())
    probe.advance_to(2 * SPE)
    p2, p3 = probe.proposers(2), probe.proposers(3)
    assert p2 is not None
    assert p3 is not None
    assert int(p2[MISSED_SLOT % SPE]) in POOL
    assert int(p2[MISSED_SLOT % SPE]) != OFFLINE
    assert int(p3[ORPHANED_SLOT % SPE]) in POOL
    assert int(p3[ORPHANED_SLOT % SPE]) != OFFLINE
    committee = probe.sync_committee(0)
    assert committee is not None
    assert SYNC_OFF in {int(v) for v in committee}


async def _scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as resp:
        text = await resp.text()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(
    metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return metrics[(name, tuple(sorted(labels.items())))]


@pytest.mark.parametrize("use_stream", [True, False], ids=["sse", "polling"])
async def test_monitor_reports_the_exact_events_and_metrics(use_stream: bool) -> None:
    """With SSE the evidence comes first from the stream (or the pool, should the stream lag);
    without it, only the op-pool poll can see it before the block: either way, one alert."""
    chain = SimChain(
        _config(missed_slots=frozenset({MISSED_SLOT}), orphaned_slots=frozenset({ORPHANED_SLOT}))
    )
    rec = Recorder()
    urls: list[str] = []
    stop = asyncio.Event()
    settings = Settings(
        beacon={
            "urls": ["http://127.0.0.1:1"],
            "timeout_seconds": 2,
            "retries": 1,
            "use_event_stream": use_stream,
        },
        pool={"validators": [parse_validator_ref(v) for v in POOL]},
        http={"port": 0},
    )
    async with SimServer(chain, auto_advance=True) as sim:
        settings = settings.model_copy(
            update={"beacon": settings.beacon.model_copy(update={"urls": [sim.url]})}
        )
        daemon = asyncio.create_task(
            run_daemon(
                settings,
                stop=stop,
                listeners=[listen(rec)],
                configure_logs=False,
                on_listening=urls.append,
            )
        )
        deadline = time.monotonic() + 25
        while len(rec.digests) < EPOCHS:
            assert time.monotonic() < deadline, f"only {len(rec.digests)} epochs in time"
            assert not daemon.done(), daemon
            await asyncio.sleep(0.02)
        # Scrape between two epochs: the digests seen are exactly what the counters hold.
        for _ in range(3):
            seen = len(rec.digests)
            metrics = await _scrape(urls[0])
            if len(rec.digests) == seen:
                break
        digests, events = list(rec.digests[:seen]), list(rec.events)
        stop.set()
        assert await asyncio.wait_for(daemon, 10) == 0

    closed = [d.epoch for d in digests]
    assert closed == list(range(closed[0], closed[0] + len(closed)))
    assert closed[0] <= 1, "the daemon must start early enough to see the scripted faults"
    assert not any(d.failed for d in digests), [d.failed for d in digests]
    evaluated = [d.attestations.epoch for d in digests if d.attestations is not None]
    assert evaluated == [e - 1 for e in closed if e > 0]

    # --- attestations: only the offline validator misses; one streak alert at 2 ------------------
    missed = [e for e in events if isinstance(e, AttestationMissed)]
    assert [(e.validator_index, e.epoch, e.streak) for e in missed] == [
        (OFFLINE, k, n + 1) for n, k in enumerate(evaluated)
    ]
    streaks = [e for e in events if isinstance(e, AttestationStreak)]
    assert [(e.validator_index, e.epoch, e.streak) for e in streaks] == [(OFFLINE, evaluated[1], 2)]
    for d in digests:
        if d.attestations is not None:
            assert d.attestations.missed == (OFFLINE,)
            assert {LATE, WRONG_HEAD} <= set(d.attestations.head_misses)
            assert LATE in d.attestations.late

    # --- proposals: the chain's truth for every pool duty in the closed epochs -----------------
    expected_proposals: dict[int, tuple[int, ProposalVerdict]] = {}
    for epoch in closed:
        proposers = chain.proposers(epoch)
        assert proposers is not None
        for i, v in enumerate(int(p) for p in proposers):
            slot = epoch * SPE + i
            if v not in POOL or slot == 0:
                continue
            if slot == ORPHANED_SLOT:
                verdict = ProposalVerdict.ORPHANED
            elif slot == MISSED_SLOT or v == OFFLINE:
                verdict = ProposalVerdict.MISSED
            else:
                verdict = ProposalVerdict.PROPOSED
            expected_proposals[slot] = (v, verdict)
    assert expected_proposals[MISSED_SLOT][1] is ProposalVerdict.MISSED
    assert expected_proposals[ORPHANED_SLOT][1] is ProposalVerdict.ORPHANED
    verdict_of = {BlockProposed: ProposalVerdict.PROPOSED, BlockMissed: ProposalVerdict.MISSED}
    verdict_of[BlockOrphaned] = ProposalVerdict.ORPHANED
    told = {
        e.slot: (e.validator_index, verdict_of[type(e)])  # type: ignore[attr-defined]
        for e in events
        if type(e) in verdict_of
    }
    assert told == expected_proposals
    assert sum(type(e) in verdict_of for e in events) == len(expected_proposals)  # each once

    # --- sync: the silent member (and the offline one, if seated) are low every epoch ----------
    committee = chain.sync_committee(0)
    assert committee is not None
    seated = {int(v) for v in committee} & set(POOL)
    silent = sorted(seated & {OFFLINE, SYNC_OFF})
    low = [e for e in events if isinstance(e, SyncParticipationLow)]
    assert [(e.epoch, e.validator_index, e.signed) for e in low] == [
        (epoch, v, 0) for epoch in closed for v in silent
    ]

    # --- slashing: one critical alert, then inclusion from the block, then finality -------------
    critical = [e for e in events if e.severity is Severity.CRITICAL]
    assert len(critical) == 1
    alert = critical[0]
    assert isinstance(alert, SlashingEvidence)
    assert alert.validator_index == SLASHED
    assert alert.offence == "attester"
    assert alert.source.value in (("sse", "pool") if use_stream else ("pool",))
    stages = [e for e in events if isinstance(e, SlashingStageReached)]
    assert [(e.validator_index, e.stage, e.source.value) for e in stages][:1] == [
        (SLASHED, SlashingStage.INCLUDED, "block")
    ]
    assert stages[0].epoch == 36 // SPE
    # Inclusion (epoch 4) is behind the finalized checkpoint by the last closed epoch.
    assert [(e.stage, e.source.value) for e in stages[1:]] == [(SlashingStage.FINALIZED, "state")]
    status = [e for e in events if isinstance(e, StatusChanged)]
    assert [(e.validator_index, e.old.value, e.new.value) for e in status] == [
        (SLASHED, "active_ongoing", "active_slashed")
    ]

    # --- nothing else happened -----------------------------------------------------------------
    kinds = Counter(e.kind.value for e in events)
    assert set(kinds) == {
        "attestation_missed",
        "attestation_streak",
        "block_proposed",
        "block_missed",
        "block_orphaned",
        "sync_participation_low",
        "slashing_evidence",
        "slashing_stage",
        "status_changed",
        "reorg",
    }, kinds
    # Told by the stream, or found in the polled heads' gap (``reorg_scan``): the same, once.
    (reorg,) = [e for e in events if e.kind.value == "reorg"]
    assert reorg.coordinates.slot == ORPHANED_SLOT + 1  # the next block replaced it

    assert len({e.event_id for e in events}) == len(events)

    # --- metrics ---------------------------------------------------------------------------------
    n = len(evaluated)
    m = metrics
    assert _value(m, "stakepool_attestations_total", validator="1", outcome="missed") == n
    assert _value(m, "stakepool_attestations_total", validator="1", outcome="included") == 0
    assert _value(m, "stakepool_attestations_total", validator="0", outcome="included") == n
    assert _value(m, "stakepool_attestation_missed_streak", validator="1") == n
    assert _value(m, "stakepool_attestation_missed_streak", validator="0") == 0
    assert _value(m, "stakepool_attestation_misses_total", validator="2", flag="head") == n
    assert _value(m, "stakepool_attestation_misses_total", validator="3", flag="head") == n
    assert _value(m, "stakepool_attestation_misses_total", validator="0", flag="head") <= 1
    assert _value(m, "stakepool_attestation_inclusion_delay_slots_count", validator="2") == n
    assert (
        _value(m, "stakepool_attestation_inclusion_delay_slots_bucket", validator="2", le="1.0")
        == 0
    )
    for outcome in ProposalVerdict.PROPOSED, ProposalVerdict.MISSED, ProposalVerdict.ORPHANED:
        for v in POOL:
            want = sum(
                1 for pv, verdict in expected_proposals.values() if pv == v and verdict is outcome
            )
            got = _value(m, "stakepool_proposals_total", validator=str(v), outcome=outcome.value)
            assert got == want, (v, outcome, got, want)
    assert _value(m, "stakepool_slashing_evidence_total", validator=str(SLASHED)) == 1
    assert (
        sum(value for (name, _), value in m.items() if name == "stakepool_slashing_evidence_total")
        == 1
    )
    assert _value(m, "stakepool_slashed_validators") == 1
    last_sync = digests[-1].sync
    assert last_sync is not None
    for v in seated:
        ratio = _value(m, "stakepool_sync_committee_participation_ratio", validator=str(v))
        assert ratio == (0.0 if v in silent else 1.0), (v, ratio)
    assert (
        _value(
            m,
            "stakepool_sync_committee_signatures_total",
            validator=str(SYNC_OFF),
            outcome="signed",
        )
        == 0
    )
    assert (
        _value(
            m,
            "stakepool_sync_committee_signatures_total",
            validator=str(SYNC_OFF),
            outcome="missed",
        )
        > 0
    )


async def test_a_failing_part_is_skipped_and_logged_once_per_epoch() -> None:
    """Op pools and ``headers?slot=`` answer 500: those two parts are skipped each epoch (one
    warning each per close; an epoch's proposals are tried again at the next closes, a bounded
    number of times), attestations and sync are still evaluated, and the daemon keeps running."""
    chain = SimChain(_config())
    rec = Recorder()
    async with SimServer(chain, auto_advance=True) as sim:
        for route in ("getPoolAttesterSlashingsV2", "getPoolAttesterSlashings", "getBlockHeaders"):
            sim.faults.set(route, "server_error")
        settings = Settings(
            beacon={"urls": [sim.url], "timeout_seconds": 2, "retries": 0},
            pool={"validators": [parse_validator_ref(v) for v in POOL]},
            http={"port": 0},
        )
        with structlog.testing.capture_logs() as logs:
            code = await asyncio.wait_for(
                run_daemon(settings, listeners=[listen(rec)], max_epochs=3, configure_logs=False),
                20,
            )
    assert code == 0
    assert len(rec.digests) == 3

    def ours(epoch: int) -> bool:
        proposers = chain.proposers(epoch)
        assert proposers is not None
        return any(int(v) in POOL and epoch * SPE + i > 0 for i, v in enumerate(proposers))

    for d in rec.digests:
        # Without a duty of ours the headers route is never asked; an epoch whose proposals
        # failed is tried again at the next closes (PROPOSAL_ATTEMPTS closes in all).
        tried = [e for e in range(max(0, d.epoch - PROPOSAL_ATTEMPTS + 1), d.epoch + 1) if ours(e)]
        assert d.failed == (("op_pools", "proposals") if tried else ("op_pools",))
        assert d.proposals == ()
        assert not d.proposals_judged or not ours(d.epoch)
        assert d.earlier_proposals == ()
    assert [d.attestations is not None for d in rec.digests] == [d.epoch > 0 for d in rec.digests]
    failures = Counter((e["part"], e["epoch"]) for e in logs if e["event"] == "monitor_part_failed")
    # Logged once per close that tried it: once for the op pools, at most once per attempt for
    # an epoch's proposals.
    assert {n for (part, _), n in failures.items() if part == "op_pools"} == {1}
    assert all(n <= PROPOSAL_ATTEMPTS for n in failures.values())
    assert {part for part, _ in failures} == {p for d in rec.digests for p in d.failed}


async def test_a_finality_stall_raises_delay_then_leak_once_each() -> None:
    chain = SimChain(
        SimConfig(
            validators=128,
            preset="minimal",
            slot_duration_ms=100,
            seed=3,
            scenario=SimScenario(finality_stall=(0, 1000)),
        )
    )
    rec = Recorder()
    async with SimServer(chain, auto_advance=True) as sim:
        settings = Settings(
            beacon={"urls": [sim.url], "timeout_seconds": 2, "retries": 1},
            pool={"validators": [parse_validator_ref(v) for v in POOL]},
            http={"port": 0},
        )
        code = await asyncio.wait_for(
            run_daemon(settings, listeners=[listen(rec)], max_epochs=7, configure_logs=False), 20
        )
    assert code == 0
    finality = [
        (e.kind.value, e.epoch, getattr(e, "finalized_epoch", None))
        for e in rec.events
        if e.kind.value.startswith(("finality", "inactivity"))
    ]
    # Delayed once current − finalized > 3 (epoch 4); leaking once previous − finalized > 4
    # (epoch 6): the head's epochs are seen one by one, so the epochs are exact.
    assert finality == [
        ("finality_delayed", 4, 0),
        ("inactivity_leak_started", 6, 0),
    ]
    assert [e for e in rec.events if e.severity is Severity.CRITICAL] == [
        e for e in rec.events if e.kind.value == "inactivity_leak_started"
    ]
