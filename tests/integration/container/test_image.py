"""The Containerfile builds the image the Helm chart runs, and that image runs the daemon: as a
non-root numeric user, on a read-only root filesystem, with only the installed wheel in it.

Slow (about half a minute warm, a few minutes the first time on a machine: see imagekit), and part
of ``./scripts/test`` like every other test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.integration.container.imagekit import (
    Container,
    Image,
    build_image,
    chart_image,
    exclusive_cache,
    new_container,
    remove_container,
    remove_image,
    run_read_only,
    version,
)
from tests.unit.deploy.chartkit import render
from tests.unit.deploy.podview import pod_container

# The first test pays for the build (and, once per machine, for the base and the wheelhouse).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

DEMO = ("stakepool", "demo", "--epochs", "2", "--slot-seconds", "0.05")
# What the demo prints as each of its two epochs closes: the daemon followed the chain in the image.
CLOSED = re.compile(r"^epoch \d+ closed at slot \d+: pool balance \d+\.\d{9} ETH", re.MULTILINE)


@pytest.fixture(scope="module")
def image() -> Iterator[Image]:
    with exclusive_cache():
        built = build_image(chart_image())
        try:
            yield built
        finally:
            # The base stays cached; a fresh build per run would otherwise pile up in vfs storage.
            remove_image(built)


@pytest.fixture(scope="module")
def container(image: Image) -> Iterator[Container]:
    made = new_container(image)
    try:
        yield made
    finally:
        remove_container(made)


def test_the_chart_runs_the_image_this_file_builds(image: Image) -> None:
    assert pod_container(render())["image"] == image.name
    assert image.name.endswith(f":{version()}")


def test_stakepool_version_runs_in_the_image(container: Container) -> None:
    assert container.run("stakepool", "version").stdout.strip() == f"stakepool {version()}"


def test_the_image_runs_as_a_numeric_non_root_user(image: Image, container: Container) -> None:
    # Numeric, so Kubernetes' runAsNonRoot can check it without an /etc/passwd lookup.
    assert image.config()["User"] == "10001:10001"
    assert container.run("id", "-u").stdout.strip() == "10001"
    assert container.run("id", "-g").stdout.strip() == "10001"


def test_the_demo_runs_in_the_image(container: Container) -> None:
    done = container.run(*DEMO, timeout=300)
    assert len(CLOSED.findall(done.stdout)) == 2, done.stdout[-2000:] + done.stderr[-2000:]


def test_the_demo_runs_on_a_read_only_root_filesystem(image: Image, container: Container) -> None:
    config = image.config()
    env = dict(item.split("=", 1) for item in config["Env"])
    done = run_read_only(
        container.rootfs(),
        env,
        config["User"],
        f"touch /opt/stakepool/probe 2>&1; {' '.join(DEMO)}",
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    # The root really was read-only, and the daemon did not need it to be otherwise.
    assert "Read-only file system" in done.stdout
    assert len(CLOSED.findall(done.stdout)) == 2, done.stdout[-2000:]


def test_the_image_is_configured_for_kubernetes(image: Image) -> None:
    config = image.config()
    assert config["StopSignal"] == "SIGTERM"
    assert "Healthcheck" not in config  # the chart's probes ask /healthz and /readyz
    assert config["Entrypoint"] == ["stakepool"]
    assert config["Cmd"] == ["run", "--config", "/etc/stakepool/config.toml"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["STATE_DIRECTORY"] == "/var/lib/stakepool"  # where the chart mounts the ledger
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == version()
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert labels["org.opencontainers.image.title"] == "stakepool"
    assert labels["org.opencontainers.image.source"].startswith("https://")


def test_the_runtime_holds_the_installed_wheel_only(container: Container) -> None:
    listing = container.run(
        "sh", "-c", "ls /opt/stakepool/bin; ls /opt/stakepool/lib/python3*/site-packages; ls /"
    ).stdout.split()
    assert "stakepool-" + version() + ".dist-info" in listing
    # No installer, no source tree, no build tools: nothing to change the image with at run time.
    assert not {"pip", "pip3", "uv", "src", "setuptools"} & set(listing)
    missing = container.run(
        "sh", "-c", "test ! -e /opt/uv && test ! -e /tmp/dist && echo clean"
    ).stdout.strip()
    assert missing == "clean"


def test_the_image_carries_the_deployment_assets(container: Container) -> None:
    # What an operator copies out of the image (`stakepool assets export`) is the package's data.
    listed = container.run("stakepool", "assets", "export", "/tmp/assets").stdout.split()
    assert "/tmp/assets/prometheus/stakepool-rules.yml" in listed
    assert "/tmp/assets/systemd/stakepool.service" in listed
