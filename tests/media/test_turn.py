"""TURN: credential format, the shipped coturn config, and real relay-only calls through coturn."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import re
import socket
import subprocess
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aioice import stun
from aioice.turn import TurnClientUdpProtocol
from aiortc import RTCIceServer

from media.ice import IceServer, rtc_configuration
from media.turn import mint_turn_credentials, opaque_turn_id, turn_password
from tests.support.peers import MediaPeer, connect_directly
from tests.support.services import (
    COTURN_LOOPBACK_ALLOWANCES,
    COTURN_OPERATIONAL_OVERRIDES,
    PRODUCTION_TURN_CONFIG,
    RunningService,
    ServiceError,
    coturn_log,
    coturn_test_config,
    parse_coturn_config,
    start_coturn,
    start_redis,
)
from tests.support.turn_client import TurnAllocation, turn_credentials

EXPIRY = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
URLS = ("turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349?transport=tcp")


# --- credential format (pure) -----------------------------------------------------------------


def test_credential_is_coturn_rest_hmac_known_answer() -> None:
    server = mint_turn_credentials("s3cret", "user-1", "chat-9", EXPIRY, URLS)

    assert server.username is not None
    expiry, opaque = server.username.split(":")
    assert expiry == "1893553445" == str(int(EXPIRY.timestamp()))
    assert re.fullmatch(r"[A-Za-z0-9_-]{16}", opaque)
    # Recomputed here with hmac directly: what coturn does with use-auth-secret.
    expected = base64.b64encode(
        hmac.new(b"s3cret", server.username.encode(), hashlib.sha1).digest()
    ).decode()
    assert server.credential == expected
    assert server.urls == URLS


def test_turn_password_static_known_answer() -> None:
    # Computed outside Python: printf '%s' '1893553445:duet-test' |
    #   openssl dgst -sha1 -hmac 's3cret' -binary | base64
    assert turn_password("s3cret", "1893553445:duet-test") == "yE2CQaURLiD5bD3LAO90PMFJB3Y="


def test_expiry_in_username_follows_timezone_aware_instant() -> None:
    paris = datetime(2030, 1, 2, 4, 4, 5, tzinfo=ZoneInfo("Europe/Paris"))
    a = mint_turn_credentials("k", "u", "c", paris, URLS)
    b = mint_turn_credentials("k", "u", "c", EXPIRY, URLS)
    assert a == b  # same instant, same credential


def test_opaque_id_is_per_person_and_chat_and_reveals_neither() -> None:
    base = opaque_turn_id("k", "alice@example.com", "chat-1")
    assert base == opaque_turn_id("k", "alice@example.com", "chat-1")
    assert base != opaque_turn_id("k", "alice@example.com", "chat-2")
    assert base != opaque_turn_id("k", "bob@example.com", "chat-1")
    assert base != opaque_turn_id("other-secret", "alice@example.com", "chat-1")
    # No ambiguity from concatenation: ("ab", "c") and ("a", "bc") differ.
    assert opaque_turn_id("k", "ab", "c") != opaque_turn_id("k", "a", "bc")
    username = mint_turn_credentials("k", "alice@example.com", "chat-1", EXPIRY, URLS).username
    assert username is not None
    assert "alice" not in username and "chat" not in username
    assert username.count(":") == 1  # coturn splits on the first ':'


@pytest.mark.parametrize(
    ("secret", "expires_at", "urls"),
    [
        ("", EXPIRY, URLS),
        ("k", datetime(2030, 1, 1), URLS),  # naive: would be read in local time
        ("k", EXPIRY, ()),
    ],
)
def test_mint_rejects_bad_input(secret: str, expires_at: datetime, urls: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        mint_turn_credentials(secret, "u", "c", expires_at, urls)


def test_ice_server_shapes_for_browser_and_aiortc() -> None:
    server = mint_turn_credentials("k", "u", "c", EXPIRY, URLS)
    assert server.to_json() == {
        "urls": list(URLS),
        "username": server.username,
        "credential": server.credential,
    }
    native = server.to_aiortc()
    assert isinstance(native, RTCIceServer)
    assert (native.urls, native.username, native.credential) == (
        list(URLS),
        server.username,
        server.credential,
    )
    assert IceServer(urls=["stun:x.example"]).to_json() == {"urls": ["stun:x.example"]}
    with pytest.raises(ValueError):
        IceServer(urls=())


def test_rtc_configuration_never_defaults_to_public_stun() -> None:
    # aiortc substitutes stun.l.google.com when iceServers is None; we always pass a list.
    assert rtc_configuration([]).iceServers == []
    config = rtc_configuration([IceServer(urls=("turn:t.example:3478",))], relay_only=True)
    assert [s.urls for s in config.iceServers or []] == [["turn:t.example:3478"]]
    assert config.iceTransportPolicy.value == "relay"


# --- the shipped turnserver.conf ----------------------------------------------------------------


IPRange = tuple[
    ipaddress.IPv4Address | ipaddress.IPv6Address, ipaddress.IPv4Address | ipaddress.IPv6Address
]


def _denied_ranges(options: list[tuple[str, str | None]]) -> list[IPRange]:
    ranges = []
    for key, value in options:
        if key == "denied-peer-ip":
            assert value is not None
            low, _, high = value.partition("-")
            ranges.append((ipaddress.ip_address(low), ipaddress.ip_address(high or low)))
    return ranges


def _is_denied(address: str, ranges: list[IPRange]) -> bool:
    ip = ipaddress.ip_address(address)
    return any(lo.version == ip.version and lo <= ip <= hi for lo, hi in ranges)


def test_production_config_is_locked_down() -> None:
    options = parse_coturn_config(PRODUCTION_TURN_CONFIG.read_text())
    keys = [key for key, _ in options]
    values = dict(options)
    for flag in (
        "use-auth-secret",
        "fingerprint",
        "no-cli",
        "no-tlsv1",
        "no-tlsv1_1",
        "no-multicast-peers",
        "no-tcp-relay",
    ):
        assert flag in keys, flag
    assert values["listening-port"] == "3478"
    assert values["tls-listening-port"] == "443"  # networks that allow only HTTPS
    assert (values["min-port"], values["max-port"]) == ("49152", "65535")
    assert values["realm"] and values["static-auth-secret"] and values["cert"] and values["pkey"]
    for loosening in ("allow-loopback-peers", "allowed-peer-ip", "no-auth", "lt-cred-mech"):
        assert loosening not in keys, loosening

    ranges = _denied_ranges(options)
    internal = [
        "0.0.0.0", "10.1.2.3", "100.64.0.1", "100.127.255.254", "127.0.0.1", "127.8.8.8",
        "169.254.169.254", "169.254.1.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
        "224.0.0.1", "255.255.255.255", "::", "::1", "fc00::1", "fd12:3456::1", "fe80::1",
        "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:172.16.0.1",
        "::ffff:192.168.1.1", "::ffff:169.254.169.254", "::ffff:100.64.0.1", "::ffff:0.0.0.0",
        "64:ff9b::a00:1", "::2", "::10.0.0.1",
    ]  # fmt: skip
    # "::" and "0.0.0.0" are refused by coturn itself (tests/media/test_turn_peers.py): listed as
    # lines they would start at zero, which coturn 4.6.1 reads as "no lower bound".
    internal = [a for a in internal if a not in ("::", "0.0.0.0")]
    assert [a for a in internal if not _is_denied(a, ranges)] == []
    public = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "2a00:1450::1"]
    assert [a for a in public if _is_denied(a, ranges)] == []


def test_test_copy_differs_from_production_only_by_loopback_allowances(tmp_path) -> None:
    production = PRODUCTION_TURN_CONFIG.read_text()
    test_copy = coturn_test_config(
        production, port=3478, min_port=40000, max_port=40039, secret="x", workdir=tmp_path
    )

    def security_relevant(text: str) -> list[tuple[str, str | None]]:
        return [kv for kv in parse_coturn_config(text) if kv[0] not in COTURN_OPERATIONAL_OVERRIDES]

    assert security_relevant(test_copy) == security_relevant(production) + list(
        COTURN_LOOPBACK_ALLOWANCES
    )
    # The allowance is one address, not a range; every production deny rule is still there.
    assert COTURN_LOOPBACK_ALLOWANCES == (
        ("allow-loopback-peers", None),
        ("allowed-peer-ip", "127.0.0.1"),
    )


# --- real coturn on loopback ---------------------------------------------------------------------


def _turn_url(coturn: RunningService, transport: str = "udp") -> str:
    return f"turn:{coturn.host}:{coturn.port}?transport={transport}"


def _mint(
    secret: str,
    user: str,
    coturn: RunningService,
    *,
    transport: str = "udp",
    valid_for: timedelta = timedelta(minutes=10),
) -> IceServer:
    expires_at = datetime.now(UTC) + valid_for  # tests may read the clock; media/turn.py may not
    return mint_turn_credentials(secret, user, "chat-1", expires_at, [_turn_url(coturn, transport)])


@pytest.mark.coturn
@pytest.mark.media
@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_relay_only_call_through_coturn(
    coturn: RunningService, turn_secret: str, transport: str
) -> None:
    alice = MediaPeer(
        "alice", [_mint(turn_secret, "alice", coturn, transport=transport)], relay_only=True
    )
    bob = MediaPeer(
        "bob", [_mint(turn_secret, "bob", coturn, transport=transport)], relay_only=True
    )
    try:
        await connect_directly(alice, bob, within=15)

        for peer in (alice, bob):
            candidates = peer.local_candidates()
            assert candidates, f"{peer.name} gathered nothing"
            assert {c.type for c in candidates} == {"relay"}
            pairs = peer.selected_pairs()
            assert pairs, f"{peer.name} has no selected pair"
            assert all(p.local_type == p.remote_type == "relay" for p in pairs), pairs
            # Relayed addresses come from coturn's relay range on loopback.
            assert all(p.local_address[0] == coturn.host for p in pairs)

        await asyncio.gather(
            alice.wait_frames("video", 10, within=15),
            bob.wait_frames("video", 10, within=15),
            alice.wait_frames("audio", 10, within=15),
            bob.wait_frames("audio", 10, within=15),
        )
    finally:
        await asyncio.gather(alice.close(), bob.close())


async def _gathered_relay_candidates(server: IceServer) -> int:
    """Gather as a relay-only offerer; aioice gives up on TURN after 5 s, we after 10 s."""
    peer = MediaPeer("probe", [server], relay_only=True, audio=False)
    try:
        async with asyncio.timeout(10):
            await peer.create_offer()
        return sum(1 for c in peer.local_candidates() if c.type == "relay")
    finally:
        await peer.close()


class _TurnClient:
    """aioice's TURN client on its own, to see coturn's error codes (aiortc hides them)."""

    def __init__(self, coturn: RunningService, server: IceServer) -> None:
        self.address = (coturn.host, coturn.port)
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None
        self.protocol: TurnClientUdpProtocol | None = None

    async def __aenter__(self) -> TurnClientUdpProtocol:
        loop = asyncio.get_running_loop()
        self.transport, self.protocol = await loop.create_datagram_endpoint(
            lambda: TurnClientUdpProtocol(
                self.address,
                username=self.server.username,
                password=self.server.credential,
                lifetime=600,
                channel_refresh_time=500,
            ),
            remote_addr=self.address,
        )
        return self.protocol

    async def __aexit__(self, *exc: object) -> None:
        assert self.transport is not None and self.protocol is not None
        if self.protocol.relayed_address is not None:
            async with asyncio.timeout(5):
                await self.protocol.delete()
        self.transport.close()


async def _allocation_error(coturn: RunningService, server: IceServer) -> int | None:
    """coturn's error code for an Allocate with these credentials, None if it succeeds."""
    async with _TurnClient(coturn, server) as client, asyncio.timeout(10):
        try:
            await client.connect()
        except stun.TransactionFailed as exc:
            return exc.response.error_code
    return None


