"""A second beacon node as a witness: two simulators of the same chain, one of which reports one
validator 1 Gwei richer from the end of one epoch on (a client bug paying 1 Gwei too much in that
epoch). The daemon raises exactly one disagreement, naming that epoch and that validator, and the
ledger keeps the primary's answer. Likewise for a node whose rewards endpoint judges one head vote
differently in one epoch."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from stakepool.chain.bus import EventBus
from stakepool.config import Settings, parse_validator_ref
from stakepool.monitor.daemon_events import CrossCheckUnresolved
from stakepool.rewards.crosscheck import CrossCheckDisagreement
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.server import SimServer
from tests.integration.simkit import Handler, InterceptingSimServer

SLOT_MS = 150
SPE = 8
OVERPAID = 7
EPOCH = 3
UNTIL = EPOCH + 4
DEADLINE = 90.0


class OverpayingNode(InterceptingSimServer):
    """Reports ``OVERPAID`` 1 Gwei richer in every state from the end of ``EPOCH`` on."""

    async def intercept(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        answer = await handler(request)
        state_id = request.match_info.get("state_id", "")
        if (
            request.path.endswith("/validator_balances")
            and state_id.isdigit()
            and int(state_id) >= (EPOCH + 1) * SPE - 1
            and isinstance(answer, web.Response)
            and answer.status == 200
            and isinstance(answer.body, bytes)
        ):
            body = json.loads(answer.body)
            for entry in body["data"]:
                if entry["index"] == str(OVERPAID):
                    entry["balance"] = str(int(entry["balance"]) + 1)
            answer.body = json.dumps(body).encode()
        return answer


def _chain(genesis: int) -> SimChain:
    return SimChain(
        SimConfig(
            validators=64, preset="minimal", slot_duration_ms=SLOT_MS, seed=3, genesis_time=genesis
        )
    )


async def _metric(session: aiohttp.ClientSession, base: str, name: str, **labels: str) -> float:
    async with session.get(f"{base}/metrics") as answer:
        text = await answer.text()
    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


async def test_the_witness_names_the_one_epoch_and_validator_it_disagrees_about(
    tmp_path: Path,
) -> None:
    genesis = int(time.time())
    primary = SimServer(_chain(genesis), auto_advance=True)
    witness = OverpayingNode(_chain(genesis), auto_advance=True)
    await primary.start()
    await witness.start()
    settings = Settings(
        beacon={
            "urls": [primary.url, witness.url],
            "timeout_seconds": 2,
            "retries": 1,
            "cross_check": True,
        },
        pool={"validators": [parse_validator_ref(v) for v in ("3", str(OVERPAID), "12")]},
        ledger={"database": str(tmp_path / "ledger.sqlite")},
        http={"port": 0},
    )
    told: list[CrossCheckDisagreement] = []
    unresolved: list[CrossCheckUnresolved] = []

    def listen(bus: EventBus) -> None:
        bus.subscribe(CrossCheckDisagreement, told.append)
        bus.subscribe(CrossCheckUnresolved, unresolved.append)

    bound: list[str] = []
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_daemon(
            settings, stop=stop, listeners=[listen], on_listening=bound.append, configure_logs=False
        )
    )
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            deadline = time.monotonic() + DEADLINE
            while True:  # until the witness has checked every epoch up to UNTIL (bounded)
                assert time.monotonic() < deadline, "the cross-check did not get that far"
                assert not task.done()
                if bound:
                    checked = await _metric(session, bound[0], "stakepool_cross_check_epochs_total")
                    if checked >= UNTIL:
                        break
                await asyncio.sleep(0.2)
            base = bound[0]
            assert len(told) == 1, told
            (fact,) = told
            assert (fact.epoch, fact.primary, fact.witness) == (EPOCH, primary.url, witness.url)
            assert [d.validator_index for d in fact.validators] == [OVERPAID]
            assert fact.votes == ()  # the rewards endpoints agree: only the balance is off
            (d,) = fact.validators
            assert d.primary_delta_gwei is not None
            assert d.witness_delta_gwei == d.primary_delta_gwei + 1
            labels = {"primary": primary.url, "witness": witness.url}
            assert (
                await _metric(session, base, "stakepool_cross_check_disagreements_total", **labels)
                == 1
            )
            assert (
                await _metric(
                    session, base, "stakepool_cross_check_last_disagreement_epoch", **labels
                )
                == EPOCH
            )
            assert (
                await _metric(
                    session, base, "stakepool_cross_check_epochs_total", outcome="agree", **labels
                )
                >= UNTIL - 2
            )
            # The ledger keeps the primary's answer: its reward for that epoch is the primary's.
            async with session.get(f"{base}/api/v1/validators/{OVERPAID}/epochs") as answer:
                rows = {r["epoch"]: r for r in (await answer.json())["data"]}
            # (no withdrawal for it in that epoch: the primary's balance change is its reward, and
            # the rewards endpoints explain it to the Gwei)
            assert int(rows[EPOCH]["reward_gwei"]) == d.primary_delta_gwei
            assert rows[EPOCH]["residual_gwei"] == "0"
            # At finality neither node can be shown wrong (both states match their blocks: the
            # witness's error is in its answers only): critical, and the primary's answer stays.
            while not unresolved:
                assert time.monotonic() < deadline, "the disagreement was not taken to finality"
                await asyncio.sleep(0.2)
            assert [(e.epoch, e.validators) for e in unresolved] == [(EPOCH, (OVERPAID,))]
            assert "neither state contradicts its chain" in unresolved[0].reason
            for outcome, count in (("unresolved", 1), ("confirmed", 0), ("corrected", 0)):
                resolutions = await _metric(
                    session,
                    base,
                    "stakepool_cross_check_resolutions_total",
                    outcome=outcome,
                    **labels,
                )
                assert resolutions == count, (outcome, resolutions)
    finally:
        stop.set()
        assert await asyncio.wait_for(task, timeout=20) == 0
        await witness.stop()
        await primary.stop()


WRONG_VOTE = 12


class WrongVoteNode(InterceptingSimServer):
    """Says ``WRONG_VOTE``'s head vote of ``EPOCH`` earned nothing (a verdict bug), balances right."""

    async def intercept(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        answer = await handler(request)
        if (
            request.path == f"/eth/v1/beacon/rewards/attestations/{EPOCH}"
            and isinstance(answer, web.Response)
            and answer.status == 200
            and isinstance(answer.body, bytes)
        ):
            body = json.loads(answer.body)
            for entry in body["data"]["total_rewards"]:
                if entry["validator_index"] == str(WRONG_VOTE):
                    entry["head"] = "0"
            answer.body = json.dumps(body).encode()
        return answer


async def test_the_witness_names_a_wrong_attestation_verdict(tmp_path: Path) -> None:
    genesis = int(time.time())
    primary = SimServer(_chain(genesis), auto_advance=True)
    witness = WrongVoteNode(_chain(genesis), auto_advance=True)
    await primary.start()
    await witness.start()
    settings = Settings(
        beacon={"urls": [primary.url, witness.url], "retries": 1, "cross_check": True},
        pool={"validators": [parse_validator_ref(v) for v in ("3", str(WRONG_VOTE))]},
        ledger={"database": str(tmp_path / "ledger.sqlite")},
        http={"port": 0},
    )
    told: list[CrossCheckDisagreement] = []
    bound: list[str] = []
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_daemon(
            settings,
            stop=stop,
            listeners=[lambda bus: bus.subscribe(CrossCheckDisagreement, told.append)],
            on_listening=bound.append,
            configure_logs=False,
        )
    )
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            deadline = time.monotonic() + DEADLINE
            while not bound or (
                await _metric(session, bound[0], "stakepool_cross_check_epochs_total") < UNTIL
            ):
                assert time.monotonic() < deadline, "the cross-check did not get that far"
                assert not task.done()
                await asyncio.sleep(0.2)
        assert len(told) == 1, told
        (fact,) = told
        assert (fact.epoch, fact.validators) == (EPOCH, ())
        (vote,) = fact.votes
        assert vote.validator_index == WRONG_VOTE
        assert vote.primary is not None
        assert vote.primary[0] > 0  # the primary paid the head vote
        assert vote.witness == (0, *vote.primary[1:])
    finally:
        stop.set()
        assert await asyncio.wait_for(task, timeout=20) == 0
        await witness.stop()
        await primary.stop()
