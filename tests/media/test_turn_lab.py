"""Relayed calls through the shipped coturn, from behind NATs and firewalls, in a namespace lab.

The lab (built per test, torn down even when the test fails):

    a (10.200.1.2) -- ra: NAT, drops UDP ---+
    b (10.200.2.2) -- rb: NAT, TCP 443 only -+-- inet: a bridge, the lab's "Internet" 11.0.0.0/24
    pub (11.0.0.30): an unfiltered client ---+
    turn: 11.0.0.10, coturn's own address ---+   the same host's 11.0.0.11 (Duet), loopback
                                                 (Redis) and 10.100.0.1 (metrics): no peers

11.0.0.0/8 is public address space in reality, so the shipped deny list allows it unchanged; it
exists only inside these namespaces, which are joined to each other by veth pairs and to nothing
else: no packet can leave them (the test checks that its own namespace still has only ``lo``).
coturn runs the shipped turnserver.conf with only its address, secret and files changed, plus
the deny line docs/deploy.md asks for the TURN host's other public address; no allowance.

Namespaces are held by a sleeping process each (``/proc/PID/ns/net``), not ``ip netns add``,
which would bind-mount under the host's /run/netns and outlive a killed test run. Commands run
there through ``nsenter``; the test's aiortc peers run each on an event-loop thread that joined
the person's namespace with setns(2), so every socket aioice opens is theirs. Needs root (CI and
``make test`` run as root; a user namespace, ``unshare -rn``, works too) and Debian's
``iptables``. ``ip netns add`` also works inside ``unshare -n``, but leaves a mount behind.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

import pytest

from media.ice import IceServer
from media.turn import mint_turn_credentials
from tests.support.peers import MediaPeer
from tests.support.services import RunningService, ServiceError, coturn_ready, coturn_service
from tests.support.tls import throwaway_tls
from tests.support.turn_client import TurnAllocation, turn_credentials

pytestmark = [pytest.mark.coturn, pytest.mark.media]

T = TypeVar("T")

CLONE_NEWNET: Final = 0x40000000
TURN_IP: Final = "11.0.0.10"  # coturn's own address: listens and relays here only
DUET_IP: Final = "11.0.0.11"  # the same host's address for Duet's HTTPS (denied as a peer)
METRICS_IP: Final = "10.100.0.1"  # the TURN host's private network
URLS: Final = (  # UDP first, as docs/deploy.md lists them: aiortc must not depend on it
    f"turn:{TURN_IP}:3478?transport=udp",
    f"turn:{TURN_IP}:3478?transport=tcp",
    f"turns:{TURN_IP}:443?transport=tcp",
)
_libc = ctypes.CDLL(None, use_errno=True)


def _require(binary: str, package: str) -> None:
    if shutil.which(binary) is None:
        raise ServiceError(
            f"{binary} not found: install the Debian package '{package}' "
            f"(scripts/test.sh does, as root); these tests never skip"
        )


def _enter(netns: str) -> None:
    """Move the calling thread (only it) into the network namespace at ``netns``."""
    fd = os.open(netns, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"setns({netns}): {os.strerror(error)}")
    finally:
        os.close(fd)


def in_netns(netns: str, fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn`` on a short-lived thread inside ``netns`` and return its result."""
    with concurrent.futures.ThreadPoolExecutor(1, initializer=_enter, initargs=(netns,)) as pool:
        return pool.submit(fn, *args).result()


class Netns:
    """A network namespace held by a sleeping process of ours; gone when it is killed."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.process = subprocess.Popen(
            ["unshare", "--net", "--", "sh", "-c", "echo ready; exec sleep 86400"],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline() != b"ready\n":  # printed after unshare(2) took effect
            self.close()
            raise ServiceError(f"could not create network namespace {name}")

    @property
    def path(self) -> str:
        return f"/proc/{self.process.pid}/ns/net"

    @property
    def enter(self) -> list[str]:
        return ["nsenter", f"--net={self.path}", "--"]

    def run(self, *argv: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [*self.enter, *argv], input=stdin, capture_output=True, text=True, timeout=30
        )
        if done.returncode != 0:
            raise ServiceError(f"{self.name}: {' '.join(argv)} failed:\n{done.stderr}")
        return done.stdout

    def ip(self, *commands: str) -> None:
        self.run("ip", "-batch", "-", stdin="\n".join(commands) + "\n")

    def iptables(self, rules: str) -> None:
        self.run("iptables-restore", stdin=rules)

    def links(self) -> set[str]:
        return {
            line.split(":")[1].strip().split("@")[0]
            for line in self.run("ip", "-o", "link").splitlines()
        }

    def close(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


class NetnsLoop:
    """An asyncio loop on a thread inside a lab namespace: everything it opens lives there.

    Objects (peers, TURN clients) are created and used only through ``run``, so each stays on
    its own loop; the test's loop just awaits the results.
    """

    def __init__(self, netns: Netns) -> None:
        self.netns = netns
        self.loop = asyncio.new_event_loop()
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._main, args=(started,), name=f"netns-{netns.name}", daemon=True
        )
        self._thread.start()
        started.result(timeout=10)

    def _main(self, started: concurrent.futures.Future[None]) -> None:
        try:
            _enter(self.netns.path)  # before the loop exists: its executor threads inherit it
        except OSError as exc:
            started.set_exception(exc)
            return
        asyncio.set_event_loop(self.loop)
        started.set_result(None)
        try:
            self.loop.run_forever()
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
            self.loop.close()

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on this loop's thread (for state its objects change as they run)."""

        async def call() -> T:
            return fn(*args)

        return await self.run(call())

    def close(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=30)


