"""Every metric the Grafana dashboard queries is one the daemon exports (from a real scrape of
the daemon running against the simulator), and every query is PromQL that Prometheus parses."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import aiohttp
import yaml

from stakepool.config import Settings, parse_validator_ref
from stakepool.service.root import run_daemon
from stakepool.sim.chain import SimChain, SimConfig
from stakepool.sim.server import SimServer
from tests.integration.publish.promtool import promtool
from tests.unit.deploy.dashboard import load, queries
from tests.unit.deploy.promql import metric_names

DEADLINE_SECONDS = 30.0
# Series names each exposition type produces (``_created`` is switched off by the daemon).
SUFFIXES = {
    "counter": ("",),
    "gauge": ("",),
    "untyped": ("",),
    "unknown": ("",),
    "info": ("",),
    "stateset": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "summary": ("", "_sum", "_count"),
}
# Names the dashboard uses that the daemon does not export yet (none: the doppelganger gauge came
# with the daemon's doppelganger check). A name added here fails this test once it is exported.
PENDING: frozenset[str] = frozenset()


def exported_names(text: str) -> set[str]:
    """Series names of a text exposition: every declared family (``# TYPE``, present even before
    a labelled family has a sample) and every sample."""
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            names.update(name + suffix for suffix in SUFFIXES[kind])
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return names


async def _scrape_the_daemon() -> str:
    chain = SimChain(SimConfig(validators=64, preset="minimal", slot_duration_ms=100, seed=5))
    bound: list[str] = []
    stop = asyncio.Event()
    async with (
        SimServer(chain, auto_advance=True) as server,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
    ):
        settings = Settings(
            beacon={"urls": [server.url], "timeout_seconds": 2, "retries": 1},
            pool={"validators": [parse_validator_ref(v) for v in ("0,vc-1", "1", "2,vc-2")]},
            http={"port": 0},
        )
        task = asyncio.create_task(
            run_daemon(settings, stop=stop, on_listening=bound.append, configure_logs=False)
        )
        try:
            deadline = time.monotonic() + DEADLINE_SECONDS
            while True:  # ready: the pool is resolved, every family is registered
                assert time.monotonic() < deadline, "the daemon did not become ready"
                assert not task.done(), "the daemon stopped"
                if bound:
                    async with session.get(bound[0] + "/readyz") as answer:
                        if answer.status == 200:
                            break
                await asyncio.sleep(0.05)
            async with session.get(bound[0] + "/metrics") as answer:
                assert answer.status == 200
                return await answer.text()
        finally:
            stop.set()
            assert await asyncio.wait_for(task, timeout=10) == 0


async def test_every_dashboard_metric_is_exported_by_the_daemon() -> None:
    exported = exported_names(await _scrape_the_daemon())
    assert "stakepool_attestations_total" in exported  # the scrape is the real one
    assert "stakepool_beacon_request_duration_seconds_bucket" in exported
    used: dict[str, list[str]] = {}
    for query in queries(load()):
        for name in metric_names(query.expr):
            used.setdefault(name, []).append(query.where)
    unknown = {name: where for name, where in used.items() if name not in exported}
    assert set(unknown) == PENDING, f"queried but not exported: {unknown}"
    assert set(used) >= PENDING, "a pending name is no longer used: drop it from PENDING"


def test_exported_names_reads_types_and_samples() -> None:
    text = (
        '# HELP a_total A.\n# TYPE a_total counter\n# HELP h H.\n# TYPE h histogram\ng{x="1"} 2.0\n'
    )
    assert exported_names(text) == {"a_total", "h_bucket", "h_sum", "h_count", "g"}


def test_promtool_parses_every_dashboard_query(tmp_path: Path) -> None:
    """Each query, with Grafana's variables filled in, as a recording rule: promtool parses it
    with Prometheus' own PromQL parser."""
    filled = {
        "$__rate_interval": "2m",
        "$__interval": "30s",
        "$__range": "1d",
        "$instance": ".*",
        "$pool": ".*",
    }
    rules = []
    for n, query in enumerate(queries(load())):
        expr = query.expr
        for variable, value in filled.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, query
        rules.append({"record": f"dashboard:query_{n}", "expr": expr})
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = promtool("check", "rules", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules)} rules found" in done.stdout
