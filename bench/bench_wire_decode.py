"""Decoding the Beacon API's biggest answer, a pool's validators, four ways: CPU per answer.

The same 10,000-validator answer (the daemon's ``batch_size``) is decoded as the daemon used to
(``json.loads`` then one pydantic model per validator), with orjson or msgspec in place of
``json.loads`` (the models unchanged), and as it does now (msgspec into columns, one check per
column: ``beacon/models/columns.py``). Figures only, never asserted.

    .venv/bin/python bench/bench_wire_decode.py [--validators 10000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import msgspec

from stakepool.beacon.models import Envelope, ValidatorInfo, parse_as
from stakepool.beacon.models.columns import decode_validators


def body(count: int) -> bytes:
    return json.dumps(
        {
            "execution_optimistic": False,
            "finalized": True,
            "data": [
                {
                    "index": str(i * 20),
                    "balance": str(32_000_000_000 + i),
                    "status": "active_ongoing",
                    "validator": {
                        "pubkey": "0x" + f"{i:096x}",
                        "withdrawal_credentials": "0x01" + f"{i:062x}",
                        "effective_balance": "32000000000",
                        "slashed": False,
                        "activation_eligibility_epoch": "0",
                        "activation_epoch": "0",
                        "exit_epoch": str(2**64 - 1),
                        "withdrawable_epoch": str(2**64 - 1),
                    },
                }
                for i in range(count)
            ],
        }
    ).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--validators", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    raw = body(args.validators)
    model = Envelope[tuple[ValidatorInfo, ...]]

    def pydantic_after(loads: Callable[[bytes], Any]) -> Callable[[], object]:
        return lambda: parse_as(model, loads(raw), "validators")

    ways: dict[str, Callable[[], object]] = {
        "json.loads + pydantic models": pydantic_after(json.loads),
        "msgspec (generic) + pydantic models": pydantic_after(msgspec.json.decode),
        "msgspec into columns": lambda: decode_validators(raw, "validators"),
    }
    try:
        import orjson  # noqa: PLC0415 - optional: not a dependency, compared when present

        ways["orjson + pydantic models"] = pydantic_after(orjson.loads)
        ways["orjson (generic) only"] = lambda: orjson.loads(raw)
    except ImportError:
        print("orjson not installed: not compared")
    ways["msgspec (generic) only"] = lambda: msgspec.json.decode(raw)
    ways["json.loads only"] = lambda: json.loads(raw)
    print(f"{args.validators:,} validators, {len(raw) / 1e6:.1f} MB of JSON")
    for name, way in ways.items():
        cpu = []
        for _ in range(args.repeats):
            c0 = time.process_time()
            way()
            cpu.append(time.process_time() - c0)
        print(f"{name:<38} CPU median {statistics.median(cpu) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
