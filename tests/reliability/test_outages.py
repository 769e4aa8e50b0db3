"""Outages: the broker stopped and started again; the only beacon node stalled; the preferred
node hung (accepts TCP, never answers). The ledger ends identical to the undisturbed run's and no
MQTT event is lost."""

from __future__ import annotations

import urllib.error
import urllib.request

from tests.integration.money.moneykit import SPE
from tests.reliability.conftest import MakeRig
from tests.reliability.proxy import FaultyNode
from tests.reliability.rig import SLOT_MS, Rig
from tests.reliability.tally import TALLY


async def _until_epoch(stage: Rig, epoch: int) -> None:
    await stage.until(
        f"the chain at epoch {epoch}", lambda: stage.chain.head_slot >= epoch * SPE, 60
    )


async def test_broker_outage_loses_no_event(rig: MakeRig) -> None:
    stage = await rig(seed=1883)
    await stage.start()
    for n, (at_epoch, down_epochs) in enumerate(((3, 2.0), (7, 1.0))):
        await _until_epoch(stage, at_epoch)
        # The subscriber's record so far is kept; the daemon's connection is cut, the broker
        # stopped (it forgets everything: persistence is off) and started again.
        stage.gate.cut()
        await stage.unsubscribe()
        stage.broker.stop()
        TALLY.outages += 1
        stage.disturbances += 1
        await stage.watch(down_epochs * stage.epoch_seconds)
        stage.broker.start()
        await stage.subscribe()
        stage.gate.open = True  # the daemon gets through only once somebody listens again
        assert n < 2
    out = await stage.finish()
    stage.assert_same(out)


def _ready(base: str) -> int:
    try:
        with urllib.request.urlopen(base + "/readyz", timeout=2) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


async def test_stall_of_the_only_node_is_caught_up(rig: MakeRig) -> None:
    """The only node answers nothing for six epochs (within its history), then catches up."""
    stage = await rig(seed=15)
    async with FaultyNode(stage.sim_url, seed=15) as node:
        await stage.start([node.url])
        await _until_epoch(stage, 3)
        node.stall()
        TALLY.outages += 1
        await stage.watch(6 * stage.epoch_seconds)
        node.release()
        out = await stage.finish()
    stage.assert_same(out)


def _metric(base: str, node: str, name: str = "stakepool_beacon_up") -> float | None:
    with urllib.request.urlopen(base + "/metrics", timeout=2) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith(name + "{") and f'node="{node}"' in line:
                return float(line.rsplit(" ", 1)[1])
    return None


async def test_a_hung_only_node_is_noticed_within_a_few_slots(rig: MakeRig) -> None:
    stage = await rig(seed=16)
    async with FaultyNode(stage.sim_url, seed=16) as node:
        dut = await stage.start([node.url])
        await _until_epoch(stage, 3)
        await stage.until("ready", lambda: _ready(dut.base) == 200, 30)
        node.stall()
        TALLY.outages += 1
        # "Within a slot or two": eight slots here, the machine being shared.
        within = 8 * SLOT_MS / 1000
        try:
            await stage.until(
                "/readyz 503 and stakepool_beacon_up 0",
                lambda: _ready(dut.base) == 503 and _metric(dut.base, node.url) == 0.0,
                within,
            )
        finally:
            node.release()


async def test_a_hung_preferred_node_is_failed_over(rig: MakeRig) -> None:
    """The preferred of two nodes hangs from epoch 3 on; the daemon goes on with the other."""
    stage = await rig(seed=43)
    async with FaultyNode(stage.sim_url, seed=43) as node:
        await stage.start([node.url, stage.sim_url])
        await _until_epoch(stage, 3)
        node.stall()
        TALLY.outages += 1
        try:
            out = await stage.finish()
        finally:
            node.release()
    stage.assert_same(out)
