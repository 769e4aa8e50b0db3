"""Secrets never printed: the one redaction every face uses (log lines, ``check-config``, metric
labels, error messages, MQTT payloads).

Two kinds of protection, because neither is enough alone:

* **patterns**: userinfo in any URL (``http://user:pw@host`` → ``http://***@host``), credential
  query parameters (``?token=…``), ``Authorization``-style values (``Bearer …``) and values under
  a sensitive key (``password``, ``token``, ``auth``…); these need no knowledge of the secrets;
* **known secrets**: the exact values the configuration holds (``Redactor(secrets)``), replaced
  wherever they appear, however they got there (an exception's text, a library's message) — even
  inside another word: a password that is also a host name hides the host too (a line that says
  less than it could, never one that says the password).

Pure: no I/O; the composition root hands each face a ``Redactor`` built from the settings.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

REDACTED = "***"

# Greedy up to the last '@' of the authority, as urlsplit reads it (a raw '@' in a password).
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/\s?#\"'<>]*)@")
_SENSITIVE = r"(?:access_?token|api_?key|apikey|token|password|passwd|secret|auth|key)"
_QUERY_SECRET = re.compile(rf"(?P<lead>[?&;]{_SENSITIVE}=)[^&;#\s\"']*", re.IGNORECASE)
_AUTH_VALUE = re.compile(r"\b(?P<scheme>Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{4,}")
_SENSITIVE_KEY = re.compile(
    r"(^|_)(password|passwd|secret|token|auth|authorization|api_?key|credentials?)$",
    re.IGNORECASE,
)
MIN_SECRET_LENGTH = 4
"""Known secrets shorter than this are left to the patterns: replacing every "pw" in a log line
would garble it without protecting anything a pattern misses."""


def redact_url(url: str) -> str:
    """``url`` without its userinfo and credential query parameters (else unchanged)."""
    return redact_text(url)


def redact_text(text: str) -> str:
    """Every URL's userinfo, credential query parameter and ``Bearer``/``Basic`` value masked."""
    if "@" in text:
        text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{REDACTED}@", text)
    if "=" in text:
        text = _QUERY_SECRET.sub(lambda m: f"{m['lead']}{REDACTED}", text)
    return _AUTH_VALUE.sub(lambda m: f"{m['scheme']} {REDACTED}", text)


def is_sensitive_key(key: str) -> bool:
    """A mapping key whose value is a secret by its name (``password``, ``mqtt_token``…)."""
    return bool(_SENSITIVE_KEY.search(key))


def split_userinfo(url: str) -> tuple[str, str | None]:
    """``(url without userinfo, "user:password" or None)``; percent-escapes decoded."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    user = unquote(parts.username or "")
    password = unquote(parts.password) if parts.password is not None else None
    return clean, user if password is None else f"{user}:{password}"


def authorization(auth: str) -> str:
    """The ``Authorization`` header for a configured ``auth``: ``user:password`` → HTTP Basic;
    a value that already names its scheme (``Bearer <token>``, ``Basic <b64>``) as it is."""
    scheme, sep, _ = auth.partition(" ")
    if sep and scheme.isalpha() and ":" not in scheme:
        return auth
    return "Basic " + base64.b64encode(auth.encode("utf-8")).decode("ascii")


def secrets_of(auth: str | None) -> list[str]:
    """The values to mask for a credential: itself, and for ``user:password`` the password, its
    URL-escaped form and the Basic encoding a header would carry."""
    if not auth:
        return []
    found = [auth, authorization(auth).partition(" ")[2]]
    _user, sep, password = auth.partition(":")
    if sep and password:
        found += [password, quote(password, safe="")]
    return found


def secrets_in_url(url: str | None) -> list[str]:
    if not url:
        return []
    return secrets_of(split_userinfo(url)[1])


class Redactor:
    """Patterns plus the known secret values; ``text`` for strings, ``value`` for structures."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        known = {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
        # As a JSON log line or MQTT payload would carry them (quotes, backslashes escaped).
        known |= {json.dumps(s)[1:-1] for s in known}
        # Longest first: a secret that contains another is masked whole.
        self._known = sorted(known, key=len, reverse=True)

    @property
    def knows(self) -> int:
        return len(self._known)

    def text(self, text: str) -> str:
        for secret in self._known:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return redact_text(text)

    def value(self, value: Any, key: str | None = None) -> Any:
        """A copy of ``value`` (str, mapping, list/tuple, other scalars) with secrets masked;
        the value of a sensitive key is masked whole."""
        scalar = isinstance(value, str | bytes | int) and not isinstance(value, bool)
        if scalar and value not in ("", b"") and key is not None and is_sensitive_key(key):
            # pydantic's "**********" for a SecretStr already says "set, hidden": kept as it is.
            return value if isinstance(value, str) and set(value) == {"*"} else REDACTED
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: self.value(v, str(k)) for k, v in value.items()}
        if type(value) in (list, tuple):  # a NamedTuple or other subclass: left to ``rendered``
            return type(value)(self.value(v) for v in value)
        return value

    def rendered(self, _logger: object, _method: str, line: Any) -> Any:
        """A structlog processor placed after the renderer: the last line of defence sees the
        line exactly as it will be written, whatever ``repr`` put in it."""
        return self.text(line) if isinstance(line, str) else line

    def fields(self, _logger: object, _method: str, event: Any) -> Any:
        """A structlog processor before the renderer: masks values under sensitive keys."""
        return self.value(event)