async def _wait_for_log(coturn: RunningService, needle: str, within: float = 5.0) -> str:
    """coturn writes its log from another thread: poll for the line, with a deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        log = coturn_log(coturn)
        if needle in log:
            return log
        if loop.time() > deadline:
            raise AssertionError(f"{needle!r} not in coturn's log after {within}s:\n{log[-2000:]}")
        await asyncio.sleep(0.02)


@pytest.mark.coturn
@pytest.mark.media
async def test_valid_credential_gets_a_relay_candidate(
    coturn: RunningService, turn_secret: str
) -> None:
    server = _mint(turn_secret, "alice", coturn)
    assert await _allocation_error(coturn, server) is None
    assert await _gathered_relay_candidates(server) == 1
    assert "check_stun_auth" not in coturn_log(coturn)


@pytest.mark.coturn
@pytest.mark.media
@pytest.mark.parametrize("case", ["wrong-secret", "forged-expiry", "expired"])
async def test_bad_credentials_are_refused(
    coturn: RunningService, turn_secret: str, case: str
) -> None:
    good = _mint(turn_secret, "mallory", coturn)
    if case == "wrong-secret":
        server = _mint("not-the-secret", "mallory", coturn)
    elif case == "forged-expiry":
        # A genuine credential whose username is pushed a day later, keeping the old signature.
        assert good.username is not None
        expiry, opaque = good.username.split(":")
        server = IceServer(good.urls, f"{int(expiry) + 86400}:{opaque}", good.credential)
    else:
        server = _mint(turn_secret, "mallory", coturn, valid_for=timedelta(seconds=-60))

    assert await _allocation_error(coturn, server) == 401
    # What a client sees: silence (no relay candidate, no error), hence the bounded wait.
    assert await _gathered_relay_candidates(server) == 0
    await _wait_for_log(
        coturn, f"check_stun_auth: Cannot find credentials of user <{server.username}>"
    )


@pytest.mark.coturn
async def test_relay_refuses_internal_peers(coturn: RunningService, turn_secret: str) -> None:
    """The production deny list is live in the test copy; only 127.0.0.1 is let through."""
    async with _TurnClient(coturn, _mint(turn_secret, "alice", coturn)) as client:
        async with asyncio.timeout(10):
            await client.connect()
        internal = ["10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1"]
        refused: dict[str, int] = {}
        for channel, peer in enumerate(internal, start=0x4000):
            # coturn answers from its rule table; nothing is ever sent to these addresses.
            try:
                async with asyncio.timeout(10):
                    await client.channel_bind(channel, (peer, 9))
            except stun.TransactionFailed as exc:
                refused[peer] = exc.response.error_code
        assert refused == dict.fromkeys(internal, 403)
        async with asyncio.timeout(10):
            await client.channel_bind(0x4100, ("127.0.0.1", 9))  # the test-only allowance


# --- secret rotation and restarts, as docs/deploy.md describes them ---------------------------


async def _allocation_refused(coturn: RunningService, secret: str) -> int | None:
    """coturn's error for an Allocate with a credential signed by ``secret`` (None: accepted)."""
    username, password = turn_credentials(secret, "rotation")
    try:
        async with TurnAllocation((coturn.host, coturn.port), username, password):
            return None
    except stun.TransactionFailed as exc:
        return exc.response.error_code