# --- the lab ---------------------------------------------------------------------------------


@dataclass
class Lab:
    namespaces: dict[str, Netns]
    coturn: RunningService
    ca: Path


NAT_UDP_DROPPED: Final = """*filter
:FORWARD ACCEPT [0:0]
-A FORWARD -i eth1 -p udp -j DROP
COMMIT
*nat
-A POSTROUTING -o eth0 -j MASQUERADE --random-fully
COMMIT
"""

NAT_TLS_ONLY: Final = """*filter
:FORWARD DROP [0:0]
-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
-A FORWARD -i eth1 -p tcp --dport 443 -j ACCEPT
COMMIT
*nat
-A POSTROUTING -o eth0 -j MASQUERADE --random-fully
COMMIT
"""


def _wire(ns: dict[str, Netns]) -> None:
    """Links, addresses, routes and firewalls; veth ends are created inside their namespaces."""
    for outside in ("turn", "ra", "rb", "pub"):  # every "Internet" host plugs into inet's bridge
        subprocess.run(
            ["ip", "link", "add", "eth0", "netns", str(ns[outside].process.pid), "type", "veth",
             "peer", "name", f"to-{outside}", "netns", str(ns["inet"].process.pid)],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
    for router, person in (("ra", "a"), ("rb", "b")):
        subprocess.run(
            ["ip", "link", "add", "eth1", "netns", str(ns[router].process.pid), "type", "veth",
             "peer", "name", "eth0", "netns", str(ns[person].process.pid)],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
    ns["inet"].ip(
        "link add br0 type bridge",
        "link set br0 up",
        *(f"link set to-{h} master br0 up" for h in ("turn", "ra", "rb", "pub")),
    )
    ns["turn"].ip(
        "link set lo up",
        f"addr add {TURN_IP}/24 dev eth0",
        f"addr add {DUET_IP}/24 dev eth0",
        "link set eth0 up",
        f"addr add {METRICS_IP}/32 dev lo",  # a private address of the host's own
    )
    ns["pub"].ip("link set lo up", "addr add 11.0.0.30/24 dev eth0", "link set eth0 up")
    for router, person, public, home, rules in (
        ("ra", "a", "11.0.0.21", "10.200.1", NAT_UDP_DROPPED),
        ("rb", "b", "11.0.0.22", "10.200.2", NAT_TLS_ONLY),
    ):
        ns[router].ip(
            "link set lo up",
            f"addr add {public}/24 dev eth0",
            "link set eth0 up",
            f"addr add {home}.1/24 dev eth1",
            "link set eth1 up",
        )
        ns[router].run("sysctl", "-qw", "net.ipv4.ip_forward=1")
        ns[router].iptables(rules)
        ns[person].ip(
            "link set lo up",
            f"addr add {home}.2/24 dev eth0",
            "link set eth0 up",
            f"route add default via {home}.1",
        )


EXPECTED_LINKS: Final = {
    "inet": {"lo", "br0", "to-turn", "to-ra", "to-rb", "to-pub"},
    "turn": {"lo", "eth0"},
    "pub": {"lo", "eth0"},
    "ra": {"lo", "eth0", "eth1"},
    "rb": {"lo", "eth0", "eth1"},
    "a": {"lo", "eth0"},
    "b": {"lo", "eth0"},
}


@contextmanager
def network_lab(
    tmp_path: Path, secret: str, production_config: Path | None = None
) -> Iterator[Lab]:
    """The lab of the module docstring, with coturn running; everything undone on exit."""
    for binary, package in (("iptables-restore", "iptables"), ("nsenter", "util-linux")):
        _require(binary, package)
    with ExitStack() as undo:
        namespaces: dict[str, Netns] = {}
        for name in EXPECTED_LINKS:
            namespaces[name] = Netns(name)
            undo.callback(namespaces[name].close)
        _wire(namespaces)
        assert {n: ns.links() for n, ns in namespaces.items()} == EXPECTED_LINKS
        ca, chain, key = throwaway_tls(tmp_path / "tls", [TURN_IP, "turn.lab.test"])
        turn = namespaces["turn"]
        options: dict[str, Any] = (
            {} if production_config is None else {"production_config": production_config}
        )
        coturn = coturn_service(
            tmp_path,
            (secret,),
            listen=(TURN_IP,),
            port=3478,
            relay_range=(49152, 65535),
            tls=(chain, key),
            allowances=(),
            denials=(DUET_IP,),
            argv_prefix=turn.enter,
            probe=lambda host, port, timeout: in_netns(
                turn.path, coturn_ready, host, port, timeout
            ),
            **options,
        )
        coturn.start()
        undo.callback(coturn.stop)
        yield Lab(namespaces, coturn, ca)


def _lab_servers(secret: str, user: str) -> list[IceServer]:
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)  # coturn checks real time
    return [mint_turn_credentials(secret, user, "lab-chat", expires, URLS)]


@pytest.fixture
def lab(tmp_path: Path, turn_secret: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    assert [name for _, name in socket.if_nameindex()] == ["lo"], "run in a loopback-only netns"
    with network_lab(tmp_path, turn_secret) as built:
        # aioice checks turns: with Python's default SSL context: the lab's CA is the only
        # trusted one for this test (OpenSSL reads SSL_CERT_FILE at every context creation).
        monkeypatch.setenv("SSL_CERT_FILE", str(built.ca))
        yield built
    assert [name for _, name in socket.if_nameindex()] == ["lo"], "the lab leaked a link"


@pytest.fixture
async def loops(lab: Lab) -> AsyncIterator[dict[str, NetnsLoop]]:
    made: dict[str, NetnsLoop] = {}
    try:
        for name in ("a", "b", "pub"):
            made[name] = NetnsLoop(lab.namespaces[name])
        yield made
    finally:
        for loop in made.values():
            await asyncio.to_thread(loop.close)


async def test_relay_only_call_from_behind_a_udp_blocking_nat_and_a_tls_only_nat(
    lab: Lab, loops: dict[str, NetnsLoop], turn_secret: str
) -> None:
    a, b = loops["a"], loops["b"]
    async with AsyncExitStack() as stack:
        alice = await a.run(
            MediaPeer.create("alice", _lab_servers(turn_secret, "alice"), relay_only=True)
        )
        stack.push_async_callback(a.run, alice.close())
        bob = await b.run(
            MediaPeer.create("bob", _lab_servers(turn_secret, "bob"), relay_only=True)
        )
        stack.push_async_callback(b.run, bob.close())
        # Whatever the order handed out, each uses the one TURN URL its network lets through.
        assert alice.ice_servers[0].urls[0] == URLS[1]  # TCP: alice's router drops UDP
        assert bob.ice_servers[0].urls[0] == URLS[2]  # TLS on 443: all bob's router allows

        offer = await a.run(alice.create_offer())
        answer = await b.run(bob.accept_offer(offer))
        await a.run(alice.accept_answer(answer))
        await asyncio.gather(a.run(alice.wait_connected(20)), b.run(bob.wait_connected(20)))
        await asyncio.gather(
            a.run(alice.wait_frames("video", 10, within=20)),
            b.run(bob.wait_frames("video", 10, within=20)),
            a.run(alice.wait_frames("audio", 10, within=20)),
            b.run(bob.wait_frames("audio", 10, within=20)),
        )
        # Relay to relay: each side's peer address is coturn's own relay address.
        for peer, loop in ((alice, a), (bob, b)):
            pairs = await loop.call(peer.selected_pairs)
            assert pairs and all(p.local_type == p.remote_type == "relay" for p in pairs), pairs
            assert {p.local_address[0] for p in pairs} == {p.remote_address[0] for p in pairs}
            assert {p.local_address[0] for p in pairs} == {TURN_IP}


async def test_relay_reaches_other_relays_but_not_the_turn_hosts_own_services(
    lab: Lab, loops: dict[str, NetnsLoop], turn_secret: str
) -> None:
    username, password = turn_credentials(turn_secret, "pub")
    server = (TURN_IP, 3478)

    async def from_pub() -> dict[str, Any]:
        async with (
            TurnAllocation(server, username, password) as x,
            TurnAllocation(server, username, password) as y,
        ):
            assert x.relayed is not None and y.relayed is not None
            await y.send(b"permission for x", x.relayed)  # dropped: x allows no one yet
            await x.send(b"relay to relay", y.relayed)
            async with asyncio.timeout(10):
                got = await y.received.get()
            refused = {
                address: await x.create_permission(address)
                for address in ("127.0.0.1", METRICS_IP, DUET_IP)
            }
            return {"relays": (x.relayed[0], y.relayed[0]), "got": got, "refused": refused}

    seen = await loops["pub"].run(from_pub())
    assert seen["relays"] == (TURN_IP, TURN_IP)
    data, sender = seen["got"]
    assert data == b"relay to relay" and sender[0] == TURN_IP
    # Redis-like (loopback), metrics-like (private) and Duet's own address: refused outright.
    assert seen["refused"] == {"127.0.0.1": 403, METRICS_IP: 403, DUET_IP: 403}
