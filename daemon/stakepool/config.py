"""Configuration: one typed object from a TOML file, the environment and systemd credentials.

Precedence, highest first: environment (``STAKEPOOL_<SECTION>__<KEY>``, lists as JSON), credential
files in ``$CREDENTIALS_DIRECTORY`` (named ``<section>_<key>``, e.g. ``http_token``; systemd
``LoadCredential=``), the TOML file given with ``--config``, then defaults. Any invalid value stops
start-up with a one-line error that names the field (``ConfigError``).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from stakepool.monitor.thresholds import MonitorThresholds

_PUBKEY = re.compile(r"^0x[0-9a-f]{96}$")
_ROOT = re.compile(r"^0x[0-9a-f]{64}$")
_POOL_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_LABEL = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_TOPIC_PREFIX = re.compile(r"^[a-z0-9_-]+(/[a-z0-9_-]+)*$")


class ConfigError(Exception):
    """Configuration that cannot be used; ``str()`` is one line naming the field."""


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


# --- validators of the pool ---------------------------------------------------------------------


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
        if raw < 0:
            raise ValueError(f"validator index {raw} is negative")
        return ValidatorRef(index=raw, label=label)
    if isinstance(raw, str):
        text = raw.strip()
        if text.isdigit():
            return ValidatorRef(index=int(text), label=label)
        if _PUBKEY.match(text.lower()):
            return ValidatorRef(pubkey=text.lower(), label=label)
    raise ValueError(f"{raw!r} is not a validator index or a 0x-prefixed 48-byte pubkey")


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


# --- sections ------------------------------------------------------------------------------------


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
    batch_size: int = Field(default=10_000, ge=1, le=100_000)
    """Validator ids per POST; GET fallbacks use at most 64 per request."""
    genesis_root: str | None = None
    """Optional: refuse nodes whose ``genesis_validators_root`` differs."""
    use_event_stream: bool = True
    """Follow the head with SSE (polling is the fallback either way)."""

    @field_validator("urls")
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
    """SQLite path; default: ``ledger.sqlite`` in the state directory."""

    @field_validator("database")
    @classmethod
    def _database(cls, value: str | None) -> str | None:
        # The store sits behind an interface so a PostgreSQL backend can follow; until it exists a
        # URL must be refused here, not mistaken for a file name at start-up.
        if value is not None and "://" in value:
            raise ValueError(
                "only a SQLite file path is supported (the PostgreSQL backend is not built yet)"
            )
        return value

    def resolved_database(self) -> str:
        if self.database:
            return self.database
        state_dir = os.environ.get("STATE_DIRECTORY", "").split(":")[0] or "."
        return str(Path(state_dir) / "ledger.sqlite")


class HttpSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535)
    token: SecretStr | None = None
    """Bearer token for write endpoints; none configured → write endpoints are off."""


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


# --- the settings object -------------------------------------------------------------------------


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STAKEPOOL_",
        env_nested_delimiter="__",
        case_sensitive=False,
        extra="forbid",
        frozen=True,
    )

    beacon: BeaconSettings = Field(default_factory=BeaconSettings)
    pool: PoolSettings = Field(default_factory=PoolSettings)
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings)
    ledger: LedgerSettings = Field(default_factory=LedgerSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    monitor: MonitorSettings = Field(default_factory=MonitorSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # init_settings carries the TOML file (see load_settings), so it ranks below the rest.
        return (env_settings, CredentialsSource(settings_cls), init_settings)


class CredentialsSource(PydanticBaseSettingsSource):
    """Secrets from ``$CREDENTIALS_DIRECTORY/<section>_<key>`` (systemd ``LoadCredential=``).

    Only fields typed ``SecretStr`` are looked up, so a credential can never set an ordinary
    option by accident.
    """

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # every value comes from __call__

    def __call__(self) -> dict[str, Any]:
        directory = os.environ.get("CREDENTIALS_DIRECTORY")
        if not directory:
            return {}
        found: dict[str, Any] = {}
        for section, info in Settings.model_fields.items():
            model = info.annotation
            if not isinstance(model, type) or not issubclass(model, BaseModel):
                continue
            for key, sub in model.model_fields.items():
                if not _is_secret(sub.annotation):
                    continue
                path = Path(directory) / f"{section}_{key}"
                if path.is_file():
                    value = path.read_text(encoding="utf-8").rstrip("\r\n")
                    found.setdefault(section, {})[key] = value
        return found


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in get_args(annotation)


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    msg = first["msg"].removeprefix("Value error, ")
    given = first.get("input")
    shown = "" if isinstance(given, (dict, list)) or given is None else f" (got {given!r})"
    more = error.error_count() - 1
    tail = f" (and {more} more error{'s' if more > 1 else ''})" if more else ""
    return f"{loc or 'config'}: {msg}{shown}{tail}"


def _describe_env_error(error: SettingsError) -> str:
    """pydantic-settings names only the section when an environment value is not valid JSON."""
    for name, value in sorted(os.environ.items()):
        if not name.upper().startswith("STAKEPOOL_") or "__" not in name:
            continue
        section, _, key = name[len("STAKEPOOL_") :].lower().partition("__")
        try:
            json.loads(value)
        except ValueError:
            model = Settings.model_fields.get(section)
            sub = getattr(model.annotation, "model_fields", {}).get(key) if model else None
            if sub is not None and get_origin(sub.annotation) in (list, dict):
                return f"{section}.{key}: {name} is not valid JSON (lists are JSON, e.g. '[1, 2]')"
    return f"environment: {error}"


def load_settings(config_file: Path | None = None) -> Settings:
    """The effective settings; raises ``ConfigError`` with one line naming the bad field."""
    file_values: dict[str, Any] = {}
    if config_file is not None:
        try:
            file_values = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"--config: cannot read {config_file}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"--config: {config_file} is not valid TOML: {exc}") from exc
    try:
        settings = Settings(**file_values)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from exc
    except SettingsError as exc:
        raise ConfigError(_describe_env_error(exc)) from exc
    settings.pool.all_validators()  # a broken validators file is a config error, found now
    return settings
