"""Typed, frozen configuration from an optional TOML file and DUET_* environment variables.

Unknown keys are rejected on both paths: a typo in a deployment must fail loudly at start-up,
not silently fall back to a default.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from email.utils import parseaddr
from pathlib import Path
from typing import Any

ENV_PREFIX = "DUET_"


class ConfigError(ValueError):
    """A configuration value is missing, unknown or malformed; the message names it."""


@dataclass(frozen=True, slots=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str = "sqlite+aiosqlite:///var/duet.sqlite3"
    # HS256 secret shared with the host platform that mints users' tokens.
    jwt_secret: str = ""
    # Where a generated secret is kept when jwt_secret is empty (dev and demo only).
    secret_file: str = "var/jwt_secret"
    # Offers a sign-in page listing seeded users. Never enable in production.
    dev_login: bool = False
    # Origins allowed to open the WebSocket; empty means only the app's own origin.
    allowed_origins: tuple[str, ...] = ()
    broker: str = "memory"  # "memory" | "redis"
    redis_url: str = ""
    node_id: str = ""
    turn_secret: str = ""
    turn_urls: tuple[str, ...] = ()
    ticket_ttl_s: int = 60
    reconnect_grace_s: int = 60
    heartbeat_s: float = 20.0
    max_msg_size: int = 64 * 1024
    # Server-side aiortc peers (pre-call checks, relay): each costs up to ~30% of a core.
    max_server_peers: int = 4
    precall_max_s: int = 60
    log_level: str = "INFO"
    # "text" (one readable line) or "json" (one JSON object a line, with context: web/logs.py).
    log_format: str = "text"
    # GET /metrics on the public port needs `Authorization: Bearer <metrics_token>`; without a
    # token it is not served there (404). metrics_port > 0 also serves it on 127.0.0.1 only,
    # without the token, for a scraper on the same host.
    metrics_token: str = ""
    metrics_port: int = 0
    # Webhooks (docs/webhooks.md): endpoint URLs resolving to loopback, private, link-local,
    # CGNAT or multicast addresses are refused unless this is true (a receiver on the same
    # host or network); cloud metadata addresses always are. How long one attempt may take.
    webhook_allow_private: bool = False
    webhook_timeout_s: float = 10.0
    static_dir: str = field(default="")
    # Mail (docs/notifications.md). With smtp_host set, mail goes to that server; else, with
    # mail_dir set, each mail is written there as an .eml file (`duet demo` uses var/mail);
    # with neither, mails wait in the outbox unsent. smtp_port 0 means the security's usual
    # port (25 none, 587 starttls, 465 tls).
    smtp_host: str = ""
    smtp_port: int = 0
    smtp_security: str = "starttls"  # "none" | "starttls" | "tls"
    smtp_user: str = ""
    smtp_password: str = ""
    # PEM file of the CA(s) to trust for the SMTP server's certificate; empty: the system's.
    smtp_ca_file: str = ""
    mail_from: str = "Duet <duet@localhost>"
    mail_dir: str = ""
    # The address people open Duet at, for the links in mails; default http://host:port.
    public_url: str = ""
    mail_poll_s: float = 5.0

    def __post_init__(self) -> None:
        if self.broker not in ("memory", "redis"):
            raise ConfigError("broker must be 'memory' or 'redis'")
        if self.broker == "redis" and not self.redis_url:
            raise ConfigError("broker = 'redis' needs redis_url (e.g. redis://127.0.0.1:6379/0)")
        if not 0 < self.port < 65536:
            raise ConfigError("port must be 1..65535")
        if self.ticket_ttl_s <= 0 or self.reconnect_grace_s <= 0:
            raise ConfigError("ticket_ttl_s and reconnect_grace_s must be positive")
        if self.log_format not in ("text", "json"):
            raise ConfigError("log_format must be 'text' or 'json'")
        if not 0 <= self.metrics_port < 65536:
            raise ConfigError("metrics_port must be 0 (off) or 1..65535")
        if self.metrics_port and self.metrics_port == self.port:
            raise ConfigError("metrics_port must differ from port")
        if not 0 < self.webhook_timeout_s <= 60:
            raise ConfigError("webhook_timeout_s must be more than 0 and at most 60 seconds")
        if self.metrics_token and len(self.metrics_token) < 16:
            # A short token on the public port can be guessed; it guards every room's figures.
            raise ConfigError("metrics_token must be at least 16 characters")

        if self.smtp_security not in ("none", "starttls", "tls"):
            raise ConfigError("smtp_security must be 'none', 'starttls' or 'tls'")
        if not 0 <= self.smtp_port < 65536:
            raise ConfigError("smtp_port must be 0 (the usual port) or 1..65535")
        if "@" not in parseaddr(self.mail_from)[1]:
            raise ConfigError("mail_from must be an address, e.g. 'Duet <duet@fair.example>'")
        if self.public_url and not self.public_url.startswith(("http://", "https://")):
            raise ConfigError("public_url must start with http:// or https://")
        if self.mail_poll_s <= 0:
            raise ConfigError("mail_poll_s must be positive")

    @property
    def base_url(self) -> str:
        """Where people open Duet: the links in mails and calendar files start with it."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def smtp_port_or_default(self) -> int:
        return self.smtp_port or {"none": 25, "starttls": 587, "tls": 465}[self.smtp_security]

    def with_secret(self) -> Config:
        """Fill an empty jwt_secret from (or into) secret_file, so dev tokens survive a restart."""
        if self.jwt_secret:
            return self
        path = Path(self.secret_file)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Created 0600 from the first byte: write-then-chmod would leave it readable a moment.
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another node created it just now: share its secret
            else:
                with os.fdopen(fd, "w") as fh:
                    fh.write(secrets.token_urlsafe(48))
        secret = path.read_text().strip()
        if not secret:
            # An empty HS256 key would sign tokens anyone can forge.
            raise ConfigError(f"{path} holds no secret; delete it or set jwt_secret")
        return dataclasses.replace(self, jwt_secret=secret)


_FIELDS = {f.name: f for f in fields(Config)}


def _coerce(name: str, raw: Any) -> Any:
    default = _FIELDS[name].default
    try:
        if isinstance(default, bool):
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(raw)
        if isinstance(default, int):
            # A TOML `true` or `8080.5` must not quietly become port 1 or 8080.
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise TypeError(raw)
            return int(raw)
        if isinstance(default, float):
            if isinstance(raw, bool):
                raise TypeError(raw)
            return float(raw)
        if isinstance(default, tuple):
            if isinstance(raw, list | tuple):
                return tuple(str(x) for x in raw)
            return tuple(x.strip() for x in str(raw).split(",") if x.strip())
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}: cannot read {raw!r} as {type(default).__name__}") from exc


def load_config(
    path: Path | None = None, env: Mapping[str, str] | None = None, **overrides: Any
) -> Config:
    """Build the config: defaults < file < environment < explicit overrides (tests, CLI flags)."""
    values: dict[str, Any] = {}
    if path is not None:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise ConfigError(f"unknown key(s) in {path}: {', '.join(unknown)}")
        values |= {k: _coerce(k, v) for k, v in data.items()}
    for key, raw in (env or {}).items():
        if not key.startswith(ENV_PREFIX) or key == "DUET_CONFIG":
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if name not in _FIELDS:
            raise ConfigError(f"unknown environment variable {key}")
        values[name] = _coerce(name, raw)
    unknown = sorted(set(overrides) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    values |= overrides
    return Config(**values)
