"""What an operator copies from `deploy/` is what the tests run, and says what docs/deploy.md says.

- `haproxy.cfg`: the copy tests/support/haproxy.py runs differs from the shipped file only in
  where it listens, its servers and its files (the same rule as the coturn copies), is valid for
  Debian's HAProxy, and keeps the properties the failover depends on.
- `duet.toml`: loads as a node's configuration (no unknown key), for PostgreSQL and Redis, with
  a CHANGE ME on every line that is the deployment's own.
- `duet.service`, `coturn.service`: systemd accepts them (`systemd-analyze verify`) and they
  keep what docs/deploy.md relies on (the user, the stop, the capability for port 443).
"""

from __future__ import annotations

import configparser
import itertools
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.app import REPO_ROOT
from tests.support.haproxy import (
    PRODUCTION_HAPROXY_CONFIG,
    Directive,
    haproxy_directives,
    haproxy_test_config,
    operational,
)
from tests.support.tls import throwaway_tls
from web.cli import SHUTDOWN_TIMEOUT_S
from web.config import load_config

DEPLOY = REPO_ROOT / "deploy"
SERVERS = [("node-1", 9001), ("node-2", 9002), ("node-3", 9003)]


def _copy(workdir: Path, *, switch_user: bool = True) -> str:
    return haproxy_test_config(
        PRODUCTION_HAPROXY_CONFIG.read_text(),
        http_port=8080,
        https_port=8443,
        certificate=workdir / "test.pem",
        servers=SERVERS,
        workdir=workdir,
        switch_user=switch_user,
    )


def _kept(text: str, *, switch_user: bool = True) -> list[Directive]:
    return [d for d in haproxy_directives(text) if not operational(d, switch_user=switch_user)]


def _lines(text: str, keep: str) -> list[str]:
    """Lines of directive ``keep`` outside `defaults` (whose `log global` only refers back)."""
    return [
        d.line() for d in haproxy_directives(text) if d.keyword == keep and d.section != "defaults"
    ]


def test_the_haproxy_test_copy_differs_from_the_shipped_file_only_in_where_it_runs(
    tmp_path: Path,
) -> None:
    production = PRODUCTION_HAPROXY_CONFIG.read_text()
    copy = _copy(tmp_path)
    assert _kept(copy) == _kept(production)
    # What the copy replaces, in the shipped file: nothing else is "operational".
    replaced = [d.line() for d in haproxy_directives(production) if operational(d)]
    assert replaced == [
        "log /dev/log local0 info",
        "stats socket /run/haproxy/admin.sock mode 660 level admin",
        "bind :80",
        "bind :443 ssl crt /etc/haproxy/certs/duet.pem alpn http/1.1",
        "server duet-a 10.0.0.11:8080",
        "server duet-b 10.0.0.12:8080",
        "server duet-c 10.0.0.13:8080",
    ]
    # ... and what it puts there: loopback, the test's certificate and files, the same options.
    assert _lines(copy, "bind") == [
        "bind 127.0.0.1:8080",
        f"bind 127.0.0.1:8443 ssl crt {tmp_path / 'test.pem'} alpn http/1.1",
    ]
    assert _lines(copy, "server") == [f"server {n} 127.0.0.1:{p}" for n, p in SERVERS]
    assert _lines(copy, "log") == ["log stdout format raw local0 info"]
    assert _lines(copy, "stats socket") == [
        f"stats socket {tmp_path / 'admin.sock'} mode 660 level admin"
    ]


def test_a_copy_that_cannot_switch_users_drops_only_user_group_and_chroot(tmp_path: Path) -> None:
    production = PRODUCTION_HAPROXY_CONFIG.read_text()
    copy = _copy(tmp_path, switch_user=False)
    assert _kept(copy, switch_user=False) == _kept(production, switch_user=False)
    dropped = {d.keyword for d in _kept(production)} - {d.keyword for d in _kept(copy)}
    assert dropped == {"user", "group", "chroot"}


