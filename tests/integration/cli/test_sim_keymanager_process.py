"""``stakepool sim --keymanager-port``: a simulated validator client's Keymanager API, served by the
real command, its token written to the file, keys imported and deleted while it runs."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from stakepool.sim import ids
from tests.integration.processes import STAKEPOOL, clean_env, free_port


def _call(url: str, token: str, method: str = "GET", body: Any = None) -> Any:
    request = urllib.request.Request(
        url,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=2) as answer:
        return json.load(answer)


def test_keys_come_and_go_while_the_sim_runs(tmp_path: Path) -> None:
    port, km_port = free_port(), free_port()
    token_file = tmp_path / "vc-token"
    proc = subprocess.Popen(
        [*STAKEPOOL, "sim", "--port", str(port), "--validators", "64", "--slot-seconds", "0.2"]
        + ["--keymanager-port", str(km_port), "--keymanager-token-file", str(token_file)]
        + ["--keymanager-keys", "1..2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=clean_env(),
        text=True,
    )
    keystores = f"http://127.0.0.1:{km_port}/eth/v1/keystores"
    try:
        deadline = time.monotonic() + 30
        while not token_file.exists() or not token_file.read_text().strip():
            assert proc.poll() is None, "stakepool sim ended"
            assert time.monotonic() < deadline, "no token file"
            time.sleep(0.05)
        token = token_file.read_text().strip()
        assert len(token) == 64  # 256 bits, hex, like a validator client writes
        assert token_file.stat().st_mode & 0o077 == 0  # owner-only
        while True:
            try:
                listed = _call(keystores, token)
                break
            except OSError:
                assert time.monotonic() < deadline, "the keymanager never answered"
                time.sleep(0.05)
        assert [k["validating_pubkey"] for k in listed["data"]] == sorted(
            [ids.pubkey(1), ids.pubkey(2)]
        )
        keystore = json.dumps({"version": 4, "pubkey": ids.pubkey(9)[2:]})
        imported = _call(keystores, token, "POST", {"keystores": [keystore], "passwords": ["x"]})
        assert imported["data"] == [{"status": "imported"}]
        _call(keystores, token, "DELETE", {"pubkeys": [ids.pubkey(1)]})
        now = {k["validating_pubkey"] for k in _call(keystores, token)["data"]}
        assert now == {ids.pubkey(2), ids.pubkey(9)}
        with pytest.raises(urllib.error.HTTPError) as refused:
            _call(keystores, "wrong")
        refused.value.close()  # the error carries the open response
        assert refused.value.code == 403
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert f"keymanager API on http://127.0.0.1:{km_port}" in err
