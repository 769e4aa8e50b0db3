"""The one redaction: no URL's credentials, token or password survives it, and nothing else changes."""

from __future__ import annotations

import base64
import json
import string
from typing import NamedTuple

from hypothesis import given
from hypothesis import strategies as st

from stakepool.chain.redact import (
    REDACTED,
    Redactor,
    authorization,
    redact_text,
    redact_url,
    secrets_in_url,
    split_userinfo,
)


def test_userinfo_is_masked_in_any_url_in_any_text() -> None:
    assert redact_url("http://user:s3cret@node:5052/x") == "http://***@node:5052/x"
    assert redact_url("mqtt://u:pw@127.0.0.1:1883") == "mqtt://***@127.0.0.1:1883"
    text = "failed: GET https://tok@a.example/eth and http://u:p@ss@b:1/ (retrying)"
    assert (
        redact_text(text) == "failed: GET https://***@a.example/eth and http://***@b:1/ (retrying)"
    )


def test_urls_without_secrets_and_plain_text_are_unchanged() -> None:
    for text in (
        "http://127.0.0.1:5052",
        "https://[::1]:5052/base",
        "mail alice@example.org about epoch 7",
        "pool_balance_gwei=32000000000",
    ):
        assert redact_text(text) == text


def test_query_tokens_and_authorization_values_are_masked() -> None:
    assert redact_text("http://n/?apikey=abc123&x=1") == "http://n/?apikey=***&x=1"
    assert redact_text("GET /v3?token=zz9&access_token=yy") == "GET /v3?token=***&access_token=***"
    assert redact_text("Authorization: Bearer abcdefgh.ij") == "Authorization: Bearer ***"


def test_split_userinfo_gives_the_bare_url_and_the_decoded_credentials() -> None:
    assert split_userinfo("http://user:p%40ss@node:5052/b") == ("http://node:5052/b", "user:p@ss")
    assert split_userinfo("https://tok@[::1]:1") == ("https://[::1]:1", "tok")
    assert split_userinfo("http://node:5052") == ("http://node:5052", None)


def test_authorization_header() -> None:
    assert authorization("user:pw") == "Basic " + base64.b64encode(b"user:pw").decode()
    assert authorization("Bearer abc.def") == "Bearer abc.def"


def test_known_secrets_are_masked_wherever_they_appear() -> None:
    secrets = secrets_in_url('http://user:s3cr"et!@node') + ["httpTok777"]
    r = Redactor(secrets)
    assert r.text('exception: bad password s3cr"et! for httpTok777') == (
        f"exception: bad password {REDACTED} for {REDACTED}"
    )
    # As a JSON line carries it, quotes escaped.
    line = json.dumps({"error": 'password s3cr"et!'})
    assert "s3cr" not in r.text(line)
    # The Basic header value a transport would send is known too.
    assert r.text(authorization('user:s3cr"et!')) == f"Basic {REDACTED}"


def test_values_under_sensitive_keys_are_masked_whole() -> None:
    r = Redactor()
    value = {
        "password": "pw",
        "mqtt": {"token": "x1", "url": "mqtt://a:b@h"},
        "port": 5,
        "auth": None,
    }
    assert r.value(value) == {
        "password": REDACTED,
        "mqtt": {"token": REDACTED, "url": "mqtt://***@h"},
        "port": 5,
        "auth": None,
    }


@given(
    user=st.text(string.ascii_letters + string.digits, min_size=1, max_size=12),
    password=st.text(
        string.ascii_letters + string.digits + "!$&()*+,;=-._~", min_size=4, max_size=20
    ),
    host=st.sampled_from(["node", "127.0.0.1", "[::1]", "beacon.example.org"]),
    prefix=st.text(string.ascii_lowercase + " :/", max_size=20),
)
def test_no_url_password_survives(user: str, password: str, host: str, prefix: str) -> None:
    url = f"http://{user}:{password}@{host}:5052/eth"
    redacted = Redactor(secrets_in_url(url)).text(prefix + " " + url)
    assert password not in redacted.removeprefix(prefix)
    shown = f" http://***@{host}:5052/eth"
    if password not in shown:  # else the known secret is masked there too (the safe side)
        assert redacted.endswith(shown)


def test_a_password_that_is_also_a_host_name_hides_the_host_too() -> None:
    """Known secrets are masked wherever they appear, even inside other words: a line says less
    than it could, never the password."""
    url = "http://alice:node@node:5052/eth"
    assert Redactor(secrets_in_url(url)).text("down: " + url) == "down: http://***@***:5052/eth"


def test_structures_it_cannot_rebuild_are_left_whole() -> None:
    """A named tuple in a log call must not break the line (the rendered pass still masks it)."""
    pair = Pair("http://u:pw@h", 1)
    assert Redactor().value({"pair": pair})["pair"] is pair
    assert Redactor().value(("http://u:pw@h",)) == ("http://***@h",)


class Pair(NamedTuple):
    url: str
    port: int
