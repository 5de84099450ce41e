"""A TURN client for tests: one allocation made with aioice's TURN client, to see coturn's
answers (aiortc hides them), and the TURN REST credentials it presents."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Final
from unittest import mock

from aioice import stun
from aioice.turn import TurnClientTcpProtocol, TurnClientUdpProtocol

from media.turn import mint_turn_credentials

# RFC 6156: without it coturn relays on IPv4 and answers every IPv6 peer with 443.
_FAMILY_ATTRIBUTE = (
    0x0017,
    "REQUESTED-ADDRESS-FAMILY",
    lambda family: struct.pack("!B3x", family),
    lambda data: data[0],
)
_UDP: Final = 0x11000000  # REQUESTED-TRANSPORT UDP


@contextmanager
def requested_address_family() -> Iterator[None]:
    """aioice 0.13's STUN codec lacks REQUESTED-ADDRESS-FAMILY; teach it, for the block only."""
    code, name = _FAMILY_ATTRIBUTE[0], _FAMILY_ATTRIBUTE[1]
    with (
        mock.patch.dict(stun.ATTRIBUTES_BY_NAME, {name: _FAMILY_ATTRIBUTE}),
        mock.patch.dict(stun.ATTRIBUTES_BY_TYPE, {code: _FAMILY_ATTRIBUTE}),
    ):
        yield


class TurnAllocation:
    """One allocation made with aioice's TURN client, to see coturn's answers (aiortc hides them).

    ``family=6`` asks for an IPv6 relay (needs ``requested_address_family``); ``received``
    collects what peers send to the relay once a channel to them is bound.
    """

    def __init__(
        self,
        server: tuple[str, int],
        username: str,
        password: str,
        *,
        family: int = 4,
        transport: str = "udp",
    ) -> None:
        self.server = server
        self.username = username
        self.password = password
        self.family = family
        self.transport_kind = transport
        self.relayed: tuple[str, int] | None = None
        self.received: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
        self._transport: asyncio.BaseTransport | None = None
        self._protocol: TurnClientTcpProtocol | TurnClientUdpProtocol | None = None

    async def __aenter__(self) -> TurnAllocation:
        loop = asyncio.get_running_loop()
        kwargs = {
            "username": self.username,
            "password": self.password,
            "lifetime": 600,
            "channel_refresh_time": 500,
        }
        if self.transport_kind == "udp":
            self._transport, self._protocol = await loop.create_datagram_endpoint(
                lambda: TurnClientUdpProtocol(self.server, **kwargs),  # type: ignore[arg-type]
                remote_addr=self.server,
            )
        else:
            self._transport, self._protocol = await loop.create_connection(
                lambda: TurnClientTcpProtocol(self.server, **kwargs),  # type: ignore[arg-type]
                *self.server,
            )
        request = stun.Message(
            message_method=stun.Method.ALLOCATE, message_class=stun.Class.REQUEST
        )
        request.attributes["LIFETIME"] = 600
        request.attributes["REQUESTED-TRANSPORT"] = _UDP
        if self.family == 6:
            request.attributes["REQUESTED-ADDRESS-FAMILY"] = 2
        try:
            response, _ = await asyncio.wait_for(self._protocol.request_with_retry(request), 10)
        except BaseException:
            self._transport.close()
            raise
        self.relayed = response.attributes["XOR-RELAYED-ADDRESS"]
        self._protocol.receiver = _Inbox(self.received)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._protocol is not None
        await asyncio.wait_for(self._protocol.delete(), 10)

    async def create_permission(self, peer: str) -> int | None:
        """coturn's error code for CreatePermission to ``peer`` (None: permitted)."""
        assert self._protocol is not None
        request = stun.Message(
            message_method=stun.Method.CREATE_PERMISSION, message_class=stun.Class.REQUEST
        )
        request.attributes["XOR-PEER-ADDRESS"] = (peer, 0)
        try:
            await asyncio.wait_for(self._protocol.request_with_retry(request), 10)
        except stun.TransactionFailed as exc:
            return exc.response.error_code
        return None

    async def refresh(self) -> int | None:
        """coturn's error code for a Refresh of this allocation (None: still there)."""
        assert self._protocol is not None
        request = stun.Message(message_method=stun.Method.REFRESH, message_class=stun.Class.REQUEST)
        request.attributes["LIFETIME"] = 600
        try:
            await asyncio.wait_for(self._protocol.request_with_retry(request), 10)
        except stun.TransactionFailed as exc:
            return exc.response.error_code
        return None

    async def send(self, data: bytes, peer: tuple[str, int]) -> None:
        """Send through the relay; the first send to a peer binds a channel (and permission),
        after which what that peer sends back lands in ``received``."""
        assert self._protocol is not None
        await asyncio.wait_for(self._protocol.send_data(data, peer), 10)


class _Inbox(asyncio.DatagramProtocol):
    def __init__(self, queue: asyncio.Queue[tuple[bytes, tuple[str, int]]]) -> None:
        self.queue = queue

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queue.put_nowait((data, addr))


def turn_credentials(secret: str, user: str) -> tuple[str, str]:
    """A credential coturn accepts now: the expiry is real time, as coturn's clock is."""
    server = mint_turn_credentials(
        secret, user, "peer-rules", datetime.now(UTC) + timedelta(minutes=10), ("turn:x",)
    )
    assert server.username is not None and server.credential is not None
    return server.username, server.credential


# --- the ranges: one address each, and public peers ------------------------------------------
