"""A node that lies about the chain's genesis (``genesis_validators_root``), listed first, before
two honest ones. The liar must be the one left out, whether ``[beacon] genesis_root`` says the
chain's root or the honest majority does: the daemon follows the honest nodes, its ledger ends
identical to the undisturbed run's and no MQTT event is lost."""

from __future__ import annotations

import urllib.request

from stakepool.sim.chain import SimChain, SimConfig
from tests.integration.money.moneykit import VALIDATORS
from tests.reliability.conftest import MakeRig
from tests.reliability.proxy import FaultyNode
from tests.reliability.rig import CHAIN_SEED, Outcome, Rig
from tests.reliability.tally import TALLY


def beacon_up(base: str) -> dict[str, float]:
    """``stakepool_beacon_up`` by node label, from the daemon's ``/metrics``."""
    with urllib.request.urlopen(base + "/metrics", timeout=5) as answer:
        text = answer.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith('stakepool_beacon_up{node="'):
            label, value = line.split('"')[1], line.rsplit(" ", 1)[1]
            out[label] = float(value)
    return out


async def _lying_first(stage: Rig, beacon: str) -> tuple[dict[str, float], str, Outcome]:
    """The liar first, then two honest nodes (the simulator, and a plain proxy in front of it):
    without a configured root, the honest majority must win."""
    async with (
        FaultyNode(stage.sim_url, seed=7, corrupt_share=1.0) as liar,
        FaultyNode(stage.sim_url, seed=8) as honest,
    ):
        liar.faults = ("lying_genesis",)
        liar.only = lambda path: path == "/eth/v1/beacon/genesis"
        dut = await stage.start([liar.url, stage.sim_url, honest.url], dut_beacon=beacon)
        await stage.started_both()
        await stage.until("the chain at epoch 6", lambda: stage.chain.head_slot >= 6 * 8, 60)
        up = beacon_up(dut.base)
        TALLY.answers_corrupted += sum(liar.corrupted.values())
        out = await stage.finish()
    assert liar.corrupted["lying_genesis"] >= 1, liar.corrupted  # it did lie
    return up, liar.url, out


async def test_lying_genesis_with_the_root_configured(rig: MakeRig) -> None:
    stage = await rig(seed=71)
    # The simulated chain's root depends on its validators, not on its genesis time.
    root = SimChain(
        SimConfig(validators=VALIDATORS, preset="minimal", seed=CHAIN_SEED)
    ).genesis_validators_root
    up, liar, out = await _lying_first(stage, f'genesis_root = "{root}"\n')
    assert stage.chain.genesis_validators_root == root
    stage.assert_same(out)
    assert up.get(stage.sim_url) == 1.0, up
    assert up.get(liar) == 0.0, up  # refused: another chain


async def test_lying_genesis_without_the_root_configured(rig: MakeRig) -> None:
    stage = await rig(seed=72)
    up, _liar, out = await _lying_first(stage, "")
    stage.assert_same(out)
    assert up.get(stage.sim_url) == 1.0, up  # the honest node is used