def test_the_haproxy_test_copy_is_valid_for_debians_haproxy(tmp_path: Path) -> None:
    binary = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
    assert binary is not None, "install the Debian package 'haproxy'; this test never skips"
    _, chain, key = throwaway_tls(tmp_path / "tls", ["127.0.0.1"])
    (tmp_path / "test.pem").write_bytes(chain.read_bytes() + key.read_bytes())
    config = tmp_path / "haproxy.cfg"
    config.write_text(_copy(tmp_path))
    checked = subprocess.run(
        [binary, "-c", "-f", str(config)], capture_output=True, text=True, timeout=30, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "[WARNING]" not in checked.stdout + checked.stderr, checked.stdout + checked.stderr


def _seconds(value: str) -> float:
    return float(value[:-2]) / 1000 if value.endswith("ms") else float(value.rstrip("s"))


def test_the_shipped_haproxy_config_keeps_the_failover_properties() -> None:
    directives = haproxy_directives(PRODUCTION_HAPROXY_CONFIG.read_text())
    lines = {(d.section, d.line()) for d in directives}
    assert ("defaults", "mode http") in lines
    assert ("defaults", "timeout tunnel 1h") in lines, "WebSockets outlive `timeout client`"
    assert ("defaults", "option redispatch 1") in lines, "every retry may pick another node"
    assert ("backend duet_nodes", "option httpchk GET /readyz") in lines
    assert ("backend duet_nodes", "balance leastconn") in lines
    retries = next(d for d in directives if d.keyword == "retries")
    assert int(retries.words[1]) >= 2
    # No stickiness of any kind: any node serves any request and any socket.
    sticky = {"cookie", "stick", "stick-table", "hash-type", "persist", "force-persist"}
    assert not [d.line() for d in directives if d.keyword in sticky]
    balance = [d.words[1] for d in directives if d.keyword == "balance"]
    assert balance == ["leastconn"]
    # Duet's ws_url comes from these two: X-Forwarded-Proto set (never passed through), Host kept.
    assert (
        "frontend duet",
        "http-request set-header X-Forwarded-Proto https if { ssl_fc }",
    ) in lines
    # A dead node stops getting traffic within 2 s: the checks' worst case when it refuses.
    default = next(d for d in directives if d.keyword == "default-server").words
    option: dict[str, str] = {}
    for name, value in itertools.pairwise(default[1:]):
        option.setdefault(name, value)  # the first: `on-error fastinter` is not the interval
    detection = _seconds(option["inter"]) + (int(option["fall"]) - 1) * _seconds(
        option["fastinter"]
    )
    assert detection <= 2.0, detection
    # A global maxconn above half the open-file limit stops HAProxy at start: none is set.
    assert not [d for d in directives if d.section == "global" and d.keyword == "maxconn"]


def test_duet_toml_is_a_node_config_for_postgresql_and_redis() -> None:
    path = DEPLOY / "duet.toml"
    config = load_config(path, {})
    assert config.broker == "redis" and config.redis_url.startswith("redis://")
    assert config.database_url.startswith("postgresql+asyncpg://")
    assert config.node_id and config.allowed_origins and config.turn_urls
    assert not config.dev_login
    # Every setting that is the deployment's own is marked in the comment block above it.
    text = path.read_text().splitlines()
    own = ("host", "node_id", "database_url", "redis_url", "jwt_secret", "allowed_origins")
    for key in (*own, "turn_secret", "turn_urls", "smtp_host", "public_url"):
        at = next(i for i, line in enumerate(text) if line.startswith(f"{key} ="))
        block_start = max(i for i in range(at) if not text[i].strip()) + 1  # the blank above
        comments = [line for line in text[block_start:at] if line.startswith("#")]
        assert any("CHANGE ME" in line for line in comments), key
    # Placeholder secrets are recognisable, so a forgotten one is found by a grep.
    assert config.smtp_host and config.base_url.startswith("https://")
    for value in (config.jwt_secret, config.turn_secret, config.database_url, config.smtp_password):
        assert "CHANGE_ME" in value


def _unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string((DEPLOY / name).read_text())
    return parser


def test_systemd_accepts_the_units() -> None:
    """`systemd-analyze verify` names unknown keys and bad values; only the program Duet's unit
    starts is missing here (it is installed on the node, /opt/duet/venv)."""
    binary = shutil.which("systemd-analyze")
    assert binary is not None, "install the Debian package 'systemd'; this test never skips"
    checked = subprocess.run(
        [binary, "verify", str(DEPLOY / "duet.service"), str(DEPLOY / "coturn.service")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=DEPLOY,
    )
    complaints = [
        line
        for line in (checked.stdout + checked.stderr).splitlines()
        if line.strip() and "/opt/duet/venv/bin/duet is not executable" not in line
    ]
    assert complaints == []


def test_the_units_keep_what_the_deploy_guide_relies_on() -> None:
    duet = _unit("duet.service")["Service"]
    assert duet["User"] == "duet" and duet["Restart"] == "on-failure"
    assert duet["ExecStart"] == "/opt/duet/venv/bin/duet --config /etc/duet/duet.toml serve"
    # SIGTERM is the graceful stop (1001 to every socket); systemd must wait for it.
    assert duet["KillSignal"] == "SIGTERM"
    assert float(duet["TimeoutStopSec"]) > SHUTDOWN_TIMEOUT_S
    assert int(duet["LimitNOFILE"]) >= 20000
    assert duet["NoNewPrivileges"] == "yes" and duet["ProtectSystem"] == "strict"
    coturn = _unit("coturn.service")["Service"]
    assert coturn["User"] == "turnserver"
    assert coturn["ExecStart"].startswith("/usr/bin/turnserver -c /etc/turnserver.conf")
    # docs/deploy.md §4: the one capability that binds 443, and no other.
    assert coturn["AmbientCapabilities"] == "CAP_NET_BIND_SERVICE"
    assert coturn["CapabilityBoundingSet"] == "CAP_NET_BIND_SERVICE"
    assert coturn["ExecReload"] == "/bin/kill -USR2 $MAINPID", "certificates without a restart"
    assert coturn["NoNewPrivileges"] == "yes"


@pytest.mark.parametrize("name", ["haproxy.cfg", "duet.toml", "duet.service", "coturn.service"])
def test_the_deploy_guide_names_every_file(name: str) -> None:
    assert f"deploy/{name}" in (REPO_ROOT / "docs" / "deploy.md").read_text()
