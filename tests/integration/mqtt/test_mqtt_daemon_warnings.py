"""The daemon's own warnings reach a real mosquitto as typed events, like the monitor's.

A validator client's keymanager that goes away (``validator_client_unreachable``, once per outage,
then ``validator_client_reachable``), a witness node that disagrees about one epoch
(``cross_check_disagreement``, exactly once, naming the epoch and the validator) and a window
refused for balances the protocol cannot produce (``rewards_implausible``): each arrives on
``events/<kind>`` and ``alerts/warning`` with a payload the published JSON Schema accepts, and the
web page's alerts list it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from stakepool.chain.bus import EventBus
from stakepool.config import MqttSettings, Settings, parse_validator_ref
from stakepool.ledger.service import LedgerService
from stakepool.ledger.store.sqlite_ledger import open_ledger
from stakepool.publish.metrics import Metrics
from stakepool.publish.mqtt import MqttPublisher
from stakepool.rewards.plausibility_check import ImplausibleSettlement
from stakepool.service.event_sink import EventSink, implausible_event
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.keymanager import SimKeymanager
from stakepool.sim.server import SimServer
from stakepool.store.outbox_queue import OutboxQueue
from tests.integration.conftest import MakeSimClient
from tests.integration.money.moneykit import SCENARIO
from tests.integration.money.test_feed_reorg import DELEGATIONS, POLICY, _chain, _feed
from tests.integration.money.test_implausible_balances import VICTIM, OneWrongAnswer
from tests.integration.mqtt.broker import Mosquitto
from tests.integration.mqtt.kit import Received, Subscriber, eventually
from tests.integration.mqtt.scenario import schema_errors
from tests.integration.service.test_cross_check import EPOCH, OVERPAID, UNTIL, OverpayingNode

SLOT_MS = 150
TOKEN = "ef" * 32
POOL = "alpha"
ROOT = f"stakepool/{POOL}"


def _data(message: Received) -> dict[str, Any]:
    assert schema_errors(message.payload) == [], message.payload
    body: dict[str, Any] = json.loads(message.payload)
    return body


@contextlib.asynccontextmanager
async def _daemon(settings: Settings) -> AsyncIterator[tuple[str, asyncio.Task[int]]]:
    bound: list[str] = []
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_daemon(settings, stop=stop, on_listening=bound.append, configure_logs=False)
    )
    try:
        await eventually(lambda: bool(bound) or task.done(), "the daemon's HTTP server")
        assert not task.done()
        yield bound[0], task
    finally:
        stop.set()
        assert await asyncio.wait_for(task, timeout=30) == 0


async def _alerts(base: str) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
        session.get(f"{base}/api/v1/alerts") as answer,
    ):
        data: list[dict[str, Any]] = (await answer.json())["data"]
        return data


async def test_an_unreachable_validator_client_is_an_event_once_per_outage(
    tmp_path: Path, broker: Mosquitto
) -> None:
    chain = SimChain(SimConfig(validators=64, preset="minimal", slot_duration_ms=SLOT_MS, seed=3))
    sim = SimServer(chain, auto_advance=True)
    keymanager = SimKeymanager(TOKEN, local=[1, 2])
    token_file = tmp_path / "api-token.txt"
    token_file.write_text(TOKEN + "\n")
    await sim.start()
    await keymanager.start()
    settings = Settings(
        beacon={"urls": [sim.url], "timeout_seconds": 2, "retries": 1},
        pool={"id": POOL, "validators": [parse_validator_ref("0")]},
        ledger={"database": str(tmp_path / "ledger.sqlite")},
        http={"port": 0},
        mqtt={"url": broker.url},
        validator_client=[
            {"name": "vc-1", "url": keymanager.url, "token_file": str(token_file)},
        ],
    )
    try:
        async with Subscriber(broker.port, f"{ROOT}/#") as sub, _daemon(settings) as (base, _):
            await eventually(lambda: bool(sub.on("/events/epoch_settled")), "a settled epoch")
            assert sub.on("/events/validator_client_unreachable") == []
            keymanager.down = True
            await eventually(
                lambda: bool(sub.on("/events/validator_client_unreachable")), "the outage event"
            )
            down_at = chain.head_epoch
            # Stays down for two more polls (one per epoch): still one event for the outage.
            await eventually(lambda: chain.head_epoch >= down_at + 3, "three more epochs")
            keymanager.down = False
            await eventually(
                lambda: bool(sub.on("/events/validator_client_reachable")), "the recovery event"
            )
            (down,) = sub.on("/events/validator_client_unreachable")
            event = _data(down)
            assert event["severity"] == "warning"
            assert event["data"]["vc"] == "vc-1"
            assert event["data"]["keys_kept"] == 2  # its keys stay in the pool meanwhile
            alerts = [_data(m) for m in sub.on("/alerts/warning")]
            assert event["event_id"] in [a["event_id"] for a in alerts]
            (up,) = sub.on("/events/validator_client_reachable")
            back = _data(up)
            assert back["severity"] == "info"
            assert back["data"]["unreachable_since_epoch"] == event["chain"]["epoch"]
            assert back["data"]["keys"] == 2
            shown = [a for a in await _alerts(base) if a["kind"] == "validator_client_unreachable"]
            assert len(shown) == 1
            assert "vc=vc-1" in shown[0]["text"]
    finally:
        await keymanager.stop()
        await sim.stop()


def _sim(genesis: int) -> SimChain:
    return SimChain(
        SimConfig(
            validators=64, preset="minimal", slot_duration_ms=SLOT_MS, seed=3, genesis_time=genesis
        )
    )


async def test_a_witness_disagreement_is_one_event_naming_epoch_and_validator(
    tmp_path: Path, broker: Mosquitto
) -> None:
    genesis = int(time.time())
    primary = SimServer(_sim(genesis), auto_advance=True)
    witness = OverpayingNode(_sim(genesis), auto_advance=True)
    await primary.start()
    await witness.start()
    settings = Settings(
        beacon={
            "urls": [primary.url, witness.url],
            "timeout_seconds": 2,
            "retries": 1,
            "cross_check": True,
        },
        pool={"id": POOL, "validators": [parse_validator_ref(v) for v in ("3", str(OVERPAID))]},
        ledger={"database": str(tmp_path / "ledger.sqlite")},
        http={"port": 0},
        mqtt={"url": broker.url},
    )
    try:
        async with Subscriber(broker.port, f"{ROOT}/#") as sub, _daemon(settings) as (base, _):
            # Settled (and so checked) past the disagreeing epoch by a few epochs.
            await eventually(
                lambda: any(
                    json.loads(m.payload)["chain"]["epoch"] >= UNTIL
                    for m in sub.on("/events/epoch_settled")
                ),
                f"epoch {UNTIL} settled",
                seconds=120,
            )
            await eventually(
                lambda: bool(sub.on("/events/cross_check_disagreement")), "the disagreement"
            )
            (message,) = sub.on("/events/cross_check_disagreement")
            event = _data(message)
            data = event["data"]
            assert event["severity"] == "warning"
            assert event["chain"]["epoch"] == EPOCH
            assert (data["primary"], data["witness"]) == (primary.url, witness.url)
            assert data["validators"] == [OVERPAID]
            (p,), (w,) = data["primary_delta_gwei"], data["witness_delta_gwei"]
            assert int(w) == int(p) + 1
            assert data["vote_validators"] == []
            assert event["event_id"] in [
                json.loads(m.payload)["event_id"] for m in sub.on("/alerts/warning")
            ]
            shown = [a for a in await _alerts(base) if a["kind"] == "cross_check_disagreement"]
            assert [a["epoch"] for a in shown] == [EPOCH]
            assert f"validators={OVERPAID}" in shown[0]["text"]
    finally:
        await witness.stop()
        await primary.stop()


async def test_a_refused_window_is_an_event_naming_node_and_validator(
    tmp_path: Path, broker: Mosquitto, sim_client: MakeSimClient
) -> None:
    chain = _chain(SCENARIO)
    first, second = OneWrongAnswer(chain), OneWrongAnswer(chain)
    store = open_ledger(str(tmp_path / "l.sqlite"), pool_id=POOL, policy=POLICY)
    await store.apply_delegations(DELEGATIONS)
    sink = EventSink(store.db, EventBus(), pool_id=POOL, outbox_max_rows=1000)
    publisher = MqttPublisher(
        MqttSettings.model_validate({"url": broker.url}),
        OutboxQueue(store.db),
        Metrics(pool_id=POOL).delivery,
        pool_id=POOL,
        poll_seconds=0.2,
    )
    sink.notify = publisher.notify
    async with first, second, Subscriber(broker.port, f"{ROOT}/#") as sub:
        feed = await _feed(sim_client(first.url, second.url, retries=0), LedgerService(store))

        async def refused(error: ImplausibleSettlement, node: str | None) -> None:
            await sink.emit([implausible_event(error, node)])

        feed.tracker.fetcher.on_refused = refused
        run = asyncio.create_task(publisher.run())
        try:
            for closed in (2, 3):
                await feed.on_epoch_closed(closed)
            first.armed = True  # the read-ahead of window 4 meets the wrong answer
            for closed in (4, 5):
                await feed.on_epoch_closed(closed)
            await eventually(
                lambda: bool(sub.on("/events/rewards_implausible")), "the refused window"
            )
        finally:
            run.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run
    (message,) = sub.on("/events/rewards_implausible")
    event = _data(message)
    data = event["data"]
    assert event["chain"]["epoch"] == 4
    assert (data["node"], data["held"]) == (first.url, False)  # read again from the other node
    assert data["validators"] == [VICTIM]
    low, high = data["low_gwei"][0], data["high_gwei"][0]
    assert high is not None
    assert int(data["settlement_gwei"][0]) > int(high)
    assert low is None or int(low) <= int(high)
    store.db.close()
