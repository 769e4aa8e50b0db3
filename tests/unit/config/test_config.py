"""Configuration from TOML, environment and systemd credentials; bad values named in one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stakepool.config import ConfigError, load_settings

PUBKEY = "0x" + "a9" * 48


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:

    for key in list(os.environ):
        if key.startswith("STAKEPOOL_") or key in ("CREDENTIALS_DIRECTORY", "STATE_DIRECTORY"):
            monkeypatch.delenv(key)


def _write(tmp_path: Path, text: str, name: str = "stakepool.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_safe_for_a_validator_host() -> None:
    s = load_settings()
    assert s.http.host == "127.0.0.1"
    assert s.http.port == 9464
    assert s.http.token is None  # write endpoints off
    assert s.metrics.per_validator_limit == 64
    assert s.pool.fee_mode == "high_water_mark"
    assert s.pool.loss_policy == "socialized"
    assert s.beacon.urls == ["http://127.0.0.1:5052"]


def test_toml_file(tmp_path: Path) -> None:
    cfg = _write(
        tmp_path,
        f"""
[beacon]
urls = ["http://127.0.0.1:5052/", "http://10.0.0.2:5052"]
timeout_seconds = 4.5
genesis_root = "0x4B363DB94E286120D76EB905340FDD4E54BFE9F06BF33FF6CF5AD27F511BFE95"

[pool]
id = "alpha-pool"
validators = [1, "2", "3,group-a", {{ id = "{PUBKEY}", label = "vc-2" }}]
fee_bps = 1000
fee_mode = "per_epoch_positive"

