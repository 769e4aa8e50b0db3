"""The sections of the configuration: ``[beacon]``, ``[pool]``, ``[execution]``, ``[ledger]``,
``[http]``, ``[mqtt]``, ``[metrics]``, ``[log]`` and ``[monitor]``.

Each turns into the plain values the parts it configures take (``PoolSettings.policy()``,
``MonitorSettings.thresholds()``): no part below the composition root reads a section.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator

from stakepool.chain.redact import redact_text
from stakepool.config.base import (
    _POOL_ID,
    _ROOT,
    _TOPIC_PREFIX,
    ConfigError,
    _check_url,
    _optional_url,
    _Section,
)
from stakepool.config.refs import (
    ValidatorEntry,
    ValidatorRef,
    load_validators_file,
    parse_validator_ref,
)
from stakepool.ledger.delegations_gate import DelegationsGuard
from stakepool.ledger.policy import LedgerPolicy
from stakepool.monitor.thresholds import MonitorThresholds
from stakepool.store.engine import is_postgresql_url


class BeaconSettings(_Section):
    urls: list[str] = Field(default_factory=lambda: ["http://127.0.0.1:5052"], min_length=1)
    """Beacon nodes in order of preference; a failed node is skipped and retried later."""
    timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    """Per request (headers, duties, small reads)."""
    bulk_timeout_seconds: float = Field(default=120.0, gt=0, le=3600)
    """Per request that reads many validators' state (balances, rewards)."""
    connect_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    retries: int = Field(default=3, ge=0, le=10)
    """Retries of one request on one node (5xx, 429, timeouts) before failing over."""
    request_deadline_slots: float = Field(default=0.5, gt=0, le=32)
    """Budget of an ordinary request on one node, retries included, in slots (at least
    ``min_request_deadline_seconds``, at most ``timeout_seconds``): then the next node is asked.
    The heavy reads (balances, validators, rewards, committees) keep ``bulk_timeout_seconds``."""
    min_request_deadline_seconds: float = Field(default=1.0, gt=0, le=60)
    probe_interval_slots: float = Field(default=1.0, gt=0, le=32)
    """Each node is asked ``/eth/v1/node/syncing`` this often (with the request deadline); one
    that does not answer is marked down and its pending requests fail over at once."""
    batch_size: int = Field(default=10_000, ge=1, le=100_000)
    """Validator ids per POST; GET fallbacks use at most 64 per request."""
    genesis_root: str | None = None
    """Optional: refuse nodes whose ``genesis_validators_root`` differs."""
    use_event_stream: bool = True
    """Follow the head with SSE (polling is the fallback either way)."""
    auth: SecretStr | None = None
    """Credentials sent to every beacon node: ``user:password`` (HTTP Basic) or a whole
    ``Authorization`` value (``Bearer <token>``); best from the ``beacon_auth`` credential. A
    ``user:password@`` in one URL also works, for that node only; either way it is never printed."""
    cross_check: bool = False
    """Read each settled epoch's pool balances from the second node too, as a witness."""
    archive_urls: list[str] = Field(default_factory=list)
    """Optional archive nodes, asked only for a rewards window whose states no node of ``urls``
    serves any more (before the ledger settles the span as one merged window)."""

    @model_validator(mode="after")
    def _witness(self) -> BeaconSettings:
        if self.cross_check and len(self.urls) < 2:
            raise ValueError("cross_check needs a second beacon node in urls (the witness)")
        return self

    @field_validator("urls", "archive_urls")
    @classmethod
    def _urls(cls, urls: list[str]) -> list[str]:
        out: list[str] = []
        for url in urls:
            _check_url(url, ("http", "https"))
            if urlsplit(url).query or urlsplit(url).fragment:
                raise ValueError(f"{url!r} must not carry a query or fragment")
            clean = url.rstrip("/")
            if clean in out:
                raise ValueError(f"{url!r} is listed twice")
            out.append(clean)
        return out

    @field_validator("genesis_root")
    @classmethod
    def _root(cls, root: str | None) -> str | None:
        if root is None or root == "":
            return None
        if not _ROOT.match(root.lower()):
            raise ValueError(f"{root!r} is not a 0x-prefixed 32-byte hex root")
        return root.lower()


