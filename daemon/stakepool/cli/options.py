"""Pieces of the command line's grammar shared by every command: converters and ``option``.

Every option can come from the environment (``STAKEPOOL_<COMMAND>_<OPTION>``): ``option`` adds the
flag with its variable as the fallback and writes the default and the variable into the help.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Sequence
from typing import Any


def index_range(text: str) -> tuple[int, int]:
    """``A..B`` (inclusive) or a single index ``A``."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not an index range like 48..55")
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) is not None else low
    if high < low:
        raise argparse.ArgumentTypeError(f"{text!r}: the range ends before it starts")
    return low, high


def index_ranges(text: str) -> list[tuple[int, int]]:
    """The environment's form of a repeatable ``--offline``: ``A..B,C..D``."""
    return [index_range(part) for part in text.split(",") if part.strip()]


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive integer")
    return int(text)


def integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def option(
    parser: argparse.ArgumentParser,
    flag: str,
    *,
    env: str,
    help: str,
    default: Any = None,
    shown: str | None = None,
    convert: Callable[[str], Any] = str,
    from_env: Callable[[str], Any] | None = None,
    choices: Sequence[str] | None = None,
    required: bool = False,
    into: argparse._ActionsContainer | None = None,
    **extra: Any,
) -> None:
    """``flag`` with ``env`` as its fallback; the help says both and the default (``shown``).

    ``into`` is a group of ``parser`` (a mutually exclusive one, say) that takes the flag.
    """
    raw = os.environ.get(env, "")
    value = default
    if raw:
        try:
            value = (from_env or convert)(raw)
        except (argparse.ArgumentTypeError, ValueError) as exc:
            parser.error(f"{env}={raw!r}: {exc}")
        if choices is not None and value not in choices:
            parser.error(f"{env}={raw!r}: choose from {', '.join(choices)}")
    said = shown if shown is not None else ("none" if default is None else str(default))
    tail = f"required unless {env} is set" if required else f"default: {said}; env {env}"
    (into or parser).add_argument(
        flag,
        type=convert,
        default=value,
        choices=choices,
        required=required and not raw,
        help=f"{help} ({tail})",
        **extra,
    )
