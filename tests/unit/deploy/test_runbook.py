"""Every alert links to its own section of the project's runbook (docs/runbook.md), each section
exists and says what the alert means, what to check first and how to fix it; the chart can point
the links at another host."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.deploy.chartkit import REPO, one, render
from tests.unit.test_docs_links import anchors

RULES = REPO / "deploy" / "prometheus" / "stakepool-rules.yml"
RUNBOOK = REPO / "docs" / "runbook.md"
BASE = "https://github.com/stakepool/stakepool/blob/main/docs/runbook.md"


def _rules(spec: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    loaded = spec if spec is not None else yaml.safe_load(RULES.read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"] if "alert" in rule]


def _sections() -> dict[str, str]:
    """Each ``## Heading`` of the runbook and its text up to the next heading."""
    parts = re.split(r"^## (.+)$", RUNBOOK.read_text(), flags=re.MULTILINE)
    return {title.strip(): body for title, body in zip(parts[1::2], parts[2::2], strict=True)}


@pytest.mark.parametrize("rule", _rules(), ids=lambda rule: rule["alert"])
def test_the_runbook_url_is_the_alerts_own_section(rule: dict[str, Any]) -> None:
    url = rule["annotations"]["runbook_url"]
    assert url == f"{BASE}#{rule['alert'].lower()}"
    assert url.partition("#")[2] in anchors(RUNBOOK)


def test_each_section_is_an_alert_that_says_what_it_means_what_to_check_and_how_to_fix() -> None:
    sections = _sections()
    assert set(sections) == {rule["alert"] for rule in _rules()}
    for title, body in sections.items():
        for part in ("**Means.**", "**Check first.**", "**Fix.**"):
            assert part in body, f"{title}: no {part}"


def test_a_renamed_section_would_be_caught(tmp_path: Path) -> None:
    """The anchor check can fail: a heading renamed away loses the alert's anchor."""
    renamed = tmp_path / "runbook.md"
    renamed.write_text(RUNBOOK.read_text().replace("## StakepoolDown\n", "## Sidecar down\n"))
    assert "stakepooldown" in anchors(RUNBOOK)
    assert "stakepooldown" not in anchors(renamed)


def test_the_chart_points_every_runbook_url_at_the_configured_host() -> None:
    elsewhere = "https://wiki.example.org/staking/runbook"
    spec = one(
        render({"prometheusRule": {"enabled": True, "runbookBaseUrl": elsewhere}}),
        "PrometheusRule",
    )["spec"]
    moved = _rules(spec)
    assert [rule["annotations"]["runbook_url"] for rule in moved] == [
        f"{elsewhere}#{rule['alert'].lower()}" for rule in _rules()
    ]
    # Nothing else changed: only the base of the links.
    for rule, original in zip(moved, _rules(), strict=True):
        rule["annotations"]["runbook_url"] = original["annotations"]["runbook_url"]
    assert moved == _rules()


def test_the_chart_refuses_a_runbook_base_with_a_fragment() -> None:
    with pytest.raises(Exception, match="runbookBaseUrl"):
        render({"prometheusRule": {"enabled": True, "runbookBaseUrl": f"{BASE}#x"}})
