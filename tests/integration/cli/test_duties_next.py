"""``stakepool duties next --within 32`` as a deploy gate, against a simulated mainnet-preset chain.

The chain runs on the wall clock (32 slots of 250 ms per epoch). The pool is chosen from the
simulator's own schedule: a validator that proposes late in the next epoch and holds no sync seat,
so the gate must say "free" now, "busy" once its slot is within 32 slots, and "free" again after
it; a sync-committee member keeps the gate shut. Every answer is checked against the simulator's
schedule for the very slot the command reports it asked at, so the test is exact, not timed.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.keymanager import SimKeymanager
from tests.integration.conftest import ServeSim
from tests.integration.processes import STAKEPOOL, clean_env, free_port
from tests.integration.simkit import wait_until

SLOT_MS = 400
SPE = 32
WITHIN = 32


async def _gate(config: Path, *extra: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *STAKEPOOL,
        "duties",
        "next",
        "--config",
        str(config),
        *extra,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(),
        cwd=config.parent,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _busy_in_window(chain: SimChain, pool: set[int], first: int) -> bool:
    """The simulator's truth: a pool proposal or sync seat in slots first..first+WITHIN-1."""
    for slot in range(first, first + WITHIN):
        epoch = slot // SPE
        proposers = chain.proposers(epoch)
        assert proposers is not None, f"the simulator does not know epoch {epoch}'s proposers"
        seats = chain.sync_committee(epoch)
        assert seats is not None
        if int(proposers[slot % SPE]) in pool or pool & set(seats.tolist()):
            return True
    return False


def _config(tmp_path: Path, name: str, url: str, validators: list[int]) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f'[beacon]\nurls = ["{url}"]\n[pool]\nid = "{name}"\nvalidators = {validators}\n'
    )
    return path


async def _until_slot(chain: SimChain, slot: int) -> None:
    await wait_until(lambda: chain.head_slot >= slot, f"slot {slot}", within=60)


async def test_the_gate_opens_and_shuts_on_the_simulated_schedule(
    serve_sim: ServeSim, tmp_path: Path
) -> None:
    chain = SimChain(
        SimConfig(
            validators=1024,
            preset="mainnet",
            slot_duration_ms=SLOT_MS,
            seed=7,
            genesis_time=int(time.time()),
        )
    )
    server = await serve_sim(chain, auto_advance=True)
    await _until_slot(chain, 1)
    sync_now = set(chain.sync_committee(0).tolist())  # type: ignore[union-attr]
    sync_next = set(chain.sync_committee(256).tolist())  # type: ignore[union-attr]
    this_epoch, next_epoch = chain.proposers(0), chain.proposers(1)
    assert this_epoch is not None
    assert next_epoch is not None
    proposing = [int(v) for v in (*this_epoch.tolist(), *next_epoch.tolist())]
    # A validator proposing once, as late in epoch 1 as possible (≥ 56: the first gate call has
    # ≥ 25 slots to ask before the proposal enters its window), with no sync seat.
    slot, validator = max(
        (SPE + i, v)
        for i, v in enumerate(next_epoch.tolist())
        if i >= 24 and proposing.count(v) == 1 and v not in sync_now | sync_next
    )
    pool = {validator}
    config = _config(tmp_path, "gate", server.url, [validator])

    verdicts: list[int] = []
    for wait_for in (0, slot - 25, slot + 1):
        await _until_slot(chain, wait_for)
        code, out, err = await _gate(config, "--within", str(WITHIN), "--json")
        body = json.loads(out)
        asked_at = int(body["current_slot"])  # type: ignore[call-overload]
        expected = 1 if _busy_in_window(chain, pool, asked_at) else 0
        assert code == expected, (asked_at, slot, body, err)
        window = body["window"]
        assert isinstance(window, dict)
        assert window["free"] is (expected == 0)
        verdicts.append(code)
    assert verdicts[:2] == [0, 1], "the schedule did not put the proposal where the test meant"
    assert {"slot": slot, "epoch": 1, "validator_index": validator} not in body["proposals"]  # type: ignore[operator]

    # A sync-committee member: every slot of the period is a duty, the gate stays shut.
    member = min(sync_now)
    code, out, err = await _gate(_config(tmp_path, "sync", server.url, [member]), "--within", "1")
    assert code == 1, err
    assert f"sync committee: period 0 (slots 0..8191): {member}" in out
    assert "): busy (first duty at slot" in out
    assert _busy_in_window(chain, {member}, chain.head_slot)


async def test_text_answer_and_no_beacon_node(serve_sim: ServeSim, tmp_path: Path) -> None:
    chain = SimChain(SimConfig(validators=1024, preset="mainnet", slot_duration_ms=SLOT_MS, seed=7))
    server = await serve_sim(chain, auto_advance=True)
    code, out, err = await _gate(_config(tmp_path, "text", server.url, [3, 4]))
    assert code == 0, err  # no --within: a report, not a gate
    assert out.startswith("current slot ")
    assert "longest gap:" in out
    assert "attestations: next at slot" in out

    down = _config(tmp_path, "down", f"http://127.0.0.1:{free_port()}", [3])
    code, _, err = await _gate(down, "--within", "8")
    assert code == 3
    assert "no beacon node could tell" in err


async def test_keys_held_by_a_validator_client_gate_too(
    serve_sim: ServeSim, tmp_path: Path
) -> None:
    chain = SimChain(SimConfig(validators=1024, preset="mainnet", slot_duration_ms=SLOT_MS, seed=7))
    server = await serve_sim(chain, auto_advance=True)
    member = min(set(chain.sync_committee(0).tolist()))  # type: ignore[union-attr]
    keymanager = SimKeymanager("ef" * 32, local=[member])
    await keymanager.start()
    token = tmp_path / "vc-token"
    token.write_text("ef" * 32)
    config = tmp_path / "vc.toml"
    config.write_text(
        f'[beacon]\nurls = ["{server.url}"]\n[pool]\nid = "vc"\n'
        f'[[validator_client]]\nname = "vc-1"\nurl = "{keymanager.url}"\ntoken_file = "{token}"\n'
    )
    try:
        code, out, err = await _gate(config, "--within", "1")
        assert code == 1, err  # the key the validator client holds sits in the sync committee
        assert f"sync committee: period 0 (slots 0..8191): {member}" in out

        keymanager.down = True  # its keys cannot be listed: no window can be promised
        code, _, err = await _gate(config, "--within", "1")
        assert code == 3
        assert "the pool's keys are not all known: validator client vc-1" in err
    finally:
        await keymanager.stop()
