"""Rendering the Helm chart offline with the real Helm engine (helm-python-sdk, a dev dependency).

helm-python-sdk binds Helm's Go SDK (``libhelm_c.so``, shipped inside its wheel) with ctypes: the
engine ``helm template`` runs, without a helm binary, a cluster or the network.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import helm_python
import yaml

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "deploy" / "helm" / "stakepool"
VALUES_FILES = sorted((CHART / "ci").glob("*-values.yaml"))
RELEASE = "sp"
NAMESPACE = "staking"
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest with schemas.
KUBE_VERSIONS = ("1.25.0", "1.37.0")

Manifest = dict[str, Any]


def values_of(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text()) or {}
    assert isinstance(loaded, dict), path
    return loaded


@cache
def _chart() -> helm_python.Chart:
    return helm_python.Chart.load(CHART)


def render(values: dict[str, Any] | None = None) -> list[Manifest]:
    """Every object ``helm template sp --namespace staking`` would print (NOTES excluded)."""
    rendered = _chart().render(
        values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True, revision=1
    )
    objects: list[Manifest] = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


def render_file(path: Path) -> list[Manifest]:
    return render(values_of(path))


def notes(values: dict[str, Any] | None = None) -> str:
    rendered = _chart().render(values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True)
    return rendered["stakepool/templates/NOTES.txt"]


def one(objects: list[Manifest], kind: str) -> Manifest:
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, f"{len(found)} objects of kind {kind}"
    return found[0]


def kinds(objects: list[Manifest]) -> list[str]:
    return sorted(o["kind"] for o in objects)