class PoolSettings(_Section):
    id: str = "pool"
    """Names MQTT topics and the metrics' ``pool`` label."""
    validators: list[ValidatorEntry] = Field(default_factory=list)
    validators_file: Path | None = None
    delegations_file: Path | None = None
    delegations_stable_seconds: float = Field(default=5.0, ge=0, le=3600)
    """A changed delegations file applies only once it has not changed for this long."""
    delegations_max_weight_removed_share: float = Field(default=0.25, ge=0, le=1)
    """A file change that removes more than this share of the pool's weight (or leaves no
    delegations) is held until confirmed (``POST /api/v1/delegations/confirm``)."""
    delegations_allow_large_changes: bool = False
    """Apply large removals from the file without a confirmation."""
    operator: str = "operator"
    """The operator's account id in the ledger."""
    fee_bps: int = Field(default=0, ge=0, le=10_000)
    fee_mode: Literal["high_water_mark", "per_epoch_positive", "period_net"] = "high_water_mark"
    loss_policy: Literal["socialized", "operator_first"] = "socialized"
    operator_bond_gwei: int = Field(default=0, ge=0, le=2**63 - 1)
    """``operator_first``: the operator bond that absorbs pool losses before delegators do."""
    fee_period_epochs: int = Field(default=225, ge=1, le=1_000_000)
    """``period_net``: the fee period in epochs (225 = one mainnet day), aligned on epoch 0."""

    @field_validator("id")
    @classmethod
    def _pool_id(cls, value: str) -> str:
        if not _POOL_ID.match(value):
            raise ValueError(
                f"{value!r} must be 1-63 characters of a-z 0-9 _ - (it is an MQTT topic level)"
            )
        return value

    @field_validator("operator")
    @classmethod
    def _operator(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    def policy(self) -> LedgerPolicy:
        """The ledger's accounting policy as configured here."""
        return LedgerPolicy(
            fee_bps=self.fee_bps,
            fee_mode=self.fee_mode,
            loss_policy=self.loss_policy,
            operator_bond_gwei=self.operator_bond_gwei,
            fee_period_epochs=self.fee_period_epochs,
        )

    def delegations_guard(self) -> DelegationsGuard:
        return DelegationsGuard(
            stable_seconds=self.delegations_stable_seconds,
            max_weight_removed_share=self.delegations_max_weight_removed_share,
            allow_large_changes=self.delegations_allow_large_changes,
        )

    def all_validators(self) -> list[ValidatorRef]:
        """Inline validators plus the validators file, duplicates rejected."""
        refs = list(self.validators)
        if self.validators_file is not None:
            refs.extend(load_validators_file(self.validators_file))
        seen: set[str] = set()
        for ref in refs:
            if ref.key in seen:
                raise ConfigError(f"pool.validators: validator {ref.key} is listed twice")
            seen.add(ref.key)
        return refs


class ExecutionSettings(_Section):
    url: str | None = None
    """Optional execution-layer JSON-RPC for EL rewards; without it they are reported unknown."""
    auth: SecretStr | None = None
    """Like ``[beacon] auth``, for the execution node (the ``execution_auth`` credential)."""
    timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    fee_recipients: list[str] = Field(default_factory=list)
    """The pool's fee-recipient addresses: a builder's payment to one of them is the EL reward
    of an MEV-boost block; empty: the builder's last transfer is taken as the payment."""

    @field_validator("url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        return _optional_url(url, ("http", "https"))

    @field_validator("fee_recipients")
    @classmethod
    def _fee_recipients(cls, addresses: list[str]) -> list[str]:
        out = []
        for a in addresses:
            if not re.fullmatch(r"0x[0-9a-fA-F]{40}", a):
                raise ValueError(f"expected 0x + 40 hex characters, got {a!r}")
            out.append(a.lower())
        return out


class LedgerSettings(_Section):
    database: str | None = None
    """SQLite path, or a ``postgresql://user@host:port/dbname`` URL (several hosts, one ledger);
    default: ``ledger.sqlite`` in the state directory."""
    password: SecretStr | None = None
    """The PostgreSQL password: best the ``ledger_password`` credential; none → libpq finds it
    (a ``?service=`` in the URL with its ``pg_service.conf``, or ``~/.pgpass``/``PGPASSFILE``)."""
    instance: str | None = Field(default=None, min_length=1, max_length=100)
    """This instance's name among several on one PostgreSQL ledger (the writer gauge's label, the
    name a standby's refusal gives); default: host name and process id."""
    writer_lease_seconds: float = Field(default=6.0, ge=1.0, le=600.0)
    """PostgreSQL, several instances: a writer silent this long (dead, paused, cut off) loses the
    writer's lock, and a standby takes over within a quarter of it more (default: within 7.5 s,
    under one mainnet slot; keep it under two slots)."""
    read_urls: list[str] = Field(default_factory=list, max_length=16)
    """PostgreSQL only: streaming replicas of ``database`` that serve the HTTP API's and the web
    pages' reads (in turn; the primary when none answers). Same password as ``database``."""
    statement_period_epochs: int = Field(default=225, ge=1, le=1_000_000)
    """Delegator statements and their commitments cover periods of this many epochs, aligned on
    epoch 0 (225 = one mainnet day)."""
    validator_detail_epochs: int = Field(default=3150, ge=1, le=100_000_000)
    """Per-validator detail kept per epoch behind the newest settled epoch (3150: two weeks of
    mainnet epochs); older final epochs are rolled up exactly into one row per validator and
    statement period, then their detail is deleted (the pool's and delegators' ledger never is)."""
    validator_daily_days: int | None = Field(default=None, ge=1, le=1_000_000)
    """Days of those per-validator roll-ups kept beyond the detail; default: keep them all."""

    @field_validator("database")
    @classmethod
    def _database(cls, value: str | None) -> str | None:
        # A URL of another scheme must be refused here, not mistaken for a file name at start-up.
        if value is not None and "://" in value and not is_postgresql_url(value):
            scheme = value.split("://", 1)[0]
            raise ValueError(
                f"a {scheme}:// URL is not a ledger database: give a SQLite file path or a"
                " postgresql:// URL"
            )
        if value is not None and is_postgresql_url(value):
            _names_a_database(value)
        return value

    @field_validator("read_urls")
    @classmethod
    def _read_urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not is_postgresql_url(url):
                raise ValueError(
                    f"{redact_text(url)!r} is not a postgresql:// URL: read_urls name streaming"
                    " replicas of a PostgreSQL ledger"
                )
            _names_a_database(url)
        return urls

    @model_validator(mode="after")
    def _replicas_need_postgresql(self) -> LedgerSettings:
        if self.read_urls and not self.is_postgresql:
            raise ValueError(
                'read_urls needs a PostgreSQL ledger (database = "postgresql://…"): they name'
                " its streaming replicas, and a SQLite ledger has none; remove read_urls"
            )
        return self

    @property
    def is_postgresql(self) -> bool:
        return self.database is not None and is_postgresql_url(self.database)

    def database_password(self) -> str | None:
        """The ``password``/``ledger_password`` credential's value (``None``: libpq's own)."""
        return None if self.password is None else self.password.get_secret_value()

    def resolved_database(self) -> str:
        if self.database:
            return self.database
        state_dir = os.environ.get("STATE_DIRECTORY", "").split(":")[0] or "."
        return str(Path(state_dir) / "ledger.sqlite")


def _names_a_database(url: str) -> None:
    parts = urlsplit(url)
    if not parts.path.strip("/") and "service=" not in parts.query:
        raise ValueError(
            "the postgresql:// URL names no database: postgresql://user@host:5432/dbname"
            " (or ?service=NAME from pg_service.conf)"
        )


class HttpSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535)
    token: SecretStr | None = None
    """Bearer token for write endpoints; none configured, or a blank one (an empty credential
    file) → write endpoints are off (403), never open to an empty ``Bearer``."""

    @field_validator("token")
    @classmethod
    def _token(cls, token: SecretStr | None) -> SecretStr | None:
        if token is None or not token.get_secret_value().strip():
            return None
        return token


class MqttSettings(_Section):
    url: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    topic_prefix: str = "stakepool"

    @field_validator("url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        return _optional_url(url, ("mqtt", "mqtts"))

    # --- TLS (mqtts://), identity, keepalive and the outbox bound (publish/mqtt) ---
    ca_file: Path | None = None
    """CA bundle to verify the broker with (``mqtts://``); none → the system's trust store."""
    cert_file: Path | None = None
    """Client certificate for mutual TLS (with ``key_file``)."""
    key_file: Path | None = None
    tls_insecure: bool = False
    """Skip the broker hostname check (the certificate chain is still verified)."""
    client_id: str | None = None
    """MQTT client id; default ``stakepool-<pool id>``. One per instance (a duplicate kicks the other off)."""
    keepalive_seconds: int = Field(default=30, ge=5, le=3600)
    outbox_max_rows: int = Field(default=100_000, ge=1, le=100_000_000)
    """Events kept for the broker at most; past it the oldest are dropped and counted."""
    stop_grace_seconds: float = Field(default=5.0, ge=0, le=300)
    """On a clean stop, how long the outbox may still drain to a connected broker before the
    ``offline`` status; keep it well below systemd's ``TimeoutStopSec`` and the chart's
    ``terminationGracePeriodSeconds`` (both 30 s). What is left stays for the next start."""

    @field_validator("topic_prefix")
    @classmethod
    def _topic_prefix(cls, prefix: str) -> str:
        if not _TOPIC_PREFIX.match(prefix):
            raise ValueError(
                f"{prefix!r} is not a topic prefix: lowercase levels of a-z 0-9 _ - separated by"
                " '/', no leading or trailing '/'"
            )
        return prefix

    @model_validator(mode="after")
    def _tls_pair(self) -> MqttSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (mutual TLS needs both)")
        return self


class MetricsSettings(_Section):
    per_validator_limit: int = Field(default=64, ge=0, le=100_000)
    """Per-validator series only while the pool has at most this many validators."""


class LogSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"
    """``auto``: a pretty console on a TTY, JSON lines otherwise (journald, containers)."""


# --- the duty monitor ---------------------------------------------------------------------------


def _key_without_label(raw: Any) -> ValidatorRef:
    ref = parse_validator_ref(raw)
    if ref.label is not None:
        raise ValueError(f"{raw!r}: a key marked not started takes no label")
    return ref


class MonitorSettings(_Section):
    """Alert thresholds (``monitor.thresholds.MonitorThresholds``) and the doppelganger check."""

    missed_attestations_before_alert: int = Field(default=2, ge=1, le=1000)
    """Consecutive missed attestations before an ``attestation_streak`` event."""
    finality_delay_epochs: int = Field(default=3, ge=1, le=10_000)
    """``current − finalized`` epochs above this raise ``finality_delayed``."""
    sync_participation_low: float = Field(default=0.8, ge=0.0, le=1.0)
    """A sync-committee member signing less than this share of its seats in an epoch is low."""
    not_started: list[Annotated[ValidatorRef, BeforeValidator(_key_without_label)]] = Field(
        default_factory=list
    )
    """Pool keys our validator client does not run yet: any sign of life is a doppelganger."""
    vc_doppelganger_wait: bool = False
    """The local validator client is in its doppelganger wait: every pool key must be silent
    in the epochs around start-up (``monitor.doppelganger_wiring.WAIT_EPOCHS``)."""
    catch_up_epochs: int = Field(default=16, ge=0, le=1024)
    """After a restart, closed epochs missed while down are monitored if at most this many;
    a longer gap is skipped (logged) and monitoring resumes at the head."""

    def thresholds(self) -> MonitorThresholds:
        return MonitorThresholds(
            missed_attestation_streak=self.missed_attestations_before_alert,
            finality_delay_epochs=self.finality_delay_epochs,
            sync_participation_low=self.sync_participation_low,
        )
