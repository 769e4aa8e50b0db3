"""The daemon in-process on the scripted simulator scenario, with MQTT on, and what proves delivery.

Ground truth is the outbox itself: a trigger (installed by the test in the database before the
daemon opens it) copies every row the daemon inserts into ``seen_outbox``, so the test knows each
event exactly as the outbox had it, even after the publisher deleted the row on PUBACK.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema  # type: ignore[import-untyped]  # a dev dependency's dependency; no stubs
from prometheus_client.parser import text_string_to_metric_families

from stakepool.config import Settings, parse_validator_ref
from stakepool.ledger.facts import LedgerReport
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain
from stakepool.store.database import Database
from tests.integration.listening import listen
from tests.integration.monitor.test_service import (
    MISSED_SLOT,
    ORPHANED_SLOT,
    POOL,
    Recorder,
    _scenario,
)
from tests.integration.mqtt.kit import WAIT_SECONDS, Received
from tests.integration.simkit import live_chain

POOL_ID = "pool-s"
ROOT = f"stakepool/{POOL_ID}"
SCHEMA_FILE = Path(__file__).resolve().parents[3] / "deploy" / "mqtt" / "event.schema.json"
ALERTS = ("warning", "critical")

# The kinds the scenario must produce: offline validator, a missed and an orphaned proposal (with
# its reorg), the attester slashing, and the ledger's settlements and finality.
SCENARIO_KINDS = frozenset(
    {
        "attestation_missed",
        "attestation_streak",
        "block_proposed",
        "block_missed",
        "block_orphaned",
        "reorg",
        "slashing_evidence",
        "status_changed",
        "epoch_settled",
        "epoch_finalized",
    }
)


def schema_errors(payload: str) -> list[str]:
    """What is wrong with one payload against ``deploy/mqtt/event.schema.json`` (none: valid)."""
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    checker = jsonschema.Draft202012Validator(schema)
    return sorted(
        f"{list(e.absolute_path)}: {e.message}" for e in checker.iter_errors(json.loads(payload))
    )


def chain() -> SimChain:
    """The scripted scenario of ``test_monitor_service``; genesis a moment ahead, so the daemon
    is up before the first scripted fault."""
    return live_chain(
        100,
        validators=128,
        seed=3,
        scenario=_scenario(
            missed_slots=frozenset({MISSED_SLOT}), orphaned_slots=frozenset({ORPHANED_SLOT})
        ),
        genesis_in=2,
    )


def settings(sim_url: str, database: Path, mqtt_url: str) -> Settings:
    return Settings(
        beacon={"urls": [sim_url], "timeout_seconds": 2, "retries": 1},
        pool={"id": POOL_ID, "validators": [parse_validator_ref(v) for v in POOL]},
        http={"port": 0},
        ledger={"database": str(database)},
        mqtt={"url": mqtt_url},
    )


class LedgerRecorder(Recorder):
    """The monitor's told events and digests, and the epochs the ledger wrote."""

    def __init__(self) -> None:
        super().__init__()
        self.settled: list[int] = []

    def ledger(self, report: LedgerReport) -> None:
        self.settled.extend(row.epoch for row in report.epochs)

    def closed(self) -> int:
        return max((d.epoch for d in self.digests), default=-1)


def prepare_database(path: Path) -> None:
    """Create the database (migrations) and the test's copy-on-insert trigger on the outbox."""
    Database.open(path).close()
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE seen_outbox (id INTEGER, event_id TEXT, kind TEXT, severity TEXT,"
            " payload TEXT);"
            "CREATE TRIGGER seen_outbox_copy AFTER INSERT ON outbox BEGIN"
            " INSERT INTO seen_outbox VALUES"
            " (NEW.id, NEW.event_id, NEW.kind, NEW.severity, NEW.payload); END;"
        )
    conn.close()


@dataclass(frozen=True)
class Row:
    id: int
    event_id: str
    kind: str
    severity: str | None
    payload: str


@dataclass(frozen=True)
class OutboxView:
    seen: tuple[Row, ...]
    """Every row ever inserted, in order."""
    pending: frozenset[str]
    """Event ids still waiting for the broker."""

    @property
    def enqueued_twice(self) -> frozenset[str]:
        """Ids inserted again after their first row was delivered (an epoch redone)."""
        return frozenset(i for i, n in Counter(r.event_id for r in self.seen).items() if n > 1)

    @property
    def acked(self) -> list[Row]:
        return [r for r in self.seen if r.event_id not in self.pending]


def outbox_view(path: Path) -> OutboxView:
    """One consistent read (one transaction) of what was inserted and what still waits."""
    with sqlite3.connect(path, timeout=30) as conn:
        conn.execute("BEGIN")
        seen = tuple(
            Row(*r)
            for r in conn.execute(
                "SELECT id, event_id, kind, severity, payload FROM seen_outbox ORDER BY id"
            )
        )
        pending = frozenset(r[0] for r in conn.execute("SELECT event_id FROM outbox"))
        conn.execute("COMMIT")
    conn.close()
    return OutboxView(seen, pending)


