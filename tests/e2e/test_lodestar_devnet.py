"""``stakepool run`` against a real beacon node: stock Lodestar v1.5.1, minimal preset, Altair.

64 interop validators, 0..55 online. The pool is 48..63: 48..55 do their duties, 56..63 never do.
A real attester slashing (62) and proposer slashing (63) go in around epoch 3. The daemon's log
events and ``/metrics`` are held against what the test reads from the node itself, as it goes
(``nodeview.NodeRecorder``): every duty of 56..63 missed, and of 48..55 exactly the votes the
blocks lack (a loaded machine may make the client miss one), each missed proposal a slot without a
block, exactly one critical alert per slashed validator, and the pool's balance
at each closed epoch equal to the node's.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.errors import InconsistentAnswer
from tests.e2e.conftest import Devnet
from tests.e2e.ledgercheck import (
    DELEGATIONS,
    assert_ledger_conserves,
    assert_rewards_match_the_node,
    validator_epochs,
)
from tests.e2e.mqtttap import MqttTap
from tests.e2e.nodeview import SLOTS_PER_EPOCH, BeaconView, NodeRecorder
from tests.integration.mqtt.broker import Mosquitto
from tests.integration.mqtt.kit import retained_status

ONLINE = list(range(48, 56))
OFFLINE = list(range(56, 64))
POOL = ONLINE + OFFLINE
ATTESTER_VICTIM, PROPOSER_VICTIM = 62, 63
SLASH_AT_EPOCH = 3
LAST_EPOCH = 9
"""Run until the daemon has judged epoch 9 (its attestations: epochs 1..8)."""
FIRST_EPOCH = 1
"""Epoch 0 closes before the daemon could ask for its duties (the node serves duties for the
current and next epoch only), so it is skipped, as after any start-up."""
RUN_DEADLINE_SECONDS = 330
MQTT_ROOT = "stakepool/e2e"

# pytest-timeout's default is 300 s: this test waits ~10 epochs of 16 s on a shared machine.
pytestmark = pytest.mark.timeout(600)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _events(log: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for raw in log.read_text().splitlines():
        line = raw.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def _metrics(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _start_daemon(
    tmp_path: Path,
    devnet: Devnet,
    http_port: int,
    *,
    pool_keys: str = "",
    extra_sections: str = "",
) -> tuple[subprocess.Popen[bytes], Path]:
    """``pool_keys``: more ``[pool]`` lines (``delegations_file = …``); ``extra_sections``: more
    TOML tables (``[mqtt]``, ``[ledger]``)."""
    config = tmp_path / "stakepool.toml"
    config.write_text(
        f'[beacon]\nurls = ["{devnet.url}"]\n'
        f'[pool]\nid = "e2e"\nvalidators = {POOL}\n{pool_keys}'
        f"[http]\nport = {http_port}\n"
        '[log]\nformat = "json"\nlevel = "info"\n' + extra_sections
    )
    log = tmp_path / "stakepool.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STAKEPOOL_")}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "stakepool", "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,  # anything the daemon writes by a relative path stays in the tmp dir
        )
    return proc, log


def _stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
            return -9
    return proc.returncode


def test_stakepool_on_lodestar(devnet: Devnet, broker: Mosquitto, tmp_path: Path) -> None:
    view = BeaconView(devnet.url)
    recorder = NodeRecorder(view, POOL, view.genesis_time())
    http_port = _free_port()
    base = f"http://127.0.0.1:{http_port}"
    delegations = tmp_path / "delegations.toml"
    delegations.write_text(DELEGATIONS)
    tap = MqttTap(broker.port, MQTT_ROOT)
    tap.start()
    proc, log = _start_daemon(
        tmp_path,
        devnet,
        http_port,
        pool_keys=(
            f'delegations_file = "{delegations}"\nfee_bps = 1000\nfee_mode = "per_epoch_positive"\n'
            "delegations_stable_seconds = 0\n"  # written whole before the start
        ),
        extra_sections=f'[mqtt]\nurl = "{broker.url}"\n',
    )
    recorder.start()
    injected = ""
    metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    rows: dict[int, dict[int, dict[str, Any]]] = {}
    pool: dict[str, Any] = {}
    status_online: str | None = None
    try:
        deadline = time.monotonic() + RUN_DEADLINE_SECONDS
        while True:
            assert proc.poll() is None, "stakepool run exited:\n" + log.read_text()[-3000:]
            assert time.monotonic() < deadline, "too slow:\n" + log.read_text()[-3000:]
            if not injected and recorder.clock_epoch() >= SLASH_AT_EPOCH:
                injected = devnet.inject_slashings(
                    proposer=PROPOSER_VICTIM, attester=ATTESTER_VICTIM
                )
            judged = [e["epoch"] for e in _events(log) if e["event"] == "epoch_duties"]
            if judged and max(judged) >= LAST_EPOCH:
                break
            time.sleep(1.0)
        status_online = asyncio.run(retained_status(broker.port, f"{MQTT_ROOT}/status"))
        # The node first: the daemon hears of finality after it (SSE), never before.
        checkpoints = view.get("/eth/v1/beacon/states/head/finality_checkpoints")
        assert checkpoints is not None
        node_finalized = int(checkpoints["data"]["finalized"]["epoch"])
        for _ in range(5):  # an event on its way (milliseconds) gets a moment to land
            metrics = _metrics(f"http://127.0.0.1:{http_port}")
            if metrics[("stakepool_finalized_epoch", ())] >= node_finalized:
                break
            time.sleep(1.0)
        # The daemon is idle until the next epoch closes: its ledger is read as it stands.
        rows = validator_epochs(base, POOL)
        pool = assert_ledger_conserves(base, rows)
    finally:
        recorder.stop()
        code = _stop(proc)
        tap.stop()
    events = _events(log)
    assert code == 0, log.read_text()[-3000:]
    assert events[-1]["event"] == "stopped"
    _assert_mqtt(tap, broker, status_online)

    by_kind: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_kind.setdefault(e["event"], []).append(e)

    # Nothing went wrong that the daemon had to skip, after the start-up epoch.
    errors = [e for e in events if e.get("level") == "error"]
    assert errors == []
    failed = [
        e
        for e in by_kind.get("monitor_part_failed", [])
        if e["part"] in ("attestations", "proposals", "blocks", "sync")
        and e["epoch"] >= FIRST_EPOCH
    ]
    assert failed == []
    # Every window was read while the node still had its states; no explanation was retried.
    assert by_kind.get("ledger_window_unavailable", []) == []
    assert by_kind.get("rewards_unexplained", []) == []

    _assert_attestations(by_kind, recorder, view)
    _assert_proposals(by_kind, recorder, view)
    _assert_slashings(events, metrics, injected)
    # The daemon followed the node's finality and the validators' statuses.
    assert metrics[("stakepool_finalized_epoch", ())] >= node_finalized
    statuses = {
        dict(labels)["status"]: value
        for (name, labels), value in metrics.items()
        if name == "stakepool_pool_validators"
    }
    assert statuses["active_ongoing"] == len(POOL) - 2
    assert statuses["active_slashed"] + statuses["exited_slashed"] == 2
    _assert_balances(by_kind, recorder)
    _assert_money(rows, pool, recorder)


def _assert_attestations(
    by_kind: dict[str, list[dict[str, Any]]], recorder: NodeRecorder, view: BeaconView
) -> None:
    missed = {
        (e["validator_index"], e["epoch"], e["slot"]) for e in by_kind.get("attestation_missed", [])
    }
    assert {v for v, _, _ in missed} <= set(POOL), "a validator outside the pool reported"
    expected: set[tuple[int, int, int]] = set()
    for epoch in range(FIRST_EPOCH, LAST_EPOCH):
        assert epoch in recorder.attester, f"duties of epoch {epoch} unread: {recorder.errors}"
        duties = recorder.attester[epoch]
        assert set(ONLINE) <= set(duties), f"epoch {epoch}: online validators without duties"
        for v, seat in duties.items():
            # An online client may miss a vote on a loaded machine: the verdict must follow the
            # chain, read here from the blocks themselves, either way.
            on_chain = view.included(seat)
            assert not (v in OFFLINE and on_chain), f"offline {v}'s vote of {epoch} on chain"
            if not on_chain:
                expected.add((v, epoch, seat.slot))
    judged = {m for m in missed if FIRST_EPOCH <= m[1] < LAST_EPOCH}
    assert judged == expected
    # Every offline validator had duties until it was slashed and exited, and missed each one.
    assert {v for v, _, _ in expected if v in OFFLINE} == set(OFFLINE)
    # The online validators' client did attest: most of their votes are on chain.
    online = [m for m in expected if m[0] in ONLINE]
    assert len(online) <= len(ONLINE) * (LAST_EPOCH - FIRST_EPOCH) // 4, sorted(online)


def _assert_proposals(
    by_kind: dict[str, list[dict[str, Any]]], recorder: NodeRecorder, view: BeaconView
) -> None:
    missed = {(e["validator_index"], e["slot"]) for e in by_kind.get("block_missed", [])}
    proposed = {(e["validator_index"], e["slot"]) for e in by_kind.get("block_proposed", [])}
    for _validator, slot in missed:
        assert not view.has_block(slot), f"slot {slot} reported missed but has a block"
    expected_missed: set[tuple[int, int]] = set()
    expected_proposed: set[tuple[int, int]] = set()
    for epoch in range(FIRST_EPOCH, LAST_EPOCH + 1):
        assert epoch in recorder.proposer, f"proposers of epoch {epoch} unread: {recorder.errors}"
        for slot, proposer in recorder.proposer[epoch].items():
            if proposer in OFFLINE:
                expected_missed.add((proposer, slot))
                assert not view.has_block(slot)
            elif proposer in ONLINE:
                # A real node may miss a slot under load: the verdict must follow the chain.
                target = expected_proposed if view.has_block(slot) else expected_missed
                target.add((proposer, slot))
    in_range = range(FIRST_EPOCH * SLOTS_PER_EPOCH, (LAST_EPOCH + 1) * SLOTS_PER_EPOCH)
    assert {m for m in missed if m[1] in in_range} == expected_missed
    assert {p for p in proposed if p[1] in in_range} == expected_proposed
    assert any(v in OFFLINE for v, _ in expected_missed), "no offline proposer in 9 epochs?"


def _assert_slashings(
    events: list[dict[str, Any]],
    metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float],
    injected: str,
) -> None:
    assert injected, "the slashings were never injected"
    critical = Counter(e.get("validator_index") for e in events if e.get("level") == "critical")
    assert critical == {ATTESTER_VICTIM: 1, PROPOSER_VICTIM: 1}, critical
    assert metrics[("stakepool_slashed_validators", ())] == 2
    for v in POOL:
        key = ("stakepool_slashing_evidence_total", (("validator", str(v)),))
        assert metrics[key] == (1 if v in (ATTESTER_VICTIM, PROPOSER_VICTIM) else 0), v


def _assert_balances(by_kind: dict[str, list[dict[str, Any]]], recorder: NodeRecorder) -> None:
    compared = 0
    for report in by_kind.get("epoch_closed", []):
        node = recorder.balances.get(report["epoch"])
        if node is None:
            continue
        assert report["validators"] == len(POOL), report
        assert report["pool_balance_gwei"] == sum(node.values()), (report, node)
        compared += 1
    assert compared >= LAST_EPOCH - FIRST_EPOCH, f"balances read: {recorder.balances.keys()}"


async def test_client_fallbacks_on_lodestar(devnet: Devnet) -> None:
    """``BeaconClient`` on the same node (after the daemon's run, or from genesis when alone):
    each fallback gives what a conforming node would have answered, checked against the node."""
    view = BeaconView(devnet.url)
    recorder = NodeRecorder(view, POOL, view.genesis_time())
    deadline = time.monotonic() + 300
    empty = _wait_for_empty_slot(view, recorder, deadline)
    async with BeaconClient([devnet.url], timeout=10.0) as client:
        # POST liveness is missing: the legacy GET form; 56 never attests, 48 always does.
        epoch = recorder.clock_epoch() - 1
        live = await client.duties.liveness(epoch, [48, 56])
        assert {e.index: e.is_live for e in live.data} == {48: True, 56: False}
        assert "liveness" in client.health()[0].unsupported

        # Balances by index answer []: read from the validators endpoint, as the node has them.
        finalized = await client.state.balances("finalized", POOL)
        assert finalized.finalized is None  # never sent by this node
        body = view.get(
            "/eth/v1/beacon/states/finalized/validators?" + "&".join(f"id={i}" for i in POOL)
        )
        assert body is not None
        assert {b.index: b.balance for b in finalized.data} == {
            int(v["index"]): int(v["balance"]) for v in body["data"]
        }

        # No state at an empty slot: the last block's state of the same epoch, same balances.
        at_empty = await client.state.balances(empty, POOL)
        assert {b.index: b.balance for b in at_empty.data} == view.balances(empty, POOL)
        assert view.get(f"/eth/v1/beacon/states/{empty}/validators?id=48") is None  # the quirk

        # No `finalized` flag: finality from the checkpoints.
        checkpoints = await client.state.finality_checkpoints("head")
        final_slot = checkpoints.data.finalized.epoch * SLOTS_PER_EPOCH
        assert await client.state.is_finalized(finalized, final_slot)
        head = await client.blocks.header("head")
        assert head is not None
        assert not await client.state.is_finalized(head, head.data.slot)

        # Next-epoch proposer duties carry this epoch's slots: refused, never misused.
        current = recorder.clock_epoch()
        with pytest.raises(InconsistentAnswer):
            await client.duties.proposer(current + 1)


def _wait_for_empty_slot(view: BeaconView, recorder: NodeRecorder, deadline: float) -> int:
    """An empty slot after the finalized checkpoint with a block before it in its epoch."""
    while True:
        assert time.monotonic() < deadline, "no empty slot in time"
        body = view.get("/eth/v1/beacon/states/head/finality_checkpoints")
        assert body is not None
        start = int(body["data"]["finalized"]["epoch"]) * SLOTS_PER_EPOCH
        head = view.head_slot()
        if recorder.clock_epoch() >= 2:
            for slot in range(max(start, 1), head):
                if slot % SLOTS_PER_EPOCH and not view.has_block(slot) and view.has_block(slot - 1):
                    return slot
        time.sleep(2.0)


def _assert_mqtt(tap: MqttTap, broker: Mosquitto, status_online: str | None) -> None:
    assert not tap.errors, tap.errors
    assert status_online == "online"
    # One critical slashing alert per slashed validator, whatever QoS 1 delivered twice.
    critical = tap.distinct_alerts("critical")
    assert critical == {
        (ATTESTER_VICTIM, "validator_slashed"): 1,
        (PROPOSER_VICTIM, "validator_slashed"): 1,
    }, critical
    assert tap.payloads("status")[-1:] == ["offline"], tap.payloads("status")
    assert asyncio.run(retained_status(broker.port, f"{MQTT_ROOT}/status")) == "offline"


def _assert_money(
    rows: dict[int, dict[int, dict[str, Any]]], pool: dict[str, Any], recorder: NodeRecorder
) -> None:
    settled = sorted({k for by in rows.values() for k in by})
    assert settled, "the ledger settled nothing"
    # Every epoch from the first settled one on, none skipped, up to the one before the last
    # judged (window k is written once epoch k + 1 has closed).
    assert settled == list(range(settled[0], LAST_EPOCH)), settled
    assert settled[0] <= 2, settled
    assert all(set(by) == set(settled) for by in rows.values()), "a validator without rows"
    compared = assert_rewards_match_the_node(rows, recorder.balances)
    assert compared == settled, (compared, settled, sorted(recorder.balances))
    # The slashings cost their validators money in the window they were included in.
    for victim in (ATTESTER_VICTIM, PROPOSER_VICTIM):
        assert min(int(r["reward_gwei"]) for r in rows[victim].values()) < -(10**8), victim
    assert int(pool["fees_gwei"]["total"]) > 0, pool
