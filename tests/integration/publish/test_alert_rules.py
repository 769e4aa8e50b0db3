"""The shipped alert rules: valid, conventional, and each one unit-tested both ways by promtool."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.integration.publish.promtool import RULES_DIR, promtool

RULES = RULES_DIR / "stakepool-rules.yml"
TESTS = sorted((RULES_DIR / "tests").glob("*.yml"))


def _alerts() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    groups = doc["groups"]
    assert [g["name"] for g in groups] == ["stakepool"]
    return [r for r in groups[0]["rules"] if "alert" in r]


def test_promtool_check_rules() -> None:
    done = promtool("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_test_rules() -> None:
    assert TESTS
    done = promtool("test", "rules", *map(str, TESTS))
    assert done.returncode == 0, done.stdout + done.stderr


def test_rules_follow_the_conventions() -> None:
    alerts = _alerts()
    names = [a["alert"] for a in alerts]
    assert len(names) == len(set(names))
    for alert in alerts:
        assert re.fullmatch(r"Stakepool(?:[A-Z][a-z]+)+", alert["alert"]), alert["alert"]
        assert alert["labels"]["severity"] in ("warning", "critical")
        assert set(alert["annotations"]) == {"summary", "description", "runbook_url"}
        assert alert["annotations"]["runbook_url"].endswith("#" + alert["alert"].lower())
    severity = {a["alert"]: a["labels"]["severity"] for a in alerts}
    for paging in (
        "StakepoolValidatorSlashed",
        "StakepoolSlashingEvidence",
        "StakepoolDoppelganger",
        "StakepoolAllBeaconNodesDown",
        "StakepoolDown",
    ):
        assert severity[paging] == "critical"


def test_every_rule_has_a_firing_and_a_quiet_case() -> None:
    fires: set[str] = set()
    quiet: set[str] = set()
    for path in TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {a["alert"] for a in _alerts()}
    assert names - fires == set(), "rules never shown to fire"
    assert names - quiet == set(), "rules never shown to stay quiet"
