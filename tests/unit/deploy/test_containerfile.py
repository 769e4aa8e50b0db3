"""The Containerfile and the chart agree on what the image is: its name and version, its user, how it
stops; and the file keeps the promises operators rely on (official slim Python base by default,
build stage apart from the runtime stage). tests/integration/container builds and runs it."""

from __future__ import annotations

import re
import tomllib

from tests.unit.deploy.chartkit import CHART, REPO, render, values_of
from tests.unit.deploy.podview import pod_container

CONTAINERFILE = REPO / "Containerfile"


def _instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` in order, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", CONTAINERFILE.read_text())
    found = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            word, _, rest = stripped.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def _args() -> dict[str, str]:
    return {
        name: default
        for word, rest in _instructions()
        if word == "ARG"
        for name, _, default in [rest.partition("=")]
    }


def _version() -> str:
    return str(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"])


def test_the_base_is_a_build_argument_defaulting_to_the_official_slim_python() -> None:
    assert _args()["BASE_IMAGE"] == "docker.io/library/python:3.11-slim-bookworm"
    froms = [rest for word, rest in _instructions() if word == "FROM"]
    assert froms == ["${BASE_IMAGE} AS build", "${BASE_IMAGE}"]


def test_the_runtime_stage_takes_only_the_installed_venv_from_the_build() -> None:
    instructions = _instructions()
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    runtime = instructions[last_from + 1 :]
    copies = [rest for word, rest in runtime if word in ("COPY", "ADD")]
    assert copies == ["--from=build /opt/stakepool /opt/stakepool"]


def test_the_image_version_is_the_package_and_chart_version() -> None:
    chart = values_of(CHART / "Chart.yaml")
    assert _args()["VERSION"] == _version() == chart["appVersion"]
    # The chart's default image is image.repository at its appVersion: what the file builds.
    assert values_of(CHART / "values.yaml")["image"]["tag"] == ""
    assert pod_container(render())["image"] == f"ghcr.io/stakepool/stakepool:{_version()}"


def test_the_user_is_the_charts_numeric_non_root_user() -> None:
    (user,) = [rest for word, rest in _instructions() if word == "USER"]
    values = values_of(CHART / "values.yaml")
    pod = values["podSecurityContext"]
    assert user == f"{pod['runAsUser']}:{pod['runAsGroup']}"
    assert pod["runAsUser"] != 0
    assert values["securityContext"]["readOnlyRootFilesystem"] is True


def test_it_stops_on_sigterm_and_leaves_health_to_kubernetes() -> None:
    words = [word for word, _ in _instructions()]
    assert ("STOPSIGNAL", "SIGTERM") in _instructions()
    assert "HEALTHCHECK" not in words


def test_the_build_uses_the_uv_that_bootstrap_pins() -> None:
    pinned = re.search(r'^UV_VERSION="([^"]+)"', (REPO / "scripts" / "bootstrap").read_text(), re.M)
    assert pinned is not None
    assert _args()["UV_VERSION"] == pinned.group(1)
