"""Real Redis and coturn processes for tests, on free loopback ports.

Tests run against the real binaries (not fakes) because the behaviour that matters, such as
coturn refusing an expired credential or Redis going away and coming back, is exactly what a fake
would get wrong. Every process is started by us, stopped by its PID, and waited for by polling a
real protocol exchange against a deadline, never by sleeping a fixed time. A missing binary is an
error naming the Debian package: these tests must not silently turn into skips.
"""

from __future__ import annotations

import mailbox
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from tests.support.app import REPO_ROOT

__all__ = [
    "COTURN_LOOPBACK_ALLOWANCES",
    "COTURN_OPERATIONAL_OVERRIDES",
    "MIGRATED_TEMPLATE",
    "PRODUCTION_TURN_CONFIG",
    "PostgresDatabases",
    "RunningService",
    "ServiceError",
    "coturn_config",
    "coturn_log",
    "coturn_ready",
    "coturn_service",
    "coturn_test_config",
    "free_port",
    "free_udp_port_range",
    "parse_coturn_config",
    "postgres_url",
    "psql",
    "smtp_received",
    "start_coturn",
    "start_postgres",
    "start_redis",
    "start_smtp",
]

LOOPBACK = "127.0.0.1"
PRODUCTION_TURN_CONFIG = REPO_ROOT / "turnserver.conf"

# Settings the test copies replace because they are about where and how this one process runs
# (addresses, ports, files, the secret, TLS certificates or none); none of them loosens access
# rules.
COTURN_OPERATIONAL_OVERRIDES = frozenset(
    {
        "listening-port",
        "tls-listening-port",
        "listening-ip",
        "relay-ip",
        "external-ip",
        "min-port",
        "max-port",
        "static-auth-secret",
        "cert",
        "pkey",
        "no-tls",
        "log-file",
        "no-stdout-log",
        "pidfile",
        "userdb",
    }
)

# The only loosening of the production rules: peers on 127.0.0.1 (the two test clients' relay
# addresses). allowed-peer-ip wins over denied-peer-ip in coturn, so every deny line stays.
COTURN_LOOPBACK_ALLOWANCES: tuple[tuple[str, str | None], ...] = (
    ("allow-loopback-peers", None),
    ("allowed-peer-ip", LOOPBACK),
)


class ServiceError(RuntimeError):
    """A test service could not be found, started or stopped."""


@dataclass
class RunningService:
    """A process we started: stop() and restart() act on its PID and keep its port.

    restart() keeps the port so that clients configured with the old address can reconnect,
    which is what reconnection tests need to observe.
    """

    name: str
    host: str
    port: int
    argv: list[str]
    workdir: Path
    output_path: Path
    probe: Callable[[str, int, float], bool] = field(repr=False)
    start_timeout: float = 10.0
    files: dict[str, Path] = field(default_factory=dict)  # e.g. "config", "log"
    user: str | None = None  # run as this user (PostgreSQL refuses to run as root)
    # What stop() sends first: PostgreSQL takes SIGINT as its fast shutdown (SIGTERM waits for
    # every client to leave, and a pool never leaves).
    stop_signal: signal.Signals = signal.SIGTERM
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        if self.process is None:
            raise ServiceError(f"{self.name} is not running")
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Launch the process and return once it answers its protocol on the port."""
        if self.running:
            raise ServiceError(f"{self.name} is already running (pid {self.pid})")
        with self.output_path.open("ab") as output:
            self.process = subprocess.Popen(
                self.argv,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # our signals reach only this process, not pytest
                user=self.user,
                group=self.user,
            )
        self._wait_ready()

    def stop(self, timeout: float = 10.0) -> None:
        """``stop_signal`` (SIGTERM) by PID, then SIGKILL if it has not exited by ``timeout``."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            os.kill(process.pid, self.stop_signal)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=timeout)
        self.process = None

    def restart(self, timeout: float = 10.0) -> None:
        """Stop and start again on the same port."""
        self.stop(timeout=timeout)
        self.start()

    def output(self) -> str:
        """What the process wrote to stdout/stderr (its log, for failure messages)."""
        try:
            return self.output_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                code = self.process.returncode
                self.process = None
                raise ServiceError(
                    f"{self.name} exited with {code} during start-up:\n{self._tail()}"
                )
            if self.probe(self.host, self.port, 0.2):
                return
            if time.monotonic() > deadline:
                self.stop()
                raise ServiceError(
                    f"{self.name} not ready on {self.host}:{self.port} after "
                    f"{self.start_timeout}s:\n{self._tail()}"
                )
            time.sleep(0.02)  # poll interval, bounded by the deadline above

    def _tail(self, lines: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-lines:])