def event_messages(messages: Iterable[Received]) -> list[Received]:
    return [m for m in messages if "/events/" in m.topic or "/alerts/" in m.topic]


def delivered(view: OutboxView, messages: list[Received]) -> bool:
    """Every acknowledged row arrived on its event topic with its exact payload."""
    got = {(m.topic, m.payload) for m in messages}
    return all((f"{ROOT}/events/{r.kind}", r.payload) in got for r in view.acked)


class RunningDaemon:
    """``run_daemon`` as a task, the recorder's view and its ``/metrics``."""

    def __init__(self, config: Settings, rec: LedgerRecorder) -> None:
        self.rec = rec
        self.urls: list[str] = []
        self.stop_event = asyncio.Event()
        self.task = asyncio.create_task(
            run_daemon(
                config,
                stop=self.stop_event,
                listeners=[listen(rec)],
                configure_logs=False,
                on_listening=self.urls.append,
            )
        )

    async def until_closed(self, epoch: int, seconds: float = WAIT_SECONDS) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while self.rec.closed() < epoch:
            assert loop.time() < deadline, f"epoch {epoch} not processed: {self.rec.closed()}"
            assert not self.task.done(), self.task
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self.stop_event.set()
        assert await asyncio.wait_for(self.task, 20) == 0

    async def until_metric(
        self, name: str, check: Callable[[float], bool], what: str, seconds: float = WAIT_SECONDS
    ) -> list[float]:
        """Scrape ``name`` until ``check(value)`` holds (bounded); the values seen."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        values = [await self.metric(name)]
        while not check(values[-1]):
            assert loop.time() < deadline, f"{what}: {name} was {values[-5:]}"
            assert not self.task.done(), self.task
            await asyncio.sleep(0.1)
            values.append(await self.metric(name))
        return values

    async def metric(self, name: str) -> float:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.urls[0]}/metrics") as resp,
        ):
            text = await resp.text()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and not sample.labels:
                    return float(sample.value)
        raise AssertionError(f"{name} not exported")


@dataclass(frozen=True)
class Figures:
    messages: int
    """Messages on events/ and alerts/ topics."""
    ids: frozenset[str]
    """Distinct event ids received."""
    duplicated: frozenset[str]
    """Ids received more than once (QoS 1 is at least once)."""
    kinds: frozenset[str]
    payloads: list[dict[str, Any]]
    """Every message on an events/ topic, decoded, in arrival order."""


def check_delivery(final: OutboxView, messages: list[Received]) -> Figures:
    """The whole contract between the outbox and the broker, once the daemon has stopped:
    every acknowledged row on ``events/<kind>`` with its exact payload (and on
    ``alerts/<severity>`` if warning or critical), nothing else published, nothing retained, QoS 1,
    every payload valid against the JSON Schema."""
    published = event_messages(messages)
    assert published, "nothing was published"
    by_payload: dict[str, Row] = {r.payload: r for r in final.seen}
    for m in published:
        row = by_payload.get(m.payload)
        assert row is not None, f"published but never in the outbox: {m.topic} {m.payload}"
        assert not m.retain, f"an event was retained: {m.topic}"
        assert m.qos == 1, m
        if m.topic.startswith(f"{ROOT}/alerts/"):
            assert row.severity in ALERTS, m
            assert m.topic == f"{ROOT}/alerts/{row.severity}", m
        else:
            assert m.topic == f"{ROOT}/events/{row.kind}", m
    for payload in {m.payload for m in published}:
        assert not (errors := schema_errors(payload)), f"{errors} in {payload}"
    got = {(m.topic, m.payload) for m in published}
    for row in final.seen:
        if row.event_id in final.pending:
            continue  # the daemon stopped before the broker acknowledged it: the next run sends it
        assert (f"{ROOT}/events/{row.kind}", row.payload) in got, f"lost: {row}"
        alert = (f"{ROOT}/alerts/{row.severity}", row.payload)
        assert (alert in got) == (row.severity in ALERTS), f"alert topic wrong: {row}"
    payloads = [json.loads(m.payload) for m in published if "/events/" in m.topic]
    assert all(p["pool_id"] == POOL_ID for p in payloads)
    ids = [str(p["event_id"]) for p in payloads]
    return Figures(
        messages=len(published),
        ids=frozenset(ids),
        duplicated=frozenset(i for i, n in Counter(ids).items() if n > 1),
        kinds=frozenset(str(p["kind"]) for p in payloads),
        payloads=payloads,
    )


def one_id_per_fact(payloads: Iterable[dict[str, Any]]) -> None:
    """A fact told twice (redelivery, an epoch redone after a restart) keeps its id: no two ids
    for the same kind, coordinates and data."""
    ids: dict[str, set[str]] = {}
    for p in payloads:
        fact = json.dumps([p["kind"], p["chain"], p["data"]], sort_keys=True)
        ids.setdefault(fact, set()).add(p["event_id"])
    twice = {fact: found for fact, found in ids.items() if len(found) > 1}
    assert not twice, f"one fact, several ids: {twice}"
