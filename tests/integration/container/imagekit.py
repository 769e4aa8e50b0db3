"""Building the project's image here, where no container registry is reachable.

The Containerfile's default base (the official slim Python image) cannot be pulled on these
machines, so the base is made locally: ``debootstrap`` a minimal Debian 12 with ``python3`` and
``python3-venv`` (what the official image has for our purpose), imported into buildah's storage. The
wheels the build installs come from a wheelhouse filled once from PyPI with exactly the locked
versions (hash-checked in the build), mounted into the build with ``bud -v``: the image build itself
needs no index. Base, storage and wheelhouse are cached in ``$STAKEPOOL_IMAGE_CACHE`` (default
``~/.cache/stakepool-image``), like the devnet's ``~/.cache/stakepool-devnet``; only the first run
pays for debootstrap and the downloads.

buildah runs with ``--storage-driver vfs --isolation chroot``: it works on these machines, where
``podman run`` does not (crun's setrlimit is refused).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
CONTAINERFILE = REPO / "Containerfile"
CHART = REPO / "deploy" / "helm" / "stakepool"
CACHE = Path(os.environ.get("STAKEPOOL_IMAGE_CACHE", Path.home() / ".cache" / "stakepool-image"))
# Bump the suffix when the recipe below changes: a stale cached base is then rebuilt.
BASE_IMAGE = "localhost/stakepool-test-base:bookworm-1"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
UV_VERSION = "0.13.9"  # what scripts/bootstrap and the Containerfile pin
BUILD_TIMEOUT = 900


def version() -> str:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return str(project["version"])


def chart_image() -> str:
    """The image the chart runs by default: ``image.repository`` at the chart's appVersion."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    return f"{values['image']['repository']}:{values['image']['tag'] or chart['appVersion']}"


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        pytest.fail(f"{name} is not installed: run ./scripts/test (it installs {name})")
    return exe