@pytest.mark.coturn
async def test_every_static_auth_secret_line_is_accepted(tmp_path) -> None:
    """Step 1 of a rotation: coturn takes credentials signed with the old or the new secret."""
    coturn = start_coturn(tmp_path, "", secrets=("old-secret", "new-secret"))
    try:
        refused = {
            s: await _allocation_refused(coturn, s) for s in ("old-secret", "new-secret", "x")
        }
        assert refused == {"old-secret": None, "new-secret": None, "x": 401}
    finally:
        coturn.stop()


def _turnadmin(coturn: RunningService, *args: str) -> None:
    """turnadmin on the test's userdb; its own log file goes to a private, throw-away /var/log."""
    realm = dict(parse_coturn_config(PRODUCTION_TURN_CONFIG.read_text()))["realm"]
    assert realm is not None
    subprocess.run(
        ["unshare", "--mount", "sh", "-c", 'mount -t tmpfs tmpfs /var/log && exec "$@"', "sh",
         "turnadmin", *args, "--realm", realm, "--userdb", str(coturn.files["userdb"])],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip


@pytest.mark.coturn
async def test_secrets_kept_in_coturns_database_rotate_without_a_restart(tmp_path) -> None:
    """The no-downtime rotation of docs/deploy.md: no static-auth-secret line, secrets in the
    userdb, which coturn reads at every request, so live relays are never dropped."""
    coturn = start_coturn(tmp_path, "", secrets=())
    try:
        pid = coturn.pid
        _turnadmin(coturn, "--set-secret", "old-secret")
        assert await _allocation_refused(coturn, "old-secret") is None
        _turnadmin(coturn, "--set-secret", "new-secret")
        assert await _allocation_refused(coturn, "new-secret") is None
        assert await _allocation_refused(coturn, "old-secret") is None
        _turnadmin(coturn, "--delete-secret", "old-secret")
        assert await _allocation_refused(coturn, "old-secret") == 401
        assert await _allocation_refused(coturn, "new-secret") is None
        assert coturn.pid == pid and coturn.running  # one process throughout
    finally:
        coturn.stop()


@pytest.mark.coturn
async def test_a_restart_drops_every_live_allocation(
    coturn: RunningService, turn_secret: str
) -> None:
    """What docs/deploy.md says a restart does: relays are gone (437), credentials still work."""
    username, password = turn_credentials(turn_secret, "live")
    server = (coturn.host, coturn.port)
    async with TurnAllocation(server, username, password) as live:
        assert await live.refresh() is None
        await asyncio.to_thread(coturn.restart)
        assert await live.refresh() == 437  # Allocation Mismatch: the relay is gone
    async with TurnAllocation(server, username, password) as again:
        assert again.relayed is not None  # the same credential gets a new relay at once


@pytest.mark.media
@pytest.mark.usefixtures("loopback_ice")
async def test_peers_connect_on_loopback_host_candidates_without_servers() -> None:
    """The test client's non-TURN path (used by signaling tests): host candidates on 127.0.0.1."""
    alice, bob = MediaPeer("alice", []), MediaPeer("bob", [])
    try:
        await connect_directly(alice, bob, within=10)
        assert {c.type for c in alice.local_candidates()} == {"host"}
        assert all(p.local_address[0] == "127.0.0.1" for p in alice.selected_pairs())
        await asyncio.gather(
            alice.wait_frames("video", 5, within=10), bob.wait_frames("video", 5, within=10)
        )
    finally:
        await asyncio.gather(alice.close(), bob.close())


def _redis_command(port: int, command: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(command)
        return sock.recv(256)


@pytest.mark.redis
def test_redis_service_helper_restarts_on_the_same_port(redis_service: RunningService) -> None:
    """tests/support/services.py's Redis helper (lives here until a Redis test file exists)."""
    port, first_pid = redis_service.port, redis_service.pid
    assert _redis_command(port, b"SET k v\r\n") == b"+OK\r\n"
    redis_service.restart()
    assert (redis_service.port, redis_service.running) == (port, True)
    assert redis_service.pid != first_pid
    assert _redis_command(port, b"GET k\r\n") == b"$-1\r\n"  # no persistence: a fresh server
    redis_service.stop()
    assert not redis_service.running
    with pytest.raises(OSError):
        _redis_command(port, b"PING\r\n")


def test_missing_binary_is_an_error_naming_the_package(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never a skip: a machine without coturn/redis must fail loudly with the fix."""
    monkeypatch.setattr("tests.support.services.shutil.which", lambda name: None)
    with pytest.raises(ServiceError, match="'coturn'"):
        start_coturn(tmp_path, "secret")
    with pytest.raises(ServiceError, match="'redis-server'"):
        start_redis(tmp_path)
