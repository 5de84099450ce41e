"""Webhook URLs may not reach into Duet's own network (SSRF): loopback, private, link-local,
CGNAT, multicast, unspecified and reserved addresses are refused unless `webhook_allow_private`
is set; cloud metadata addresses are refused always.

Checked when an endpoint is created (to say so at once) and on every delivery: a name may
resolve elsewhere later. A delivery connects only to addresses this guard passed
(`GuardedResolver`), so a name that changes between the check and the connection changes nothing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance metadata services (AWS, GCP, Azure, OpenStack...; AWS's IPv6 one): credentials live here.
METADATA = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
CGNAT = ipaddress.ip_network("100.64.0.0/10")
RESOLVE_TIMEOUT_S = 5.0


class UrlRefused(ValueError):
    """The URL may not be used; the message is a sentence for the organizer."""


def check_address(address: IpAddress, allow_private: bool) -> None:
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 address carried inside IPv6 (::ffff:a.b.c.d, 6to4's 2002:a.b.c.d::) is judged
        # as the IPv4 address it reaches.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            address = embedded
    if address in METADATA:
        raise UrlRefused(f"{address} is a cloud metadata address; webhooks may never go there.")
    if allow_private:
        return
    if (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
        or address in CGNAT
        or not address.is_global
    ):
        raise UrlRefused(
            f"{address} is a loopback, private, link-local or otherwise internal address; "
            "webhooks go to public addresses only (an operator can allow internal ones with "
            "webhook_allow_private)."
        )


def check_form(url: str) -> tuple[str, int]:
    """The URL's host and port, if it is an absolute http(s) URL without credentials."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(f"The URL is not valid ({exc}).") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UrlRefused("The URL must start with https:// (or http://) and name a host.")
    if parts.username or parts.password:
        raise UrlRefused("The URL must not carry a user name or password; Duet signs each call.")
    try:
        parts.hostname.encode("idna")  # what the resolver will do: a bad name fails here, once
    except UnicodeError as exc:
        raise UrlRefused(f"{parts.hostname!r} is not a valid host name.") from exc
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def resolve(host: str, port: int) -> list[IpAddress]:
    """Every address `host` resolves to (a literal address is itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_S
        )
    except (OSError, TimeoutError) as exc:
        raise UrlRefused(f"The host name {host!r} does not resolve.") from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def check_url(url: str, allow_private: bool) -> None:
    """Refuse (UrlRefused) a URL that is malformed or whose host resolves anywhere internal."""
    host, port = check_form(url)
    addresses = await resolve(host, port)
    if not addresses:
        raise UrlRefused(f"The host name {host!r} does not resolve.")
    for address in addresses:
        check_address(address, allow_private)


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver for deliveries: resolves like `resolve` above and refuses names that
    resolve to a refused address, so the addresses a delivery connects to are ones checked."""

    def __init__(self, allow_private: bool) -> None:
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, family=family)
        except OSError as exc:
            raise UrlRefused(f"The host name {host!r} does not resolve.") from exc
        found: list[ResolveResult] = []
        for fam, _, proto, _, address in infos:
            ip = str(address[0]).split("%", 1)[0]
            check_address(ipaddress.ip_address(ip), self._allow_private)
            found.append(
                ResolveResult(
                    hostname=host,
                    host=ip,
                    port=int(address[1]),
                    family=fam,
                    proto=proto,
                    flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
                )
            )
        return found

    async def close(self) -> None:
        pass
