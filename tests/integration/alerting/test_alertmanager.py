"""The shipped Alertmanager file is valid for Alertmanager (``amtool check-config``), every alert rule
routes where the file says (``amtool config routes test`` with each rule's labels), and its
inhibitions silence only consequences, never a slashing.

amtool comes with Debian's ``prometheus-alertmanager`` package (``./scripts/test`` installs it).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
ALERTMANAGER = REPO / "deploy" / "alertmanager" / "alertmanager.yml"
RULES = REPO / "deploy" / "prometheus" / "stakepool-rules.yml"
# What the file's header and docs/alerts.md promise: critical pages, warnings go to the team.
RECEIVER_OF = {"critical": "pager", "warning": "team-chat"}
# Alerts nothing may ever silence: a slashing (or what leads to one) needs a human at once.
NEVER_INHIBITED = (
    "StakepoolValidatorSlashed",
    "StakepoolSlashingEvidence",
    "StakepoolDoppelganger",
    "StakepoolUnexpectedOperation",
)
# The labels Prometheus adds from the scrape target (docs/alerts.md: job, instance, pool).
TARGET = {"job": "stakepool", "instance": "sp-1:9464", "pool": "alpha"}


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("amtool")
    if exe is None:
        pytest.fail(
            "amtool is not installed: run ./scripts/test (it installs prometheus-alertmanager)"
        )
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60, check=False)


def _rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(RULES.read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"] if "alert" in rule]


def _labels(rule: dict[str, Any]) -> dict[str, str]:
    return {**TARGET, "alertname": rule["alert"], **rule.get("labels", {})}


def _config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(ALERTMANAGER.read_text())
    return loaded


def test_check_config_accepts_the_shipped_file() -> None:
    done = amtool("check-config", str(ALERTMANAGER))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_check_config_would_catch_a_typo(tmp_path: Path) -> None:
    broken = tmp_path / "alertmanager.yml"
    broken.write_text(ALERTMANAGER.read_text().replace("routing_key_file:", "routing_key_fil:"))
    done = amtool("check-config", str(broken))
    assert done.returncode != 0
    assert "routing_key_fil" in done.stdout + done.stderr


@pytest.mark.parametrize("rule", _rules(), ids=lambda rule: rule["alert"])
def test_each_rule_routes_to_the_receiver_of_its_severity(rule: dict[str, Any]) -> None:
    labels = _labels(rule)
    expected = RECEIVER_OF[labels["severity"]]
    done = amtool(
        "config",
        "routes",
        "test",
        "--config.file",
        str(ALERTMANAGER),
        f"--verify.receivers={expected}",
        *(f"{key}={value}" for key, value in labels.items()),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split() == [expected]


def test_a_wrong_expectation_fails_the_route_test() -> None:
    """The check above can fail: a critical alert does not reach the team's chat only."""
    (slashed,) = [rule for rule in _rules() if rule["alert"] == "StakepoolValidatorSlashed"]
    done = amtool(
        "config",
        "routes",
        "test",
        "--config.file",
        str(ALERTMANAGER),
        "--verify.receivers=team-chat",
        *(f"{key}={value}" for key, value in _labels(slashed).items()),
    )
    assert done.returncode != 0


def test_notifications_are_grouped_by_pool() -> None:
    route = _config()["route"]
    assert "pool" in route["group_by"]
    assert all("group_by" not in child for child in route["routes"])  # inherited, not replaced


def test_pagerduty_uses_events_v2_with_the_key_in_a_file() -> None:
    (pager,) = [r for r in _config()["receivers"] if r["name"] == "pager"]
    (pagerduty,) = pager["pagerduty_configs"]
    # routing_key is the Events API v2 integration key (service_key would be the v1 API).
    assert set(pagerduty) & {"routing_key", "routing_key_file"} == {"routing_key_file"}
    assert "service_key" not in pagerduty
    assert "service_key_file" not in pagerduty


def _matches(matcher: str, labels: dict[str, str]) -> bool:
    """One Alertmanager matcher (``name="v"``, ``name!="v"``, ``name=~"re"``, ``name!~"re"``)."""
    parsed = re.fullmatch(r'\s*(\w+)\s*(=~|!~|!=|=)\s*"(.*)"\s*', matcher)
    assert parsed is not None, matcher
    name, op, value = parsed.groups()
    actual = labels.get(name, "")
    if op in ("=~", "!~"):
        hit = re.fullmatch(value, actual) is not None  # Alertmanager anchors its regexes
        return hit if op == "=~" else not hit
    return (actual == value) if op == "=" else (actual != value)


def _inhibited_by(target: dict[str, str], source: dict[str, str]) -> bool:
    return any(
        all(_matches(m, source) for m in rule["source_matchers"])
        and all(_matches(m, target) for m in rule["target_matchers"])
        and all(source.get(name, "") == target.get(name, "") for name in rule.get("equal", []))
        for rule in _config()["inhibit_rules"]
    )


def test_slashing_alerts_are_never_inhibited() -> None:
    rules = {rule["alert"]: _labels(rule) for rule in _rules()}
    assert set(NEVER_INHIBITED) <= set(rules)
    for target in NEVER_INHIBITED:
        for source in rules.values():
            assert not _inhibited_by(rules[target], source), (target, source["alertname"])


def test_no_beacon_node_silences_the_staleness_it_causes_on_the_same_sidecar() -> None:
    rules = {rule["alert"]: _labels(rule) for rule in _rules()}
    down = rules["StakepoolAllBeaconNodesDown"]
    for consequence in ("StakepoolBeaconDataStale", "StakepoolProcessingLagging"):
        assert _inhibited_by(rules[consequence], down)
        other_sidecar = {**rules[consequence], "instance": "sp-2:9464"}
        assert not _inhibited_by(other_sidecar, down)
    assert _inhibited_by(rules["StakepoolFinalityDelayed"], rules["StakepoolInactivityLeak"])
    # Missed duties stay visible: they may have another cause than the nodes.
    assert not _inhibited_by(rules["StakepoolAttestationsMissed"], down)
