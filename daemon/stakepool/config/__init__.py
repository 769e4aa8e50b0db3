"""Configuration: one typed object from a TOML file, the environment and systemd credentials.

Precedence, highest first: environment (``STAKEPOOL_<SECTION>__<KEY>``, lists as JSON), credential
files in ``$CREDENTIALS_DIRECTORY`` (named ``<section>_<key>``, e.g. ``http_token``; systemd
``LoadCredential=``), the TOML file given with ``--config``, then defaults. Any invalid value stops
start-up with a one-line error that names the field (``ConfigError``).
"""

from stakepool.config.base import ConfigError
from stakepool.config.refs import ValidatorRef, load_validators_file, parse_validator_ref
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
from stakepool.config.settings import CredentialsSource, Settings, load_settings

__all__ = [
    "BeaconSettings",
    "ConfigError",
    "CredentialsSource",
    "ExecutionSettings",
    "HttpSettings",
    "LedgerSettings",
    "LogSettings",
    "MetricsSettings",
    "MonitorSettings",
    "MqttSettings",
    "PoolSettings",
    "Settings",
    "ValidatorRef",
    "load_settings",
    "load_validators_file",
    "parse_validator_ref",
]
