"""A real webhook receiver for the tests: an aiohttp server on a free loopback port that checks
every signature with the `standardwebhooks` library (not Duet's own code) and can be down,
answer 500, or be too slow, as a host platform's receiver sometimes is."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from standardwebhooks import Webhook

from tests.support.services import free_port

Mode = Literal["ok", "error", "slow"]


@dataclass
class Received:
    webhook_id: str
    type: str
    chat_id: str
    body: dict[str, Any]
    verified: bool
    mode: Mode  # how the receiver was answering when it arrived


@dataclass
class Receiver:
    port: int = field(default_factory=free_port)
    mode: Mode = "ok"
    secret: str = ""
    # Every request that reached the handler, in arrival order (slow ones included).
    requests: list[Received] = field(default_factory=list)
    # The ones answered 2xx: what Duet counts as delivered.
    accepted: list[Received] = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=dict)  # per chat, now
    max_in_flight_per_chat: int = 0
    hold_s: float = 0.0  # how long an "ok" answer takes (concurrency tests)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            Webhook(self.secret).verify(raw, dict(request.headers))
            verified = True
        except Exception:
            verified = False
        body = json.loads(raw)
        got = Received(
            request.headers["webhook-id"],
            body["type"],
            body["data"]["chat_id"],
            body,
            verified,
            self.mode,
        )
        self.requests.append(got)
        self.arrived.set()
        chat = got.chat_id
        self.in_flight[chat] = self.in_flight.get(chat, 0) + 1
        self.max_in_flight_per_chat = max(self.max_in_flight_per_chat, self.in_flight[chat])
        try:
            if self.mode == "error":
                return web.Response(status=500, text="receiver broken")
            if self.mode == "slow":
                await self._release.wait()  # longer than Duet's timeout: released at stop
                return web.Response(status=204)
            if self.hold_s:
                await asyncio.sleep(self.hold_s)  # a receiver doing work (real time)
            self.accepted.append(got)
            return web.Response(status=204)
        finally:
            self.in_flight[chat] -= 1

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._release = asyncio.Event()


@asynccontextmanager
async def receiver(*, started: bool = True) -> AsyncIterator[Receiver]:
    rx = Receiver()
    if started:
        await rx.start()
    try:
        yield rx
    finally:
        await rx.stop()
