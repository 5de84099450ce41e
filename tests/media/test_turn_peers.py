"""The shipped turnserver.conf's peer rules, as coturn 4.6.1 really applies them.

coturn runs with the shipped file changed only in where it listens (127.0.0.1 and ::1), its
secret and its files: no ``allowed-peer-ip``, no ``allow-loopback-peers``. A real TURN client
(aioice's) asks CreatePermission for one address of every range and for public peers. A
CreatePermission only installs a permission on the server: nothing is sent to the peer, which
the test checks with the kernel's "no route" counters (only ``lo`` exists in this namespace, so
any attempt to reach a public peer would be counted there).

Why a live test: coturn 4.6.1 does not read ranges the way one would assume (see the comment
above the deny list in turnserver.conf). The shipped file once refused every public peer, and
the test copy hid it by adding ``allowed-peer-ip=127.0.0.1``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from tests.support.services import (
    COTURN_OPERATIONAL_OVERRIDES,
    PRODUCTION_TURN_CONFIG,
    RunningService,
    coturn_config,
    parse_coturn_config,
    start_coturn,
)
from tests.support.turn_client import TurnAllocation, requested_address_family, turn_credentials

# RFC 6156: without it coturn relays on IPv4 and answers every IPv6 peer with 443.
PUBLIC: Final = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "11.0.0.10",  # the network-namespace lab's "Internet" (tests/media/test_turn_lab.py)
    "223.255.255.1",
    "2001:4860:4860::8888",
    "2606:4700:4700::1111",
    "2a00:1450:4001::1",
]

DENIED: Final = {
    "0.0.0.0": "unspecified",
    "0.1.2.3": "this network 0/8",
    "10.1.2.3": "private 10/8",
    "100.64.0.1": "CGNAT 100.64/10",
    "100.127.255.254": "CGNAT 100.64/10 (top)",
    "127.0.0.1": "loopback 127/8",
    "127.8.8.8": "loopback 127/8",
    "169.254.1.1": "link-local 169.254/16",
    "169.254.169.254": "cloud metadata",
    "172.16.0.1": "private 172.16/12",
    "172.31.255.254": "private 172.16/12 (top)",
    "192.0.0.170": "IETF 192.0.0/24",
    "192.0.2.1": "TEST-NET-1",
    "192.88.99.1": "6to4 relay anycast",
    "192.168.1.1": "private 192.168/16",
    "198.18.0.20": "benchmarking 198.18/15",
    "198.19.255.254": "benchmarking 198.18/15 (top)",
    "198.51.100.1": "TEST-NET-2",
    "203.0.113.1": "TEST-NET-3",
    "224.0.0.1": "multicast 224/4",
    "239.255.255.250": "multicast 224/4 (top)",
    "240.0.0.1": "reserved 240/4",
    "255.255.255.255": "broadcast",
    "::": "unspecified",
    "::1": "loopback",
    "::ffff:8.8.8.8": "IPv4-mapped ::ffff:0:0/96 (public too)",
    "::ffff:127.0.0.1": "IPv4-mapped loopback",
    "::ffff:10.0.0.1": "IPv4-mapped private 10/8",
    "::ffff:172.16.0.1": "IPv4-mapped private 172.16/12",
    "::ffff:192.168.1.1": "IPv4-mapped private 192.168/16",
    "::ffff:169.254.169.254": "IPv4-mapped metadata",
    "::ffff:100.64.0.1": "IPv4-mapped CGNAT",
    "::ffff:0.0.0.0": "IPv4-mapped unspecified",
    "::2": "IPv4-compatible ::/96",
    "::1.2.3.0": "IPv4-compatible ::/96",
    "::0.0.1.0": "IPv4-compatible ::/96",
    "::10.0.0.1": "IPv4-compatible ::/96",
    "::255.255.255.255": "IPv4-compatible ::/96 (top)",
    "64:ff9b::a00:1": "NAT64 64:ff9b::/96",
    "64:ff9b:1::1": "NAT64 local-use 64:ff9b:1::/48",
    "100::1": "discard-only 100::/64",
    "2001:db8::1": "documentation 2001:db8::/32",
    "2002:a00:1::1": "6to4 2002::/16",
    "fc00::1": "unique local fc00::/7",
    "fdff:ffff::1": "unique local fc00::/7 (top)",
    "fe80::1": "link-local fe80::/10",
    "fec0::1": "site-local fec0::/10",
    "ff02::1": "multicast ff00::/8",
    "ff0e::1": "multicast ff00::/8",
}


def _no_route_counts() -> tuple[int, int]:
    """Packets this namespace's kernel could not route (IPv4, IPv6): an attempt to reach a
    public peer from a loopback-only namespace would add one."""
    snmp = Path("/proc/net/snmp").read_text().splitlines()
    names, values = (line.split()[1:] for line in snmp if line.startswith("Ip: "))
    v4 = int(dict(zip(names, values, strict=True))["OutNoRoutes"])
    v6 = next(
        int(line.split()[1])
        for line in Path("/proc/net/snmp6").read_text().splitlines()
        if line.startswith("Ip6OutNoRoutes")
    )
    return v4, v6


@pytest.fixture
def shipped_coturn(tmp_path: Path, turn_secret: str) -> Iterator[RunningService]:
    """The shipped config, listening and relaying on 127.0.0.1 and ::1, with no allowances."""
    service = start_coturn(tmp_path, turn_secret, listen=("127.0.0.1", "::1"), allowances=())
    try:
        yield service
    finally:
        service.stop()


@pytest.mark.coturn
async def test_shipped_config_permits_public_peers_and_refuses_every_denied_range(
    shipped_coturn: RunningService, turn_secret: str
) -> None:
    assert [name for _, name in socket.if_nameindex()] == ["lo"], "run in a loopback-only netns"
    username, password = turn_credentials(turn_secret, "rules")
    server = (shipped_coturn.host, shipped_coturn.port)
    answers: dict[str, int | None] = {}
    before = _no_route_counts()
    with requested_address_family():
        async with (
            TurnAllocation(server, username, password, family=4) as v4,
            TurnAllocation(server, username, password, family=6) as v6,
        ):
            assert v4.relayed is not None and v4.relayed[0] == "127.0.0.1"
            assert v6.relayed is not None and v6.relayed[0] == "::1"
            for peer in [*PUBLIC, *DENIED]:
                allocation = v6 if ipaddress.ip_address(peer).version == 6 else v4
                answers[peer] = await allocation.create_permission(peer)
    assert {peer: answers[peer] for peer in PUBLIC} == dict.fromkeys(PUBLIC)
    refused = {f"{peer} ({DENIED[peer]})": answers[peer] for peer in DENIED}
    assert refused == dict.fromkeys(refused, 403)
    assert _no_route_counts() == before, "a CreatePermission sent something toward a peer"


# --- coturn 4.6.1's reading of denied-peer-ip, as a model (pure) -------------------------------

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _coturn_461_less_eq(a: Address, b: Address) -> bool:
    """coturn's addr_less_eq: families ordered (IPv4 first), IPv6 compared byte by byte."""
    if a.version != b.version:
        return a.version < b.version
    if a.version == 4:
        return int(a) <= int(b)
    return all(x <= y for x, y in zip(a.packed, b.packed, strict=True))


