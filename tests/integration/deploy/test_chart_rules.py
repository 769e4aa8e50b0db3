"""The PrometheusRule the chart renders holds rules Prometheus accepts, and they pass the same
promtool unit tests as deploy/prometheus/stakepool-rules.yml."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.integration.publish.promtool import RULES_DIR, promtool
from tests.unit.deploy.chartkit import CHART, one, render_file


def _rendered_groups(tmp_path: Path) -> Path:
    rule = one(render_file(CHART / "ci" / "monitoring-values.yaml"), "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    path = tmp_path / "rendered-rules.yml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    return path


def test_promtool_checks_the_rendered_rules(tmp_path: Path) -> None:
    rules = _rendered_groups(tmp_path)
    done = promtool("check", "rules", str(rules))
    assert done.returncode == 0, done.stdout + done.stderr
    shipped = yaml.safe_load((RULES_DIR / "stakepool-rules.yml").read_text())
    count = sum(len(group["rules"]) for group in shipped["groups"])
    assert f"SUCCESS: {count} rules found" in done.stdout


def test_the_rendered_rules_pass_the_shipped_rule_tests(tmp_path: Path) -> None:
    rules = _rendered_groups(tmp_path)
    tests = sorted((RULES_DIR / "tests").glob("*.yml"))
    assert tests
    copies = []
    for test in tests:
        doc = yaml.safe_load(test.read_text())
        assert doc["rule_files"] == ["../stakepool-rules.yml"]
        doc["rule_files"] = [str(rules)]
        copy = tmp_path / test.name
        copy.write_text(yaml.safe_dump(doc, sort_keys=False))
        copies.append(str(copy))
    done = promtool("test", "rules", *copies)
    assert done.returncode == 0, done.stdout + done.stderr