def _require_binary(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ServiceError(
            f"{name} not found on PATH: install the Debian package '{package}' "
            f"(apt-get install -y {package}); these tests never skip"
        )
    return path


def free_port(host: str = LOOPBACK) -> int:
    """A port free for both TCP and UDP on ``host`` (coturn listens on both)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((host, 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((host, port))
                except OSError:
                    continue
                return port
    raise ServiceError("no free TCP+UDP port found")


def free_udp_port_range(count: int, host: str = LOOPBACK) -> tuple[int, int]:
    """A contiguous block of ``count`` free UDP ports (coturn's relay range), as (min, max).

    Drawn below Linux's ephemeral range (32768+) so that ordinary client sockets rarely collide.
    """
    rng = random.Random()
    for _ in range(200):
        low = rng.randrange(10000, 32768 - count, 2)  # coturn likes an even start
        sockets: list[socket.socket] = []
        try:
            for port in range(low, low + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(sock)
                sock.bind((host, port))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return low, low + count - 1
    raise ServiceError(f"no block of {count} free UDP ports found")


# --- Redis ----------------------------------------------------------------------------------


def _redis_ping(host: str, port: int, timeout: float) -> bool:
    """Ready means it answers PING, not merely accepts TCP (it may still be loading)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(
    tmp_path: Path, *, extra_args: Sequence[str] = (), start_timeout: float = 10.0
) -> RunningService:
    """A throw-away redis-server on 127.0.0.1: no persistence, files under ``tmp_path``."""
    binary = _require_binary("redis-server", "redis-server")
    workdir = tmp_path / "redis"
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [
        binary,
        "--bind", LOOPBACK,
        "--port", str(port),
        "--dir", str(workdir),
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "no",
        "--protected-mode", "yes",
        "--pidfile", str(workdir / "redis.pid"),
        *extra_args,
    ]  # fmt: skip
    service = RunningService(
        name="redis-server",
        host=LOOPBACK,
        port=port,
        argv=argv,
        workdir=workdir,
        output_path=workdir / "redis.out",
        probe=_redis_ping,
        start_timeout=start_timeout,
    )
    service.start()
    return service


# --- SMTP (aiosmtpd) ------------------------------------------------------------------------


def _smtp_banner(
    tls: ssl.SSLContext | None = None,
) -> Callable[[str, int, float], bool]:
    """Ready means it greets with 220 (over TLS from the first byte for SMTPS), not merely
    accepts TCP."""

    def probe(host: str, port: int, timeout: float) -> bool:
        try:
            with socket.create_connection((host, port), timeout=timeout) as raw:
                raw.settimeout(timeout)
                sock = raw if tls is None else tls.wrap_socket(raw, server_hostname=host)
                ready = sock.recv(512).startswith(b"220")
                sock.sendall(b"QUIT\r\n")
                return ready
        except OSError:
            return False

    return probe


def start_smtp(
    tmp_path: Path,
    *,
    security: str = "none",
    tls_files: tuple[Path, Path, Path] | None = None,
    start_timeout: float = 10.0,
) -> RunningService:
    """A real SMTP server (aiosmtpd, its own process) on 127.0.0.1 that stores every message it
    accepts in the Maildir ``files["maildir"]`` (`smtp_received` reads it). ``stop()`` makes it
    unreachable and ``restart()`` brings it back on the same port, with the mail kept.

    ``security`` "starttls" (required before MAIL) or "tls" (SMTPS) needs ``tls_files``, the
    (ca, chain, key) of tests/support/tls.py:throwaway_tls."""
    workdir = tmp_path / "smtp"
    maildir = workdir / "maildir"  # created by the server, with its cur/new/tmp
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    tls_args: list[str] = []
    probe_tls = None
    if security != "none":
        assert tls_files is not None, "a TLS server needs tls_files"
        ca, chain, key = tls_files
        flag = "--tlscert" if security == "starttls" else "--smtpscert"
        tls_args = [flag, str(chain), flag.replace("cert", "key"), str(key)]
        if security == "tls":
            probe_tls = ssl.create_default_context(cafile=str(ca))
    argv = [
        sys.executable, "-m", "aiosmtpd",
        "--nosetuid",
        "--listen", f"{LOOPBACK}:{port}",
        *tls_args,
        "--class", "aiosmtpd.handlers.Mailbox",
        str(maildir),
    ]  # fmt: skip
    service = RunningService(
        name="aiosmtpd",
        host=LOOPBACK,
        port=port,
        argv=argv,
        workdir=workdir,
        output_path=workdir / "smtp.out",
        probe=_smtp_banner(probe_tls),
        start_timeout=start_timeout,
        files={"maildir": maildir},
    )
    service.start()
    return service


def smtp_received(service: RunningService) -> list[EmailMessage]:
    """Every message the server accepted so far, oldest first, parsed with the modern policy."""
    if not service.files["maildir"].exists():
        return []
    box = mailbox.Maildir(service.files["maildir"], create=False)
    found = []
    for key in box.iterkeys():
        raw = box.get_bytes(key)
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        found.append((box.get_message(key).get_date(), key, message))
    return [m for _, _, m in sorted(found, key=lambda item: (item[0], item[1]))]


# --- PostgreSQL -------------------------------------------------------------------------------


def postgres_binary(name: str) -> str:
    """Debian keeps the server's programs out of PATH, in /usr/lib/postgresql/<version>/bin."""
    found = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3])
    )
    if found:
        return str(found[-1])
    return _require_binary(name, "postgresql")


