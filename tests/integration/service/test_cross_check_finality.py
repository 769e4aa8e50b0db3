"""Finality decides what the witness disagreed about: two simulators of the same chain, the
primary's node paying one validator 1 Gwei too much in one epoch.

The primary's node reports ``OVERPAID`` 1 Gwei richer in every state from the start of ``EPOCH``
on, a state that no block commits to (its state root there is not the one its blocks carry): a
client that computed the epoch wrongly. The ledger first holds the primary's answer (1 Gwei too
much); the witness raises exactly one disagreement, naming the epoch and the validator; when the
chain finalizes the epoch, the primary's state is shown to contradict its chain, and the epoch's
provisional rows are settled again from the witness before they become final: the ledger ends
with the chain's own figure, to the Gwei, and with no unexplained residual.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from stakepool.chain.bus import EventBus
from stakepool.config import Settings, parse_validator_ref
from stakepool.monitor.daemon_events import (
    CrossCheckConfirmed,
    CrossCheckCorrected,
    CrossCheckDisagreed,
    CrossCheckUnresolved,
)
from stakepool.monitor.eventbase import MonitorEvent
from stakepool.service.root import run_daemon
from stakepool.sim import ids
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.server import SimServer
from tests.integration.money.moneykit import sim_truth
from tests.integration.simkit import Handler, InterceptingSimServer

SLOT_MS = 150
SPE = 8
OVERPAID = 7
EPOCH = 3
FINAL_THROUGH = EPOCH + 3
DEADLINE = 120.0


class WrongNode(InterceptingSimServer):
    """From the start of ``EPOCH`` on: ``OVERPAID`` 1 Gwei richer, and a state root that is not
    the one the blocks commit to (the node's own state diverged from the chain's)."""

    def _diverged(self, request: web.Request) -> bool:
        state_id = request.match_info.get("state_id")
        if state_id is None:
            return False
        try:
            state = self.chain.state(state_id)
        except ValueError:
            return False
        return state is not None and state.slot >= EPOCH * SPE

    async def intercept(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        answer = await handler(request)
        if not (
            isinstance(answer, web.Response)
            and answer.status == 200
            and isinstance(answer.body, bytes)
            and self._diverged(request)
        ):
            return answer
        body = json.loads(answer.body)
        if request.path.endswith(("/validator_balances", "/validators")):
            for entry in body["data"]:
                if entry["index"] == str(OVERPAID):
                    entry["balance"] = str(int(entry["balance"]) + 1)
        elif request.path.endswith("/root"):
            body["data"]["root"] = ids.digest("diverged", body["data"]["root"])
        else:
            return answer
        return web.json_response(body)


def _chain(genesis: int) -> SimChain:
    return SimChain(
        SimConfig(
            validators=64,
            preset="minimal",
            slot_duration_ms=SLOT_MS,
            seed=3,
            genesis_time=genesis,
            history_epochs=64,  # every epoch's books stay readable for the check below
        )
    )


async def _status(session: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    async with session.get(f"{base}/api/v1/status") as answer:
        data: dict[str, Any] = (await answer.json())["data"]
        return data


async def test_finality_corrects_the_primarys_wrong_epoch_before_it_is_final(
    tmp_path: Path,
) -> None:
    genesis = int(time.time())
    honest = _chain(genesis)
    primary = WrongNode(_chain(genesis), auto_advance=True)
    witness = SimServer(honest, auto_advance=True)
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
    told: list[MonitorEvent] = []

    def listen(bus: EventBus) -> None:
        bus.subscribe(MonitorEvent, told.append)

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
            while True:  # until the ledger's rows are final past the wrong epoch (bounded)
                assert time.monotonic() < deadline, "the ledger did not finalize that far"
                assert not task.done()
                if bound:
                    final = (await _status(session, bound[0]))["last_final_epoch"]
                    if final is not None and final >= FINAL_THROUGH:
                        break
                await asyncio.sleep(0.2)
            async with session.get(f"{bound[0]}/api/v1/validators/{OVERPAID}/epochs") as answer:
                rows = {r["epoch"]: r for r in (await answer.json())["data"]}
    finally:
        stop.set()
        assert await asyncio.wait_for(task, timeout=20) == 0
        await witness.stop()
        await primary.stop()

    disagreements = [e for e in told if isinstance(e, CrossCheckDisagreed)]
    assert len(disagreements) == 1, disagreements
    (disagreed,) = disagreements
    assert (disagreed.epoch, disagreed.validators) == (EPOCH, (OVERPAID,))
    (p,), (w,) = disagreed.primary_delta_gwei, disagreed.witness_delta_gwei
    assert p is not None
    assert w is not None
    assert int(p) == int(w) + 1  # the primary paid 1 Gwei too much

    corrected = [e for e in told if isinstance(e, CrossCheckCorrected)]
    assert len(corrected) == 1, corrected
    assert (corrected[0].epoch, corrected[0].right, corrected[0].wrong) == (
        EPOCH,
        witness.url,
        primary.url,
    )
    assert corrected[0].validators == (OVERPAID,)
    assert not [e for e in told if isinstance(e, CrossCheckUnresolved | CrossCheckConfirmed)]

    # The ledger ends with the chain's own figures, final, every epoch: the wrong one corrected.
    for epoch in range(1, FINAL_THROUGH + 1):
        row = rows[epoch]
        assert int(row["reward_gwei"]) == sim_truth(honest, epoch, OVERPAID), (epoch, row)
        assert row["status"] == "final", row
    assert rows[EPOCH]["residual_gwei"] == "0"
