"""The pool's validators as configured: an index or a pubkey, with an optional label."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, model_validator

from stakepool.chain.types import VALIDATOR_REGISTRY_LIMIT
from stakepool.config.base import _LABEL, _PUBKEY, ConfigError, _Section


class ValidatorRef(_Section):
    """One pool validator: its index or its pubkey (lower-case), with an optional label."""

    index: int | None = None
    pubkey: str | None = None
    label: str | None = None

    @model_validator(mode="after")
    def _one_id(self) -> ValidatorRef:
        if (self.index is None) == (self.pubkey is None):
            raise ValueError("a validator is either an index or a pubkey")
        return self

    @property
    def key(self) -> str:
        return str(self.index) if self.index is not None else str(self.pubkey)


def parse_validator_ref(raw: Any) -> ValidatorRef:
    """``12``, ``"12"``, ``"0x…"`` (48-byte pubkey), ``"12,label"`` or ``{id=…, label=…}``."""
    label: str | None = None
    if isinstance(raw, ValidatorRef):
        return raw
    if isinstance(raw, Mapping):
        unknown = set(raw) - {"id", "label"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)} (expected id and label)")
        if "id" not in raw:
            raise ValueError("a validator table needs an id")
        label = raw.get("label")
        raw = raw["id"]
    elif isinstance(raw, str) and "," in raw:
        raw, label = (part.strip() for part in raw.split(",", 1))
    if label is not None and (not isinstance(label, str) or not _LABEL.match(label)):
        raise ValueError(f"label {label!r} must be 1-64 characters of A-Z a-z 0-9 _ . : -")
    if isinstance(raw, bool):
        raise ValueError(f"{raw!r} is not a validator index or pubkey")
    if isinstance(raw, int):
        return ValidatorRef(index=_index(raw), label=label)
    if isinstance(raw, str):
        text = raw.strip()
        if text.isascii() and text.isdigit():
            if len(text.lstrip("0")) > len(str(VALIDATOR_REGISTRY_LIMIT)):  # before int(): no
                raise ValueError(f"validator index of {len(text)} digits is out of range")
            return ValidatorRef(index=_index(int(text)), label=label)
        if _PUBKEY.match(text.lower()):
            return ValidatorRef(pubkey=text.lower(), label=label)
    raise ValueError(f"{raw!r} is not a validator index or a 0x-prefixed 48-byte pubkey")


def _index(value: int) -> int:
    if not 0 <= value < VALIDATOR_REGISTRY_LIMIT:
        shown = value if value.bit_length() <= 128 else f"a {value.bit_length()}-bit number"
        raise ValueError(
            f"validator index {shown} is out of range (0..2^40-1, the spec's registry limit)"
        )
    return value


def load_validators_file(path: Path) -> list[ValidatorRef]:
    """One index or pubkey per line, optional ``,label``; ``#`` starts a comment."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"pool.validators_file: cannot read {path}: {exc.strerror}") from exc
    refs: list[ValidatorRef] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        try:
            refs.append(parse_validator_ref(entry))
        except ValueError as exc:
            raise ConfigError(f"pool.validators_file: {path}:{lineno}: {exc}") from exc
    return refs


ValidatorEntry = Annotated[ValidatorRef, BeforeValidator(parse_validator_ref)]
