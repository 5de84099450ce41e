"""Configuration: a typo or a wrong type must stop the start, never fall back to a default.

A deployment that sets `DUET_BROKR=redis` or `port = "80a"` and silently runs on defaults would
split rooms across nodes or listen where nobody looks; these tests hold `load_config` to naming
the culprit, to its precedence order, and to keeping the generated secret private.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from web.config import Config, ConfigError, load_config


def toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "duet.toml"
    path.write_text(text)
    return path


def test_defaults_without_file_or_env() -> None:
    config = load_config()
    assert config == Config()
    assert (config.host, config.port, config.broker) == ("127.0.0.1", 8080, "memory")


def test_file_values_are_read_with_their_types(tmp_path: Path) -> None:
    path = toml(
        tmp_path,
        """
host = "0.0.0.0"
port = 9000
dev_login = true
heartbeat_s = 5
allowed_origins = ["https://fair.example", "https://www.fair.example"]
turn_urls = "turn:127.0.0.1:3478?transport=udp, turn:127.0.0.1:3478?transport=tcp"
""",
    )
    config = load_config(path)
    assert config.host == "0.0.0.0" and config.port == 9000 and config.dev_login is True
    assert config.heartbeat_s == 5.0 and isinstance(config.heartbeat_s, float)
    assert config.allowed_origins == ("https://fair.example", "https://www.fair.example")
    assert config.turn_urls == (
        "turn:127.0.0.1:3478?transport=udp",
        "turn:127.0.0.1:3478?transport=tcp",
    )


def test_env_values_are_coerced_from_text() -> None:
    config = load_config(
        env={
            "DUET_PORT": "8443",
            "DUET_DEV_LOGIN": "yes",
            "DUET_HEARTBEAT_S": "2.5",
            "DUET_ALLOWED_ORIGINS": "https://a.example, https://b.example,",
            "DUET_CONFIG": "/ignored/here.toml",  # names the file; not a setting itself
            "PATH": "/usr/bin",  # not ours: ignored
        }
    )
    assert config.port == 8443 and config.dev_login is True and config.heartbeat_s == 2.5
    assert config.allowed_origins == ("https://a.example", "https://b.example")


def test_unknown_file_keys_are_named(tmp_path: Path) -> None:
    path = toml(tmp_path, 'prot = 80\nbrokr = "redis"\nhost = "127.0.0.1"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "brokr" in str(err.value) and "prot" in str(err.value)
    assert str(path) in str(err.value)


def test_unknown_env_variables_are_named() -> None:
    with pytest.raises(ConfigError, match="DUET_BROKR"):
        load_config(env={"DUET_PORT": "9000", "DUET_BROKR": "redis"})


def test_unknown_overrides_are_named() -> None:
    with pytest.raises(ConfigError, match="colour"):
        load_config(colour="blue")


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ('port = "80a"', "port"),
        ("port = true", "port"),  # TOML booleans are not numbers
        ("port = 8080.5", "port"),  # nor are fractions of a port
        ('dev_login = "maybe"', "dev_login"),
        ('heartbeat_s = "soon"', "heartbeat_s"),
        ("heartbeat_s = false", "heartbeat_s"),
    ],
)
def test_wrong_types_in_the_file_are_named(tmp_path: Path, text: str, name: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{name}: cannot read"):
        load_config(toml(tmp_path, text + "\n"))


@pytest.mark.parametrize(
    ("var", "value"),
    [("DUET_PORT", "eighty"), ("DUET_DEV_LOGIN", "sometimes"), ("DUET_TICKET_TTL_S", "1.5")],
)
def test_wrong_types_in_the_env_are_named(var: str, value: str) -> None:
    name = var.removeprefix("DUET_").lower()
    with pytest.raises(ConfigError, match=rf"^{name}: cannot read"):
        load_config(env={var: value})


def test_values_out_of_range_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="port"):
        load_config(env={"DUET_PORT": "70000"})
    with pytest.raises(ConfigError, match="broker"):
        load_config(toml(tmp_path, 'broker = "kafka"\n'))
    with pytest.raises(ConfigError, match="ticket_ttl_s"):
        load_config(env={"DUET_TICKET_TTL_S": "0"})


def test_redis_broker_needs_a_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="redis_url"):
        load_config(env={"DUET_BROKER": "redis"})
    with pytest.raises(ConfigError, match="redis_url"):
        load_config(toml(tmp_path, 'broker = "redis"\n'))
    config = load_config(env={"DUET_BROKER": "redis", "DUET_REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert config.broker == "redis" and config.redis_url == "redis://127.0.0.1:6379/0"


def test_precedence_defaults_file_env_overrides(tmp_path: Path) -> None:
    """Each layer wins over the one before it, and only for the keys it sets."""
    path = toml(tmp_path, 'host = "10.0.0.1"\nport = 9001\nlog_level = "DEBUG"\n')
    config = load_config(
        path,
        env={"DUET_PORT": "9002", "DUET_LOG_LEVEL": "WARNING", "DUET_NODE_ID": "env-node"},
        log_level="ERROR",
    )
    assert config.host == "10.0.0.1"  # file over default
    assert config.port == 9002  # env over file
    assert config.node_id == "env-node"  # env over default
    assert config.log_level == "ERROR"  # override over env and file
    assert config.database_url == Config().database_url  # untouched default


def test_with_secret_creates_a_private_file_and_reuses_it(tmp_path: Path) -> None:
    secret_file = tmp_path / "var" / "jwt_secret"
    config = load_config(env={"DUET_SECRET_FILE": str(secret_file)})
    assert config.jwt_secret == ""
    first = config.with_secret()
    assert len(first.jwt_secret) >= 48
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert secret_file.read_text().strip() == first.jwt_secret
    # A restart (a new Config) reads the same secret, so signed-in people stay signed in.
    again = load_config(env={"DUET_SECRET_FILE": str(secret_file)}).with_secret()
    assert again.jwt_secret == first.jwt_secret
    assert config.jwt_secret == ""  # frozen: with_secret returns a new Config


def test_with_secret_keeps_an_explicit_secret_and_refuses_an_empty_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "jwt_secret"
    explicit = Config(jwt_secret="from-the-platform", secret_file=str(secret_file))
    assert explicit.with_secret() is explicit
    assert not secret_file.exists()  # nothing written when the platform provides the secret
    secret_file.write_text("\n")
    with pytest.raises(ConfigError, match="holds no secret"):
        Config(secret_file=str(secret_file)).with_secret()


def test_config_is_frozen() -> None:
    config = Config()
    with pytest.raises(AttributeError):
        config.port = 1  # type: ignore[misc]


def test_log_format_and_metrics_settings(tmp_path: Path) -> None:
    config = load_config(
        toml(tmp_path, 'log_format = "json"\nmetrics_token = "0123456789abcdef"\n'),
        env={"DUET_METRICS_PORT": "9100"},
    )
    assert (config.log_format, config.metrics_token, config.metrics_port) == (
        "json",
        "0123456789abcdef",
        9100,
    )
    assert load_config().log_format == "text"  # `make run` stays readable
    with pytest.raises(ConfigError, match="log_format"):
        load_config(env={"DUET_LOG_FORMAT": "xml"})
    with pytest.raises(ConfigError, match="metrics_token"):
        load_config(env={"DUET_METRICS_TOKEN": "short"})
    with pytest.raises(ConfigError, match="metrics_port"):
        load_config(env={"DUET_METRICS_PORT": "8080"})  # the public port
    with pytest.raises(ConfigError, match="metrics_port"):
        load_config(env={"DUET_METRICS_PORT": "70000"})


def test_webhook_settings() -> None:
    assert load_config().webhook_allow_private is False  # internal URLs refused by default
    config = load_config(
        env={"DUET_WEBHOOK_ALLOW_PRIVATE": "true", "DUET_WEBHOOK_TIMEOUT_S": "2.5"}
    )
    assert config.webhook_allow_private is True and config.webhook_timeout_s == 2.5
    for bad in (0, 61):
        with pytest.raises(ConfigError, match="webhook_timeout_s"):
            load_config(webhook_timeout_s=bad)


def test_mail_settings(tmp_path: Path) -> None:
    config = load_config(
        toml(tmp_path, 'smtp_host = "mail.example"\nsmtp_security = "tls"\n'),
        env={
            "DUET_MAIL_FROM": "Fair <fair@example.org>",
            "DUET_PUBLIC_URL": "https://fair.example/",
        },
    )
    assert (config.smtp_host, config.smtp_port_or_default) == ("mail.example", 465)
    assert config.base_url == "https://fair.example"
    assert load_config(port=9000).base_url == "http://127.0.0.1:9000"
    assert load_config(smtp_security="none").smtp_port_or_default == 25
    assert load_config(smtp_port=2525).smtp_port_or_default == 2525
    with pytest.raises(ConfigError, match="smtp_security"):
        load_config(env={"DUET_SMTP_SECURITY": "ssl"})
    with pytest.raises(ConfigError, match="mail_from"):
        load_config(mail_from="Duet")
    with pytest.raises(ConfigError, match="public_url"):
        load_config(public_url="fair.example")
