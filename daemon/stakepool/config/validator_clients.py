"""``[[validator_client]]``: validator clients whose Keymanager API lists the pool's keys.

Each entry names one client (its ``name`` is the ``vc`` label of its metrics), the URL of its
Keymanager API and where its bearer token is: ``token_file`` (the client's own token file, read at
every poll, so a token the client rewrites on restart is picked up) or ``token_credential`` (the
name of a systemd credential in ``$CREDENTIALS_DIRECTORY``: ``LoadCredential=vc1_token:...``).
The token never goes in the TOML file itself.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from stakepool.config.base import _check_url, _Section

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$")


class ValidatorClientSettings(_Section):
    name: str
    """The ``vc`` label of this client's metrics and the source named in the ledger's journal."""
    url: str
    """The Keymanager API's base URL (e.g. ``http://127.0.0.1:5062``)."""
    token_file: Path | None = None
    token_credential: str | None = None
    timeout_seconds: float = Field(default=5.0, gt=0, le=120)

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError(f"{name!r}: letters, digits and _.:- only, at most 63 characters")
        return name

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        _check_url(url, ("http", "https"))
        if urlsplit(url).query or urlsplit(url).fragment:
            raise ValueError(f"{url!r} must not carry a query or fragment")
        return url.rstrip("/")

    @model_validator(mode="after")
    def _one_token(self) -> ValidatorClientSettings:
        if (self.token_file is None) == (self.token_credential is None):
            raise ValueError(f"{self.name}: give exactly one of token_file and token_credential")
        if self.token_credential is not None and not _NAME.match(self.token_credential):
            raise ValueError(f"{self.name}: token_credential must be a credential's name")
        return self

    def read_token(self) -> str:
        """The bearer token now; ``OSError`` when it cannot be read (the poll then fails)."""
        if self.token_file is not None:
            path = self.token_file
        else:
            directory = os.environ.get("CREDENTIALS_DIRECTORY")
            if not directory:
                raise FileNotFoundError(
                    f"credential {self.token_credential!r}: $CREDENTIALS_DIRECTORY is not set"
                )
            path = Path(directory) / str(self.token_credential)
        token = path.read_text(encoding="utf-8").strip()
        if not token:
            raise OSError(f"{path}: the token file is empty")
        return token


def unique_names(
    clients: tuple[ValidatorClientSettings, ...],
) -> tuple[ValidatorClientSettings, ...]:
    seen: set[str] = set()
    for client in clients:
        if client.name in seen:
            raise ValueError(f"validator client {client.name!r} is listed twice")
        seen.add(client.name)
    return clients
