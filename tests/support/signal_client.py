"""A small signaling client for tests: fetch a ticket over REST, join over a real WebSocket.

It speaks either subprotocol and decodes every server frame with the same codec the server
uses, so a test reads typed messages and close codes rather than raw frames.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from signaling import messages as m
from signaling.codec import decode_server, encode
from tests.support.apiclient import Api, Person


class SignalClient:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, binary: bool) -> None:
        self.ws = ws
        self.binary = binary
        self.received: list[m.ServerMessage] = []

    @classmethod
    async def open(
        cls, client: TestClient, binary: bool = False, headers: dict[str, str] | None = None
    ) -> SignalClient:
        protocol = m.SUBPROTOCOL_MSGPACK if binary else m.SUBPROTOCOL_JSON
        ws = await client.ws_connect(
            "/api/v1/ws", protocols=(protocol,), headers=headers or {}, autoping=True
        )
        return cls(ws, binary)

    async def send(self, msg: m.ClientMessage) -> None:
        frame = encode(msg, binary=self.binary)
        if isinstance(frame, bytes):
            await self.ws.send_bytes(frame)
        else:
            await self.ws.send_str(frame)

    async def send_raw(self, frame: str | bytes) -> None:
        if isinstance(frame, bytes):
            await self.ws.send_bytes(frame)
        else:
            await self.ws.send_str(frame)

    async def recv(self, within: float = 5.0) -> m.ServerMessage | None:
        """The next message, or None once the server closed the socket (see `close_code`)."""
        frame = await self.ws.receive(timeout=within)
        if frame.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            msg = decode_server(frame.data)
            self.received.append(msg)
            return msg
        return None

    async def expect(self, kind: type[Any], within: float = 5.0) -> Any:
        """Read until a message of `kind` arrives; fail on close or timeout."""
        while True:
            msg = await self.recv(within)
            assert msg is not None, (
                f"closed with {self.ws.close_code} while waiting for {kind.__name__}"
            )
            if isinstance(msg, kind):
                return msg

    async def closed(self, within: float = 5.0) -> int | None:
        """Read until the server closes; the close code."""
        while await self.recv(within) is not None:
            pass
        return self.ws.close_code

    async def close(self) -> None:
        await self.ws.close()


async def ticket(api: Api, person: Person, chat_id: str) -> dict[str, Any]:
    return await api.call(person, "POST", f"/api/v1/chats/{chat_id}/join")


async def join(
    api: Api,
    person: Person,
    chat_id: str,
    *,
    binary: bool = False,
    resume: m.Resume | None = None,
    can_restart_ice: bool = True,
) -> tuple[SignalClient, m.Joined]:
    grant = await ticket(api, person, chat_id)
    client = await SignalClient.open(api.client, binary)
    await client.send(
        m.Join(v=1, ticket=grant["ticket"], resume=resume, can_restart_ice=can_restart_ice)
    )
    joined = await client.expect(m.Joined)
    return client, joined
