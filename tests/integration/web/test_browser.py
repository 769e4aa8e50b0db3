"""The web page in a real browser: Debian's Chromium, driven by Playwright (``executable_path``;
no browser is ever downloaded), against a daemon following the simulator.

One daemon run (about a minute of simulated chain: a slashing, an exit, a missed and an orphaned
block, delegators joining and leaving), frozen once periods are final, then every check reads the
page and the API over the same ledger. Screenshots go to ``$STAKEPOOL_ARTIFACTS/web`` or the pytest
tmp path; their paths are printed.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from playwright.async_api import BrowserContext, Locator, Page, ViewportSize, async_playwright

from tests.integration.api.contract import validate_answer
from tests.integration.web.webkit import CHROMIUM, LAUNCH_ARGS, artifacts_dir, frozen_daemon

PHONE: ViewportSize = {"width": 390, "height": 844}


def _spaced(value: str) -> str:
    """The page groups digits by thousands with a space (``views.gwei``)."""
    return f"{int(value):,}".replace(",", " ")


async def _api(http: aiohttp.ClientSession, base: str, path: str) -> Any:
    async with http.get(base + path) as r:
        body = await r.read()
        validate_answer(
            "GET",
            urlsplit(path).path,
            status=r.status,
            body=body,
            headers=dict(r.headers),
            query=dict(r.url.query),
        )
        assert r.status == 200, (path, body[:200])
        return json.loads(body)["data"]


class Watch:
    """Console errors, uncaught exceptions and any request that leaves the daemon's origin."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.errors: list[str] = []
        self.foreign: list[str] = []

    def attach(self, page: Page) -> Page:
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on(
            "request",
            lambda r: (
                None if r.url.startswith((self.base, "data:")) else self.foreign.append(r.url)
            ),
        )
        return page


async def _text(page: Page | Locator, selector: str) -> str:
    return (await page.locator(selector).inner_text()).strip()


async def _no_horizontal_overflow(page: Page) -> None:
    widths = await page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"page is {widths[0]} px wide in a {widths[1]} px viewport"


