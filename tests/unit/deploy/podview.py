"""The rendered Deployment's pod as the daemon inside it sees it: its spec, mounts and env, and
its configuration loaded from the mounts laid out in a temporary directory."""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from typing import Any

import pytest

from stakepool.config import Settings, load_settings
from tests.unit.deploy.chartkit import Manifest, one


def config_data(objects: list[Manifest]) -> dict[str, str]:
    """The daemon's ConfigMap (not the dashboard's)."""
    (config_map,) = [
        o for o in objects if o["kind"] == "ConfigMap" and "config.toml" in o.get("data", {})
    ]
    data: dict[str, str] = config_map["data"]
    return data


def pod_spec(objects: list[Manifest]) -> dict[str, Any]:
    spec: dict[str, Any] = one(objects, "Deployment")["spec"]["template"]["spec"]
    return spec


def pod_container(objects: list[Manifest]) -> dict[str, Any]:
    containers = pod_spec(objects)["containers"]
    assert len(containers) == 1
    container: dict[str, Any] = containers[0]
    return container


def pod_env(objects: list[Manifest]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in pod_container(objects)["env"]}


def pod_volume(objects: list[Manifest], name: str) -> dict[str, Any]:
    (volume,) = [v for v in pod_spec(objects)["volumes"] if v["name"] == name]
    return dict(volume)


def pod_mounts(objects: list[Manifest]) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in pod_container(objects)["volumeMounts"]}


def assert_pod_security_restricted(pod: dict[str, Any]) -> None:
    """The checks of the Pod Security Standards' "restricted" profile (and so "baseline")."""
    pod_ctx = pod.get("securityContext", {})
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(key)
    allowed_volumes = {"configMap", "secret", "emptyDir", "persistentVolumeClaim", "projected"}
    for volume in pod["volumes"]:
        assert set(volume) - {"name"} <= allowed_volumes, volume
    for container in pod["containers"] + pod.get("initContainers", []):
        ctx = container["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False
        assert not ctx.get("privileged")
        assert "ALL" in ctx["capabilities"]["drop"]
        assert set(ctx["capabilities"].get("add", [])) <= {"NET_BIND_SERVICE"}
        assert (ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot"))) is True
        assert ctx.get("runAsUser", pod_ctx.get("runAsUser")) not in (None, 0)
        seccomp = ctx.get("seccompProfile", pod_ctx.get("seccompProfile", {}))
        assert seccomp.get("type") in ("RuntimeDefault", "Localhost")
        assert ctx["readOnlyRootFilesystem"] is True
        assert not any("hostPort" in port for port in container.get("ports", []))
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False  # no STAKEPOOL_* variables from a Service's name


def as_the_pod_sees_it(
    objects: list[Manifest],
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    existing_secrets: dict[str, dict[str, bytes]] | None = None,
    pod_name: str = "sp-stakepool-5d9c7f6b8-x2k4q",
) -> Settings:
    """Lay the pod's mounts out under ``root`` and load the settings as ``stakepool run`` does:
    the ConfigMap at /etc/stakepool, the chart's Secret at $CREDENTIALS_DIRECTORY, the Secrets
    the operator manages (``existing_secrets``: name → key → bytes) where the pod mounts them,
    and the container's env (the downward API's pod name is ``pod_name``; ``$(VAR)`` expands as
    the kubelet does). Absolute paths into a mount in config.toml follow it under ``root``."""

    def mapped(path: str) -> Path:
        return root / path.lstrip("/")

    mounts = pod_mounts(objects)
    # One pass over the quoted paths, longest mount first (/etc/stakepool-x before /etc/stakepool).
    mount_paths = sorted((m["mountPath"] for m in mounts.values()), key=len, reverse=True)
    into_mount = re.compile('(?<=")(' + "|".join(map(re.escape, mount_paths)) + ")/")
    config_dir = mapped(mounts["config"]["mountPath"])
    config_dir.mkdir(parents=True)
    for name, content in config_data(objects).items():
        text = into_mount.sub(lambda m: f"{mapped(m.group(1))}/", content)
        (config_dir / name).write_text(text)
    for name in list(os.environ):
        if name.upper().startswith("STAKEPOOL_") or name in (
            "CREDENTIALS_DIRECTORY",
            "STATE_DIRECTORY",
        ):
            monkeypatch.delenv(name)
    seen: dict[str, str] = {}
    for name, given in pod_env(objects).items():
        raw = pod_name if given == {"fieldRef": {"fieldPath": "metadata.name"}} else given
        assert isinstance(raw, str), f"{name} comes from elsewhere"
        # The kubelet expands $(VAR) of a variable defined earlier in the list.
        value = re.sub(r"\$\((\w+)\)", lambda m: seen.get(m[1], m[0]), raw)
        seen[name] = value
        is_path = name.endswith("_DIRECTORY")
        monkeypatch.setenv(name, str(mapped(value)) if is_path else value)
    contents = {
        o["metadata"]["name"]: {k: base64.b64decode(v) for k, v in o["data"].items()}
        for o in objects
        if o["kind"] == "Secret"
    }
    contents.update(existing_secrets or {})
    for volume in pod_spec(objects)["volumes"]:
        if "secret" not in volume or volume["secret"]["secretName"] not in contents:
            continue  # an operator's Secret the test does not fill in: its files are absent
        data = contents[volume["secret"]["secretName"]]
        # Like the kubelet: the listed items under their paths (a missing key is an error), or
        # every key as a file of its name.
        items = volume["secret"].get("items") or [{"key": k, "path": k} for k in data]
        directory = mapped(mounts[volume["name"]]["mountPath"])
        directory.mkdir(parents=True)
        for item in items:
            (directory / item["path"]).write_bytes(data[item["key"]])
    return load_settings(config_dir / "config.toml")
