"""The daemon's real events over a real mosquitto: the scripted simulator scenario (an offline
validator, a missed and an orphaned proposal with its reorg, an attester slashing) with the ledger
settling behind it. A subscriber sees every event exactly as the outbox had it; a broker outage
of several epochs and a daemon restart lose nothing and never give a fact a new id."""

from __future__ import annotations

import json
from pathlib import Path

from stakepool.sim.server import SimServer
from tests.integration.mqtt.broker import Mosquitto
from tests.integration.mqtt.kit import Gate, Received, Subscriber, eventually
from tests.integration.mqtt.scenario import (
    ROOT,
    SCENARIO_KINDS,
    Figures,
    LedgerRecorder,
    OutboxView,
    RunningDaemon,
    chain,
    check_delivery,
    delivered,
    event_messages,
    one_id_per_fact,
    outbox_view,
    prepare_database,
    settings,
)

LAST = 8
"""Epochs 0..8: the slashing's inclusion (epoch 4), finality of the early epochs, settlements."""
OUTAGE_EPOCHS = 3
STOP_AFTER = 3


def _drained(database: Path, messages: list[Received]) -> bool:
    view = outbox_view(database)
    return not view.pending and delivered(view, messages)


def _told_and_settled(rec: LedgerRecorder, final: OutboxView, figures: Figures) -> None:
    """What the daemon told (monitor events it logged, epochs the ledger wrote) went out."""
    ids = figures.ids
    told = {e.event_id for e in rec.events}
    assert told, "the monitor told nothing"
    in_outbox = {r.event_id for r in final.seen}
    assert told <= in_outbox, told - in_outbox
    assert told <= ids | final.pending, told - ids
    payloads = figures.payloads
    settled = {p["chain"]["epoch"] for p in payloads if p["kind"] == "epoch_settled"}
    assert set(rec.settled) <= settled | _pending_epochs(final, "epoch_settled"), (
        sorted(rec.settled),
        sorted(settled),
    )
    finalized = {p["chain"]["epoch"] for p in payloads if p["kind"] == "epoch_finalized"}
    assert finalized, "no epoch_finalized"
    assert finalized <= set(rec.settled) | settled  # only settled epochs become final


def _pending_epochs(view: OutboxView, kind: str) -> set[int]:
    return {
        json.loads(r.payload)["chain"]["epoch"]
        for r in view.seen
        if r.kind == kind and r.event_id in view.pending
    }


async def test_a_subscriber_sees_every_event_of_the_scenario(
    broker: Mosquitto, tmp_path: Path
) -> None:
    database = tmp_path / "ledger.sqlite"
    prepare_database(database)
    rec = LedgerRecorder()
    async with (
        SimServer(chain(), auto_advance=True) as sim,
        Subscriber(broker.port, f"{ROOT}/#") as sub,
    ):
        daemon = RunningDaemon(settings(sim.url, database, broker.url), rec)
        try:
            await daemon.until_closed(LAST)
            await eventually(lambda: _drained(database, sub.messages), "the outbox drained")
        finally:
            await daemon.stop()
        final = outbox_view(database)
        await eventually(lambda: delivered(final, sub.messages), "the last acknowledged rows")
    figures = check_delivery(final, sub.messages)
    assert figures.kinds >= SCENARIO_KINDS, SCENARIO_KINDS - figures.kinds
    _told_and_settled(rec, final, figures)
    alerts = [m for m in event_messages(sub.messages) if "/alerts/" in m.topic]
    assert {m.topic.rsplit("/", 1)[1] for m in alerts} == {"warning", "critical"}
    one_id_per_fact(figures.payloads)
    assert not figures.duplicated  # nothing failed, so nothing was sent twice
    assert [m.payload for m in sub.on("/status")] == ["online", "offline"]


