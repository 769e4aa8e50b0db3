"""How to reach the broker: URL, credentials and TLS turned into client options, and what a
refused connection means in words an operator can act on. Pure apart from reading the TLS files.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from stakepool.chain.redact import redact_text, redact_url
from stakepool.config import MqttSettings

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


class BrokerConfigError(Exception):
    """The [mqtt] settings cannot make a connection (unreadable TLS file, …); ``str`` is one line."""


@dataclass(frozen=True, slots=True)
class BrokerOptions:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None
    client_id: str
    keepalive: int

    @property
    def address(self) -> str:
        """For logs: never the credentials."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def broker_options(
    settings: MqttSettings, pool_id: str, *, instance: str | None = None
) -> BrokerOptions:
    """``instance``: one of several instances of the pool (a PostgreSQL ledger), whose default
    client id must differ from its siblings' (the broker kicks off a second client of one id)."""
    if settings.url is None:
        raise BrokerConfigError("[mqtt] url is not set")
    parts = urlsplit(settings.url)
    host = parts.hostname
    if host is None:
        raise BrokerConfigError(f"[mqtt] url {redact_url(settings.url)!r} has no host")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError as exc:  # a port that is not a number or out of range
        raise BrokerConfigError(f"[mqtt] url: {redact_text(str(exc))}") from None
    # Credentials in the URL are accepted but the settings win: the password should come from
    # the `mqtt_password` credential, never a URL that ends up in a unit file or argv.
    username = settings.username or (unquote(parts.username) if parts.username else None)
    password = (
        settings.password.get_secret_value()
        if settings.password is not None
        else (unquote(parts.password) if parts.password is not None else None)
    )
    return BrokerOptions(
        host=host,
        port=port,
        tls=parts.scheme == "mqtts",
        username=username,
        password=password,
        client_id=settings.client_id
        or (f"stakepool-{pool_id}-{instance}" if instance else f"stakepool-{pool_id}"),
        keepalive=settings.keepalive_seconds,
    )


def tls_context(settings: MqttSettings) -> ssl.SSLContext:
    """Certificate chain always verified; ``tls_insecure`` only skips the hostname check."""
    # ssl's own errors do not say which file; ours do.
    ca = settings.ca_file
    try:
        context = ssl.create_default_context(cafile=str(ca) if ca else None)
    except (OSError, ssl.SSLError) as exc:
        raise BrokerConfigError(f"[mqtt] TLS files: ca_file {ca}: {_why(exc)}") from None
    if settings.cert_file is not None and settings.key_file is not None:
        try:
            context.load_cert_chain(str(settings.cert_file), str(settings.key_file))
        except (OSError, ssl.SSLError) as exc:
            raise BrokerConfigError(
                f"[mqtt] TLS files: cert_file {settings.cert_file} / key_file"
                f" {settings.key_file}: {_why(exc)}"
            ) from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.tls_insecure:
        context.check_hostname = False
    return context


def _why(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


# CONNACK return codes of MQTT 3.1.1 (§3.2.2.3) and the MQTT 5 reason codes brokers send for the
# same refusals; paho reports both as a ReasonCode whose value is one of these.
_AUTH_CODES = {4, 5, 0x86, 0x87, 0x8C}


def is_auth_refusal(code: int | None) -> bool:
    return code in _AUTH_CODES


def refusal_hint(code: int | None) -> str:
    if is_auth_refusal(code):
        return "check [mqtt] username and the mqtt_password credential, and the broker's ACL"
    if code in (2, 0x85):
        return "the broker refuses the client id; set [mqtt] client_id"
    return "see the broker's log"