def _coturn_461_in_range(low: Address, high: Address, peer: Address) -> bool:
    """coturn's ioa_addr_in_range: an all-zero low end means no lower bound at all."""
    if int(low) == 0 or _coturn_461_less_eq(low, peer):
        return int(high) == 0 or _coturn_461_less_eq(peer, high)
    return False


def _deny_ranges(text: str) -> list[tuple[Address, Address]]:
    ranges = []
    for key, value in parse_coturn_config(text):
        if key == "denied-peer-ip":
            assert value is not None
            low, _, high = value.partition("-")
            ranges.append((ipaddress.ip_address(low), ipaddress.ip_address(high or low)))
    return ranges


def _samples(ranges: list[tuple[Address, Address]]) -> list[Address]:
    """Both ends of every range, their neighbours, its middle, and the live test's addresses."""
    found: set[Address] = {ipaddress.ip_address(a) for a in [*PUBLIC, *DENIED]}
    for low, high in ranges:
        found.add(low + (int(high) - int(low)) // 2)
        for end in (low, high):
            found.add(end)
            if int(end) > 0:
                found.add(end - 1)
            if int(end) < (2**32 if end.version == 4 else 2**128) - 1:
                found.add(end + 1)
    return sorted(found, key=lambda a: (a.version, int(a)))


def test_every_deny_line_means_in_coturn_461_what_it_says() -> None:
    """Guards edits: a line starting at 0.0.0.0 or ::, or an IPv6 range that is not a byte
    box, would deny something other than what it reads as (the old file refused all peers)."""
    ranges = _deny_ranges(PRODUCTION_TURN_CONFIG.read_text())
    for peer in _samples(ranges):
        for low, high in ranges:
            plain = low.version == peer.version and low <= peer <= high
            assert _coturn_461_in_range(low, high, peer) == plain, (low, high, peer)


def test_the_model_reproduces_the_measured_trap() -> None:
    """What coturn 4.6.1 logged for the old lines: 'A peer IP 198.18.0.20 denied in the range:
    ::0.0.0.0-::255.255.255.255', and every IPv6 peer refused by '::'."""
    zero, compat_top = ipaddress.ip_address("::"), ipaddress.ip_address("::255.255.255.255")
    for peer in ("8.8.8.8", "198.18.0.20"):
        assert _coturn_461_in_range(zero, compat_top, ipaddress.ip_address(peer))
    assert _coturn_461_in_range(zero, zero, ipaddress.ip_address("2001:4860:4860::8888"))


# --- the copies the tests run stay honest ---------------------------------------------------


def _security_relevant(text: str) -> list[tuple[str, str | None]]:
    return [kv for kv in parse_coturn_config(text) if kv[0] not in COTURN_OPERATIONAL_OVERRIDES]


def test_unloosened_copies_differ_from_production_only_in_where_they_run(tmp_path: Path) -> None:
    """This file's copy and the lab's (tests/media/test_turn_lab.py) add no allowance; the lab's adds
    one deny line, the TURN host's other address, as docs/deploy.md asks of a deployment."""
    production = PRODUCTION_TURN_CONFIG.read_text()
    here = coturn_config(
        production,
        listen=("127.0.0.1", "::1"),
        port=3478,
        min_port=40000,
        max_port=40039,
        secrets=("x",),
        workdir=tmp_path,
    )
    lab = coturn_config(
        production,
        listen=("11.0.0.10",),
        port=3478,
        min_port=49152,
        max_port=65535,
        secrets=("x",),
        workdir=tmp_path,
        tls=(tmp_path / "cert.pem", tmp_path / "key.pem"),
        denials=("11.0.0.11",),
    )
    assert _security_relevant(here) == _security_relevant(production)
    assert _security_relevant(lab) == [
        *_security_relevant(production),
        ("denied-peer-ip", "11.0.0.11"),
    ]
    lab_options = dict(parse_coturn_config(lab))
    assert (lab_options["listening-port"], lab_options["tls-listening-port"]) == ("3478", "443")