[metrics]
per_validator_limit = 8
""",
    )
    s = load_settings(cfg)
    assert s.beacon.urls == ["http://127.0.0.1:5052", "http://10.0.0.2:5052"]
    assert s.beacon.timeout_seconds == 4.5
    assert s.beacon.genesis_root == (
        "0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95"
    )
    refs = s.pool.all_validators()
    assert [(r.index, r.pubkey, r.label) for r in refs] == [
        (1, None, None),
        (2, None, None),
        (3, None, "group-a"),
        (None, PUBKEY, "vc-2"),
    ]
    assert s.pool.fee_bps == 1000
    assert s.metrics.per_validator_limit == 8


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _write(tmp_path, '[pool]\nid = "from-file"\nfee_bps = 100\n')
    monkeypatch.setenv("STAKEPOOL_POOL__ID", "from-env")
    monkeypatch.setenv("STAKEPOOL_BEACON__URLS", '["http://127.0.0.1:1", "http://127.0.0.1:2"]')
    monkeypatch.setenv("STAKEPOOL_POOL__VALIDATORS", f'[0, "{PUBKEY}"]')
    s = load_settings(cfg)
    assert s.pool.id == "from-env"
    assert s.pool.fee_bps == 100  # untouched keys keep the file's value
    assert s.beacon.urls == ["http://127.0.0.1:1", "http://127.0.0.1:2"]
    assert [r.key for r in s.pool.all_validators()] == ["0", PUBKEY]


def test_secrets_from_systemd_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "http_token").write_text("s3cret-token\n")
    (creds / "mqtt_password").write_text("hunter2")
    (creds / "pool_id").write_text("not-a-secret-field")  # only secret fields are read
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    s = load_settings()
    assert s.http.token is not None
    assert s.http.token.get_secret_value() == "s3cret-token"
    assert s.mqtt.password is not None
    assert s.mqtt.password.get_secret_value() == "hunter2"
    assert s.pool.id == "pool"
    dumped = s.model_dump_json()
    assert "s3cret" not in dumped
    assert "hunter2" not in dumped


def test_validators_file_with_labels(tmp_path: Path) -> None:
    vf = _write(tmp_path, f"# our keys\n10\n11,group-b\n\n{PUBKEY}  # vc-3\n", "validators.txt")
    cfg = _write(tmp_path, f'[pool]\nvalidators = [9]\nvalidators_file = "{vf}"\n')
    refs = load_settings(cfg).pool.all_validators()
    assert [(r.key, r.label) for r in refs] == [
        ("9", None),
        ("10", None),
        ("11", "group-b"),
        (PUBKEY, None),
    ]


@pytest.mark.parametrize(
    ("toml", "field"),
    [
        ("[pool]\nfee_bps = 20000\n", "pool.fee_bps"),
        ('[pool]\nfee_mode = "sometimes"\n', "pool.fee_mode"),
        ('[pool]\nid = "Has Spaces"\n', "pool.id"),
        ("[pool]\nvalidators = [-1]\n", "pool.validators.0"),
        ('[pool]\nvalidators = ["0x1234"]\n', "pool.validators.0"),
        ("[beacon]\nurls = []\n", "beacon.urls"),
        ('[beacon]\nurls = ["localhost:5052"]\n', "beacon.urls"),
        ("[beacon]\ntimeout_seconds = 0\n", "beacon.timeout_seconds"),
        ('[beacon]\ngenesis_root = "0xabc"\n', "beacon.genesis_root"),
        ('[beacon]\nurl = "http://x"\n', "beacon.url"),  # a typo is an error, not ignored
        ("[http]\nport = 70000\n", "http.port"),
        ('[mqtt]\nurl = "http://broker"\n', "mqtt.url"),
        ("[metrics]\nper_validator_limit = -1\n", "metrics.per_validator_limit"),
    ],
)
def test_invalid_value_is_one_line_naming_the_field(tmp_path: Path, toml: str, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(_write(tmp_path, toml))
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(field + ":"), message


def test_invalid_environment_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAKEPOOL_HTTP__PORT", "eighty")
    with pytest.raises(ConfigError, match=r"^http\.port: .*'eighty'"):
        load_settings()


def test_unreadable_or_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(_write(tmp_path, "[pool\n"))
    vf = _write(tmp_path, "1\nbogus\n", "v.txt")
    with pytest.raises(ConfigError, match=r"pool\.validators_file: .*v\.txt:2: "):
        load_settings(_write(tmp_path, f'[pool]\nvalidators_file = "{vf}"\n'))
    with pytest.raises(ConfigError, match="listed twice"):
        load_settings(_write(tmp_path, '[pool]\nvalidators = [1, "1"]\n'))


def test_ledger_defaults_to_the_state_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/stakepool")
    assert load_settings().ledger.resolved_database() == "/var/lib/stakepool/ledger.sqlite"


def test_a_postgresql_url_is_a_ledger_database_and_other_urls_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = "postgresql://stakepool@db.internal:5432/ledger"
    monkeypatch.setenv("STAKEPOOL_LEDGER__DATABASE", url)
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "ledger_password").write_text("Pg-pass-from-credential\n", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    settings = load_settings()
    assert settings.ledger.resolved_database() == url
    assert settings.ledger.is_postgresql
    assert settings.ledger.database_password() == "Pg-pass-from-credential"
    assert "Pg-pass-from-credential" in settings.secrets()
    monkeypatch.setenv("STAKEPOOL_LEDGER__DATABASE", "mysql://db.internal/ledger")
    with pytest.raises(ConfigError, match=r"^ledger\.database: .*mysql:// URL is not a ledger"):
        load_settings()
    monkeypatch.setenv("STAKEPOOL_LEDGER__DATABASE", "postgresql://db.internal:5432")
    with pytest.raises(ConfigError, match=r"names no database"):
        load_settings()
    monkeypatch.setenv("STAKEPOOL_LEDGER__DATABASE", "postgresql:///?service=stakepool")
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    assert load_settings().ledger.database_password() is None  # libpq's service file has it
    monkeypatch.setenv("STAKEPOOL_LEDGER__DATABASE", "/var/lib/stakepool/ledger.sqlite")
    assert load_settings().ledger.resolved_database() == "/var/lib/stakepool/ledger.sqlite"


def test_read_urls_are_replicas_of_a_postgresql_ledger_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    primary = "postgresql://stakepool@db-a:5432/ledger"
    replicas = '["postgresql://stakepool:Replica-Pw@db-b:5432/ledger", "postgresql://db-c/ledger"]'
    monkeypatch.setenv("STAKEPOOL_LEDGER__DATABASE", primary)
    monkeypatch.setenv("STAKEPOOL_LEDGER__READ_URLS", replicas)
    settings = load_settings()
    assert settings.ledger.read_urls[1] == "postgresql://db-c/ledger"
    assert "Replica-Pw" in settings.secrets()  # kept out of every log line and error
    monkeypatch.setenv("STAKEPOOL_LEDGER__DATABASE", "/var/lib/stakepool/ledger.sqlite")
    with pytest.raises(ConfigError, match=r"read_urls needs a PostgreSQL ledger") as refused:
        load_settings()
    assert "Replica-Pw" not in str(refused.value)
    monkeypatch.setenv("STAKEPOOL_LEDGER__DATABASE", primary)
    monkeypatch.setenv("STAKEPOOL_LEDGER__READ_URLS", '["mysql://u:Other-Pw@db-b/ledger"]')
    with pytest.raises(ConfigError, match=r"not a postgresql:// URL") as refused:
        load_settings()
    assert "Other-Pw" not in str(refused.value)
    monkeypatch.setenv("STAKEPOOL_LEDGER__READ_URLS", '["postgresql://db-b:5432"]')
    with pytest.raises(ConfigError, match=r"names no database"):
        load_settings()