async def test_a_broker_outage_of_several_epochs_loses_nothing(
    broker: Mosquitto, tmp_path: Path
) -> None:
    database = tmp_path / "ledger.sqlite"
    prepare_database(database)
    rec = LedgerRecorder()
    gate = Gate(broker.port)  # the daemon's way to the broker: shut until we listen again
    await gate.start()
    received: list[Received] = []
    try:
        async with SimServer(chain(), auto_advance=True) as sim:
            daemon = RunningDaemon(
                settings(sim.url, database, f"mqtt://127.0.0.1:{gate.port}"), rec
            )
            try:
                async with Subscriber(broker.port, f"{ROOT}/#") as before:
                    await daemon.until_closed(2)
                    gate.cut()
                    # What the broker acknowledged before the cut reaches the listener before
                    # the broker goes (a stopped mosquitto forgets what it has not sent yet).
                    await eventually(
                        lambda: delivered(outbox_view(database), before.messages),
                        "acknowledged rows received before the outage",
                    )
                    received.extend(before.messages)
                broker.stop()
                outage_from = rec.closed()
                await daemon.until_closed(outage_from + OUTAGE_EPOCHS)
                waiting = outbox_view(database).pending
                assert waiting, "the outage's events wait in the outbox"
                depths = await daemon.until_metric(
                    "stakepool_outbox_depth", lambda v: v > 0, "the depth shows the backlog"
                )
                broker.start()
                async with Subscriber(broker.port, f"{ROOT}/#") as after:
                    gate.open = True
                    await daemon.until_closed(max(LAST, outage_from + OUTAGE_EPOCHS + 2))
                    await eventually(
                        lambda: _drained(database, [*received, *after.messages]),
                        "the outbox drained after the outage",
                    )
                    await daemon.until_metric(
                        "stakepool_outbox_depth", lambda v: v == 0, "the depth back to 0"
                    )
                    await daemon.stop()
                    final = outbox_view(database)
                    await eventually(
                        lambda: delivered(final, [*received, *after.messages]),
                        "the last acknowledged rows",
                    )
                    received.extend(after.messages)
            finally:
                if not daemon.task.done():
                    await daemon.stop()
    finally:
        await gate.close()
    assert depths[-1] > 0
    figures = check_delivery(final, received)
    assert figures.kinds >= SCENARIO_KINDS, SCENARIO_KINDS - figures.kinds
    _told_and_settled(rec, final, figures)
    ids = figures.ids
    assert ids | final.pending == {r.event_id for r in final.seen}  # distinct ids: none lost
    assert waiting <= ids  # what waited through the outage went out afterwards
    # Sent twice only if in flight when the connection was cut (no PUBACK came back), so it was
    # still waiting in the outbox during the outage.
    assert figures.duplicated <= waiting, figures.duplicated - waiting
    one_id_per_fact(figures.payloads)


async def test_a_daemon_restart_mid_scenario_loses_nothing_and_keeps_the_ids(
    broker: Mosquitto, tmp_path: Path
) -> None:
    """The first life ends with events still in the outbox (its last epoch's, held back by a shut
    gate); the second, on the same database, sends them with the ids and payloads they had, then
    carries on from the epoch after the last one saved."""
    database = tmp_path / "ledger.sqlite"
    prepare_database(database)
    first, second = LedgerRecorder(), LedgerRecorder()
    sim_chain = chain()
    gate = Gate(broker.port)
    await gate.start()
    try:
        async with (
            SimServer(sim_chain, auto_advance=True) as sim,
            Subscriber(broker.port, f"{ROOT}/#") as sub,
        ):
            config = settings(sim.url, database, f"mqtt://127.0.0.1:{gate.port}")
            daemon = RunningDaemon(config, first)
            try:
                await daemon.until_closed(STOP_AFTER - 1)
                gate.cut()
                await daemon.until_closed(STOP_AFTER)
            finally:
                await daemon.stop()  # may land in the middle of the next epoch's work
            left = outbox_view(database)
            assert left.pending, "the first life left events for the second"
            down_until = sim_chain.head_epoch + 2
            await eventually(lambda: sim_chain.head_epoch >= down_until, "the chain goes on")
            gate.open = True
            daemon = RunningDaemon(config, second)
            try:
                await daemon.until_closed(LAST)
                await eventually(lambda: _drained(database, sub.messages), "the outbox drained")
            finally:
                await daemon.stop()
            final = outbox_view(database)
            await eventually(lambda: delivered(final, sub.messages), "the last acknowledged rows")
    finally:
        await gate.close()
    figures = check_delivery(final, sub.messages)
    assert figures.kinds >= SCENARIO_KINDS, SCENARIO_KINDS - figures.kinds
    ids = figures.ids
    assert left.pending <= ids  # what the first life left in the outbox, the second sent
    carried = {r.payload for r in left.seen if r.event_id in left.pending}
    assert carried <= {m.payload for m in sub.messages}  # byte for byte: same id, same timestamp
    # Sent twice only if in flight at the stop, or raised again by an epoch the stop cut short.
    assert figures.duplicated <= left.pending | final.enqueued_twice
    assert ids | final.pending == {r.event_id for r in final.seen}
    for rec in (first, second):
        _told_and_settled(rec, final, figures)
    # The second life resumed where the first stopped: its first epoch follows the last saved.
    assert min(d.epoch for d in second.digests) <= first.closed() + 1
    one_id_per_fact(figures.payloads)