def _postgres_ready(host: str, port: int, timeout: float) -> bool:
    """Ready means it accepts sessions, not merely TCP (it answers while starting up)."""
    probe = subprocess.run(
        [
            postgres_binary("pg_isready"),
            "-h",
            host,
            "-p",
            str(port),
            "-t",
            str(max(1, int(timeout))),
        ],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def start_postgres(*, start_timeout: float = 30.0) -> RunningService:
    """A throw-away PostgreSQL on 127.0.0.1: `initdb` into a new temp dir, trust auth for the
    `postgres` user, and no durability (fsync off): a test database, never a configuration to copy.

    As root it runs as the `postgres` user the Debian package creates (initdb refuses root), in a
    directory of its own under the system temp dir (pytest's are private to root). The caller
    removes ``files["tempdir"]`` after `stop()`."""
    user = "postgres" if os.geteuid() == 0 else None
    workdir = Path(tempfile.mkdtemp(prefix="duet-postgres-"))
    if user is not None:
        shutil.chown(workdir, user, user)
    data = workdir / "data"
    subprocess.run(
        [postgres_binary("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
         "-E", "UTF8", "--no-sync", "--no-instructions"],
        check=True, capture_output=True, user=user, group=user, cwd=workdir,
    )  # fmt: skip
    port = free_port()
    argv = [
        postgres_binary("postgres"), "-D", str(data), "-p", str(port), "-k", str(workdir),
        "-c", f"listen_addresses={LOOPBACK}", "-c", "fsync=off",
        "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
        "-c", "max_connections=300",
    ]  # fmt: skip
    service = RunningService(
        name="postgres",
        host=LOOPBACK,
        port=port,
        argv=argv,
        workdir=workdir,
        output_path=workdir / "postgres.out",
        probe=_postgres_ready,
        start_timeout=start_timeout,
        files={"tempdir": workdir, "data": data},
        user=user,
        stop_signal=signal.SIGINT,
    )
    service.start()
    return service


def postgres_url(service: RunningService, database: str = "postgres") -> str:
    """The SQLAlchemy URL Duet takes (`database_url`)."""
    return f"postgresql+asyncpg://postgres@{service.host}:{service.port}/{database}"


def psql(service: RunningService, sql: str, database: str = "postgres") -> str:
    """Run one SQL command as the `postgres` superuser with Debian's psql; its output, or an
    error that quotes PostgreSQL's."""
    result = subprocess.run(
        [shutil.which("psql") or "/usr/bin/psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1",
         "-h", service.host, "-p", str(service.port), "-U", "postgres", "-d", database,
         "-c", sql],
        capture_output=True, text=True, check=False, env={**os.environ, "PGCONNECT_TIMEOUT": "5"},
    )  # fmt: skip
    if result.returncode != 0:
        raise ServiceError(f"psql {sql!r} failed: {result.stderr.strip()}")
    return result.stdout.strip()


# The migrated, empty database each PostgreSQL test's own database is copied from (tests/conftest.py).
MIGRATED_TEMPLATE = "duet_migrated"


@dataclass
class PostgresDatabases:
    """One throw-away PostgreSQL server shared by a test session; each test gets a database of
    its own, copied from a template (`CREATE DATABASE ... TEMPLATE` is a file copy: much faster
    than a server, or the migrations, per test)."""

    service: RunningService
    counter: int = 0

    def url(self, name: str) -> str:
        return postgres_url(self.service, name)

    def create(self, template: str = "template0") -> str:
        """A new empty database (or a copy of `template`); returns its name."""
        self.counter += 1
        name = f"duet_{os.getpid()}_{self.counter}"
        # FILE_COPY: a copy of the template's files, ~3x faster here than PostgreSQL 15's default
        # (WAL_LOG, written block by block through the WAL).
        psql(self.service, f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        return name

    def drop(self, name: str) -> None:
        """Drop it even if a connection is still open (a test that failed half-way)."""
        psql(self.service, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- coturn ---------------------------------------------------------------------------------

_COTURN_LINE = re.compile(r"^\s*(?:--)?([A-Za-z0-9_-]+)\s*(?:=\s*(.*?))?\s*$")

Option = tuple[str, str | None]


def parse_coturn_config(text: str) -> list[Option]:
    """The (option, value) pairs of a turnserver.conf, in order, comments dropped."""
    options: list[Option] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _COTURN_LINE.match(line)
        if match is None:
            raise ValueError(f"unparsable turnserver.conf line: {raw!r}")
        options.append((match[1], match[2]))
    return options


def _line(option: Option) -> str:
    key, value = option
    return key if value is None else f"{key}={value}"


def coturn_config(
    production: str,
    *,
    listen: Sequence[str],
    port: int,
    min_port: int,
    max_port: int,
    secrets: Sequence[str],
    workdir: Path,
    tls: tuple[Path, Path] | None = None,
    tls_port: int | None = None,
    allowances: Sequence[Option] = (),
    denials: Sequence[str] = (),
) -> str:
    """The production config with only where it runs, its secret(s) and its files changed.

    Built from the production text (not a hand-written twin) so the tests exercise the very
    deny rules, auth mode and hardening that ship. ``listen`` addresses serve and relay;
    ``tls`` is (certificate chain, key), without it TLS is off; no ``secrets`` means coturn
    reads them from its database (``userdb``). ``allowances`` loosen the rules and are what
    only the loopback copy needs; ``denials`` (addresses) tighten them, e.g. a second public
    address of the TURN host (docs/deploy.md).
    """
    kept = [
        _line(kv)
        for kv in parse_coturn_config(production)
        if kv[0] not in COTURN_OPERATIONAL_OVERRIDES
    ]
    where = [
        *(f"listening-ip={ip}" for ip in listen),
        *(f"relay-ip={ip}" for ip in listen),
        f"listening-port={port}",
        f"min-port={min_port}",
        f"max-port={max_port}",
        *(f"static-auth-secret={secret}" for secret in secrets),
        f"log-file={workdir / 'turnserver.log'}",
        "no-stdout-log",
        f"pidfile={workdir / 'turnserver.pid'}",
        f"userdb={workdir / 'turndb'}",
    ]
    if tls is None:
        where.append("no-tls")
    else:
        production_tls_port = dict(parse_coturn_config(production))["tls-listening-port"]
        where += [
            f"tls-listening-port={tls_port or production_tls_port}",
            f"cert={tls[0]}",
            f"pkey={tls[1]}",
        ]
    return "\n".join(
        [
            "# Generated by tests/support/services.py from turnserver.conf. Do not deploy.",
            *kept,
            "# test-only: where this process runs, its secret and its files",
            *where,
            "# test-only: loosening (the loopback copy's relays are on 127.0.0.1)",
            *(_line(kv) for kv in allowances),
            "# this host's own addresses that are not coturn's (docs/deploy.md)",
            *(f"denied-peer-ip={address}" for address in denials),
            "",
        ]
    )


def coturn_test_config(
    production: str,
    *,
    port: int,
    min_port: int,
    max_port: int,
    secret: str,
    workdir: Path,
) -> str:
    """The loopback copy most tests use: 127.0.0.1 only, no TLS, the loopback allowances."""
    return coturn_config(
        production,
        listen=(LOOPBACK,),
        port=port,
        min_port=min_port,
        max_port=max_port,
        secrets=(secret,),
        workdir=workdir,
        allowances=COTURN_LOOPBACK_ALLOWANCES,
    )


def _stun_binding(host: str, port: int, timeout: float) -> bool:
    """Ready means a STUN Binding request over UDP gets its success response."""
    transaction = os.urandom(12)
    request = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + transaction
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            sock.sendto(request, (host, port))
            data, _ = sock.recvfrom(2048)
    except OSError:
        return False
    return data[:2] == b"\x01\x01" and data[8:20] == transaction


def coturn_ready(host: str, port: int, timeout: float) -> bool:
    """Both listeners up: UDP answers STUN and TCP accepts connections."""
    if not _stun_binding(host, port, timeout):
        return False
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def coturn_service(
    tmp_path: Path,
    secrets: Sequence[str],
    *,
    listen: Sequence[str] = (LOOPBACK,),
    port: int | None = None,
    relay_range: tuple[int, int] | None = None,
    relay_ports: int = 40,
    production_config: Path = PRODUCTION_TURN_CONFIG,
    tls: tuple[Path, Path] | None = None,
    tls_port: int | None = None,
    allowances: Sequence[Option] = COTURN_LOOPBACK_ALLOWANCES,
    denials: Sequence[str] = (),
    argv_prefix: Sequence[str] = (),
    probe: Callable[[str, int, float], bool] = coturn_ready,
    start_timeout: float = 10.0,
) -> RunningService:
    """coturn from a copy of turnserver.conf (``coturn_config``), not started yet.

    ``argv_prefix`` runs it elsewhere (e.g. ``nsenter --net=...`` into a lab namespace, with a
    ``probe`` that can reach it there). ``files`` holds "config", "log" and "userdb".
    """
    binary = _require_binary("turnserver", "coturn")
    workdir = tmp_path / "coturn"
    workdir.mkdir(parents=True, exist_ok=True)
    port = port if port is not None else free_port(listen[0])
    min_port, max_port = relay_range or free_udp_port_range(relay_ports, listen[0])
    config = workdir / "turnserver.conf"
    config.write_text(
        coturn_config(
            production_config.read_text(),
            listen=listen,
            port=port,
            min_port=min_port,
            max_port=max_port,
            secrets=secrets,
            workdir=workdir,
            tls=tls,
            tls_port=tls_port,
            allowances=allowances,
            denials=denials,
        )
    )
    return RunningService(
        name="turnserver",
        host=listen[0],
        port=port,
        argv=[*argv_prefix, binary, "-c", str(config)],
        workdir=workdir,
        output_path=workdir / "turnserver.out",
        probe=probe,
        start_timeout=start_timeout,
        files={
            "config": config,
            "log": workdir / "turnserver.log",
            "userdb": workdir / "turndb",
        },
    )


def start_coturn(
    tmp_path: Path,
    secret: str,
    *,
    relay_ports: int = 40,
    production_config: Path = PRODUCTION_TURN_CONFIG,
    start_timeout: float = 10.0,
    **options: Any,
) -> RunningService:
    """coturn on free loopback ports with the loopback test copy, unless ``options`` say
    otherwise (``coturn_service``'s keywords; ``secrets=`` replaces ``secret``)."""
    service = coturn_service(
        tmp_path,
        options.pop("secrets", (secret,)),
        relay_ports=relay_ports,
        production_config=production_config,
        start_timeout=start_timeout,
        **options,
    )
    service.start()
    return service


def coturn_log(service: RunningService) -> str:
    """coturn's own log file (auth failures such as 401 are reported there)."""
    path = service.files["log"]
    return path.read_text(errors="replace") if path.exists() else ""
