from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from monitoring.config import FIELDS, Config, ConfigError, load_config, settings_markdown

README = Path(__file__).resolve().parents[2] / "README.md"


def test_defaults_without_env_or_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config({})
    assert cfg == Config()
    assert cfg.db_path == Path("data/monitoring.db")
    assert cfg.dashboard_host == "127.0.0.1"
    assert cfg.flush_interval_seconds == 2.0
    assert cfg.report_time == dt.time(9, 0)


def test_environment_overrides() -> None:
    cfg = load_config(
        {
            "METRICS_RETENTION_DAYS": "60",
            "CPU_WARNING_THRESHOLD": "70.5",
            "METRICS_ENABLED": "off",
            "MONITOR_ALERT_CHANNEL_ID": "123456789012345678",
            "MONITOR_REPORT_TIME": "23:30",
            "MONITOR_TIMEZONE": "Europe/Berlin",
            "ANALYTICS_DASHBOARD_PORT": "0",
        },
        path=None,
    )
    assert cfg.retention_days == 60
    assert cfg.cpu_warning_threshold == 70.5
    assert cfg.metrics_enabled is False
    assert cfg.alert_channel_id == 123456789012345678
    assert cfg.report_time == dt.time(23, 30)
    assert cfg.tz.key == "Europe/Berlin"


def test_toml_file_and_env_precedence(tmp_path: Path) -> None:
    path = tmp_path / "monitoring.toml"
    path.write_text(
        'db_path = "x.db"\nretention_days = 10\n'
        '[[alert_rules]]\nname = "slow"\nmetric = "command_latency_ms"\n',
        encoding="utf-8",
    )
    cfg = load_config({"METRICS_RETENTION_DAYS": "20"}, path=path)
    assert cfg.db_path == Path("x.db")
    assert cfg.retention_days == 20  # the environment wins
    assert cfg.alert_rules[0]["name"] == "slow"
    cfg2 = load_config({"MONITOR_CONFIG": str(path)})
    assert cfg2.retention_days == 10


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        (
            {"METRICS_RETENTION_DAYS": "abc"},
            "METRICS_RETENTION_DAYS='abc': expected a whole number from 1 to 3650",
        ),
        ({"METRICS_RETENTION_DAYS": "0"}, "from 1 to 3650"),
        ({"MONITOR_FLUSH_INTERVAL_SECONDS": "nan"}, "MONITOR_FLUSH_INTERVAL_SECONDS='nan'"),
        ({"MONITOR_FLUSH_INTERVAL_SECONDS": "-1"}, "from 0.1 to 300"),
        ({"CPU_WARNING_THRESHOLD": "101"}, "CPU_WARNING_THRESHOLD='101'"),
        ({"METRICS_ENABLED": "maybe"}, "expected true/false"),
        ({"ANALYTICS_DASHBOARD_PORT": "70000"}, "from 0 to 65535"),
        ({"ANALYTICS_API_KEY": "short"}, "at least 16 characters"),
        ({"ANALYTICS_API_KEY": "change_me_in_production"}, "replace the placeholder"),
        ({"MONITOR_ALERT_CHANNEL_ID": "general"}, "MONITOR_ALERT_CHANNEL_ID='general'"),
        ({"MONITOR_REPORT_TIME": "25:00"}, "expected a 24-hour time HH:MM"),
        ({"MONITOR_REPORT_TIME": "9am"}, "MONITOR_REPORT_TIME='9am'"),
        ({"MONITOR_TIMEZONE": "Mars/Olympus"}, "expected an IANA time zone name"),
        ({"MONITOR_DB_PATH": ""}, "MONITOR_DB_PATH=''"),
        ({"ANALYTICS_DASHBOARD_HOST": ""}, "ANALYTICS_DASHBOARD_HOST=''"),
        ({"MONITOR_CLUSTER": "a b"}, "MONITOR_CLUSTER='a b'"),
        ({"MONITOR_BUFFER_MAX_ROWS": "10"}, "from 1000 to 10000000"),
        ({"MONITOR_CONFIG": "/nonexistent/monitoring.toml"}, "file not found"),
        (
            {"ANALYTICS_DASHBOARD_HOST": "0.0.0.0"},
            "non-loopback address needs ANALYTICS_API_KEY",
        ),
    ],
)
def test_every_bad_value_names_variable_and_range(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(env)
    assert fragment in str(info.value)


def test_public_bind_with_api_key_is_allowed() -> None:
    cfg = load_config({"ANALYTICS_DASHBOARD_HOST": "0.0.0.0", "ANALYTICS_API_KEY": "k" * 32})
    assert not cfg.dashboard_is_loopback


def test_toml_errors(tmp_path: Path) -> None:
    bad_key = tmp_path / "a.toml"
    bad_key.write_text("retention = 3\n", encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"unknown setting 'retention'; allowed: .*retention_days"
    ):
        load_config({}, path=bad_key)
    bad_value = tmp_path / "b.toml"
    bad_value.write_text("retention_days = true\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="retention_days=True: expected a whole number"):
        load_config({}, path=bad_value)
    not_toml = tmp_path / "c.toml"
    not_toml.write_text("this is = = not toml", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a readable TOML file"):
        load_config({}, path=not_toml)
    bad_rules = tmp_path / "d.toml"
    bad_rules.write_text('alert_rules = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="alert_rules must be an array of tables"):
        load_config({}, path=bad_rules)


def test_config_is_frozen() -> None:
    cfg = Config()
    with pytest.raises(AttributeError):
        cfg.db_path = Path("other.db")  # type: ignore[misc]


def test_readme_documents_every_setting() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [spec.env for spec in FIELDS if f"`{spec.env}`" not in text]
    assert not missing, f"README lacks settings: {missing}"
    assert settings_markdown().count("\n") == len(FIELDS) + 1


@pytest.mark.parametrize("name", ["ANALYTICS_API_KEY", "MONITOR_METRICS_TOKEN"])
def test_a_wrong_secret_is_never_echoed(name: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config({name: "hunter2-short"}, path=None)
    text = str(info.value)
    assert "hunter2" not in text and f"{name}=<13 characters>" in text and "16 characters" in text


def test_trusted_proxies_are_networks() -> None:
    config = load_config({"MONITOR_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8,::1"}, path=None)
    assert config.trusted_proxies == ("127.0.0.1/32", "10.0.0.0/8", "::1/128")
    with pytest.raises(ConfigError, match="'nginx' is not an IP address or network"):
        load_config({"MONITOR_TRUSTED_PROXIES": "127.0.0.1,nginx"}, path=None)