async def test_pages_show_the_apis_figures_in_chromium(tmp_path: Path) -> None:
    shots = artifacts_dir(tmp_path)
    async with (
        frozen_daemon(tmp_path) as base,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http,
        async_playwright() as pw,
    ):
        pool = await _api(http, base, "/api/v1/pool")
        epochs = await _api(http, base, "/api/v1/pool/epochs")
        commitments = await _api(http, base, "/api/v1/commitments")
        alice = await _api(http, base, "/api/v1/delegators/alice")
        statements = await _api(http, base, "/api/v1/delegators/alice/statements")
        assert commitments, "the run made no final period"
        assert statements, "alice has no statement"
        newest = commitments[-1]
        proof = await _api(http, base, f"/api/v1/delegators/alice/proofs/{newest['period']}")
        # The page's own figures (the web routes), read first so the validator set is read once.
        terms = await _api(http, base, "/api/v1/terms")
        days = await _api(http, base, "/api/v1/duties/days")
        alerts = await _api(http, base, "/api/v1/alerts")

        watch = Watch(base)
        context: BrowserContext = await pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh profile per run
            executable_path=CHROMIUM,
            args=LAUNCH_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
            accept_downloads=True,
        )
        try:
            page = watch.attach(await context.new_page())
            answer = await page.goto(base + "/")
            assert answer is not None
            assert answer.status == 200
            assert await _text(page, "#rewards-total") == _spaced(pool["rewards_gwei"]["total"])
            assert await _text(page, "#rewards-final") == _spaced(pool["rewards_gwei"]["final"])
            assert await _text(page, "#fees-total") == _spaced(pool["fees_gwei"]["total"])
            assert await _text(page, "#delegators") == str(pool["delegators"])
            assert await _text(page, "#root") == newest["root"]
            assert (await _text(page, "#fee-bps")).startswith(f"{terms['fee_bps']} bps")
            assert await _text(page, "#fee-mode") == terms["fee_mode"]
            assert await _text(page, "#loss-policy") == terms["loss_policy"] == "operator_first"
            bond = _spaced(terms["operator_bond_gwei"])
            assert await _text(page, "#operator-bond") == f"{bond} Gwei"
            assert await _text(page, "#notice") == f"{terms['notice_period_epochs']} epochs"
            # The network's delays and the pool's share come from the head state (64 validators).
            network = terms["network"]
            assert network is not None, "the validator set was not read"
            assert network["validators"] == 64
            assert (await _text(page, "#exit-queue")).startswith(
                f"{network['exit_queue_epochs']} epochs"
            )
            assert (await _text(page, "#withdrawable")).startswith(
                f"{network['withdrawable_epochs']} epochs"
            )
            assert (await _text(page, "#sweep")).startswith(f"{network['sweep_slots']} slots")
            share = await _text(page, "#share")
            assert share.startswith(f"{network['pool_share_ppm'] / 10_000:.4f} %")
            assert f"({_spaced(network['pool_active_gwei'])} of" in share
            # Duty outcomes per day and the alerts: the page's rows are the API's.
            day_rows = page.locator("#duty-days tbody tr")
            assert await day_rows.count() == len(days) > 0
            for day in days:
                row = page.locator(f'#duty-days tr[data-period="{day["period"]}"]')
                included = f"{day['attestations_included']}/{day['attestation_duties']}"
                assert (await _text(row, ".included")).startswith(included)
                for outcome in ("proposed", "missed", "orphaned"):
                    assert await _text(row, f".{outcome}") == str(day[outcome]), outcome
            assert sum(d["missed"] for d in days) >= 1  # the scenario's missed slot
            kinds = [
                await _text(c, ":scope") for c in await page.locator("#alert-table .kind").all()
            ]
            assert kinds == [a["kind"] for a in alerts]
            shown = {
                int(await row.get_attribute("data-epoch") or -1): await _text(row, ".reward")
                for row in await page.locator("#epoch-table tbody tr").all()
            }
            by_epoch = {e["epoch"]: e for e in epochs}
            assert shown, "no epoch row on the page"
            for epoch, reward in shown.items():
                assert reward == _spaced(by_epoch[epoch]["reward_gwei"]), epoch
            assert await page.locator("#rewards svg.chart rect").count() >= len(shown)
            # The chain's slashing and missed block are current warnings on the page.
            alerts = await _text(page, "#alerts")
            assert "slashing_evidence" in alerts
            assert "block_missed" in alerts
            await page.screenshot(path=str(shots / "pool-desktop.png"), full_page=True)

            await page.goto(base + "/delegators/alice")
            assert (
                await _text(page, "#accrued-total")
                == _spaced(alice["accrued_gwei"]["total"]) + " Gwei"
            )
            assert await _text(page, "#claimable") == (
                f"{_spaced(alice['claimable_gwei'])} Gwei ("
                f"{int(alice['claimable_gwei']) // 10**9}.{int(alice['claimable_gwei']) % 10**9:09d} ETH)"
            )
            cl = sum(int(s["cl_credit_gwei"]) for s in statements)
            assert await _text(page, "#cl-credit") == f"{_spaced(str(cl))} Gwei"
            assert await _text(page, "#el-credit") == "unknown"  # no execution client configured
            for s in statements:
                row = page.locator(f'#statement-table tr[data-period="{s["period"]}"] .closing')
                assert await _text(row, ":scope") == s["closing_balance_gwei"]
            assert await _text(page, "#proof-root") == proof["commitment"]["root"] == newest["root"]
            assert await _text(page, "#leaf-hash") == proof["leaf_hash"]
            assert await _text(page, "#proof-period") == str(newest["period"])
            command = await _text(page, "#verify-command")
            assert command.startswith(f"stakepool verify --period {newest['period']} ")
            assert f"--api {base}" in command
            assert "--delegator alice" in command
            # copy.js ran (JavaScript on): the command has its copy button.
            assert await page.locator("button.copy").count() == 1

            async with page.expect_download() as info:
                await page.click("#csv-link")
            download = await info.value
            saved = shots / "alice-statements.csv"
            await download.save_as(saved)
            rows = list(csv.DictReader(io.StringIO(saved.read_text())))
            assert [(int(r["period"]), r["closing_balance_gwei"], r["status"]) for r in rows] == [
                (s["period"], s["closing_balance_gwei"], s["status"]) for s in statements
            ]
            assert all(r["el_credit_eth"] == "unknown" for r in rows)
            await page.screenshot(path=str(shots / "delegator-desktop.png"), full_page=True)
        finally:
            await context.close()

        # A phone: 390 px wide, nothing sticks out sideways.
        context = await pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-phone"),
            executable_path=CHROMIUM,
            args=LAUNCH_ARGS,
            headless=True,
            viewport=PHONE,
            is_mobile=True,
            device_scale_factor=2,
        )
        try:
            page = watch.attach(await context.new_page())
            for path, name in (
                ("/", "pool-phone.png"),
                ("/delegators/alice", "delegator-phone.png"),
            ):
                await page.goto(base + path)
                await _no_horizontal_overflow(page)
                await page.screenshot(path=str(shots / name), full_page=True)
        finally:
            await context.close()

        # JavaScript off: the essentials are still there (figures, charts, the verify command).
        context = await pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-nojs"),
            executable_path=CHROMIUM,
            args=LAUNCH_ARGS,
            headless=True,
            java_script_enabled=False,
        )
        try:
            page = watch.attach(await context.new_page())
            await page.goto(base + "/")
            assert await _text(page, "#rewards-total") == _spaced(pool["rewards_gwei"]["total"])
            assert await page.locator("#rewards svg.chart rect").count() >= 1
            await page.goto(base + "/delegators/alice")
            assert (await _text(page, "#verify-command")).startswith("stakepool verify")
            assert await page.locator("button.copy").count() == 0
            assert await page.locator("#csv-link").get_attribute("href") == (
                "/delegators/alice/statements.csv"
            )
            await page.screenshot(path=str(shots / "delegator-nojs.png"), full_page=True)
        finally:
            await context.close()

        assert watch.errors == [], watch.errors
        assert watch.foreign == [], f"the page loaded something from elsewhere: {watch.foreign}"
        for shot in sorted(shots.glob("*.png")):
            print(f"screenshot: {shot}")
