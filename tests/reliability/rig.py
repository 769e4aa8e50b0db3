"""One scenario's stage: a simulated chain, an undisturbed reference daemon, a disturbed one.

Both ``stakepool run`` processes follow the same in-process simulated chain (the money scenario of
``tests/integration/money``: a slashing, withdrawals, a top-up, an exit, an empty slot, a reorg),
with the same pool, delegations and policy, and publish to the same mosquitto under their own
topic prefixes. The reference talks to the simulator directly; the disturbed one ("dut") through
whatever the scenario puts in between (``dut_urls``), and its broker connection passes a ``Gate``.
The chain halts at ``halt_epoch``: both must settle every epoch up to ``halt_epoch − 2`` and see
the same finality; then both stop and ``finish`` compares their ledgers row for row (timestamps
and journal ids left out: ``moneykit.LEDGER_TABLES``) and the MQTT event ids each published.

The dut is supervised like the systemd unit does (``Restart=on-failure``): an exit the test did
not cause is a crash, counted, and the daemon is started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from stakepool.sim.chain import SimChain, SimConfig
from tests.integration.money.moneykit import (
    GWEI,
    SCENARIO,
    SPE,
    VALIDATORS,
    delegations_toml,
    dump_ledger,
)
from tests.integration.mqtt.broker import Mosquitto
from tests.integration.mqtt.kit import Gate, Subscriber
from tests.integration.processes import free_port
from tests.integration.simkit import HaltingSimServer
from tests.reliability.daemon import Daemon, outbox_depth
from tests.reliability.tally import TALLY

SOAK = os.environ.get("STAKEPOOL_SOAK", "") not in ("", "0")
"""``STAKEPOOL_SOAK=1``: longer chains, more kills, more corrupted answers, more fuzzing."""
SLOT_MS = 250
HALT_EPOCH = 40 if SOAK else 10
MQTT_BATCH = 256
"""The publisher's batch (``publish/mqtt.py``): at most this many events in flight at once, so
a disturbance may deliver at most this many twice."""
CHAIN_SEED = 11
DELEGATIONS = delegations_toml(
    ("alice", 32 * GWEI, 0, None),
    ("bob", 16 * GWEI, 0, 7),
    ("carol", 8 * GWEI, 4, None),
)


@dataclass
class Outcome:
    tables_differing: dict[str, tuple[int, int]] = field(default_factory=dict)
    rows_compared: int = 0
    last_epoch: int = -1
    ref_events: int = 0
    events_lost: list[str] = field(default_factory=list)
    duplicates: int = 0
    crashes: list[str] = field(default_factory=list)
    stop_codes: tuple[int, int] = (0, 0)


class Rig:
    def __init__(
        self,
        tmp: Path,
        broker: Mosquitto,
        *,
        seed: int,
        known_failure: bool,
        halt_epoch: int = HALT_EPOCH,
    ) -> None:
        self.tmp = tmp
        self.broker = broker
        self.rng = random.Random(seed)
        self.known_failure = known_failure
        self.last = halt_epoch - 2
        self.disturbances = 0
        """Kills and outages: each may leave one batch of events in flight, delivered twice."""
        (tmp / "delegations.toml").write_text(DELEGATIONS, encoding="utf-8")
        self.halt_epoch = halt_epoch
        self.sim_url = f"http://127.0.0.1:{free_port()}"
        """Where the simulator will serve: daemons and proxies are pointed there before it is."""
        self._sim: HaltingSimServer | None = None
        self.gate = Gate(broker.port)
        self.subscriber: Subscriber | None = None
        self.seen: list[tuple[str, str]] = []
        """(topic, event_id) of every event message, across subscriber reconnections."""
        self.ref: Daemon | None = None
        self.dut: Daemon | None = None

    @property
    def sim(self) -> HaltingSimServer:
        assert self._sim is not None, "the chain starts with the daemons: await stage.start()"
        return self._sim

    @property
    def chain(self) -> SimChain:
        return self.sim.chain

    async def _start_chain(self) -> None:
        """Genesis a few seconds from now, so both daemons are up before it."""
        chain = SimChain(
            SimConfig(
                validators=VALIDATORS,
                preset="minimal",
                slot_duration_ms=SLOT_MS,
                seed=CHAIN_SEED,
                genesis_time=int(time.time()) + 5,
                scenario=SCENARIO,
                history_epochs=128,  # a daemon back from a disturbance finds what it missed
            )
        )
        self._sim = HaltingSimServer(chain, self.halt_epoch * SPE)
        self._sim.port = int(self.sim_url.rsplit(":", 1)[1])
        await self._sim.start()

    def halt_at(self, epoch: int) -> None:
        """The chain stops at the first slot of ``epoch`` (not before its present head)."""
        epoch = max(epoch, self.chain.head_slot // SPE + 1)
        self.sim.halt_slot = epoch * SPE
        self.last = epoch - 2

    def started(self, daemon: Daemon) -> bool:
        """The daemon's present run said ``started`` (genesis checked, pool resolved)."""
        return daemon.log.exists() and '"started"' in daemon.log.read_text(errors="replace")

    @property
    def epoch_seconds(self) -> float:
        return SPE * SLOT_MS / 1000

    async def __aenter__(self) -> Rig:
        await self.gate.start()
        await self.subscribe()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        for daemon in (self.ref, self.dut):
            if daemon is not None and daemon.proc is not None:
                with contextlib.suppress(Exception):
                    daemon.proc.kill()
                    daemon.proc.wait(timeout=10)
        await self.unsubscribe()
        await self.gate.close()
        if self._sim is not None:
            await self._sim.stop()

    async def subscribe(self) -> None:
        self.subscriber = Subscriber(self.broker.port, "#")
        await self.subscriber.__aenter__()

    async def unsubscribe(self) -> None:
        if self.subscriber is None:
            return
        sub, self.subscriber = self.subscriber, None
        await sub.__aexit__(None, None, None)
        self.seen.extend(_event_ids(sub))

    async def start(
        self,
        dut_urls: list[str] | None = None,
        *,
        dut_extra: str = "",
        dut_beacon: str = "",
        dut_db: Path | None = None,
    ) -> Daemon:
        """Both daemons started, then the chain; the dut (returned) on ``dut_urls`` (default:
        the simulator). A daemon's start takes seconds on a busy machine: the chain (its genesis
        a few seconds ahead) starts only once both are running and waiting for their node, so
        both ledgers begin at the same epoch."""
        self.ref = Daemon(self.tmp, "ref", [self.sim_url], self.broker.port)
        self.dut = Daemon(
            self.tmp,
            "dut",
            dut_urls or [self.sim_url],
            self.gate.port,
            extra=dut_extra,
            beacon_extra=dut_beacon,
            db=dut_db,
        )
        self.ref.start()
        self.dut.start()
        ref, dut = self.ref, self.dut
        deadline = time.monotonic() + 90
        while not all(
            d.log.exists() and "waiting_for_beacon_node" in d.log.read_text(errors="replace")
            for d in (ref, dut)
        ):
            for d in (ref, dut):
                assert d.proc is not None
                assert d.proc.poll() is None, f"{d.name} exited: {d.tail()}"
            assert time.monotonic() < deadline, "the daemons did not start within 90 s"
            await asyncio.sleep(0.05)
        await self._start_chain()
        return self.dut

    async def started_both(self) -> None:
        ref, dut = self.ref, self.dut
        assert ref is not None
        assert dut is not None
        await self.until(
            "both daemons started", lambda: self.started(ref) and self.started(dut), 60
        )

    async def watch(self, seconds: float) -> None:
        """Wait while supervising: the reference must never exit, the dut is restarted."""
        ref, dut = self.ref, self.dut
        assert ref is not None
        assert dut is not None
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert ref.proc is not None, "the reference was stopped"
            assert ref.proc.poll() is None, f"the reference exited: {ref.tail()}"
            dut.check()
            await asyncio.sleep(0.05)

    async def until(self, what: str, check: object, within: float) -> None:
        assert callable(check)
        deadline = time.monotonic() + within
        while not check():
            assert time.monotonic() < deadline, f"not within {within} s: {what}"
            await self.watch(0.1)

    async def finish(self, *, within: float = 120, behind: float = 15) -> Outcome:
        """Wait (up to ``within``) for the reference to settle up to ``halt_epoch − 2`` and see
        that epoch's finality, then (up to ``behind`` more) for the dut to have the same; a dut
        still behind then has stalled (reported, not waited out). Stop both, compare; totals go
        to the tally."""
        ref, dut = self.ref, self.dut
        assert ref is not None
        assert dut is not None
        out = Outcome(last_epoch=self.last)
        stalled: str | None = None
        await self.until(
            f"the reference settled epoch {self.last} and saw it finalized",
            lambda: ref.settled()[0] >= self.last and ref.settled()[1] >= self.last - 1,
            within,
        )
        try:
            await self.until(
                f"epoch {self.last} settled by both with the same finality",
                lambda: (
                    ref.settled()[0] >= self.last
                    and dut.settled()[0] >= self.last
                    and ref.settled()[1] == dut.settled()[1]
                ),
                behind,
            )
        except AssertionError as exc:
            stalled = f"{exc}: ref {ref.settled()}, dut {dut.settled()}\n{dut.tail()}"
        # Events still in an outbox are not lost (they go at the next start) but not delivered
        # either: give both publishers a moment to drain to the broker, as a running daemon would.
        with contextlib.suppress(AssertionError):
            await self.until(
                "both outboxes drained",
                lambda: outbox_depth(ref.db) == outbox_depth(dut.db) == 0,
                30,
            )
        dut_code = dut.stop()
        ref_code = ref.stop()
        out.stop_codes = (ref_code, dut_code)
        await asyncio.sleep(0.5)  # the last PUBLISHes reach the subscriber
        await self.unsubscribe()
        out.crashes = list(dut.crashes)
        if dut_code != 0:
            out.crashes.append(f"dut stopped with exit code {dut_code}: {dut.tail()}")
        ref_dump = dump_ledger(ref.db, up_to_epoch=self.last)
        dut_dump = dump_ledger(dut.db, up_to_epoch=self.last) if dut.db.exists() else {}
        for table, rows in ref_dump.items():
            theirs = dut_dump.get(table, [])
            out.rows_compared += len(rows)
            if theirs != rows:
                out.tables_differing[table] = (len(rows), len(theirs))
        ids = Counter(event_id for topic, event_id in self.seen if topic.startswith("dut/"))
        ref_ids = {
            event_id: topic.split("/events/")[-1]
            for topic, event_id in self.seen
            if topic.startswith("ref/")
        }
        out.ref_events = len(ref_ids)
        out.events_lost = sorted(f"{kind}:{i[:12]}" for i, kind in ref_ids.items() if i not in ids)
        out.duplicates = sum(n - 1 for n in ids.values())
        TALLY.ledger_rows_compared += out.rows_compared
        TALLY.lost(len(out.events_lost), known=self.known_failure)
        TALLY.crashed(len(out.crashes), known=self.known_failure)
        assert ref_code == 0, f"the reference stopped with {ref_code}: {ref.tail()}"
        assert out.ref_events > 0, "the reference published no event: nothing was compared"
        assert stalled is None, f"the disturbed daemon's ledger stalled: {stalled}"
        return out

    def assert_same(self, out: Outcome) -> None:
        """The disturbed daemon's ledger is the reference's, nothing lost, nothing crashed,
        duplicates only for what was in flight when a disturbance struck."""
        assert out.crashes == [], out.crashes
        assert out.tables_differing == {}, (
            f"ledger tables differ from the undisturbed run (rows ref, dut): {out.tables_differing}"
        )
        assert out.events_lost == [], f"{len(out.events_lost)} events lost: {out.events_lost[:10]}"
        assert out.duplicates <= self.disturbances * MQTT_BATCH, out.duplicates


def _event_ids(sub: Subscriber) -> list[tuple[str, str]]:
    out = []
    for m in sub.messages:
        if "/events/" in m.topic:
            out.append((m.topic, str(json.loads(m.payload)["event_id"])))
    return out
