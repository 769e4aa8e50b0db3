"""The wheel carries the web page's templates and assets: an installed daemon serves its page
without the source tree (the page has no CDN to fall back on)."""

from __future__ import annotations

import subprocess
import zipfile
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_wheel_ships_every_template_and_asset(tmp_path: Path) -> None:
    subprocess.run(
        [str(ROOT / ".tools/bin/uv"), "build", "--offline", "--wheel", "-o", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=240,
    )
    (wheel,) = tmp_path.glob("stakepool-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    package = resources.files("stakepool.publish.web")
    expected = {
        f"stakepool/publish/web/{folder}/{item.name}"
        for folder in ("templates", "static")
        for item in package.joinpath(folder).iterdir()
    }
    assert {n for n in expected if n.endswith((".html", ".css", ".js"))} == expected
    assert len(expected) >= 6
    assert expected <= names, sorted(expected - names)
