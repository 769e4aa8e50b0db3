"""The monitor's verdicts the ledger rows carry survive a restart (``DutyMemory`` kept state)."""

from __future__ import annotations

import sqlite3
import tracemalloc
from functools import partial

import structlog

from stakepool.chain.types import Epoch, Slot, ValidatorIndex
from stakepool.ledger.duty_memory import DUTIES_KEY, DutyMemory, EpochOutcomes
from stakepool.monitor.digest import AttestationDigest, EpochDuties
from stakepool.monitor.summary import AttestationSummary
from stakepool.monitor.verdicts import ProposalVerdict
from stakepool.store import kept_state
from stakepool.store.database import Database
from stakepool.store.unit import UnitOfWork

V = ValidatorIndex


def _report(epoch: int, included: list[int], missed: list[int], lost: list[int]) -> EpochDuties:
    digest = AttestationDigest(
        Epoch(epoch - 1),
        AttestationSummary(duties=len(included) + len(missed), included=len(included)),
        tuple(V(v) for v in missed),
        (),
        (),
        tuple(V(v) for v in included),
    )
    proposals = tuple(
        (Slot(epoch * 8 + i), V(v), ProposalVerdict.ORPHANED if i else ProposalVerdict.MISSED)
        for i, v in enumerate(lost)
    ) + ((Slot(epoch * 8 + 7), V(99), ProposalVerdict.PROPOSED),)
    return EpochDuties(Epoch(epoch), attestations=digest, proposals=proposals)


def _db() -> Database:
    return Database.open(":memory:")


def test_the_outcomes_of_unsettled_epochs_are_kept_and_restored() -> None:
    db = _db()
    memory = DutyMemory()
    db.write_sync(lambda c: memory.write(UnitOfWork(c), _report(5, [1, 2], [3], [2, 2])))
    db.write_sync(lambda c: memory.write(UnitOfWork(c), _report(6, [1, 3], [2], [])))

    restored = DutyMemory()
    text = db.read_sync(lambda c: kept_state.load(c, DUTIES_KEY))
    assert text is not None
    restored.restore(text)
    for epoch in (4, 5, 6):
        assert restored.outcomes(epoch) == memory.outcomes(epoch)
    assert restored.outcomes(4) == EpochOutcomes(4, {1: True, 2: True, 3: False}, {})
    assert restored.outcomes(5) == EpochOutcomes(5, {1: True, 3: True, 2: False}, {2: 2})
    assert restored.outcomes(6) == EpochOutcomes(6, {}, {})
    assert restored.outcomes(3) is None
    db.close()


def test_only_what_the_ledger_has_not_settled_is_kept() -> None:
    db = _db()
    memory = DutyMemory()

    def settled_up_to(conn: sqlite3.Connection, epoch: int) -> None:
        # The smallest ledger row the schema accepts: only its epoch matters here.
        conn.execute(
            "INSERT INTO ledger_epochs (epoch, status, reward_cl_gwei, reward_gwei, fee_gwei,"
            " bond_delta_gwei, unassigned_gwei, distributed_gwei, total_weight_gwei, delegators,"
            " acc_scaled, dust_delta_scaled, state_json, input_digest)"
            " VALUES (?, 'provisional', 0, 0, 0, 0, 0, 0, 0, 0, '0', '0', '{}', 'x')",
            (epoch,),
        )

    def write(conn: sqlite3.Connection, epoch: int) -> None:
        memory.write(UnitOfWork(conn), _report(epoch, [1], [], []))

    for epoch in range(2, 9):
        db.write_sync(partial(write, epoch=epoch))
    db.write_sync(lambda c: settled_up_to(c, 6))
    db.write_sync(lambda c: memory.write(UnitOfWork(c), _report(9, [1], [], [])))
    restored = DutyMemory()
    text = db.read_sync(lambda c: kept_state.load(c, DUTIES_KEY))
    assert text is not None
    restored.restore(text)
    assert [e for e in range(12) if restored.outcomes(e) is not None] == [7, 8, 9]
    db.close()


def test_unreadable_kept_outcomes_are_ignored_with_a_warning() -> None:
    memory = DutyMemory()
    with structlog.testing.capture_logs() as logs:
        memory.restore('[{"epoch": "x"}]')
    assert memory.outcomes(0) is None
    assert [e["event"] for e in logs] == ["ledger_duty_outcomes_unreadable"]


def test_verdicts_the_monitor_still_owes_hold_the_ledger_and_arrive_with_a_later_close() -> None:
    """Epoch 5's close could judge neither the attestations of 4 nor the proposals of 5 (a
    stalled node): the ledger is told they are pending, across a restart, and what the next
    close judges for them lands on the rows of 4 and 5, not nothing."""
    db = _db()
    memory = DutyMemory()
    failed = EpochDuties(
        Epoch(5),
        failed=("proposals", "attestations"),
        proposals_judged=False,
        pending=(Epoch(4), Epoch(5)),
    )
    db.write_sync(lambda c: memory.write(UnitOfWork(c), failed))
    assert memory.first_pending() == 4
    assert memory.outcomes(5) is None  # "not judged" is not "nothing missed"

    restored = DutyMemory()
    text = db.read_sync(lambda c: kept_state.load(c, DUTIES_KEY))
    assert text is not None
    restored.restore(text)
    assert restored.first_pending() == 4
    assert restored.outcomes(5) is None

    later = _report(6, [1], [], [])
    retried = _report(5, [1, 2], [3], [2])
    assert retried.attestations is not None
    caught_up = EpochDuties(
        later.epoch,
        attestations=later.attestations,
        proposals=later.proposals,
        earlier_attestations=(retried.attestations,),
        earlier_proposals=((Epoch(5), retried.proposals),),
    )
    db.write_sync(lambda c: restored.write(UnitOfWork(c), caught_up))
    assert restored.first_pending() is None
    assert restored.outcomes(4) == EpochOutcomes(4, {1: True, 2: True, 3: False}, {})
    assert restored.outcomes(5) == EpochOutcomes(5, {1: True}, {2: 1})
    db.close()


def test_sixteen_epochs_of_verdicts_stay_small() -> None:
    """The verdicts wait up to 16 epochs for their settlement; held as a dict per epoch they
    grew the daemon by ~8 MB an epoch at 100,000 validators, for 16 epochs."""
    pool = list(range(200_000, 210_000))
    memory = DutyMemory()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for epoch in range(10, 26):
            memory.record(_report(epoch, pool[epoch:], pool[:epoch], []))
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 3_000_000  # 16 epochs x 10,000 validators: ~1.3 MB of arrays (~13 MB as dicts)
    outcomes = memory.outcomes(20)
    assert outcomes is not None
    assert outcomes.attestation_included[pool[0]] is False
    assert outcomes.attestation_included[pool[-1]] is True
    assert len(outcomes.attestation_included) == len(pool)
