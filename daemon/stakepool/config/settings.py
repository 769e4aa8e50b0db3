"""``Settings`` and ``load_settings``: one typed object from a TOML file, the environment and
systemd credentials, in that order of precedence (lowest first)."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

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
