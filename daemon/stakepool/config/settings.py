"""``Settings`` and ``load_settings``: one typed object from a TOML file, the environment and
systemd credentials, in that order of precedence (lowest first)."""

from __future__ import annotations

import difflib
import json
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

from pydantic import AfterValidator, BaseModel, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from stakepool.chain.redact import Redactor, secrets_in_url, secrets_of
from stakepool.config.base import ConfigError
from stakepool.config.sections import (
    BeaconSettings,
    ExecutionSettings,
    HttpSettings,
    LedgerSettings,
    LogSettings,
    MetricsSettings,
    MonitorSettings,
    MqttSettings,
    PoolSettings,
)
from stakepool.config.validator_clients import ValidatorClientSettings, unique_names
from stakepool.config.web import WebSettings


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
    validator_client: Annotated[
        tuple[ValidatorClientSettings, ...], AfterValidator(unique_names)
    ] = ()
    """``[[validator_client]]``: Keymanager APIs whose keys join the pool (config/validator_clients)."""
    web: WebSettings = Field(default_factory=WebSettings)

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

    def secrets(self) -> list[str]:
        """Every secret value this configuration holds (``SecretStr`` fields, credentials in
        URLs), for the ``Redactor`` that keeps them out of every output."""
        found: list[str] = []
        for section_name in type(self).model_fields:
            value = getattr(self, section_name)
            # A section is one model, or a list of them (``[[validator_client]]``).
            for section in value if isinstance(value, (list, tuple)) else (value,):
                for name in type(section).model_fields:
                    field = getattr(section, name)
                    if isinstance(field, SecretStr):
                        found += secrets_of(field.get_secret_value())
        vc_urls = [vc.url for vc in self.validator_client]
        urls = (*self.beacon.urls, self.execution.url, self.mqtt.url, self.ledger.database)
        urls += tuple(self.ledger.read_urls)
        for url in (*urls, *vc_urls):
            found += secrets_in_url(url)
        return found

    def redactor(self) -> Redactor:
        return Redactor(self.secrets())


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


def _describe(error: ValidationError) -> list[str]:
    """One line per invalid field, all of them: an operator fixes the file once, not once per
    run. An unknown key says so and names the closest valid key; a value already quoted in the
    message is not repeated, and a secret's value is never shown."""
    problems = []
    for item in error.errors():
        loc = tuple(str(p) for p in item["loc"])
        where = ".".join(loc) or "config"
        if item["type"] == "extra_forbidden":
            problems.append(f"{where}: unknown key{_closest(loc)}")
            continue
        msg = item["msg"].removeprefix("Value error, ")
        given = item.get("input")
        hidden = isinstance(given, dict | list) or given is None or _is_secret_field(loc)
        quoted = not hidden and (repr(given) in msg or str(given) in msg)
        shown = "" if hidden or quoted else f" (got {given!r})"
        problems.append(f"{where}: {msg}{shown}")
    return problems


def _section_model(loc: tuple[str, ...]) -> type[BaseModel] | None:
    """The model whose keys ``loc`` names (``()``: the top level, ``("beacon",)``: a section)."""
    model: type[BaseModel] = Settings
    for part in loc:
        info = model.model_fields.get(part)
        annotation = info.annotation if info is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _closest(loc: tuple[str, ...]) -> str:
    model = _section_model(loc[:-1])
    if model is None or not loc:
        return ""
    match = difflib.get_close_matches(loc[-1], list(model.model_fields), n=1, cutoff=0.6)
    if not match:
        return f"; valid keys here: {', '.join(model.model_fields)}"
    return f"; did you mean {match[0]!r}?"


def _is_secret_field(loc: tuple[str, ...]) -> bool:
    model = _section_model(loc[:1]) if len(loc) >= 2 else None
    info = model.model_fields.get(loc[1]) if model is not None else None
    return info is not None and _is_secret(info.annotation)


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
        raise ConfigError(*_describe(exc)) from exc
    except SettingsError as exc:
        raise ConfigError(_describe_env_error(exc)) from exc
    settings.pool.all_validators()  # a broken validators file is a config error, found now
    return settings