def run(
    *argv: str, timeout: float = BUILD_TIMEOUT, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )
    if done.returncode != 0:
        pytest.fail(
            f"{' '.join(argv[:4])} … exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done


def buildah(*args: str, timeout: float = BUILD_TIMEOUT) -> subprocess.CompletedProcess[str]:
    return run(
        _tool("buildah"),
        "--root",
        str(CACHE / "storage"),
        "--runroot",
        str(CACHE / "runroot"),
        "--storage-driver",
        "vfs",
        *args,
        timeout=timeout,
    )


def _has_image(name: str) -> bool:
    listed = buildah("images", "--json").stdout
    return any(name in (image.get("names") or []) for image in json.loads(listed or "[]"))


@contextlib.contextmanager
def exclusive_cache() -> Iterator[None]:
    """One image test at a time per cache (two checkouts share it, and the image's tag), and no
    working container left behind by a run that was killed."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            buildah("rm", "--all")
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_base() -> str:
    """The Debian 12 base in the cache's storage (about a minute the first time)."""
    if _has_image(BASE_IMAGE):
        return BASE_IMAGE
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE, prefix="base-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        run(
            _tool("debootstrap"),
            "--variant=minbase",
            "--include=python3,python3-venv",
            "bookworm",
            str(rootfs),
            DEBIAN_MIRROR,
        )
        # What apt downloaded and the docs are no use in a base image; they only slow vfs down.
        for junk in (
            "var/cache/apt/archives",
            "var/lib/apt/lists",
            "usr/share/doc",
            "usr/share/man",
        ):
            for entry in (rootfs / junk).glob("*"):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        tarball = Path(tmp) / "rootfs.tar"
        run("tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(tarball), ".")
        container = buildah("from", "scratch").stdout.strip()
        try:
            buildah("add", container, str(tarball), "/")
            buildah("config", "--env", f"PATH={PATH}", "--cmd", "python3", container)
            buildah("commit", "--quiet", container, BASE_IMAGE)
        finally:
            buildah("rm", container)
    return BASE_IMAGE


def ensure_wheelhouse() -> Path:
    """Every wheel the build installs: the locked dependencies, uv, the build backend.

    Filled from PyPI when the lock changed since the last fill (a stamp holds the requirements'
    hash); otherwise the cached files are used as they are, without asking the index.
    """
    wheels = CACHE / "wheels"
    requirements = run(
        str(REPO / ".tools" / "bin" / "uv"),
        "export",
        "--quiet",
        "--frozen",
        "--no-dev",
        "--no-emit-project",
        "--format",
        "requirements-txt",
        cwd=REPO,
    ).stdout
    build_backend = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    extra = [f"uv=={UV_VERSION}", *build_backend]
    stamp = wheels / ".filled-for"
    key = hashlib.sha256((requirements + "\n".join(extra)).encode()).hexdigest()
    if stamp.is_file() and stamp.read_text() == key:
        return wheels
    wheels.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as req:
        req.write(requirements)
        req.flush()
        pip = (str(REPO / ".tools" / "bin" / "python"), "-m", "pip", "download", "--quiet")
        run(*pip, "--disable-pip-version-check", "-d", str(wheels), "-r", req.name)
        run(*pip, "--disable-pip-version-check", "-d", str(wheels), *extra)
    stamp.write_text(key)
    return wheels


@dataclass(frozen=True)
class Image:
    name: str

    def config(self) -> dict[str, Any]:
        inspected = json.loads(buildah("inspect", "--type", "image", self.name).stdout)
        config: dict[str, Any] = inspected["OCIv1"]["config"]
        return config


def build_image(tag: str) -> Image:
    """``buildah bud`` of the Containerfile on the local base, offline, tagged ``tag``."""
    base = ensure_base()
    wheels = ensure_wheelhouse()
    buildah(
        "bud",
        "--isolation",
        "chroot",
        "--layers=false",
        "--build-arg",
        f"BASE_IMAGE={base}",
        "--build-arg",
        "PIP_NO_INDEX=1",
        "--build-arg",
        "PIP_FIND_LINKS=/wheels",
        "--volume",
        f"{wheels}:/wheels:ro",
        "--tag",
        tag,
        "--file",
        str(CONTAINERFILE),
        str(REPO),
    )
    return Image(tag)


def remove_image(image: Image) -> None:
    buildah("rmi", "--force", image.name)


@dataclass(frozen=True)
class Container:
    """A working container of the image: ``buildah run`` executes in it as the image's user."""

    id: str

    def run(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return buildah("run", "--isolation", "chroot", self.id, "--", *argv, timeout=timeout)

    def rootfs(self) -> Path:
        return Path(buildah("mount", self.id).stdout.strip())


def new_container(image: Image) -> Container:
    return Container(buildah("from", "--quiet", "--pull-never", image.name).stdout.strip())


def remove_container(container: Container) -> None:
    buildah("rm", container.id)


def run_read_only(
    rootfs: Path, env: dict[str, str], user: str, command: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``command`` (sh -c) in ``rootfs`` mounted read-only, as Kubernetes runs the chart's pod.

    ``readOnlyRootFilesystem: true`` with an emptyDir on /tmp and a volume on the state directory:
    the same here, in private mount and PID namespaces (everything is unmounted when they end).
    """
    uid, _, gid = user.partition(":")
    script = (
        'set -e; mount --bind "$SP_ROOTFS" "$SP_NEWROOT"; mount -o remount,bind,ro "$SP_NEWROOT"\n'
        'mount -t tmpfs -o size=64m,mode=1777 tmpfs "$SP_NEWROOT/tmp"\n'
        f'mount -t tmpfs -o size=64m,mode=0700,uid={uid},gid={gid} tmpfs "$SP_NEWROOT$SP_STATE"\n'
        'mount -t proc proc "$SP_NEWROOT/proc"; mount --rbind /dev "$SP_NEWROOT/dev"\n'
        'exec chroot --userspec="$SP_USER" "$SP_NEWROOT" /usr/bin/env -i "$@"\n'
    )
    with tempfile.TemporaryDirectory(prefix="stakepool-ro-") as newroot:
        return subprocess.run(
            [
                _tool("unshare"),
                "--mount",
                "--pid",
                "--fork",
                "--propagation",
                "private",
                "sh",
                "-c",
                script,
                "sh",
                *(f"{key}={value}" for key, value in env.items()),
                "/bin/sh",
                "-c",
                command,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={
                "PATH": os.environ.get("PATH", PATH),
                "SP_ROOTFS": str(rootfs),
                "SP_NEWROOT": newroot,
                "SP_USER": user,
                "SP_STATE": env["STATE_DIRECTORY"],
            },
        )
