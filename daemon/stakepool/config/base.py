"""What every configuration module shares: the error, URL checks, the frozen section base."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

_PUBKEY = re.compile(r"^0x[0-9a-f]{96}$")
_ROOT = re.compile(r"^0x[0-9a-f]{64}$")
_POOL_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_LABEL = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_TOPIC_PREFIX = re.compile(r"^[a-z0-9_-]+(/[a-z0-9_-]+)*$")


class ConfigError(Exception):
    """Configuration that cannot be used: ``problems`` holds one line per bad field, each naming
    it; ``str()`` is those lines (one line when one field is wrong)."""

    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems: tuple[str, ...] = problems


def _check_url(url: str, schemes: tuple[str, ...]) -> None:
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.hostname:
        shown = " or ".join(f"{scheme}://" for scheme in schemes)
        raise ValueError(f"{url!r} is not a {shown} URL with a host")


def _optional_url(url: str | None, schemes: tuple[str, ...]) -> str | None:
    if not url:
        return None
    _check_url(url, schemes)
    return url


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
