"""A fatal error mid-run (the disk fills under the ledger) ends ``stakepool run`` with one JSON line
naming the reason and a non-zero exit code (systemd's ``Restart=on-failure`` restarts it), never a
multi-line Python traceback on stderr."""

from __future__ import annotations

import json
import resource
import subprocess
import time
from pathlib import Path

from tests.integration.processes import STAKEPOOL, clean_env, simulator


def test_a_full_disk_mid_run_is_one_json_line_and_exit_1(tmp_path: Path) -> None:
    with simulator(tmp_path, slot_seconds="0.1") as sim_url:
        config = tmp_path / "stakepool.toml"
        config.write_text(
            f'[beacon]\nurls = ["{sim_url}"]\n[pool]\nid = "full"\nvalidators = [0, 1, 2]\n'
            "[http]\nport = 0\n"
        )
        proc = subprocess.Popen(
            [*STAKEPOOL, "run", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=clean_env(),
            text=True,
            cwd=tmp_path,
        )
        assert proc.stdout is not None
        lines: list[str] = []
        try:
            deadline = time.monotonic() + 30
            for line in proc.stdout:
                lines.append(line)
                if json.loads(line)["event"] == "epoch_closed":
                    break
                assert time.monotonic() < deadline, lines
            # The disk is full from now on: the ledger's files may not grow past one page.
            # (RLIMIT_FSIZE gives EFBIG, which SQLite reports as a full disk; Python ignores
            # SIGXFSZ, so the write fails instead of killing the process.)
            resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (4096, 4096))
            rest, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    lines.extend(rest.splitlines(keepends=True))
    records = [json.loads(line) for line in lines]  # every stdout line is one JSON object
    fatal = [r for r in records if r["event"] == "fatal_error"]
    assert proc.returncode == 1, (err, records[-3:])
    assert len(fatal) == 1, records[-5:]
    assert "disk" in fatal[0]["reason"], fatal[0]["reason"]  # "disk I/O error" or "...is full"
    print(json.dumps({k: v for k, v in fatal[0].items() if k != "exception"}))
    assert fatal[0]["level"] == "critical"
    assert fatal[0]["where"]
    assert "Traceback" not in err, err
